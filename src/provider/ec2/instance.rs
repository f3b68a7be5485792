//! `instance`: one EC2 instance. IMDSv2 required and the root volume
//! encrypted unless the spec says otherwise; user data from a file.
//! id = instance id.
//!
//! Contracts:
//! - Create is idempotent: RunInstances carries the token recorded in the
//!   state before the call, and an instance already tagged with this address
//!   is adopted instead of launching a second one.
//! - The AMI is pinned: see [`resolve_amis`].

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, retry_while, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};

use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, IamInstanceProfileSpecification,
    InstanceAttributeName, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceStateName,
    ResourceType, TagSpecification,
};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{ec2_tags, update_tags};
use crate::spec::AmiSource;
use crate::state::State;

pub const KIND: Kind = Kind::named("instance");

pub const FORCE_NEW: &[&str] = &["ami", "user_data", "root_volume_encrypted", "root_volume_size", "subnet_id"];

/// How long RunInstances is retried while IAM has not yet propagated a new
/// instance profile to EC2.
const PROFILE_PROPAGATION: Duration = Duration::from_secs(120);
/// What EC2 answers, as InvalidParameterValue, while a new instance profile
/// or the role just added to it has not reached EC2 yet (both seen for
/// seconds after the IAM calls return; hashicorp/terraform#2660, #4306).
const PROFILE_NOT_YET: &[&str] = &["Invalid IAM Instance Profile", "has no associated IAM Roles"];
/// StartInstances right after ModifyInstanceAttribute(InstanceType) can be
/// refused until the change has settled (terraform-provider-aws#16433).
const START_AFTER_MODIFY: Duration = Duration::from_secs(120);
/// How long to wait for an instance to reach running, stopped or terminated.
const STATE_WAIT: Duration = Duration::from_secs(600);

pub fn address(name: &str) -> String {
    format!("instance.{name}")
}

/// One node per instance, after its role's instance profile and its groups.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(name, inst): (&String, &crate::spec::InstanceSpec)| {
        let mut deps: Vec<String> = inst.role.iter().map(|r| crate::provider::iam::instance_profile::address(r)).collect();
        deps.extend(inst.security_groups.iter().map(|g| super::security_group::address(g)));
        Node::new(address(name), KIND, deps, Source::entry(name))
    };
    spec.instances.iter().map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let name = &node.source.name;
    let Some(inst) = env.spec.instances.get(name) else { return Attrs::new() };
    let ami = env.lookups.amis.get(&node.address).cloned().map(Value::String).unwrap_or(json!(UNKNOWN));
    let groups: Vec<Value> = inst.security_groups.iter().map(|g| env.id(&super::security_group::address(g))).collect();
    let groups = if groups.iter().any(is_unknown) {
        json!(UNKNOWN)
    } else {
        let mut ids: Vec<String> = groups.iter().filter_map(|g| g.as_str().map(str::to_string)).collect();
        ids.sort();
        json!(ids)
    };
    let mut attrs = json!({
        "ami": ami,
        "ami_source": inst.ami.as_spec_str(),
        "instance_type": inst.instance_type,
        "iam_instance_profile": inst.role.as_ref().map(|r| env.spec.aws_name(r)),
        "security_groups": groups,
        "user_data": inst.user_data.as_ref().map(|u| user_data_digest(&u.bytes)),
        "metadata_http_tokens": if inst.require_imdsv2 { "required" } else { "optional" },
        "root_volume_encrypted": inst.encrypt_root_volume,
        "state": "running",
        "tags": env.tags(&node.address, &[("Name", env.spec.aws_name(name))]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    if let Some(size) = inst.root_volume_size {
        attrs.insert("root_volume_size".into(), json!(size));
    }
    if let Some(subnet) = &inst.subnet_id {
        attrs.insert("subnet_id".into(), json!(subnet));
    }
    if let Some(ud) = &inst.user_data {
        // Sent with RunInstances; never stored (user data may hold secrets).
        attrs.insert("_user_data".into(), json!(base64::engine::general_purpose::STANDARD.encode(&ud.bytes)));
    }
    attrs
}

/// How user data appears in plans and state: its size and hash, not its text.
pub fn user_data_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex} ({} bytes)", bytes.len())
}

