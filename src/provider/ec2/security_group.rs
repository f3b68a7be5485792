//! `security_group`: an EC2 security group whose ingress and egress rules are
//! authoritative: rules in AWS that the spec does not list are revoked.
//! id = group id.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, retry_while, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};
use super::{ec2_tags, update_tags};

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, TagSpecification, UserIdGroupPair};

use crate::spec::Rule;

pub const KIND: Kind = Kind::named("security_group");

pub const FORCE_NEW: &[&str] = &["name", "description", "vpc_id"];

/// How long a delete waits for the group to stop being in use (an instance
/// that uses it takes minutes to terminate).
const IN_USE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a new group may stay invisible to DescribeSecurityGroups.
const GROUP_VISIBLE: Duration = Duration::from_secs(120);

pub fn address(name: &str) -> String {
    format!("security_group.{name}")
}

/// One node per group, after the groups its rules name.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(name, sg): (&String, &crate::spec::SecurityGroupSpec)| {
        let mut deps: Vec<String> = sg.ingress.iter().chain(&sg.egress).filter_map(|r| r.security_group.as_deref()).map(address).collect();
        deps.sort();
        deps.dedup();
        Node::new(address(name), KIND, deps, Source::entry(name))
    };
    spec.security_groups.iter().map(node).collect()
}

