//! `vpc_link`: an API Gateway VPC link (v2) into the backend's VPC, for a
//! private integration (docs/design.md §8). id = VPC link id.
//!
//! AWS makes the link's network interfaces before it is AVAILABLE (minutes)
//! and releases them for minutes after DeleteVpcLink; the link's security
//! groups cannot be deleted until then (the group's delete waits it out).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{create_once, err, Aws, AwsError, Once};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("vpc_link");

/// A link's groups and subnets cannot change: UpdateVpcLink takes a name only.
pub const FORCE_NEW: &[&str] = &["security_group_ids", "subnet_ids"];

/// How long a new link may stay PENDING.
const AVAILABLE_WITHIN: Duration = Duration::from_secs(900);

/// The zones, by zone ID, where API Gateway offers VPC links for HTTP APIs
/// in each Region ("Set up VPC links for HTTP APIs", Availability by
/// Region). CreateVpcLink refuses a subnet in any other zone ("Subnet … is
/// in Availability Zone … where service is not available"); the default
/// subnets of older accounts include such zones (us-east-1 use1-az3). A
/// Region the table does not name is taken to offer links in every zone.
pub const OFFERED_ZONE_IDS: &[(&str, &[&str])] = &[
    ("us-east-1", &["use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"]),
    ("us-east-2", &["use2-az1", "use2-az2", "use2-az3"]),
    ("us-west-1", &["usw1-az1", "usw1-az3"]),
    ("us-west-2", &["usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"]),
    ("ap-east-1", &["ape1-az2", "ape1-az3"]),
    ("ap-south-1", &["aps1-az1", "aps1-az2", "aps1-az3"]),
    ("ap-northeast-1", &["apne1-az1", "apne1-az2", "apne1-az4"]),
    ("ap-northeast-2", &["apne2-az1", "apne2-az2", "apne2-az3"]),
    ("ap-southeast-1", &["apse1-az1", "apse1-az2", "apse1-az3"]),
    ("ap-southeast-2", &["apse2-az1", "apse2-az2", "apse2-az3"]),
    ("ca-central-1", &["cac1-az1", "cac1-az2"]),
    ("eu-central-1", &["euc1-az1", "euc1-az2", "euc1-az3"]),
    ("eu-west-1", &["euw1-az1", "euw1-az2", "euw1-az3"]),
    ("eu-west-2", &["euw2-az1", "euw2-az2", "euw2-az3"]),
    ("eu-west-3", &["euw3-az1", "euw3-az3"]),
    ("eu-south-2", &["eus2-az1", "eus2-az2", "eus2-az3"]),
    ("eu-north-1", &["eun1-az1", "eun1-az2", "eun1-az3"]),
    ("me-south-1", &["mes1-az1", "mes1-az2", "mes1-az3"]),
    ("sa-east-1", &["sae1-az1", "sae1-az2", "sae1-az3"]),
    ("us-gov-west-1", &["usgw1-az1", "usgw1-az2", "usgw1-az3"]),
];

/// The zones of `region` that offer VPC links; `None` for a Region the table
/// does not name.
fn offered_zones(region: &str) -> Option<&'static [&'static str]> {
    OFFERED_ZONE_IDS.iter().find(|(r, _)| *r == region).map(|(_, zones)| *zones)
}

/// The ids of those of `subnets` that lie in zones where VPC links are
/// offered; an error naming the zones when none does.
pub fn offered_subnets(region: &str, subnets: Vec<crate::provider::ec2::Subnet>) -> Result<Vec<String>, AwsError> {
    let offered = offered_zones(region);
    let (ok, not): (Vec<_>, Vec<_>) = subnets.into_iter().partition(|s| offered.is_none_or(|zones| zones.contains(&s.zone_id.as_str())));
    if ok.is_empty() {
        let zones: Vec<String> = not.iter().map(|s| format!("{} ({})", s.zone_id, s.zone)).collect();
        return Err(AwsError::other(
            "ec2:DescribeSubnets",
            format!(
                "the default subnets are all in zones where API Gateway offers no VPC links in {region}: {}; set vpc_link.subnets to subnets in {}",
                zones.join(", "),
                offered.unwrap_or_default().join(", ")
            ),
        ));
    }
    Ok(ok.into_iter().map(|s| s.id).collect())
}

pub fn address(api: &str) -> String {
    format!("vpc_link.{api}")
}

