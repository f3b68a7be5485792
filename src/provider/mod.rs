//! The provider: every resource kind behind one trait ([`ResourceKind`]),
//! listed once in [`KINDS`]; one folder per AWS service, whose `mod.rs` holds
//! what its kinds share (tags, paging, finders). Adding a kind is its own
//! file and one line in [`KINDS`].

pub(crate) mod apigw;
pub(crate) mod aws;
pub(crate) mod cloudmap;
pub(crate) mod checks;
pub(crate) mod cognito;
pub(crate) mod common;
pub(crate) mod ec2;
pub(crate) mod iam;
pub(crate) mod kind;
pub(crate) mod logs;
pub(crate) mod pace;
pub(crate) mod probe;
pub(crate) mod stats;

pub(crate) use common::{Env, ReadItem};
pub(crate) use kind::{Parent, PolicyFor, ResourceKind};

/// Every kind gwctl manages, in the order a reader meets them in a spec.
pub(crate) static KINDS: &[&dyn ResourceKind] = &[
    &iam::role::Role,
    &iam::instance_profile::InstanceProfile,
    &ec2::security_group::SecurityGroup,
    &ec2::instance::Instance,
    &logs::log_group::LogGroup,
    &cognito::user_pool::UserPool,
    &cognito::client::UserPoolClient,
    &apigw::api::Api,
    &apigw::authorizer::Authorizer,
    &apigw::integration::Integration,
    &apigw::route::Route,
    &apigw::stage::Stage,
    &apigw::vpc_link::VpcLink,
    &cloudmap::namespace::Namespace,
    &cloudmap::service::Service,
    &cloudmap::instance::Instance,
];

/// Compiles a spec into its nodes, each after everything it depends on.
pub(crate) fn nodes(spec: &Spec) -> Vec<Node> {
    crate::graph::topo_sort(KINDS.iter().flat_map(|k| k.nodes(spec)).collect())
}

/// The least-privilege IAM policy for running gwctl on `spec`: every
/// permission the kinds it declares need for `role`, one statement per
/// purpose, merged across kinds.
pub(crate) fn policy(spec: &Spec, role: kind::PolicyFor) -> serde_json::Value {
    use kind::PolicyFor;
    use std::collections::{BTreeMap, BTreeSet};
    let used: BTreeSet<Kind> = nodes(spec).iter().map(|n| n.kind).collect();
    let mut statements: BTreeMap<&'static str, (BTreeSet<String>, BTreeSet<String>, Option<serde_json::Value>)> = BTreeMap::new();
    let mut grants: Vec<kind::Grant> = KINDS.iter().filter(|k| used.contains(&k.kind())).flat_map(|k| k.grants(spec)).collect();
    grants.extend(state_grants(spec));
    let wanted = |g: &kind::Grant| match role {
        PolicyFor::Apply => !g.verify,
        PolicyFor::Drift => g.read,
        PolicyFor::Verify => g.read || g.verify,
    };
    for g in grants.into_iter().filter(wanted) {
        let (actions, resources, condition) = statements.entry(g.sid).or_default();
        debug_assert!(condition.is_none() || *condition == g.condition, "{}: two grants of one statement have different conditions", g.sid);
        actions.extend(g.actions.iter().map(|a| a.to_string()));
        resources.extend(g.resources);
        *condition = g.condition;
    }
    let statements: Vec<serde_json::Value> = statements
        .into_iter()
        .map(|(sid, (actions, resources, condition))| {
            let resource = match resources.len() {
                1 => serde_json::json!(resources.into_iter().next()),
                _ => serde_json::json!(resources),
            };
            let mut statement = serde_json::json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource});
            if let Some(condition) = condition {
                statement["Condition"] = condition;
            }
            statement
        })
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// What a state in S3 needs: every role reads it (plan and drift from any
/// machine; s3:ListBucket so that a missing state reads as missing, not as
/// AccessDenied); apply's writes it and its lock.
fn state_grants(spec: &Spec) -> Vec<kind::Grant> {
    let Some(st) = &spec.state_backend else { return Vec::new() };
    let p = aws::partition(&st.region);
    let object = format!("arn:{p}:s3:::{}/{}", st.bucket, st.key);
    vec![
        kind::Grant::read("StateRead", &["s3:GetObject"], vec![object.clone(), format!("{object}.lock")]),
        kind::Grant::read("StateBucketRead", &["s3:ListBucket", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration"], vec![format!("arn:{p}:s3:::{}", st.bucket)]),
        kind::Grant::write("StateWrite", &["s3:PutObject", "s3:DeleteObject"], vec![object.clone(), format!("{object}.lock")]),
    ]
}

/// Whether gwctl manages resources of `kind` (a state or plan written by
/// another version may name others).
pub(crate) fn known(kind: Kind) -> bool {
    KINDS.iter().any(|k| k.kind() == kind)
}

/// The implementation of `kind`. Every kind the code names has one (a unit
/// test checks), and the kinds a file names are checked with [`known`] as the
/// file is read.
pub(crate) fn of(kind: Kind) -> &'static dyn ResourceKind {
    KINDS.iter().copied().find(|k| k.kind() == kind).unwrap_or_else(|| unreachable!("{kind} is missing from provider::KINDS"))
}

/// The kinds that live inside a resource of another kind.
pub(crate) fn child_kinds() -> impl Iterator<Item = (&'static dyn ResourceKind, Parent)> {
    KINDS.iter().copied().filter_map(|k| k.parent().map(|p| (k, p)))
}

/// Whether resources of `kind` contain others (an API).
pub(crate) fn is_parent(kind: Kind) -> bool {
    child_kinds().any(|(_, p)| p.kind == kind)
}

use std::collections::HashMap;


use crate::provider::aws::{Aws, AwsError};
use crate::graph::Node;
use crate::model::{made_for, s, Attrs, Kind, Known, Lookups};
use crate::spec::Spec;

/// The attributes whose change makes AWS need a new resource.
pub(crate) fn force_new(kind: Kind) -> &'static [&'static str] {
    of(kind).force_new()
}