/// AMI id per instance address. While the spec names the source recorded in
/// the state, the recorded AMI is kept, so a new release behind an `ssm:`
/// parameter does not replace a running instance; a changed source resolves
/// anew.
pub async fn resolve_amis(aws: &Aws, spec: &crate::spec::Spec, state: &State) -> Result<HashMap<String, String>, AwsError> {
    let mut out = HashMap::new();
    let mut to_fetch: Vec<(String, String)> = Vec::new();
    for (name, inst) in &spec.instances {
        let addr = address(name);
        let source = inst.ami.as_spec_str();
        let pinned = state
            .get(&addr)
            .filter(|r| s(&r.attributes, "ami_source") == source)
            .map(|r| s(&r.attributes, "ami").to_string())
            .filter(|ami| !ami.is_empty());
        match (pinned, &inst.ami) {
            (Some(ami), _) => {
                out.insert(addr, ami);
            }
            (None, AmiSource::Id(id)) => {
                out.insert(addr, id.clone());
            }
            (None, AmiSource::Ssm(path)) => to_fetch.push((addr, path.clone())),
        }
    }
    let fetched = futures::future::try_join_all(to_fetch.into_iter().map(|(addr, path)| async move {
        let param = aws.ssm.get_parameter().name(&path).send().await.map_err(err("ssm:GetParameter"))?;
        let value = param.parameter().and_then(|p| p.value()).unwrap_or_default().to_string();
        if !value.starts_with("ami-") {
            return Err(AwsError::other("ssm:GetParameter", format!("parameter {path} holds {value:?}, not an AMI id")));
        }
        Ok((addr, value))
    }))
    .await?;
    out.extend(fetched);
    Ok(out)
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    let project = want.get("tags").and_then(|t| t.get("gwctl:project")).and_then(Value::as_str).unwrap_or_default();
    if let Some(id) = find_tagged(aws, project, address).await? {
        let current = read_ids(aws, &[id.clone()]).await?.remove(&id).flatten().unwrap_or_default();
        let attrs = update(aws, &id, &current, want).await?;
        return Ok(Known { id, attrs: with_source(attrs, want) });
    }
    let ami = s(want, "ami");
    let image = aws.ec2.describe_images().image_ids(ami).send().await.map_err(err("ec2:DescribeImages"))?;
    let root_device = image
        .images()
        .first()
        .and_then(|i| i.root_device_name().map(str::to_string))
        .ok_or_else(|| AwsError::other("ec2:DescribeImages", format!("AMI {ami} does not exist in {}", aws.region)))?;
    let ebs = EbsBlockDevice::builder()
        .encrypted(want.get("root_volume_encrypted").and_then(Value::as_bool).unwrap_or(true))
        .delete_on_termination(true)
        .set_volume_size(want.get("root_volume_size").and_then(Value::as_i64).map(|v| v as i32))
        .build();
    let groups: Vec<String> = want
        .get("security_groups")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let tokens = if s(want, "metadata_http_tokens") == "optional" { HttpTokensState::Optional } else { HttpTokensState::Required };
    let profile = want.get("iam_instance_profile").and_then(Value::as_str);
    let user_data = want.get("_user_data").and_then(Value::as_str);
    let subnet = want.get("subnet_id").and_then(Value::as_str);
    let tags = ec2_tags(want);
    let reservation = retry_while(&["InvalidParameterValue"], PROFILE_NOT_YET, PROFILE_PROPAGATION, || async {
        aws.ec2
            .run_instances()
            .client_token(token)
            .image_id(ami)
            .instance_type(s(want, "instance_type").into())
            .min_count(1)
            .max_count(1)
            .set_security_group_ids((!groups.is_empty()).then(|| groups.clone()))
            .set_subnet_id(subnet.map(str::to_string))
            .set_iam_instance_profile(profile.map(|p| IamInstanceProfileSpecification::builder().name(p).build()))
            .set_user_data(user_data.map(str::to_string))
            .metadata_options(
                InstanceMetadataOptionsRequest::builder().http_tokens(tokens.clone()).http_endpoint(InstanceMetadataEndpointState::Enabled).build(),
            )
            .block_device_mappings(BlockDeviceMapping::builder().device_name(&root_device).ebs(ebs.clone()).build())
            .tag_specifications(TagSpecification::builder().resource_type(ResourceType::Instance).set_tags(Some(tags.clone())).build())
            .tag_specifications(TagSpecification::builder().resource_type(ResourceType::Volume).set_tags(Some(tags.clone())).build())
            .send()
            .await
            .map_err(err("ec2:RunInstances"))
    })
    .await?;
    let id = reservation
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| AwsError::other("ec2:RunInstances", "RunInstances returned no instance"))?;
    wait_running(aws, &id).await?;
    let attrs = read_ids(aws, &[id.clone()])
        .await?
        .remove(&id)
        .flatten()
        .ok_or_else(|| AwsError::other("ec2:DescribeInstances", format!("instance {id} terminated right after launch")))?;
    Ok(Known { id, attrs: with_source(attrs, want) })
}

