//! What `gwctl verify` asks AWS beyond the kinds' own reads: a throwaway
//! user's token (and the removal of those stopped runs left behind), the instance's standing in Systems Manager, and the access
//! log lines of the requests it made.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, MessageActionType};

use crate::provider::aws::{err, Aws, AwsError};

/// A user made for one verification, signed in; removed with [`remove_user`].
pub struct ThrowawayUser {
    pub pool_id: String,
    pub username: String,
    pub access_token: String,
}

/// Makes a user in the pool (no invitation sent), gives it a random
/// permanent password that meets any password policy, and signs it in
/// through `client_id` with ADMIN_USER_PASSWORD_AUTH (which needs AWS
/// credentials, not only the client id). The user is removed again when
/// signing in fails.
pub async fn throwaway_user(aws: &Aws, pool_id: &str, client_id: &str) -> Result<ThrowawayUser, AwsError> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("{USER_PREFIX}t{}-{}", now_secs(), &tag[..12]);
    let password = format!("Gw1!{}{}zZ9#", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    aws.cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(&username)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .map_err(err("cognito-idp:AdminCreateUser"))?;
    let signed_in = async {
        aws.cognito
            .admin_set_user_password()
            .user_pool_id(pool_id)
            .username(&username)
            .password(&password)
            .permanent(true)
            .send()
            .await
            .map_err(err("cognito-idp:AdminSetUserPassword"))?;
        let out = aws
            .cognito
            .admin_initiate_auth()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &username)
            .auth_parameters("PASSWORD", &password)
            .send()
            .await
            .map_err(err("cognito-idp:AdminInitiateAuth"))?;
        match out.authentication_result().and_then(|r| r.access_token()) {
            Some(token) => Ok(token.to_string()),
            None => Err(AwsError::other(
                "cognito-idp:AdminInitiateAuth",
                format!(
                    "the pool answered with the challenge {} instead of tokens (MFA required?); pass a token with --token-env",
                    out.challenge_name().map(|c| c.as_str()).unwrap_or("?")
                ),
            )),
        }
    };
    match signed_in.await {
        Ok(access_token) => Ok(ThrowawayUser { pool_id: pool_id.to_string(), username, access_token }),
        Err(e) => {
            let _ = remove_user(aws, pool_id, &username).await;
            Err(e)
        }
    }
}

/// What every verification user's name starts with; then `t<unix seconds
/// it was made>-<random>`.
const USER_PREFIX: &str = "gwctl-verify-";

/// How old a verification user must be before a later run takes it for one
/// a run stopped before removing it (a run takes seconds; runs from cron
/// and by hand may overlap).
pub const LEFT_BEHIND_AFTER: Duration = Duration::from_secs(3600);

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// When a verification user was made, by its name.
fn made_at(username: &str) -> Option<u64> {
    username.strip_prefix(USER_PREFIX)?.strip_prefix('t')?.split('-').next()?.parse().ok()
}

/// Removes the verification users that runs stopped between making and
/// removing them left in the pool (each counts as a monthly active user):
/// those made over [`LEFT_BEHIND_AFTER`] ago, by their names, or by their
/// creation dates for names without a time. Returns the names removed.
pub async fn sweep_left_behind(aws: &Aws, pool_id: &str) -> Result<Vec<String>, AwsError> {
    let now = now_secs();
    let mut stale = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .cognito
            .list_users()
            .user_pool_id(pool_id)
            .filter(format!("username ^= \"{USER_PREFIX}\""))
            .set_pagination_token(token)
            .send()
            .await
            .map_err(err("cognito-idp:ListUsers"))?;
        for user in page.users() {
            let Some(name) = user.username().filter(|n| n.starts_with(USER_PREFIX)) else { continue };
            let made = made_at(name).or_else(|| user.user_create_date().map(|d| d.secs().max(0) as u64));
            if made.is_some_and(|t| now.saturating_sub(t) > LEFT_BEHIND_AFTER.as_secs()) {
                stale.push(name.to_string());
            }
        }
        token = page.pagination_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for name in &stale {
        remove_user(aws, pool_id, name).await?;
    }
    Ok(stale)
}

pub async fn remove_user(aws: &Aws, pool_id: &str, username: &str) -> Result<(), AwsError> {
    match aws.cognito.admin_delete_user().user_pool_id(pool_id).username(username).send().await.map_err(err("cognito-idp:AdminDeleteUser")) {
        Err(e) if !e.is("UserNotFoundException") => Err(e),
        _ => Ok(()),
    }
}

/// The instance's ping status in Systems Manager (`Online`,
/// `ConnectionLost`, …), or `None` when its agent never registered.
pub async fn ssm_status(aws: &Aws, instance_id: &str) -> Result<Option<(String, Option<String>)>, AwsError> {
    let filter = aws_sdk_ssm::types::InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|e| AwsError::other("ssm:DescribeInstanceInformation", e.to_string()))?;
    let out = aws.ssm.describe_instance_information().filters(filter).send().await.map_err(err("ssm:DescribeInstanceInformation"))?;
    Ok(out
        .instance_information_list()
        .iter()
        .find(|i| i.instance_id() == Some(instance_id))
        .map(|i| (i.ping_status().map(|p| p.as_str().to_string()).unwrap_or_default(), i.agent_version().map(str::to_string))))
}

/// Waits up to `wait` for log events naming each of `request_ids` to reach
/// `group` (from `since`, epoch ms); the ids found, and how long it took.
pub async fn find_log_lines(aws: &Aws, group: &str, since: i64, request_ids: &[String], wait: Duration) -> Result<(HashSet<String>, Duration), AwsError> {
    let started = Instant::now();
    let mut found = HashSet::new();
    loop {
        let mut pages = aws.logs.filter_log_events().log_group_name(group).start_time(since).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(err("logs:FilterLogEvents"))?;
            for event in page.events() {
                let message = event.message().unwrap_or_default();
                found.extend(request_ids.iter().filter(|id| message.contains(id.as_str())).cloned());
            }
        }
        if found.len() == request_ids.len() || started.elapsed() >= wait {
            return Ok((found, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_secs(2).min(wait.saturating_sub(started.elapsed()))).await;
    }
}

/// The routes of a stage whose throttle its route settings override, as
/// (route key, rate, burst).
pub async fn route_throttles(aws: &Aws, api_id: &str, stage: &str) -> Result<Vec<(String, Option<f64>, Option<i32>)>, AwsError> {
    let out = aws.apigw.get_stage().api_id(api_id).stage_name(stage).send().await.map_err(err("apigateway:GetStage"))?;
    let mut routes: Vec<(String, Option<f64>, Option<i32>)> = out
        .route_settings()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r.throttling_rate_limit().is_some() || r.throttling_burst_limit().is_some())
        .map(|(key, r)| (key.clone(), r.throttling_rate_limit(), r.throttling_burst_limit()))
        .collect();
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verification_users_name_says_when_it_was_made() {
        assert_eq!(made_at("gwctl-verify-t1700000000-0123456789ab"), Some(1_700_000_000));
        assert_eq!(made_at("gwctl-verify-0123456789ab"), None, "the earlier naming: by creation date");
        assert_eq!(made_at("someone-else"), None);
    }
}
