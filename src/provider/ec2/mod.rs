//! EC2: security groups and instances, and the tag and VPC helpers they share.

pub(crate) mod instance;
pub(crate) mod security_group;

use aws_sdk_ec2::types::{Filter, Tag};

use crate::model::Attrs;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::{map_delta, tag_pairs};

/// The region's default VPC, for groups whose spec names none.
pub async fn default_vpc(aws: &Aws) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name("isDefault").values("true").build())
        .send()
        .await
        .map_err(err("ec2:DescribeVpcs"))?;
    out.vpcs()
        .first()
        .and_then(|v| v.vpc_id().map(str::to_string))
        .ok_or_else(|| AwsError::other("ec2:DescribeVpcs", "this region has no default VPC; set vpc_id on each [security_group.*] and subnet_id (a subnet of that VPC) on each [instance.*]"))
}

/// A subnet, with the zone it lies in.
#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    /// The zone's ID (`use1-az3`), the same zone in every account.
    pub zone_id: String,
    /// The zone's name (`us-east-1e`), which maps to a different zone in each account.
    pub zone: String,
}

/// The default subnets (one per availability zone) of the default VPC, by id.
pub async fn default_subnets(aws: &Aws) -> Result<Vec<Subnet>, AwsError> {
    let out = aws
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("default-for-az").values("true").build())
        .send()
        .await
        .map_err(err("ec2:DescribeSubnets"))?;
    let mut subnets: Vec<Subnet> = out
        .subnets()
        .iter()
        .filter_map(|s| {
            Some(Subnet {
                id: s.subnet_id()?.to_string(),
                zone_id: s.availability_zone_id().unwrap_or_default().to_string(),
                zone: s.availability_zone().unwrap_or_default().to_string(),
            })
        })
        .collect();
    subnets.sort_by(|a, b| a.id.cmp(&b.id));
    match subnets.is_empty() {
        true => Err(AwsError::other("ec2:DescribeSubnets", "this region has no default subnets for a VPC link; set vpc_link.subnets in the spec")),
        false => Ok(subnets),
    }
}

/// The `tags` attribute as EC2 tags.
pub fn ec2_tags(attrs: &Attrs) -> Vec<Tag> {
    tag_pairs(attrs).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// CreateTags / DeleteTags for the difference in `tags`; shared by EC2 kinds.
pub async fn update_tags(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<(), AwsError> {
    let (set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        let tags = set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or("")).build());
        aws.ec2.create_tags().resources(id).set_tags(Some(tags.collect())).send().await.map_err(err("ec2:CreateTags"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        let tags = unset.into_iter().map(|k| Tag::builder().key(k).build());
        aws.ec2.delete_tags().resources(id).set_tags(Some(tags.collect())).send().await.map_err(err("ec2:DeleteTags"))?;
    }
    Ok(())
}

/// The `gwctl:address` tag of a resource, else its id.
pub fn address_of(tags: &[Tag], id: &str) -> String {
    tags.iter().find(|t| t.key() == Some("gwctl:address")).and_then(|t| t.value()).unwrap_or(id).to_string()
}
