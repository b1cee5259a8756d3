//! One attempt at a delivery: a `POST` of the event, signed, to the endpoint's URL, through a
//! connection to addresses the guard vetted ([`super::address`]), never following a redirect, with
//! short timeouts, keeping at most 1 KB of what the receiver answered.

use super::address::VettedResolver;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole attempt may take, the receiver's answer included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// What is kept of a receiver's answer.
pub const KEPT_BODY: usize = 1024;

/// What one attempt found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// Why it failed, if it did (a non-2xx answer, a refused address, a timeout...).
    pub error: Option<String>,
    /// The start of the receiver's answer (at most 1 KB).
    pub response_body: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The message to send: the headers of the Standard Webhooks specification and the body.
pub struct Message<'a> {
    pub url: &'a str,
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// Sends `message` once.
pub async fn send(message: Message<'_>, allow_local: bool) -> Outcome {
    let started = Instant::now();
    let answered = tokio::time::timeout(ATTEMPT_TIMEOUT, post(message, allow_local)).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let failed = |error: String| Outcome {
        status_code: None,
        duration_ms,
        error: Some(error),
        response_body: None,
    };
    match answered {
        Err(_) => failed(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        Ok(Err(err)) => failed(err),
        Ok(Ok((status, body))) => Outcome {
            status_code: Some(status),
            duration_ms,
            error: (!(200..300).contains(&status)).then(|| format!("answered {status}")),
            response_body: Some(body),
        },
    }
}

/// The receiver's status and the start of its answer, or why there was none.
async fn post(message: Message<'_>, allow_local: bool) -> Result<(u16, String), String> {
    let mut tcp = HttpConnector::new_with_resolver(VettedResolver { allow_local });
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let tls = crate::https::tls_config().map_err(|err| err.to_string())?;
    let https = HttpsConnectorBuilder::new().with_tls_config(tls);
    let connector = if allow_local {
        https.https_or_http().enable_http1().wrap_connector(tcp)
    } else {
        https.https_only().enable_http1().wrap_connector(tcp)
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    let request = http::Request::post(message.url)
        .header("content-type", "application/json")
        .header("user-agent", "Roster-Webhooks/1")
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", &message.signature)
        .body(Full::new(Bytes::from(message.body)))
        .map_err(|err| format!("the URL cannot be requested: {err}"))?;
    let response = client
        .request(request)
        .await
        .map_err(|err| describe(&err))?;
    let status = response.status().as_u16();
    Ok((status, kept_body(response.into_body()).await))
}

/// The first [`KEPT_BODY`] bytes of an answer, read no further.
async fn kept_body(mut body: hyper::body::Incoming) -> String {
    let mut kept = Vec::new();
    while kept.len() < KEPT_BODY {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    kept.extend_from_slice(data);
                }
            }
            _ => break,
        }
    }
    kept.truncate(KEPT_BODY);
    String::from_utf8_lossy(&kept).into_owned()
}

/// A connection error with its causes (the resolver's refusal is one of them).
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