/// The rules with the id of each group a rule names in place of its name.
fn resolved(env: &Env, rules: &[Rule]) -> Vec<Rule> {
    let resolve = |r: &Rule| match &r.security_group {
        Some(group) => {
            let id = env.id(&address(group));
            Rule { cidr: id.as_str().unwrap_or(UNKNOWN).to_string(), security_group: None, ..r.clone() }
        }
        None => r.clone(),
    };
    rules.iter().map(resolve).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let name = &node.source.name;
    let Some(sg) = env.spec.security_groups.get(name) else { return Attrs::new() };
    let vpc = sg.vpc_id.clone().or_else(|| env.lookups.vpcs.get(&node.address).cloned()).map(Value::String).unwrap_or(json!(UNKNOWN));
    json!({
        "name": env.spec.aws_name(name),
        "description": sg.description,
        "vpc_id": vpc,
        "ingress": rules_value(resolved(env, &sg.ingress)),
        "egress": rules_value(resolved(env, &sg.egress)),
        "tags": env.tags(&node.address, &[("Name", env.spec.aws_name(name))]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn rules_value(mut rules: Vec<Rule>) -> Value {
    rules.sort();
    rules.dedup();
    serde_json::to_value(rules).unwrap_or_default()
}

/// What a replaced group's successor is called in AWS, so that both can
/// exist while the instance moves (group names are unique in a VPC): the
/// spec's name, then `#` and the first 8 characters of the create's token,
/// which a repeated create reuses. `#` cannot appear in a spec name, so
/// [`spec_name`] recovers the spec's name from either form.
fn aws_name(want: &Attrs, token: &str) -> String {
    let name = s(want, "name");
    match replaces(want).is_empty() {
        true => name.to_string(),
        false => format!("{name}#{}", token.chars().filter(char::is_ascii_alphanumeric).take(8).collect::<String>()),
    }
}

/// The spec's name for a group named `name` in AWS (see [`aws_name`]).
fn spec_name(name: &str) -> &str {
    name.split_once('#').map(|(base, _)| base).unwrap_or(name)
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    let name = aws_name(want, token);
    let name = name.as_str();
    let vpc = s(want, "vpc_id");
    if let Some((id, existing)) = find_adoptable(aws, address, want, name).await? {
        let attrs = update(aws, &id, &existing, want).await?;
        return Ok(Known { id, attrs });
    }
    let out = aws
        .ec2
        .create_security_group()
        .group_name(name)
        .description(s(want, "description"))
        .vpc_id(vpc)
        .tag_specifications(TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(ec2_tags(want))).build())
        .send()
        .await
        .map_err(err("ec2:CreateSecurityGroup"));
    let out = match out {
        Ok(out) => out,
        // The SDK retried a call whose answer was lost after EC2 had made the
        // group: it exists now, with this address's tags.
        Err(e) if e.is("InvalidGroup.Duplicate") => match find_adoptable(aws, address, want, name).await? {
            Some((id, existing)) => {
                let attrs = update(aws, &id, &existing, want).await?;
                return Ok(Known { id, attrs });
            }
            None => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let id = out.group_id().unwrap_or_default().to_string();
    let created = wait_visible(aws, &id).await?;
    let attrs = update(aws, &id, &created, want).await?;
    Ok(Known { id, attrs })
}

/// A new group can be missing from DescribeSecurityGroups for a moment
/// (EC2 is eventually consistent; terraform-provider-aws waits the same way
/// in waitSecurityGroupCreated). Read as-if-empty, its default egress rule
/// would be authorized again. Reads until it shows, for up to GROUP_VISIBLE.
async fn wait_visible(aws: &Aws, id: &str) -> Result<Attrs, AwsError> {
    let start = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(250);
    loop {
        let read = match read_ids(aws, &[id.to_string()]).await {
            Ok(mut found) => found.remove(id).flatten(),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        match read {
            Some(attrs) => return Ok(attrs),
            None if start.elapsed() + wait < GROUP_VISIBLE => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            None => {
                return Err(AwsError::other(
                    "ec2:DescribeSecurityGroups",
                    format!("security group {id} was created but did not show up within {}s", GROUP_VISIBLE.as_secs()),
                ))
            }
        }
    }
}

/// A group named `name` in this VPC made by an interrupted run of this
/// stack for this address (both gwctl tags); another one is refused.
async fn find_adoptable(aws: &Aws, address: &str, want: &Attrs, name: &str) -> Result<Option<(String, Attrs)>, AwsError> {
    let vpc = s(want, "vpc_id");
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(err("ec2:DescribeSecurityGroups"))?;
    let Some(group) = out.security_groups().first() else { return Ok(None) };
    let existing = observed(group);
    check_adoptable(&existing, want, "ec2:CreateSecurityGroup", &format!("a security group named {name} in {vpc}"), address)?;
    Ok(Some((group.group_id().unwrap_or_default().to_string(), existing)))
}

/// The group tagged for this project and address, if there is one.
pub async fn find(aws: &Aws, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("tag:gwctl:project").values(project_tag(want).unwrap_or_default()).build())
        .filters(Filter::builder().name("tag:gwctl:address").values(address).build())
        .send()
        .await
        .map_err(err("ec2:DescribeSecurityGroups"))?;
    // The group this one replaces carries the same tags until it is deleted.
    let replaced = replaces(want);
    if let Some(g) = out.security_groups().iter().find(|g| !replaced.contains(&g.group_id().unwrap_or_default())) {
        return Ok(Some(Known { id: g.group_id().unwrap_or_default().to_string(), attrs: observed(g) }));
    }
    if !replaced.is_empty() {
        return Ok(None);
    }
    // None tagged for it: a group of its name in its VPC is someone else's,
    // and the create will be refused (group names are unique in a VPC).
    let vpc = s(want, "vpc_id");
    if vpc.is_empty() || want.get("vpc_id").is_some_and(is_unknown) {
        return Ok(None);
    }
    let named = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(s(want, "name")).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(err("ec2:DescribeSecurityGroups"))?;
    Ok(named.security_groups().first().map(|g| Known { id: g.group_id().unwrap_or_default().to_string(), attrs: observed(g) }))
}

/// Groups tagged for `project` that are not `known`.
async fn scan_tagged(aws: &Aws, project: &str, known: &std::collections::HashSet<&str>) -> Result<Vec<(String, String)>, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("tag:gwctl:project").values(project).build())
        .send()
        .await
        .map_err(err("ec2:DescribeSecurityGroups"))?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(|id| (g, id)))
        .filter(|(_, id)| !known.contains(id))
        .map(|(g, id)| (super::address_of(g.tags(), id), id.to_string()))
        .collect())
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut found = read_ids(aws, &ids).await?;
    Ok(items.iter().map(|i| (i.address.clone(), found.remove(&i.id).flatten())).collect())
}

/// One paginated DescribeSecurityGroups for all ids; a filter, not GroupIds,
/// so that one deleted group does not fail the whole read.
async fn read_ids(aws: &Aws, ids: &[String]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let mut out: HashMap<String, Option<Attrs>> = ids.iter().map(|id| (id.clone(), None)).collect();
    let mut pages = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-id").set_values(Some(ids.to_vec())).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for group in page.map_err(err("ec2:DescribeSecurityGroups"))?.security_groups() {
            if let Some(id) = group.group_id() {
                out.insert(id.to_string(), Some(observed(group)));
            }
        }
    }
    Ok(out)
}