fn with_source(mut attrs: Attrs, want: &Attrs) -> Attrs {
    if let Some(src) = want.get("ami_source") {
        attrs.insert("ami_source".into(), src.clone());
    }
    attrs
}

/// A live instance of this project that carries this address's tag.
async fn find_tagged(aws: &Aws, project: &str, address: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:gwctl:project").values(project).build())
        .filters(Filter::builder().name("tag:gwctl:address").values(address).build())
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build())
        .send()
        .await
        .map_err(err("ec2:DescribeInstances"))?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).find_map(|i| i.instance_id().map(str::to_string)))
}

async fn wait_running(aws: &Aws, id: &str) -> Result<(), AwsError> {
    wait_state(aws, id, InstanceStateName::Running, &[InstanceStateName::ShuttingDown, InstanceStateName::Terminated, InstanceStateName::Stopped]).await
}

async fn wait_stopped(aws: &Aws, id: &str) -> Result<(), AwsError> {
    wait_state(aws, id, InstanceStateName::Stopped, &[InstanceStateName::ShuttingDown, InstanceStateName::Terminated]).await
}

async fn wait_terminated(aws: &Aws, id: &str) -> Result<(), AwsError> {
    wait_state(aws, id, InstanceStateName::Terminated, &[]).await
}

/// Polls the instance until it is in `target`, failing at once in one of
/// `fails`, for up to STATE_WAIT. The first look is at once and the waits
/// grow from 1 s to 10 s: a state EC2 reaches in two seconds costs two, one
/// it reaches in a minute costs a handful of calls (the SDK's own waiters
/// poll every 15 s from the start).
async fn wait_state(aws: &Aws, id: &str, target: InstanceStateName, fails: &[InstanceStateName]) -> Result<(), AwsError> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        let out = aws.ec2.describe_instances().instance_ids(id).send().await.map_err(err("ec2:DescribeInstances"));
        let state = match out {
            Ok(out) => out.reservations().iter().flat_map(|r| r.instances()).find_map(|i| i.state().and_then(|s| s.name()).cloned()),
            // A terminated instance is soon forgotten: gone is terminated.
            Err(e) if e.is_not_found() && target == InstanceStateName::Terminated => return Ok(()),
            Err(e) => return Err(e),
        };
        match state {
            Some(s) if s == target => return Ok(()),
            None if target == InstanceStateName::Terminated => return Ok(()),
            Some(s) if fails.contains(&s) => {
                return Err(AwsError::other("ec2:DescribeInstances", format!("instance {id} is {} while waiting for it to be {}", s.as_str(), target.as_str())))
            }
            _ if started.elapsed() + wait > STATE_WAIT => {
                return Err(AwsError::other("ec2:DescribeInstances", format!("instance {id} did not become {} within {}s", target.as_str(), STATE_WAIT.as_secs())))
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 3 / 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The live instance tagged for this project and address, if there is one.
pub async fn find(aws: &Aws, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let Some(id) = find_tagged(aws, project_tag(want).unwrap_or_default(), address).await? else { return Ok(None) };
    let found = read_ids(aws, std::slice::from_ref(&id)).await?.remove(&id).flatten();
    Ok(found.map(|attrs| Known { id, attrs: with_source(attrs, want) }))
}

/// Live instances tagged for `project` that are not `known`.
async fn scan_tagged(aws: &Aws, project: &str, known: &std::collections::HashSet<&str>) -> Result<Vec<(String, String)>, AwsError> {
    let out = aws
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:gwctl:project").values(project).build())
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build())
        .send()
        .await
        .map_err(err("ec2:DescribeInstances"))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(|id| (i, id)))
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, id)| (super::address_of(i.tags(), id), id.to_string()))
        .collect())
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut found = read_ids(aws, &ids).await?;
    Ok(items
        .iter()
        .map(|i| {
            let attrs = found.remove(&i.id).flatten().map(|a| with_source(a, &i.attrs));
            (i.address.clone(), attrs)
        })
        .collect())
}

