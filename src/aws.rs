//! AWS clients built from one `SdkConfig`, and the error type every AWS call
//! maps into: the operation, AWS's code and message, and the request id.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Clients for every service gwctl uses, all in the spec's region.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub region: String,
}

impl Aws {
    /// Loads credentials, profile and endpoint from the standard AWS chain.
    /// The region is the spec's: `AWS_REGION` does not override it.
    pub async fn connect(region: &str) -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .load()
            .await;
        let stats = crate::stats::Recorder;
        Aws {
            ec2: aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::config::Builder::from(&config).interceptor(stats).build()),
            iam: aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&config).interceptor(stats).build()),
            ssm: aws_sdk_ssm::Client::from_conf(aws_sdk_ssm::config::Builder::from(&config).interceptor(stats).build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(aws_sdk_cloudwatchlogs::config::Builder::from(&config).interceptor(stats).build()),
            apigw: aws_sdk_apigatewayv2::Client::from_conf(aws_sdk_apigatewayv2::config::Builder::from(&config).interceptor(stats).build()),
            region: region.to_string(),
        }
    }
}

/// Throttling, 5xx and dropped connections are retried with exponential
/// backoff and full jitter: 8 attempts, at most 5 s apart, about 11 s at worst.
pub const MAX_ATTEMPTS: u32 = 8;

fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5))
}

/// A connection that does not open in 5 s, or an attempt that gets no answer
/// in 60 s, is abandoned and retried.
fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}

/// Whether a failed call may succeed when repeated: throttling, a 5xx, a
/// timeout or a broken connection.
pub fn is_transient<E>(e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>) -> bool
where
    E: ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(code, "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded")
        }
        _ => false,
    }
}

/// The wait before attempt `n + 1`: exponential from 100 ms, capped at 5 s, full jitter.
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(100).saturating_mul(1 << attempt.min(6)).min(Duration::from_secs(5));
    let jitter = uuid::Uuid::new_v4().as_u128() % 1000;
    cap.mul_f64(jitter as f64 / 1000.0)
}

/// A failed AWS call.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {}{message}{}", code.as_ref().map(|c| format!("{c}: ")).unwrap_or_default(), request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl AwsError {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// AWS's "this resource does not exist" codes, per service.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "NoSuchEntity"
                    | "ResourceNotFoundException"
                    | "NotFoundException"
                    | "InvalidInstanceID.NotFound"
                    | "InvalidGroup.NotFound"
                    | "InvalidGroupId.NotFound"
                    | "InvalidPermission.NotFound"
                    | "ParameterNotFound"
            )
        )
    }

    pub fn other(operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError { operation, code: None, message: message.into(), request_id: None }
    }
}

/// Converts an SDK error, keeping AWS's code, message and request id; for
/// errors without them (timeouts, connection failures) the whole cause chain.
pub fn err<E>(operation: &'static str) -> impl FnOnce(E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e: E| {
        let meta = e.meta();
        let code = meta.code().map(str::to_string);
        let request_id = meta.extra("aws_request_id").map(str::to_string);
        let message = match meta.message() {
            Some(m) => m.to_string(),
            None => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        };
        AwsError { operation, code, message, request_id }
    }
}

/// Retries `call` while it fails with one of the named eventual-consistency
/// codes (and the message contains `needle`, when given), for at most `limit`.
pub async fn retry_while<T, F, Fut>(
    codes: &[&str],
    needle: Option<&str>,
    limit: Duration,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match call().await {
            Err(e)
                if e.code.as_deref().is_some_and(|c| codes.contains(&c))
                    && needle.is_none_or(|n| e.message.contains(n))
                    && start.elapsed() + wait < limit =>
            {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}
