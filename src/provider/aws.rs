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
    pub cloudmap: aws_sdk_servicediscovery::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub region: String,
}

impl Aws {
    /// Loads credentials, profile and endpoint from the standard AWS chain.
    /// The region is the spec's: `AWS_REGION` does not override it.
    pub async fn connect(region: &str) -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .timeout_config(timeout_config())
            .load()
            .await;
        let retry = retry_config(config.retry_config().map(|r| r.mode()));
        // The upload half of stalled-stream protection times a request body
        // from when the attempt starts: a paced request that waits its turn
        // for a few seconds would be cut off as stalled, and its create sent
        // again as if its answer had been lost. gwctl's bodies are small
        // JSON and forms; answers stay protected.
        let stalled = aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled().upload_enabled(false).build();
        let stats = crate::provider::stats::Recorder;
        macro_rules! client {
            ($sdk:ident, $service:literal) => {{
                let mut builder =
                    $sdk::config::Builder::from(&config).retry_config(retry.clone()).stalled_stream_protection(stalled.clone()).interceptor(stats);
                if let Some(paced) = crate::provider::pace::paced_client($service) {
                    builder = builder.http_client(paced);
                }
                $sdk::Client::from_conf(builder.build())
            }};
        }
        Aws {
            ec2: client!(aws_sdk_ec2, "ec2"),
            iam: client!(aws_sdk_iam, "iam"),
            ssm: client!(aws_sdk_ssm, "ssm"),
            logs: client!(aws_sdk_cloudwatchlogs, "logs"),
            apigw: client!(aws_sdk_apigatewayv2, "apigateway"),
            cloudmap: client!(aws_sdk_servicediscovery, "servicediscovery"),
            cognito: client!(aws_sdk_cognitoidentityprovider, "cognito-idp"),
            region: region.to_string(),
        }
    }
}

/// The ARN partition of a region: `aws-cn` for China, `aws-us-gov` for
/// GovCloud, `aws` elsewhere.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Throttling, 5xx and dropped connections are retried with exponential
/// backoff and full jitter: 8 attempts, at most 5 s apart, about 11 s at worst.
pub const MAX_ATTEMPTS: u32 = 8;

/// gwctl's retries, in the retry mode the AWS configuration asks for
/// (`AWS_RETRY_MODE` or a profile's `retry_mode`; `adaptive` adds the SDK's
/// own client-side rate limiting to gwctl's pacing).
fn retry_config(mode: Option<aws_config::retry::RetryMode>) -> RetryConfig {
    let base = match mode {
        Some(aws_config::retry::RetryMode::Adaptive) => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    base.with_max_attempts(MAX_ATTEMPTS).with_initial_backoff(Duration::from_millis(100)).with_max_backoff(Duration::from_secs(5))
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
        SdkError::ServiceError(se) => se.raw().status().as_u16() >= 500 || is_throttle(e),
        _ => false,
    }
}

/// Whether AWS refused a call for its rate (429, or a throttling code):
/// turned away before it was carried out, unlike a 5xx or a lost answer.
pub fn is_throttle<E>(e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>) -> bool
where
    E: ProvideErrorMetadata,
{
    let Some(se) = e.as_service_error() else { return false };
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
    status == 429 || crate::provider::pace::THROTTLE_CODES.contains(&se.code().unwrap_or_default())
}

/// The wait before attempt `n + 1`: exponential from 100 ms, capped at 5 s, full jitter.
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(100).saturating_mul(1 << attempt.min(6)).min(Duration::from_secs(5));
    let jitter = uuid::Uuid::new_v4().as_u128() % 1000;
    cap.mul_f64(jitter as f64 / 1000.0)
}

/// How a create that must not run twice ended: made now, or found as an
/// earlier attempt had made it.
pub enum Once<M, F> {
    Made(M),
    Found(F),
}

/// Creates what AWS gives no idempotency token for (an API, a user pool, a
/// client: names need not be unique), at most once. `create` is sent with
/// the SDK's retries off: a retry after a lost answer would make a second
/// one. Each attempt after one whose answer may have been lost (a 5xx, a
/// timeout, a dropped connection), and the first too with `look_first`,
/// asks `find` for what it may have made and returns that instead; an
/// attempt AWS turned away for its rate made nothing, so no look follows it
/// (a look lists the parent's children: pages of calls under the same
/// quota). A transient failure is retried here with backoff, any other is
/// mapped to an error naming `operation`.
pub async fn create_once<M, F, FindFut, C, CreateFut, E>(operation: &'static str, look_first: bool, find: impl Fn() -> FindFut, create: C) -> Result<Once<M, F>, AwsError>
where
    FindFut: Future<Output = Result<Option<F>, AwsError>>,
    C: Fn() -> CreateFut,
    CreateFut: Future<Output = Result<M, aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (mut attempt, mut look) = (0, look_first);
    loop {
        attempt += 1;
        if look {
            if let Some(found) = find().await? {
                return Ok(Once::Found(found));
            }
        }
        match create().await {
            Ok(made) => return Ok(Once::Made(made)),
            Err(e) if attempt < MAX_ATTEMPTS && is_transient(&e) => {
                look = look || !is_throttle(&e);
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(err(operation)(e)),
        }
    }
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
                    | "NamespaceNotFound"
                    | "ServiceNotFound"
                    | "InstanceNotFound"
            )
        )
    }

    pub fn other(operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError { operation, code: None, message: message.into(), request_id: None }
    }
}

