//! Client-side pacing at AWS's control-plane quotas (docs/design.md §11).
//! API Gateway's management API allows about 10 requests per second per
//! account, burst 40; beyond that it answers 429 and the SDK backs off from
//! a shared retry budget, so a large apply wastes seconds or fails outright.
//! Every HTTP attempt to a paced service, retries included, first takes a
//! token from that service's bucket.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

/// A quota: `rate` requests per second after a `burst`. A rate of 0 is no pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

/// API Gateway's documented control-plane quota.
pub const APIGATEWAY: Quota = Quota { rate: 10.0, burst: 40.0 };

static APIGATEWAY_QUOTA: OnceLock<Quota> = OnceLock::new();

/// Sets API Gateway's quota for this process (an account with a raised
/// limit, or 0 to turn pacing off), before the first client is made.
pub fn set_apigateway(quota: Quota) {
    let _ = APIGATEWAY_QUOTA.set(quota);
}

pub fn apigateway() -> Quota {
    *APIGATEWAY_QUOTA.get().unwrap_or(&APIGATEWAY)
}

#[derive(Debug)]
struct Bucket {
    quota: Quota,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl Bucket {
    fn new(quota: Quota) -> Bucket {
        Bucket { quota, state: tokio::sync::Mutex::new((quota.burst, Instant::now())) }
    }

    /// Waits for a token: the burst at once, then one per 1/rate seconds.
    async fn take(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let (tokens, at) = *state;
                let now = Instant::now();
                let tokens = (tokens + now.duration_since(at).as_secs_f64() * self.quota.rate).min(self.quota.burst);
                if tokens >= 1.0 {
                    *state = (tokens - 1.0, now);
                    return;
                }
                *state = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.quota.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[derive(Debug)]
struct Paced {
    inner: SharedHttpConnector,
    bucket: Arc<Bucket>,
}

impl HttpConnector for Paced {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, bucket) = (self.inner.clone(), self.bucket.clone());
        HttpConnectorFuture::new(async move {
            bucket.take().await;
            inner.call(request).await
        })
    }
}

/// The SDK's default HTTPS client, paced at `quota`; `None` when the quota
/// paces nothing (the SDK's own default client is used then).
pub fn paced_client(quota: Quota) -> Option<SharedHttpClient> {
    if quota.rate <= 0.0 || quota.burst < 1.0 {
        return None;
    }
    use aws_smithy_http_client::tls;
    let inner = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc)).build_https();
    let bucket = Arc::new(Bucket::new(quota));
    Some(http_client_fn(move |settings, components| SharedHttpConnector::new(Paced { inner: inner.http_connector(settings, components), bucket: bucket.clone() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bucket_lets_the_burst_through_then_the_rate() {
        let bucket = Bucket::new(Quota { rate: 50.0, burst: 4.0 });
        let start = Instant::now();
        for _ in 0..4 {
            bucket.take().await;
        }
        assert!(start.elapsed() < Duration::from_millis(15), "the burst is immediate: {:?}", start.elapsed());
        for _ in 0..10 {
            bucket.take().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(195) && took <= Duration::from_millis(450), "ten more at 50/s take 0.2 s: {took:?}");
    }
}