fn observed(group: &aws_sdk_ec2::types::SecurityGroup) -> Attrs {
    let tags = tags_value(group.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))));
    json!({
        "name": group.group_name().map(spec_name),
        "description": group.description(),
        "vpc_id": group.vpc_id(),
        "ingress": rules_value(flatten(group.ip_permissions())),
        "egress": rules_value(flatten(group.ip_permissions_egress())),
        "tags": tags,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}


/// AWS groups rules by protocol and ports; gwctl has one rule per source.
fn flatten(perms: &[IpPermission]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for p in perms {
        let protocol = crate::spec::protocol_name(p.ip_protocol().unwrap_or("-1"));
        let (from_port, to_port) = if protocol == "-1" { (None, None) } else { (p.from_port(), p.to_port()) };
        let mut sources: Vec<String> = p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(str::to_string)).collect();
        sources.extend(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6().map(str::to_string)));
        sources.extend(p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(str::to_string)));
        sources.extend(p.prefix_list_ids().iter().filter_map(|g| g.prefix_list_id().map(str::to_string)));
        for cidr in sources {
            rules.push(Rule { protocol: protocol.clone(), from_port, to_port, cidr: cidr.to_ascii_lowercase(), security_group: None });
        }
    }
    rules
}

fn permission(rule: &Rule) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&rule.protocol).set_from_port(rule.from_port).set_to_port(rule.to_port);
    let c = rule.cidr.as_str();
    b = if c.starts_with("sg-") {
        b.user_id_group_pairs(UserIdGroupPair::builder().group_id(c).build())
    } else if c.starts_with("pl-") {
        b.prefix_list_ids(aws_sdk_ec2::types::PrefixListId::builder().prefix_list_id(c).build())
    } else if c.contains(':') {
        b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build())
    } else {
        b.ip_ranges(IpRange::builder().cidr_ip(c).build())
    };
    b.build()
}