/// One link per API that declares `vpc_link`, after its security groups.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(api, a): (&String, &crate::spec::ApiSpec)| {
        let link = a.vpc_link.as_ref()?;
        let deps = link.security_groups.iter().map(|g| crate::provider::ec2::security_group::address(g)).collect();
        Some(Node::new(address(api), KIND, deps, Source::entry(api)))
    };
    spec.apis.iter().filter_map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let api = &node.source.name;
    let Some(link) = env.spec.apis.get(api).and_then(|a| a.vpc_link.as_ref()) else { return Attrs::new() };
    let mut groups: Vec<Value> = link.security_groups.iter().map(|g| env.id(&crate::provider::ec2::security_group::address(g))).collect();
    groups.sort_by_key(|v| v.to_string());
    let mut subnets = match link.subnets.is_empty() {
        true => env.lookups.subnets.get(&node.address).cloned().unwrap_or_default(),
        false => link.subnets.clone(),
    };
    subnets.sort();
    json!({
        "name": env.spec.aws_name(api),
        "security_group_ids": groups,
        "subnet_ids": subnets,
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn arn(region: &str, id: &str) -> String {
    format!("arn:{}:apigateway:{region}::/vpclinks/{id}", crate::provider::aws::partition(region))
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    // Link names are not unique: a link an interrupted run made is found by
    // its tags (before the first attempt, and after one whose answer may have
    // been lost) and taken instead of making a second one.
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let send = || {
        aws.apigw
            .create_vpc_link()
            .name(s(want, "name"))
            .set_security_group_ids(Some(strings(want, "security_group_ids")))
            .set_subnet_ids(Some(strings(want, "subnet_ids")))
            .set_tags(Some(tags.clone()))
            .customize()
            .config_override(super::no_retry())
            .send()
    };
    let id = match create_once("apigateway:CreateVpcLink", true, || find(aws, address, want), send).await? {
        Once::Made(out) => out.vpc_link_id().filter(|id| !id.is_empty()).map(str::to_string).ok_or_else(|| AwsError::other("apigateway:CreateVpcLink", "AWS answered without a VPC link id"))?,
        Once::Found(found) => {
            // What an interrupted run made may still be PENDING.
            wait_available(aws, &found.id).await?;
            let attrs = update(aws, &found.id, &found.attrs, want).await?;
            return Ok(Known { id: found.id, attrs });
        }
    };
    let attrs = wait_available(aws, &id).await?;
    Ok(Known { id, attrs })
}

/// Waits until the link is AVAILABLE: AWS creates its network interfaces
/// first, which takes minutes. FAILED is an error with AWS's reason.
async fn wait_available(aws: &Aws, id: &str) -> Result<Attrs, AwsError> {
    let start = Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        let out = aws.apigw.get_vpc_link().vpc_link_id(id).send().await.map_err(err("apigateway:GetVpcLink"))?;
        match out.vpc_link_status().map(|s| s.as_str()) {
            Some("AVAILABLE") => return Ok(observed(&out)),
            Some("FAILED") | Some("INACTIVE") => {
                return Err(AwsError::other("apigateway:GetVpcLink", format!("VPC link {id} is {}: {}", out.vpc_link_status().map(|s| s.as_str()).unwrap_or_default(), out.vpc_link_status_message().unwrap_or("no reason given"))));
            }
            _ if start.elapsed() + wait < AVAILABLE_WITHIN => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            status => {
                return Err(AwsError::other("apigateway:GetVpcLink", format!("VPC link {id} is still {} after {} s", status.unwrap_or("PENDING"), AVAILABLE_WITHIN.as_secs())));
            }
        }
    }
}

macro_rules! link_attrs {
    ($l:expr) => {{
        let l = $l;
        let mut groups: Vec<String> = l.security_group_ids().to_vec();
        groups.sort();
        let mut subnets: Vec<String> = l.subnet_ids().to_vec();
        subnets.sort();
        json!({
            "name": l.name(),
            "security_group_ids": groups,
            "subnet_ids": subnets,
            "status": l.vpc_link_status().map(|s| s.as_str()),
            "tags": tags_value(l.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))),
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }};
}

fn observed(out: &aws_sdk_apigatewayv2::operation::get_vpc_link::GetVpcLinkOutput) -> Attrs {
    link_attrs!(out)
}

/// Every VPC link in the region, as (id, attributes).
async fn list_all(aws: &Aws) -> Result<Vec<(String, Attrs)>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws.apigw.get_vpc_links().set_next_token(token).send().await.map_err(err("apigateway:GetVpcLinks"))?;
        out.extend(page.items().iter().map(|l| (l.vpc_link_id().unwrap_or_default().to_string(), link_attrs!(l))));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The link tagged for this project and address, if there is one, other
/// than those the wanted one replaces (they carry the same tags until they
/// are deleted).
pub async fn find(aws: &Aws, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let replaced = replaces(want);
    let hit = list_all(aws)
        .await?
        .into_iter()
        .find(|(id, a)| project_tag(a) == project_tag(want) && tag(a, "gwctl:address") == Some(address) && !replaced.contains(&id.as_str()) && s(a, "status") != "DELETING");
    Ok(hit.map(|(id, attrs)| Known { id, attrs }))
}

async fn scan_tagged(aws: &Aws, project: &str, known: &std::collections::HashSet<&str>) -> Result<Vec<(String, String)>, AwsError> {
    Ok(list_all(aws)
        .await?
        .into_iter()
        .filter(|(id, a)| project_tag(a) == Some(project) && !known.contains(id.as_str()) && s(a, "status") != "DELETING")
        .map(|(id, a)| (tag(&a, "gwctl:address").map(str::to_string).unwrap_or_else(|| id.clone()), id))
        .collect())
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|item| async move { read_one(aws, &item.id).await.map(|a| (item.address.clone(), a)) });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

async fn read_one(aws: &Aws, id: &str) -> Result<Option<Attrs>, AwsError> {
    match aws.apigw.get_vpc_link().vpc_link_id(id).send().await.map_err(err("apigateway:GetVpcLink")) {
        Ok(out) if matches!(out.vpc_link_status().map(|s| s.as_str()), Some("DELETING")) => Ok(None),
        Ok(out) => Ok(Some(observed(&out))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "name") {
        aws.apigw.update_vpc_link().vpc_link_id(id).name(s(after, "name")).send().await.map_err(err("apigateway:UpdateVpcLink"))?;
    }
    super::update_tags(aws, &arn(&aws.region, id), before, after).await?;
    read_one(aws, id).await?.ok_or_else(|| AwsError::other("apigateway:GetVpcLink", format!("VPC link {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_vpc_link().vpc_link_id(id).send().await.map_err(err("apigateway:DeleteVpcLink"))?;
    Ok(())
}

/// The `vpc_link` kind.
pub(crate) struct VpcLink;

resource_kind!(VpcLink, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    /// A link cannot be deleted while an integration names it (AWS refuses,
    /// terraform-provider-aws#12195): the new link is made and AVAILABLE,
    /// the integration moved to it, and only then the old one deleted.
    fn create_before_destroy(&self) -> bool {
        true
    }

    /// A link left behind by a replacement (superseded) is deleted once the
    /// integrations that named it have moved off.
    fn delete_waits_on(&self) -> &'static [Kind] {
        &[super::integration::KIND]
    }

    fn scan_tagged<'a>(&'a self, aws: &'a Aws, project: &'a str, known: &'a std::collections::HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(scan_tagged(aws, project, known))
    }

    /// The link's network interfaces are made by API Gateway's
    /// service-linked role, which the first link in an account creates.
    /// A link is made only tagged for the project, and renamed or deleted
    /// only while it is.
    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let (all, each) = (format!("arn:{p}:apigateway:{r}::/vpclinks"), format!("arn:{p}:apigateway:{r}::/vpclinks/*"));
        let role = format!("arn:{p}:iam::*:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway");
        vec![
            Grant::read("ApiGatewayVpcLinksRead", &["apigateway:GET"], vec![all.clone(), each.clone()]),
            Grant::write("ApiGatewayCreateVpcLink", &["apigateway:POST"], vec![all]).tagged(TagOn::Request, &spec.project),
            Grant::write("ApiGatewayProjectVpcLinks", &["apigateway:PATCH", "apigateway:DELETE"], vec![each]).tagged(TagOn::Resource, &spec.project),
            Grant::on_behalf("ForAwsApiGatewayServiceRole", &["iam:CreateServiceLinkedRole"], vec![role])
                .when(serde_json::json!({"StringEquals": {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"}})),
        ]
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ec2::Subnet;

    fn subnet(id: &str, zone_id: &str) -> Subnet {
        Subnet { id: id.into(), zone_id: zone_id.into(), zone: format!("zone of {zone_id}") }
    }

    #[test]
    fn default_subnets_in_zones_without_vpc_links_are_left_out_and_none_left_is_refused() {
        let six = ["use1-az6", "use1-az1", "use1-az2", "use1-az4", "use1-az3", "use1-az5"].iter().enumerate().map(|(i, z)| subnet(&format!("subnet-{i}"), z)).collect();
        let ids = offered_subnets("us-east-1", six).unwrap();
        assert_eq!(ids, ["subnet-0", "subnet-1", "subnet-2", "subnet-3", "subnet-5"]);
        let e = offered_subnets("eu-west-3", vec![subnet("subnet-b", "euw3-az2")]).unwrap_err();
        assert!(e.message.contains("euw3-az2") && e.message.contains("euw3-az1, euw3-az3"), "{e}");
        assert_eq!(offered_subnets("af-south-1", vec![subnet("subnet-a", "afs1-az1")]).unwrap(), ["subnet-a"], "a Region the table does not name keeps every zone");
    }
}