/// Converts an SDK error, keeping AWS's code, message and request id. An
/// error without them (a connection that failed, credentials not found, a
/// timeout) becomes one line from its cause chain (see [`describe`]). The
/// SDK's Debug form of the error, written for its developers, is logged
/// only with `-vv` or `GWCTL_LOG`.
pub fn err<E>(operation: &'static str) -> impl FnOnce(E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e: E| {
        if crate::provider::stats::logging() {
            eprintln!("aws {operation} failed: {e:?}");
        }
        let meta = e.meta();
        let code = meta.code().map(str::to_string);
        let request_id = meta.extra("aws_request_id").map(str::to_string);
        let message = match meta.message() {
            Some(m) => m.to_string(),
            None => describe(&e),
        };
        AwsError { operation, code, message, request_id }
    }
}

/// One line: the text of `e` and of each error in its source chain, joined
/// by ": ", leaving out a text that one before it already contains; then
/// what to check, where gwctl knows it (the endpoint could not be reached,
/// no credentials were found).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    use aws_smithy_runtime_api::client::result::ConnectorError;
    let mut parts: Vec<String> = Vec::new();
    let mut hint = None;
    let mut source = Some(e);
    while let Some(cause) = source {
        if cause.downcast_ref::<ConnectorError>().is_some_and(|c| c.is_io() || c.is_timeout()) {
            hint = Some(unreachable_hint());
        }
        if cause.downcast_ref::<aws_credential_types::provider::error::CredentialsError>().is_some() {
            hint = Some(
                "no usable AWS credentials: set AWS_PROFILE to a profile of ~/.aws/config, \
                 or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .to_string(),
            );
        }
        let text = without_debug(first_line(&cause.to_string()));
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    let mut line = parts.join(": ");
    if let Some(hint) = hint {
        line.push_str("; ");
        line.push_str(&hint);
    }
    line
}

fn unreachable_hint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => {
            format!("could not reach the AWS endpoint {url}: check the network, and AWS_ENDPOINT_URL")
        }
        _ => "could not reach AWS: check the network (and the proxy, if one is needed), \
              or set AWS_ENDPOINT_URL to the endpoint to use"
            .to_string(),
    }
}

/// An error text without the Debug form some SDK errors embed (an answer
/// the SDK could not model, e.g. a 5xx without an error code, reads
/// `unhandled error: Error { message: "…" }`): its message, or nothing.
fn without_debug(text: &str) -> String {
    let Some(at) = text.find("Error {") else { return text.to_string() };
    let head = text[..at].trim_end().trim_end_matches(':').trim_end();
    let message = text[at..].split_once("message: \"").and_then(|(_, rest)| rest.split_once('"')).map(|(m, _)| m);
    match (head.is_empty(), message) {
        (_, Some(m)) if head.is_empty() => m.to_string(),
        (_, Some(m)) => format!("{head}: {m}"),
        (_, None) => head.to_string(),
    }
}

/// The first line of an error's text. Some errors list details on further
/// lines (the credential providers tried, one a line); the words that
/// introduce the list ("... Attempted:") go with it.
fn first_line(text: &str) -> &str {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim_end();
    match first.strip_suffix(':') {
        Some(intro) if lines.next().is_some() => intro.rsplit_once(". ").map_or(intro, |(head, _)| head),
        _ => first,
    }
}

/// Retries `call` while it fails with one of the named eventual-consistency
/// codes (and its message contains one of `needles`, when any are given), for
/// at most `limit`, waiting 0.5 s, then twice as long each time up to 5 s.
pub async fn retry_while<T, F, Fut>(codes: &[&str], needles: &[&str], limit: Duration, mut call: F) -> Result<T, AwsError>
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
                    && (needles.is_empty() || needles.iter().any(|n| e.message.contains(n)))
                    && start.elapsed() + wait < limit =>
            {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_use_the_regions_partition() {
        assert_eq!(partition("ap-south-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn debug_forms_inside_error_texts_become_their_message() {
        assert_eq!(without_debug("unhandled error: Error { message: \"Internal server error\" }"), "unhandled error: Internal server error");
        assert_eq!(without_debug("service error"), "service error");
        assert_eq!(without_debug("unhandled error: Error { code: None }"), "unhandled error");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_chain_is_one_line_each_text_once() {
        let chain = Layer(
            "dispatch failure",
            Some(Box::new(Layer("io error: connect refused", Some(Box::new(Layer("connect refused", None)))))),
        );
        assert_eq!(describe(&chain), "dispatch failure: io error: connect refused");
    }

    #[test]
    fn a_listed_cause_keeps_its_first_sentence() {
        let text = "no credentials found in chain. Attempted:\n  Environment: not set\n  Profile: not set";
        assert_eq!(first_line(text), "no credentials found in chain");
        assert_eq!(first_line("connect refused"), "connect refused");
        assert_eq!(first_line("a list:"), "a list:");
    }
}