/// The attributes the spec wants for `node`.
pub(crate) fn desired(env: &Env, node: &Node) -> Attrs {
    of(node.kind).desired(env, node)
}

/// Creates the resource and returns its id and attributes as read back.
/// `token` is the idempotency token recorded in the state before the call.
pub(crate) async fn create(aws: &Aws, kind: Kind, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    of(kind).create(aws, address, want, token).await
}

/// What AWS has where a declared resource the state does not record would go.
pub(crate) enum Found {
    Nothing,
    /// Made by this project for this address (both gwctl tags): adopted.
    Ours(Known),
    /// Of the same name but someone else's: a create would be refused.
    Other(Known),
}

/// Finds the live resource this project made for `address` that the state
/// does not record (a lost state file, `gwctl state rm`, a run killed before
/// it saved): by name or tags, and ours only if both gwctl tags say it is
/// this address of this project. Kinds inside a parent are matched by
/// natural key in the planner instead (they take no tags).
pub(crate) async fn find(aws: &Aws, kind: Kind, address: &str, want: &Attrs) -> Result<Found, AwsError> {
    Ok(match of(kind).find(aws, address, want).await? {
        None => Found::Nothing,
        Some(k) if made_for(&k.attrs, want) => Found::Ours(k),
        Some(k) => Found::Other(k),
    })
}

/// Reads many resources of one kind in as few calls as the API allows.
/// A resource that no longer exists maps to `None`.
pub(crate) async fn read(aws: &Aws, kind: Kind, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    of(kind).read(aws, items).await
}

/// Changes the resource in place from `before` to `after`; returns the
/// attributes as read back.
pub(crate) async fn update(aws: &Aws, kind: Kind, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    of(kind).update(aws, id, before, after).await
}