/// DescribeInstances, one DescribeVolumes for the volumes attached to them,
/// and the user data of each (EC2 has no batched read for it), all at once:
/// the ids are known, so no call waits for another's answer. A user-data
/// answer counts only for an instance that DescribeInstances found live.
async fn read_ids(aws: &Aws, ids: &[String]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let mut out: HashMap<String, Option<Attrs>> = ids.iter().map(|id| (id.clone(), None)).collect();
    let instances = async {
        let mut instances = Vec::new();
        let mut pages = aws
            .ec2
            .describe_instances()
            .filters(Filter::builder().name("instance-id").set_values(Some(ids.to_vec())).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for r in page.map_err(err("ec2:DescribeInstances"))?.reservations() {
                instances.extend(r.instances().iter().cloned());
            }
        }
        Ok::<_, AwsError>(instances)
    };
    let volumes = async {
        let out = aws
            .ec2
            .describe_volumes()
            .filters(Filter::builder().name("attachment.instance-id").set_values(Some(ids.to_vec())).build())
            .send()
            .await
            .map_err(err("ec2:DescribeVolumes"))?;
        Ok::<_, AwsError>(
            out.volumes()
                .iter()
                .filter_map(|v| Some((v.volume_id()?.to_string(), (v.encrypted().unwrap_or(false), v.size().unwrap_or(0)))))
                .collect::<HashMap<_, _>>(),
        )
    };
    let user_data = futures::future::join_all(ids.iter().map(|id| async move {
        let out = aws.ec2.describe_instance_attribute().instance_id(id).attribute(InstanceAttributeName::UserData).send().await.map_err(err("ec2:DescribeInstanceAttribute"));
        let digest = out.map(|out| {
            out.user_data()
                .and_then(|v| v.value())
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .map(|bytes| user_data_digest(&bytes))
        });
        (id.to_string(), digest)
    }));
    let (instances, volumes, user_data) = futures::join!(instances, volumes, user_data);
    let mut instances = instances?;
    instances.retain(|i| {
        !matches!(i.state().and_then(|s| s.name()), Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown))
    });
    let volumes = volumes?;
    let mut user_data: HashMap<String, Result<Option<String>, AwsError>> = user_data.into_iter().collect();
    let user_data: HashMap<String, Option<String>> = instances
        .iter()
        .filter_map(|i| i.instance_id())
        .map(|id| Ok((id.to_string(), user_data.remove(id).transpose()?.flatten())))
        .collect::<Result<_, AwsError>>()?;
    for i in &instances {
        let Some(id) = i.instance_id() else { continue };
        let root = i.root_device_name().and_then(|root| i.block_device_mappings().iter().find(|m| m.device_name() == Some(root)));
        let volume = root.and_then(|m| m.ebs()).and_then(|e| e.volume_id()).and_then(|v| volumes.get(v));
        let mut groups: Vec<String> = i.security_groups().iter().filter_map(|g| g.group_id().map(str::to_string)).collect();
        groups.sort();
        let profile = i.iam_instance_profile().and_then(|p| p.arn()).map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string());
        let state = i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string());
        let attrs = json!({
            "ami": i.image_id(),
            "instance_type": i.instance_type().map(|t| t.as_str()),
            "iam_instance_profile": profile,
            "security_groups": groups,
            "user_data": user_data.get(id).cloned().flatten(),
            "metadata_http_tokens": i.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()),
            "root_volume_encrypted": volume.map(|v| v.0),
            "root_volume_size": volume.map(|v| v.1),
            "subnet_id": i.subnet_id(),
            "state": state,
            "public_ip": i.public_ip_address(),
            "public_dns": i.public_dns_name(),
            "private_ip": i.private_ip_address(),
            "key_name": i.key_name(),
            "tags": tags_value(i.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))),
        });
        out.insert(id.to_string(), attrs.as_object().cloned());
    }
    Ok(out)
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let want_running = s(after, "state") == "running";
    if changed(before, after, "instance_type") {
        aws.ec2.stop_instances().instance_ids(id).send().await.map_err(err("ec2:StopInstances"))?;
        wait_stopped(aws, id).await?;
        aws.ec2
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(s(after, "instance_type")).build())
            .send()
            .await
            .map_err(err("ec2:ModifyInstanceAttribute"))?;
        if want_running {
            retry_while(&["InvalidParameterValue"], &["does not match attribute value"], START_AFTER_MODIFY, || async {
                aws.ec2.start_instances().instance_ids(id).send().await.map(|_| ()).map_err(err("ec2:StartInstances"))
            })
            .await?;
            wait_running(aws, id).await?;
        }
    } else if want_running && s(before, "state") != "running" && !before.is_empty() {
        if s(before, "state") == "stopping" {
            wait_stopped(aws, id).await?;
        }
        aws.ec2.start_instances().instance_ids(id).send().await.map_err(err("ec2:StartInstances"))?;
        wait_running(aws, id).await?;
    }
    if changed(before, after, "security_groups") {
        let groups: Vec<String> =
            after["security_groups"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default();
        aws.ec2.modify_instance_attribute().instance_id(id).set_groups(Some(groups)).send().await.map_err(err("ec2:ModifyInstanceAttribute"))?;
    }
    if changed(before, after, "iam_instance_profile") {
        set_profile(aws, id, after.get("iam_instance_profile").and_then(Value::as_str)).await?;
    }
    if changed(before, after, "metadata_http_tokens") {
        let tokens = if s(after, "metadata_http_tokens") == "optional" { HttpTokensState::Optional } else { HttpTokensState::Required };
        aws.ec2.modify_instance_metadata_options().instance_id(id).http_tokens(tokens).send().await.map_err(err("ec2:ModifyInstanceMetadataOptions"))?;
    }
    update_tags(aws, id, before, after).await?;
    let attrs = read_ids(aws, &[id.to_string()])
        .await?
        .remove(id)
        .flatten()
        .ok_or_else(|| AwsError::other("ec2:DescribeInstances", format!("instance {id} vanished while being updated")))?;
    Ok(with_source(attrs, after))
}

