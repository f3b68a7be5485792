//! Amazon Cognito user pools: the pool and its app clients, and what they
//! share: the issuer URL API Gateway checks tokens against.

pub(crate) mod client;
pub(crate) mod user_pool;

/// The issuer of the tokens a user pool signs, as JWT authorizers name it.
pub fn issuer(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}")
}

/// The SDK configuration for creates that must not be repeated blindly:
/// neither CreateUserPool nor CreateUserPoolClient takes an idempotency
/// token, and names are not unique, so a retry after a lost answer would make
/// a second one. Each attempt first looks for what the last one made.
pub fn no_retry() -> aws_sdk_cognitoidentityprovider::config::Builder {
    aws_sdk_cognitoidentityprovider::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled())
}
