//! `iam_role`: an IAM role EC2 can assume, with managed and inline policies.
//! id = role name.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};
use super::{normalize_policy, parse_policy};

use aws_sdk_iam::types::Tag;

pub const KIND: Kind = Kind::named("iam_role");

pub const FORCE_NEW: &[&str] = &["name"];

/// The trust policy of an EC2 instance role.
pub fn ec2_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    })
}

pub fn address(name: &str) -> String {
    format!("role.{name}")
}

/// The nodes the spec declares of this kind.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.roles.keys().map(|name| Node::new(address(name), KIND, vec![], Source::entry(name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let name = &node.source.name;
    let Some(role) = env.spec.roles.get(name) else { return Attrs::new() };
    let inline: serde_json::Map<String, Value> =
        role.inline_policies.iter().map(|(k, v)| (k.clone(), normalize_policy(v))).collect();
    let attrs = json!({
        "name": env.spec.aws_name(name),
        "assume_role_policy": normalize_policy(&ec2_trust_policy()),
        "managed_policies": role.managed_policies,
        "inline_policies": inline,
        "tags": env.tags(&node.address, &[]),
    });
    attrs.as_object().cloned().unwrap_or_default()
}

fn iam_tags(attrs: &Attrs) -> Vec<Tag> {
    tag_pairs(attrs).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let name = s(want, "name").to_string();
    let trust = want.get("assume_role_policy").cloned().unwrap_or_else(ec2_trust_policy).to_string();
    let created = aws
        .iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(trust)
        .description(format!("gwctl {address}"))
        .set_tags(Some(iam_tags(want)))
        .send()
        .await
        .map_err(err("iam:CreateRole"));
    if let Err(e) = created {
        if !e.is("EntityAlreadyExists") {
            return Err(e);
        }
        // A role of this name exists: adopt it only if an earlier, interrupted
        // run of this stack made it.
        let item = ReadItem { address: address.into(), id: name.clone(), attrs: Attrs::new() };
        let existing = read_one(aws, &item).await?.unwrap_or_default();
        check_adoptable(&existing, want, "iam:CreateRole", &format!("a role named {name}"), address)?;
        let attrs = update(aws, &name, &existing, want).await?;
        return Ok(Known { id: name, attrs });
    }
    let empty = Attrs::new();
    let attrs = update(aws, &name, &empty, &strip_tags_and_trust(want)).await?;
    Ok(Known { id: name, attrs })
}

/// The attributes `create` has already sent with CreateRole removed, so that
/// `update` only attaches the policies.
fn strip_tags_and_trust(want: &Attrs) -> Attrs {
    let mut rest = want.clone();
    rest.remove("tags");
    rest.remove("assume_role_policy");
    rest
}

/// The role of the name `want` gives, if there is one.
pub async fn find(aws: &Aws, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let name = s(want, "name").to_string();
    let item = ReadItem { address: String::new(), id: name.clone(), attrs: Attrs::new() };
    Ok(read_one(aws, &item).await?.map(|attrs| Known { id: name, attrs }))
}

/// Roles named `<project>-*` and tagged for `project` that are not `known`.
async fn scan_tagged(aws: &Aws, project: &str, known: &std::collections::HashSet<&str>) -> Result<Vec<(String, String)>, AwsError> {
    let prefix = format!("{project}-");
    let listed: Vec<_> = aws.iam.list_roles().into_paginator().items().send().try_collect().await.map_err(err("iam:ListRoles"))?;
    let candidates: Vec<String> = listed.into_iter().map(|r| r.role_name).filter(|n| n.starts_with(&prefix) && !known.contains(n.as_str())).collect();
    let mut out = Vec::new();
    for name in candidates {
        let tags = aws.iam.list_role_tags().role_name(&name).send().await.map_err(err("iam:ListRoleTags"))?;
        if tags.tags().iter().any(|t| t.key == "gwctl:project" && t.value == project) {
            let address = tags.tags().iter().find(|t| t.key == "gwctl:address").map(|t| t.value.clone()).unwrap_or_else(|| name.clone());
            out.push((address, name));
        }
    }
    Ok(out)
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|item| async move { read_one(aws, item).await.map(|a| (item.address.clone(), a)) });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

