//! Amazon Cognito user pools: the pool and its app clients, and what they
//! share: the issuer URL API Gateway checks tokens against.

pub(crate) mod client;
pub(crate) mod user_pool;

/// The issuer of the tokens a user pool signs, as JWT authorizers name it:
/// `https://cognito-idp.<region>.amazonaws.com/<pool id>`, or with the
/// pool's issuer configuration UPDATED, `https://issuer-cognito-idp.…`
/// (IssuerConfigurationType, Cognito API reference). A pool id starts with
/// its region.
pub fn issuer(pool_id: &str, updated: bool) -> String {
    let region = pool_id.split_once('_').map(|(r, _)| r).unwrap_or_default();
    let host = if updated { "issuer-cognito-idp" } else { "cognito-idp" };
    format!("https://{host}.{region}.amazonaws.com/{pool_id}")
}

/// The SDK configuration for creates that must not be repeated blindly:
/// neither CreateUserPool nor CreateUserPoolClient takes an idempotency
/// token, and names are not unique, so a retry after a lost answer would make
/// a second one. Each attempt first looks for what the last one made.
pub fn no_retry() -> aws_sdk_cognitoidentityprovider::config::Builder {
    aws_sdk_cognitoidentityprovider::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled())
}