async fn set_profile(aws: &Aws, id: &str, profile: Option<&str>) -> Result<(), AwsError> {
    let assoc = aws
        .ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(id).build())
        .send()
        .await
        .map_err(err("ec2:DescribeIamInstanceProfileAssociations"))?;
    let current = assoc.iam_instance_profile_associations().first().and_then(|a| a.association_id()).map(str::to_string);
    match (current, profile) {
        (Some(assoc), Some(name)) => {
            retry_while(&["InvalidParameterValue"], PROFILE_NOT_YET, PROFILE_PROPAGATION, || async {
                aws.ec2
                    .replace_iam_instance_profile_association()
                    .association_id(&assoc)
                    .iam_instance_profile(IamInstanceProfileSpecification::builder().name(name).build())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(err("ec2:ReplaceIamInstanceProfileAssociation"))
            })
            .await?;
        }
        (None, Some(name)) => {
            retry_while(&["InvalidParameterValue"], PROFILE_NOT_YET, PROFILE_PROPAGATION, || async {
                aws.ec2
                    .associate_iam_instance_profile()
                    .instance_id(id)
                    .iam_instance_profile(IamInstanceProfileSpecification::builder().name(name).build())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(err("ec2:AssociateIamInstanceProfile"))
            })
            .await?;
        }
        (Some(assoc), None) => {
            aws.ec2.disassociate_iam_instance_profile().association_id(assoc).send().await.map_err(err("ec2:DisassociateIamInstanceProfile"))?;
        }
        (None, None) => {}
    }
    Ok(())
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    aws.ec2.terminate_instances().instance_ids(id).send().await.map_err(err("ec2:TerminateInstances"))?;
    wait_terminated(aws, id).await
}

/// The `instance` kind.
pub(crate) struct Instance;