/// GetRole, its two policy lists and the inline policies the state records,
/// all at once; only an inline policy the state does not know is read after
/// the list names it.
async fn read_one(aws: &Aws, item: &ReadItem) -> Result<Option<Attrs>, AwsError> {
    let name = item.id.as_str();
    let get_policy = |policy: String| async move {
        let out = aws.iam.get_role_policy().role_name(name).policy_name(&policy).send().await.map_err(err("iam:GetRolePolicy"));
        (policy, out.map(|out| parse_policy(&out.policy_document)))
    };
    let recorded: Vec<String> = item.attrs.get("inline_policies").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let role = aws.iam.get_role().role_name(name).send();
    let attached = aws.iam.list_attached_role_policies().role_name(name).into_paginator().items().send().try_collect();
    let inline_names = aws.iam.list_role_policies().role_name(name).into_paginator().items().send().try_collect();
    let early = futures::future::join_all(recorded.into_iter().map(get_policy));
    let (role, attached, inline_names, early) = futures::join!(role, attached, inline_names, early);
    let role = match role.map_err(err("iam:GetRole")) {
        Ok(out) => out.role,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(role) = role else { return Ok(None) };
    let mut managed: Vec<String> = attached
        .map_err(err("iam:ListAttachedRolePolicies"))?
        .into_iter()
        .filter_map(|p| p.policy_arn)
        .collect();
    managed.sort();
    let inline_names: Vec<String> = inline_names.map_err(err("iam:ListRolePolicies"))?;
    let mut read = read_rest(&inline_names, early, get_policy).await;
    let docs = inline_names
        .iter()
        .map(|policy| Ok((policy.clone(), read.remove(policy).unwrap_or(Ok(Value::Null))?)))
        .collect::<Result<Vec<_>, AwsError>>()?;
    let inline: serde_json::Map<String, Value> = docs.into_iter().collect();
    let trust = role.assume_role_policy_document.as_deref().map(parse_policy).unwrap_or(Value::Null);
    let attrs = json!({
        "name": role.role_name,
        "arn": role.arn,
        "assume_role_policy": trust,
        "managed_policies": managed,
        "inline_policies": inline,
        // GetRole returns the role's tags (at most 50, never paged).
        "tags": tags_value(role.tags().iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    });
    Ok(attrs.as_object().cloned())
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "assume_role_policy") && !before.is_empty() {
        let doc = after.get("assume_role_policy").cloned().unwrap_or_default().to_string();
        aws.iam.update_assume_role_policy().role_name(id).policy_document(doc).send().await.map_err(err("iam:UpdateAssumeRolePolicy"))?;
    }
    let (attach, detach) = set_delta(before, after, "managed_policies");
    for arn in attach.iter().filter_map(Value::as_str) {
        aws.iam.attach_role_policy().role_name(id).policy_arn(arn).send().await.map_err(err("iam:AttachRolePolicy"))?;
    }
    if after.contains_key("managed_policies") {
        for arn in detach.iter().filter_map(Value::as_str) {
            aws.iam.detach_role_policy().role_name(id).policy_arn(arn).send().await.map_err(err("iam:DetachRolePolicy"))?;
        }
    }
    let (put, removed) = map_delta(before, after, "inline_policies");
    for (policy, doc) in put {
        aws.iam.put_role_policy().role_name(id).policy_name(policy).policy_document(doc.to_string()).send().await.map_err(err("iam:PutRolePolicy"))?;
    }
    if after.contains_key("inline_policies") {
        for policy in removed {
            aws.iam.delete_role_policy().role_name(id).policy_name(policy).send().await.map_err(err("iam:DeleteRolePolicy"))?;
        }
    }
    let (set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or("")).build().ok());
        aws.iam.tag_role().role_name(id).set_tags(Some(tags.collect())).send().await.map_err(err("iam:TagRole"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.iam.untag_role().role_name(id).set_tag_keys(Some(unset)).send().await.map_err(err("iam:UntagRole"))?;
    }
    let item = ReadItem { address: String::new(), id: id.into(), attrs: Attrs::new() };
    read_one(aws, &item).await?.ok_or_else(|| AwsError::other("iam:GetRole", format!("role {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    let attached: Vec<_> = aws
        .iam
        .list_attached_role_policies()
        .role_name(id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("iam:ListAttachedRolePolicies"))?;
    for arn in attached.into_iter().filter_map(|p| p.policy_arn) {
        aws.iam.detach_role_policy().role_name(id).policy_arn(arn).send().await.map_err(err("iam:DetachRolePolicy"))?;
    }
    let inline: Vec<String> =
        aws.iam.list_role_policies().role_name(id).into_paginator().items().send().try_collect().await.map_err(err("iam:ListRolePolicies"))?;
    for policy in inline {
        aws.iam.delete_role_policy().role_name(id).policy_name(policy).send().await.map_err(err("iam:DeleteRolePolicy"))?;
    }
    let profiles: Vec<_> = aws
        .iam
        .list_instance_profiles_for_role()
        .role_name(id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("iam:ListInstanceProfilesForRole"))?;
    for profile in profiles {
        aws.iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile.instance_profile_name)
            .role_name(id)
            .send()
            .await
            .map_err(err("iam:RemoveRoleFromInstanceProfile"))?;
    }
    aws.iam.delete_role().role_name(id).send().await.map_err(err("iam:DeleteRole"))?;
    Ok(())
}

/// The `role` kind.
pub(crate) struct Role;

resource_kind!(Role, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn find<'a>(&'a self, aws: &'a Aws, _address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, want))
    }

    fn scan_tagged<'a>(&'a self, aws: &'a Aws, project: &'a str, known: &'a std::collections::HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(scan_tagged(aws, project, known))
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::Grant;
        let roles = vec![format!("arn:{}:iam::*:role/{}-*", crate::provider::aws::partition(&spec.region), spec.project)];
        vec![
            Grant::read("IamRolesRead", &["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListRoleTags", "iam:ListInstanceProfilesForRole"], roles.clone()),
            Grant::read("IamRolesList", &["iam:ListRoles"], vec!["*".into()]),
            Grant::write(
                "IamRolesWrite",
                &["iam:CreateRole", "iam:DeleteRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy"],
                roles,
            ),
        ]
    }
);
