//! `user_pool`: an Amazon Cognito user pool. id = pool id
//! (`<region>_<letters>`). Names are not unique in Cognito: the pool is
//! recognised by its gwctl tags.

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, DeletionProtectionType, PasswordPolicyType, SoftwareTokenMfaConfigType, UserPoolMfaType, UserPoolPolicyType,
    UserPoolType,
};
use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{create_once, err, Aws, AwsError, Once};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call, Grant};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("user_pool");

pub const FORCE_NEW: &[&str] = &[];

/// Among the attributes a delete gets: the spec allows deleting the pool
/// (`deletion_protection = false`), so protection still on in AWS is lifted first.
pub const LIFT_PROTECTION: &str = "_lift_protection";

pub fn address(name: &str) -> String {
    format!("user_pool.{name}")
}

pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.user_pools.keys().map(|name| Node::new(address(name), KIND, vec![], Source::entry(name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let Some(pool) = env.spec.user_pools.get(&node.source.name) else { return Attrs::new() };
    json!({
        "name": pool.name,
        "deletion_protection": pool.deletion_protection,
        "mfa": pool.mfa,
        "self_sign_up": false,
        "password_policy": {
            "min_length": pool.password_min_length,
            "require_lowercase": true,
            "require_uppercase": true,
            "require_numbers": true,
            "require_symbols": true,
            "temporary_password_days": 7,
        },
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn observed(p: &UserPoolType) -> Attrs {
    let policy = p.policies().and_then(|p| p.password_policy());
    let updated = p.issuer_configuration().and_then(|c| c.r#type()).is_some_and(|t| t.as_str() == "UPDATED");
    json!({
        "name": p.name(),
        "arn": p.arn(),
        "issuer": p.id().map(|id| super::issuer(id, updated)),
        "deletion_protection": p.deletion_protection() == Some(&DeletionProtectionType::Active),
        "mfa": p.mfa_configuration().map(|m| m.as_str()).unwrap_or("OFF"),
        "self_sign_up": !p.admin_create_user_config().is_some_and(|c| c.allow_admin_create_user_only()),
        "password_policy": {
            "min_length": policy.and_then(|p| p.minimum_length()),
            "require_lowercase": policy.is_some_and(|p| p.require_lowercase()),
            "require_uppercase": policy.is_some_and(|p| p.require_uppercase()),
            "require_numbers": policy.is_some_and(|p| p.require_numbers()),
            "require_symbols": policy.is_some_and(|p| p.require_symbols()),
            "temporary_password_days": policy.map(|p| p.temporary_password_validity_days()),
        },
        "tags": tags_value(p.user_pool_tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn policies(want: &Attrs) -> UserPoolPolicyType {
    let p = want.get("password_policy").cloned().unwrap_or_default();
    let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(true);
    let password = PasswordPolicyType::builder()
        .minimum_length(p.get("min_length").and_then(Value::as_i64).unwrap_or(12) as i32)
        .require_lowercase(flag("require_lowercase"))
        .require_uppercase(flag("require_uppercase"))
        .require_numbers(flag("require_numbers"))
        .require_symbols(flag("require_symbols"))
        .temporary_password_validity_days(p.get("temporary_password_days").and_then(Value::as_i64).unwrap_or(7) as i32)
        .build();
    UserPoolPolicyType::builder().password_policy(password).build()
}

fn protection(want: &Attrs) -> DeletionProtectionType {
    match want.get("deletion_protection").and_then(Value::as_bool) {
        Some(false) => DeletionProtectionType::Inactive,
        _ => DeletionProtectionType::Active,
    }
}

fn admin_only(want: &Attrs) -> AdminCreateUserConfigType {
    let self_sign_up = want.get("self_sign_up").and_then(Value::as_bool).unwrap_or(false);
    AdminCreateUserConfigType::builder().allow_admin_create_user_only(!self_sign_up).build()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let create = || {
        aws.cognito
            .create_user_pool()
            .pool_name(s(want, "name"))
            .policies(policies(want))
            .deletion_protection(protection(want))
            .admin_create_user_config(admin_only(want))
            .mfa_configuration(UserPoolMfaType::Off)
            .set_user_pool_tags(Some(tags.clone()))
            .customize()
            .config_override(super::no_retry())
            .send()
    };
    let id = match create_once("cognito-idp:CreateUserPool", false, || find(aws, address, want), create).await? {
        Once::Made(out) => out.user_pool().and_then(|p| p.id()).unwrap_or_default().to_string(),
        Once::Found(found) => {
            let attrs = update(aws, &found.id, &found.attrs, want).await?;
            return Ok(Known { id: found.id, attrs });
        }
    };
    let made = read_one(aws, &id).await?.ok_or_else(|| AwsError::other("cognito-idp:DescribeUserPool", format!("user pool {id} vanished after create")))?;
    let attrs = update(aws, &id, &made, want).await?;
    Ok(Known { id, attrs })
}

async fn read_one(aws: &Aws, id: &str) -> Result<Option<Attrs>, AwsError> {
    match aws.cognito.describe_user_pool().user_pool_id(id).send().await.map_err(err("cognito-idp:DescribeUserPool")) {
        Ok(out) => Ok(out.user_pool().map(observed)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every pool's (id, name): ListUserPools, 60 a page.
async fn list(aws: &Aws) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws.cognito.list_user_pools().max_results(60).set_next_token(token).send().await.map_err(err("cognito-idp:ListUserPools"))?;
        out.extend(page.user_pools().iter().map(|p| (p.id().unwrap_or_default().to_string(), p.name().unwrap_or_default().to_string())));
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The pool named as `want` names it that carries this project's and
/// address's tags. Another pool of that name (the one the stack used before
/// it declared its own, another project's) is not in the way: Cognito
/// allows many pools of one name, and gwctl makes its own beside it.
pub async fn find(aws: &Aws, _address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let name = s(want, "name");
    let same_name: Vec<String> = list(aws).await?.into_iter().filter(|(_, n)| n == name).map(|(id, _)| id).collect();
    let read = futures::future::try_join_all(same_name.iter().map(|id| read_one(aws, id))).await?;
    let mut found = same_name.into_iter().zip(read).filter_map(|(id, attrs)| Some(Known { id, attrs: attrs? }));
    Ok(found.find(|k| made_for(&k.attrs, want)))
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|i| async move { Ok::<_, AwsError>((i.address.clone(), read_one(aws, &i.id).await?)) });
    Ok(futures::future::try_join_all(reads).await?.into_iter().collect())
}

/// UpdateUserPool sets every setting it is not given back to its default
/// ("If you don't provide a value for an attribute, Amazon Cognito sets it
/// to its default value"), so the pool is read first and every setting
/// gwctl does not manage (triggers, verified attributes, messages, email
/// and SMS configuration, …) is sent back as it is. MFA by authenticator
/// app is switched with SetUserPoolMfaConfig, before the pool requires it.
pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let mfa = UserPoolMfaType::from(s(after, "mfa"));
    if changed(before, after, "mfa") {
        aws.cognito
            .set_user_pool_mfa_config()
            .user_pool_id(id)
            .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(mfa != UserPoolMfaType::Off).build())
            .mfa_configuration(mfa.clone())
            .send()
            .await
            .map_err(err("cognito-idp:SetUserPoolMfaConfig"))?;
    }
    let settings = ["name", "deletion_protection", "password_policy", "self_sign_up"];
    if settings.iter().any(|k| changed(before, after, k)) {
        let out = aws.cognito.describe_user_pool().user_pool_id(id).send().await.map_err(err("cognito-idp:DescribeUserPool"))?;
        let Some(p) = out.user_pool() else { return Err(AwsError::other("cognito-idp:DescribeUserPool", format!("user pool {id} vanished while being updated"))) };
        let admin = AdminCreateUserConfigType::builder()
            .set_invite_message_template(p.admin_create_user_config().and_then(|c| c.invite_message_template()).cloned())
            .allow_admin_create_user_only(!after.get("self_sign_up").and_then(Value::as_bool).unwrap_or(false))
            .build();
        let mut policies = policies(after);
        if let Some(sign_in) = p.policies().and_then(|p| p.sign_in_policy()) {
            policies = UserPoolPolicyType::builder().set_password_policy(policies.password_policy().cloned()).sign_in_policy(sign_in.clone()).build();
        }
        aws.cognito
            .update_user_pool()
            .user_pool_id(id)
            .pool_name(s(after, "name"))
            .policies(policies)
            .deletion_protection(protection(after))
            .admin_create_user_config(admin)
            .mfa_configuration(mfa)
            .set_user_pool_tags(p.user_pool_tags().cloned())
            .set_lambda_config(p.lambda_config().cloned())
            .set_auto_verified_attributes(Some(p.auto_verified_attributes().to_vec()).filter(|v| !v.is_empty()))
            .set_sms_verification_message(p.sms_verification_message().map(str::to_string))
            .set_email_verification_message(p.email_verification_message().map(str::to_string))
            .set_email_verification_subject(p.email_verification_subject().map(str::to_string))
            .set_verification_message_template(p.verification_message_template().cloned())
            .set_sms_authentication_message(p.sms_authentication_message().map(str::to_string))
            .set_user_attribute_update_settings(p.user_attribute_update_settings().cloned())
            .set_device_configuration(p.device_configuration().cloned())
            .set_email_configuration(p.email_configuration().cloned())
            .set_sms_configuration(p.sms_configuration().cloned())
            .set_user_pool_add_ons(p.user_pool_add_ons().cloned())
            .set_account_recovery_setting(p.account_recovery_setting().cloned())
            .set_user_pool_tier(p.user_pool_tier().cloned())
            .send()
            .await
            .map_err(err("cognito-idp:UpdateUserPool"))?;
    }
    let (set, unset) = tag_delta(before, after);
    let arn = s(before, "arn").to_string();
    if !set.is_empty() && !arn.is_empty() {
        let tags: HashMap<String, String> = set.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or("").to_string())).collect();
        aws.cognito.tag_resource().resource_arn(&arn).set_tags(Some(tags)).send().await.map_err(err("cognito-idp:TagResource"))?;
    }
    if !unset.is_empty() && !arn.is_empty() && after.contains_key("tags") {
        aws.cognito.untag_resource().resource_arn(&arn).set_tag_keys(Some(unset)).send().await.map_err(err("cognito-idp:UntagResource"))?;
    }
    read_one(aws, id).await?.ok_or_else(|| AwsError::other("cognito-idp:DescribeUserPool", format!("user pool {id} vanished while being updated")))
}

/// Deletes the pool, and with it every user and client. AWS refuses while
/// deletion protection is on; the spec lifts it only by saying
/// `deletion_protection = false`.
pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    let protected = attrs.get("deletion_protection").and_then(Value::as_bool) != Some(false);
    if protected && attrs.get(LIFT_PROTECTION).and_then(Value::as_bool) == Some(true) {
        let mut unprotected = attrs.clone();
        unprotected.insert("deletion_protection".into(), json!(false));
        update(aws, id, attrs, &unprotected).await?;
    }
    match aws.cognito.delete_user_pool().user_pool_id(id).send().await.map_err(err("cognito-idp:DeleteUserPool")) {
        Err(e) if e.is("InvalidParameterException") && e.message.to_ascii_lowercase().contains("deletion protection") => {
            let address = tag(attrs, "gwctl:address").unwrap_or("user_pool.<name>").to_string();
            Err(AwsError {
                message: format!(
                    "{}\n  User pool {id} ({}) and its users are kept: its deletion protection is on. To delete it, set \
                     deletion_protection = false under [{address}] and run `gwctl destroy` again (it lifts the protection \
                     first); to keep the pool and stop managing it, run `gwctl state rm {address}`",
                    e.message,
                    s(attrs, "name")
                ),
                ..e
            })
        }
        other => other.map(|_| ()),
    }
}

/// The `user_pool` kind.
pub(crate) struct UserPool;

resource_kind!(UserPool, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    fn delete_attrs(&self, spec: &Spec, address: &str, attrs: &Attrs) -> Option<Attrs> {
        let lift = spec.user_pools.iter().any(|(name, p)| !p.deletion_protection && self::address(name) == address);
        let protected = attrs.get("deletion_protection").and_then(Value::as_bool) != Some(false);
        (lift && protected).then(|| {
            let mut attrs = attrs.clone();
            attrs.insert(LIFT_PROTECTION.into(), json!(true));
            attrs
        })
    }

    fn delete_refused(&self, address: &str, attrs: &Attrs) -> Option<String> {
        (attrs.get("deletion_protection").and_then(Value::as_bool) != Some(false))
            .then(|| format!("deletion protection is on: AWS will refuse; deletion_protection = false under [{address}] allows it"))
    }

    fn grants(&self, spec: &Spec) -> Vec<Grant> {
        use crate::provider::kind::TagOn;
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let pools = vec![format!("arn:{p}:cognito-idp:{r}:*:userpool/*")];
        vec![
            Grant::read("CognitoList", &["cognito-idp:ListUserPools"], vec!["*".into()]),
            Grant::read("CognitoRead", &["cognito-idp:DescribeUserPool", "cognito-idp:ListUserPoolClients", "cognito-idp:DescribeUserPoolClient"], pools.clone()),
            Grant::verify(
                "VerifyThrowawayUser",
                &["cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminInitiateAuth", "cognito-idp:AdminDeleteUser", "cognito-idp:ListUsers"],
                pools.clone(),
            )
            .tagged(TagOn::Resource, &spec.project),
            Grant::write("CognitoCreate", &["cognito-idp:CreateUserPool"], vec!["*".into()]).tagged(TagOn::Request, &spec.project),
            Grant::write("CognitoTag", &["cognito-idp:TagResource"], pools.clone()).when(crate::provider::kind::tags_for_project(&spec.project)),
            Grant::write("CognitoUntag", &["cognito-idp:UntagResource"], pools.clone()).when(crate::provider::kind::keeps_gwctl_tags()),
            Grant::write(
                "CognitoProjectPools",
                &[
                    "cognito-idp:UpdateUserPool",
                    "cognito-idp:SetUserPoolMfaConfig",
                    "cognito-idp:DeleteUserPool",
                    "cognito-idp:TagResource",
                    "cognito-idp:CreateUserPoolClient",
                    "cognito-idp:UpdateUserPoolClient",
                    "cognito-idp:DeleteUserPoolClient",
                ],
                pools,
            )
            .tagged(TagOn::Resource, &spec.project),
        ]
    }
);