/// Deletes the resource; one already gone counts as deleted.
pub(crate) async fn delete(aws: &Aws, kind: Kind, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    match of(kind).delete(aws, id, attrs).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Looks up the values desired attributes need from AWS: the default VPC for
/// security groups the spec gives no `vpc_id` (asked only when such a group
/// is to be created; an existing group keeps the VPC it was made in) and AMIs
/// named by SSM parameters. An AMI resolved before is pinned: while the spec
/// names the same source, the recorded id is used, so a new AMI release does
/// not replace the instance.
pub async fn lookups(aws: &Aws, spec: &Spec, state: &crate::state::State) -> Result<Lookups, AwsError> {
    let mut vpcs = HashMap::new();
    let mut need_default = Vec::new();
    for (name, group) in &spec.security_groups {
        if group.vpc_id.is_some() {
            continue;
        }
        let address = ec2::security_group::address(name);
        match state.get(&address).map(|r| s(&r.attributes, "vpc_id")).filter(|v| !v.is_empty()) {
            Some(vpc) => {
                vpcs.insert(address, vpc.to_string());
            }
            None => need_default.push(address),
        }
    }
    let vpc = async {
        if need_default.is_empty() {
            Ok(None)
        } else {
            ec2::default_vpc(aws).await.map(Some)
        }
    };
    let amis = ec2::instance::resolve_amis(aws, spec, state);
    let (vpc, amis, public, subnets) = futures::join!(vpc, amis, backends_have_addresses(aws, spec), link_subnets(aws, spec, state));
    public?;
    if let Some(default) = vpc? {
        vpcs.extend(need_default.into_iter().map(|a| (a, default.clone())));
    }
    Ok(Lookups { vpcs, amis: amis?, subnets: subnets? })
}

/// The subnets of each VPC link the spec gives none: those recorded for an
/// existing link (it keeps them), else the default subnets of the default
/// VPC in zones where VPC links are offered (validation requires `subnets`
/// for a link whose groups name a VPC).
async fn link_subnets(aws: &Aws, spec: &Spec, state: &crate::state::State) -> Result<HashMap<String, Vec<String>>, AwsError> {
    let mut out = HashMap::new();
    let mut need_default = Vec::new();
    for (api, a) in &spec.apis {
        if a.vpc_link.as_ref().is_none_or(|l| !l.subnets.is_empty()) {
            continue;
        }
        let address = apigw::vpc_link::address(api);
        let recorded = state.get(&address).map(|r| crate::model::strings(&r.attributes, "subnet_ids")).unwrap_or_default();
        match recorded.is_empty() {
            false => {
                out.insert(address, recorded);
            }
            true => need_default.push(address),
        }
    }
    if !need_default.is_empty() {
        let default = apigw::vpc_link::offered_subnets(&spec.region, ec2::default_subnets(aws).await?)?;
        out.extend(need_default.into_iter().map(|a| (a, default.clone())));
    }
    Ok(out)
}

/// The looked-up values as the state recorded them, without asking AWS:
/// each group's VPC and each instance's AMI.
pub(crate) fn recorded_lookups(spec: &Spec, state: &crate::state::State) -> Lookups {
    let mut lookups = Lookups::default();
    let recorded = |address: String, key: &str| state.get(&address).map(|r| s(&r.attributes, key).to_string()).filter(|v| !v.is_empty()).map(|v| (address, v));
    lookups.vpcs.extend(spec.security_groups.keys().filter_map(|n| recorded(ec2::security_group::address(n), "vpc_id")));
    lookups.amis.extend(spec.instances.keys().filter_map(|n| recorded(ec2::instance::address(n), "ami")));
    for api in spec.apis.keys() {
        let address = apigw::vpc_link::address(api);
        if let Some(r) = state.get(&address) {
            lookups.subnets.insert(address, crate::model::strings(&r.attributes, "subnet_ids"));
        }
    }
    lookups
}

/// An API's integration calls its backend instance at its public DNS name:
/// an instance in a subnet that assigns no public IPv4 address has none, and
/// the apply would stop at the integration. Refused before planning, naming
/// the subnet, instead.
async fn backends_have_addresses(aws: &Aws, spec: &Spec) -> Result<(), AwsError> {
    let subnets: Vec<(&String, &String, &String)> = spec
        .apis
        .iter()
        .filter(|(_, a)| a.vpc_link.is_none())
        .filter_map(|(api, a)| Some((api, &a.backend, spec.instances.get(&a.backend)?.subnet_id.as_ref()?)))
        .collect();
    if subnets.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = subnets.iter().map(|(_, _, s)| s.to_string()).collect();
    let out = aws.ec2.describe_subnets().set_subnet_ids(Some(ids)).send().await.map_err(crate::provider::aws::err("ec2:DescribeSubnets"))?;
    for (api, instance, subnet) in subnets {
        let public = out.subnets().iter().find(|s| s.subnet_id() == Some(subnet.as_str())).and_then(|s| s.map_public_ip_on_launch());
        if public == Some(false) {
            return Err(AwsError::other(
                "ec2:DescribeSubnets",
                format!(
                    "{subnet} assigns no public IPv4 address, so instance.{instance} would have no address for api.{api}'s integration \
                     to call: use a subnet with MapPublicIpOnLaunch, or leave subnet_id out for the default VPC's"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_under_its_own_name() {
        let names: std::collections::BTreeSet<&str> = KINDS.iter().map(|k| k.kind().as_str()).collect();
        assert_eq!(names.len(), KINDS.len(), "two kinds share a name");
        for k in KINDS {
            assert!(std::ptr::eq(of(k.kind()) as *const dyn ResourceKind as *const u8, *k as *const dyn ResourceKind as *const u8), "{}", k.kind());
            assert!(known(Kind::parse(k.kind().as_str())));
        }
        assert!(!known(Kind::parse("load_balancer")));
    }
}