fn rules_of(attrs: &Attrs, key: &str) -> Vec<Rule> {
    attrs.get(key).cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    for direction in ["ingress", "egress"] {
        if !after.contains_key(direction) {
            continue;
        }
        let (old, new) = (rules_of(before, direction), rules_of(after, direction));
        let add: Vec<IpPermission> = new.iter().filter(|r| !old.contains(r)).map(permission).collect();
        let revoke: Vec<IpPermission> = old.iter().filter(|r| !new.contains(r)).map(permission).collect();
        let ingress = direction == "ingress";
        if !add.is_empty() {
            let added = if ingress {
                aws.ec2.authorize_security_group_ingress().group_id(id).set_ip_permissions(Some(add)).send().await.map(|_| ()).map_err(err("ec2:AuthorizeSecurityGroupIngress"))
            } else {
                aws.ec2.authorize_security_group_egress().group_id(id).set_ip_permissions(Some(add)).send().await.map(|_| ()).map_err(err("ec2:AuthorizeSecurityGroupEgress"))
            };
            // The rule is there already: the SDK retried a call whose answer was
            // lost after EC2 had added it. The read-back below shows the rules.
            match added {
                Err(e) if !e.is("InvalidPermission.Duplicate") => return Err(e),
                _ => {}
            }
        }
        if !revoke.is_empty() {
            if ingress {
                aws.ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(Some(revoke)).send().await.map_err(err("ec2:RevokeSecurityGroupIngress"))?;
            } else {
                aws.ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(Some(revoke)).send().await.map_err(err("ec2:RevokeSecurityGroupEgress"))?;
            }
        }
    }
    update_tags(aws, id, before, after).await?;
    read_ids(aws, &[id.to_string()])
        .await?
        .remove(id)
        .flatten()
        .ok_or_else(|| AwsError::other("ec2:DescribeSecurityGroups", format!("security group {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    match wait_unused(aws, id).await {
        Err(e) if !e.is("InUse") => return Err(e),
        // Still used when the wait ran out: the delete says by what.
        _ => {}
    }
    retry_while(&["DependencyViolation", "InvalidGroup.InUse"], &[], IN_USE_TIMEOUT, || async {
        aws.ec2.delete_security_group().group_id(id).send().await.map(|_| ()).map_err(err("ec2:DeleteSecurityGroup"))
    })
    .await
}

/// Waits until no network interface but an instance's is in the group. A
/// deleted VPC link's interfaces keep the group for minutes, and AWS refuses
/// DeleteSecurityGroup until they go; asking beforehand spares those
/// refusals. `InUse` when the wait runs out.
async fn wait_unused(aws: &Aws, id: &str) -> Result<(), AwsError> {
    retry_while(&["InUse"], &[], IN_USE_TIMEOUT, || async {
        let out = aws
            .ec2
            .describe_network_interfaces()
            .filters(Filter::builder().name("group-id").values(id).build())
            .send()
            .await
            .map_err(err("ec2:DescribeNetworkInterfaces"))?;
        // An instance's interface goes with the instance: its delete (and
        // the retries below, while it shuts down) see to that.
        let enis: Vec<_> = out.network_interfaces().iter().filter(|e| e.attachment().and_then(|a| a.instance_id()).is_none()).collect();
        match enis.as_slice() {
            [] => Ok(()),
            enis => Err(AwsError {
                operation: "ec2:DescribeNetworkInterfaces",
                code: Some("InUse".into()),
                message: format!("{id} is still used by {}", enis.iter().filter_map(|e| e.network_interface_id()).collect::<Vec<_>>().join(", ")),
                request_id: None,
            }),
        }
    })
    .await
}

/// The `security_group` kind.
pub(crate) struct SecurityGroup;

resource_kind!(SecurityGroup, KIND, create(aws, address, want, token) => create(aws, address, want, token),
    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    fn scan_tagged<'a>(&'a self, aws: &'a Aws, project: &'a str, known: &'a std::collections::HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(scan_tagged(aws, project, known))
    }

    /// AWS refuses to delete a group an instance uses (DependencyViolation
    /// until the instance leaves it, terraform-provider-aws#1671), so a
    /// replaced group is created first under a name of its own (see
    /// [`aws_name`]), the instance moved to it, and the old one deleted last.
    fn create_before_destroy(&self) -> bool {
        true
    }

    /// A group left behind by a replacement (superseded) is deleted once the
    /// instances that used it have moved off.
    fn delete_waits_on(&self) -> &'static [Kind] {
        &[super::instance::KIND]
    }

    /// A group is made only tagged for the project, and changed or deleted
    /// only while it is; the VPC it is made in is any.
    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let groups = vec![format!("arn:{p}:ec2:{r}:*:security-group/*")];
        vec![
            Grant::read("Ec2Read", &["ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeSubnets"], vec!["*".into()]),
            Grant::write("Ec2DeleteWaits", &["ec2:DescribeNetworkInterfaces"], vec!["*".into()]),
            Grant::write("Ec2CreateSecurityGroup", &["ec2:CreateSecurityGroup"], groups.clone()).tagged(TagOn::Request, &spec.project),
            Grant::write("Ec2CreateSecurityGroupIn", &["ec2:CreateSecurityGroup"], vec![format!("arn:{p}:ec2:{r}:*:vpc/*")]),
            Grant::write("Ec2SecurityGroupTagOnCreate", &["ec2:CreateTags"], groups.clone()).when(serde_json::json!({"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}})),
            Grant::write(
                "Ec2ProjectSecurityGroups",
                &[
                    "ec2:DeleteSecurityGroup",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:AuthorizeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:CreateTags",
                ],
                groups.clone(),
            )
            .tagged(TagOn::Ec2Resource, &spec.project),
            Grant::write("Ec2ProjectUntag", &["ec2:DeleteTags"], vec![format!("arn:{p}:ec2:{r}:*:instance/*"), format!("arn:{p}:ec2:{r}:*:volume/*"), groups[0].clone()])
                .when(crate::provider::kind::untag_of_project(&spec.project)),
        ]
    }

);