resource_kind!(Instance, KIND, create(aws, address, want, token) => create(aws, address, want, token),
    /// A stop and start (a new instance type) releases the public address.
    fn unknown_after_update(&self, before: &Attrs, after: &Attrs) -> &'static [&'static str] {
        if changed(before, after, "instance_type") {
            &["public_ip", "public_dns"]
        } else {
            &[]
        }
    }

    /// The AMI source the spec names, so that the import pins the AMI the
    /// instance runs instead of replacing it.
    fn import_attrs(&self, spec: &crate::spec::Spec, node: &Node) -> Attrs {
        let mut attrs = Attrs::new();
        if let Some(inst) = spec.instances.get(&node.source.name) {
            attrs.insert("ami_source".into(), json!(inst.ami.as_spec_str()));
        }
        attrs
    }

    /// An adopted instance keeps the AMI it runs when the spec names an SSM
    /// parameter: a newer AMI behind it does not replace the instance, as for
    /// a recorded one. An AMI id the spec names is compared as it is.
    fn pin(&self, address: &str, found: &Known, lookups: &mut Lookups) {
        if !s(&found.attrs, "ami_source").starts_with("ssm:") {
            return;
        }
        if let (Some(ami), Some(pinned)) = (found.attrs.get("ami").and_then(Value::as_str), lookups.amis.get_mut(address)) {
            *pinned = ami.to_string();
        }
    }

    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    fn scan_tagged<'a>(&'a self, aws: &'a Aws, project: &'a str, known: &'a std::collections::HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(scan_tagged(aws, project, known))
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::Grant;
        use crate::provider::kind::TagOn;
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let ec2 = |resource: &str| format!("arn:{p}:ec2:{r}:*:{resource}");
        let roles = vec![format!("arn:{p}:iam::*:role/{}-*", spec.project)];
        vec![
            Grant::read(
                "Ec2Read",
                &["ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:DescribeVolumes", "ec2:DescribeImages", "ec2:DescribeIamInstanceProfileAssociations", "ec2:DescribeSubnets"],
                vec!["*".into()],
            ),
            Grant::read("SsmPublicAmiParameters", &["ssm:GetParameter"], vec![format!("arn:{}:ssm:{}::parameter/aws/service/*", crate::provider::aws::partition(&spec.region), spec.region)]),
            Grant::verify("VerifySsmStatus", &["ssm:DescribeInstanceInformation"], vec!["*".into()]),
            Grant::write("Ec2Launch", &["ec2:RunInstances"], vec![ec2("instance/*"), ec2("volume/*")]).tagged(TagOn::Request, &spec.project),
            // What a launch uses besides what it makes: the AMI, the subnet,
            // the groups, the network interface it makes untagged.
            Grant::write("Ec2LaunchUsing", &["ec2:RunInstances"], vec![format!("arn:{p}:ec2:{r}::image/*"), ec2("subnet/*"), ec2("security-group/*"), ec2("network-interface/*")]),
            Grant::write("Ec2TagOnCreate", &["ec2:CreateTags"], vec![ec2("instance/*"), ec2("volume/*")]).when(json!({"StringEquals": {"ec2:CreateAction": "RunInstances"}})),
            Grant::write(
                "Ec2ProjectInstances",
                &[
                    "ec2:TerminateInstances",
                    "ec2:StopInstances",
                    "ec2:StartInstances",
                    "ec2:ModifyInstanceAttribute",
                    "ec2:ModifyInstanceMetadataOptions",
                    "ec2:AssociateIamInstanceProfile",
                    "ec2:DisassociateIamInstanceProfile",
                    "ec2:ReplaceIamInstanceProfileAssociation",
                    "ec2:CreateTags",
                ],
                // ModifyInstanceAttribute of the groups is checked on them too.
                vec![ec2("instance/*"), ec2("volume/*"), ec2("security-group/*")],
            )
            .tagged(TagOn::Ec2Resource, &spec.project),
            Grant::write("Ec2ProjectUntag", &["ec2:DeleteTags"], vec![ec2("instance/*"), ec2("volume/*"), ec2("security-group/*")]).when(crate::provider::kind::untag_of_project(&spec.project)),
            Grant::on_behalf("ForAwsPassRoleToEc2", &["iam:PassRole"], roles),
        ]
    }
);
