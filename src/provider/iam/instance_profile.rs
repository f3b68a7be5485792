//! `instance_profile`: the instance profile that carries a role to EC2, named
//! like its role. id = profile name.

use std::collections::HashMap;

use serde_json::json;

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, retry_while, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};

use aws_sdk_iam::types::Tag;

/// How long IAM may take to show a new role to AddRoleToInstanceProfile.
const ROLE_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

pub const KIND: Kind = Kind::named("instance_profile");

pub const FORCE_NEW: &[&str] = &["name"];

pub fn address(name: &str) -> String {
    format!("instance_profile.{name}")
}

/// One instance profile per role, named after it.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.roles.keys().map(|name| Node::new(address(name), KIND, vec![super::role::address(name)], Source::entry(name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let name = &node.source.name;
    let role_name = env.attr(&super::role::address(name), "name");
    let role_name = if is_unknown(&role_name) { json!(env.spec.aws_name(name)) } else { role_name };
    json!({
        "name": env.spec.aws_name(name),
        "role": role_name,
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let name = s(want, "name").to_string();
    let tags: Vec<Tag> = tag_pairs(want).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
    let created = aws.iam.create_instance_profile().instance_profile_name(&name).set_tags(Some(tags)).send().await.map_err(err("iam:CreateInstanceProfile"));
    let before = match created {
        Ok(_) => json!({"tags": want.get("tags")}).as_object().cloned().unwrap_or_default(),
        Err(e) if e.is("EntityAlreadyExists") => {
            let existing = read_one(aws, &name).await?.unwrap_or_default();
            check_adoptable(&existing, want, "iam:CreateInstanceProfile", &format!("an instance profile named {name}"), address)?;
            existing
        }
        Err(e) => return Err(e),
    };
    let attrs = update(aws, &name, &before, want).await?;
    Ok(Known { id: name, attrs })
}

/// The instance profile of the name `want` gives, if there is one.
pub async fn find(aws: &Aws, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let name = s(want, "name").to_string();
    Ok(read_one(aws, &name).await?.map(|attrs| Known { id: name, attrs }))
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|item| async move { read_one(aws, &item.id).await.map(|a| (item.address.clone(), a)) });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

async fn read_one(aws: &Aws, name: &str) -> Result<Option<Attrs>, AwsError> {
    let profile = match aws.iam.get_instance_profile().instance_profile_name(name).send().await.map_err(err("iam:GetInstanceProfile")) {
        Ok(out) => out.instance_profile,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(p) = profile else { return Ok(None) };
    let role = p.roles.first().map(|r| r.role_name.clone());
    let tags = tags_value(p.tags().iter().map(|t| (t.key.as_str(), t.value.as_str())));
    Ok(json!({"name": p.instance_profile_name, "arn": p.arn, "role": role, "tags": tags}).as_object().cloned())
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "role") {
        if let Some(old) = before.get("role").and_then(|v| v.as_str()) {
            aws.iam.remove_role_from_instance_profile().instance_profile_name(id).role_name(old).send().await.map_err(err("iam:RemoveRoleFromInstanceProfile"))?;
        }
        if let Some(new) = after.get("role").and_then(|v| v.as_str()) {
            // A role created seconds ago can be NoSuchEntity here until IAM has it everywhere.
            let added = retry_while(&["NoSuchEntity"], &[], ROLE_PROPAGATION, || async {
                aws.iam.add_role_to_instance_profile().instance_profile_name(id).role_name(new).send().await.map(|_| ()).map_err(err("iam:AddRoleToInstanceProfile"))
            })
            .await;
            // A profile holds one role: LimitExceeded after the SDK retried a call
            // whose answer was lost means the role is in it already, if it is this one.
            if let Err(e) = added {
                let holds = e.is("LimitExceeded") && read_one(aws, id).await?.is_some_and(|p| s(&p, "role") == new);
                if !holds {
                    return Err(e);
                }
            }
        }
    }
    let (set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or("")).build().ok());
        aws.iam.tag_instance_profile().instance_profile_name(id).set_tags(Some(tags.collect())).send().await.map_err(err("iam:TagInstanceProfile"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.iam.untag_instance_profile().instance_profile_name(id).set_tag_keys(Some(unset)).send().await.map_err(err("iam:UntagInstanceProfile"))?;
    }
    read_one(aws, id).await?.ok_or_else(|| AwsError::other("iam:GetInstanceProfile", format!("instance profile {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    if let Some(current) = read_one(aws, id).await? {
        if let Some(role) = current.get("role").and_then(|v| v.as_str()) {
            aws.iam.remove_role_from_instance_profile().instance_profile_name(id).role_name(role).send().await.map_err(err("iam:RemoveRoleFromInstanceProfile"))?;
        }
    }
    aws.iam.delete_instance_profile().instance_profile_name(id).send().await.map_err(err("iam:DeleteInstanceProfile"))?;
    Ok(())
}

/// The `instance_profile` kind.
pub(crate) struct InstanceProfile;

resource_kind!(InstanceProfile, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn find<'a>(&'a self, aws: &'a Aws, _address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, want))
    }

    /// AddRoleToInstanceProfile, and EC2 launching with the profile, check
    /// iam:PassRole on the role.
    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::Grant;
        let profiles = vec![format!("arn:{}:iam::*:instance-profile/{}-*", crate::provider::aws::partition(&spec.region), spec.project)];
        let roles = vec![format!("arn:{}:iam::*:role/{}-*", crate::provider::aws::partition(&spec.region), spec.project)];
        vec![
            Grant::read("IamInstanceProfilesRead", &["iam:GetInstanceProfile"], profiles.clone()),
            Grant::write(
                "IamInstanceProfilesWrite",
                &["iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:UntagInstanceProfile"],
                profiles,
            ),
            Grant::on_behalf("ForAwsPassRoleToEc2", &["iam:PassRole"], roles),
        ]
    }
);
