//! Requests to what the stack serves, as its users make them: HTTP(S) to
//! the API's endpoint and TCP to the backend's address. Not AWS API calls,
//! so not counted, paced or retried.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// One answer: status, the API Gateway request id, and the start of the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: String,
}

/// An HTTP/1.1 client for http:// and https:// (the system's trusted roots).
#[derive(Clone)]
pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

/// The most of a body kept for a message.
const BODY_LIMIT: usize = 64 * 1024;

impl Http {
    pub fn new(timeout: Duration) -> Result<Http, String> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = match hyper_rustls::HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
            Ok(builder) => builder,
            // No trusted roots here: http:// still works, and https:// fails naming the certificate.
            Err(_) => {
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS setup failed: {e}"))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Http { client: Client::builder(TokioExecutor::new()).build(connector), timeout })
    }

    /// Sends `method url` with `headers`; an error is why no answer came.
    pub async fn send(&self, method: &str, url: String, headers: Vec<(&'static str, String)>) -> Result<Answer, String> {
        let mut request = hyper::Request::builder().method(method).uri(&url).header("user-agent", concat!("gwctl/", env!("CARGO_PKG_VERSION"), " verify"));
        for (k, v) in &headers {
            request = request.header(*k, v.as_str());
        }
        let request = request.body(Full::new(Bytes::new())).map_err(|e| format!("{url} is not a request gwctl can make: {e}"))?;
        let answer = async {
            let response = self.client.request(request).await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let request_id = response.headers().get("apigw-requestid").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = Limited::new(response.into_body(), BODY_LIMIT).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok(Answer { status, request_id, body: String::from_utf8_lossy(&body).into_owned() })
        };
        tokio::time::timeout(self.timeout, answer).await.unwrap_or_else(|_| Err(format!("no answer in {} s", self.timeout.as_secs())))
    }
}

/// The innermost cause of a failed request (refused, reset, name not found).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether a TCP connection to `host:port` opens within `timeout`: `Ok` with
/// how it went either way.
pub async fn tcp_opens(host: &str, port: u16, timeout: Duration) -> (bool, String) {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => (true, "connected".into()),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (false, format!("no answer in {} s", timeout.as_secs())),
    }
}
