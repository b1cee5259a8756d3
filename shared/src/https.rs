//! The HTTP client under every SDK client Roster builds: hyper over rustls (aws-lc), trusting the
//! Mozilla root certificates compiled into the binary (webpki-roots).
//!
//! Why not the SDK's default client: building it reads and parses every root certificate under
//! /etc/ssl/certs, about 4 ms of a handler's ~5 ms Lambda init (issue 13). The compiled-in trust
//! anchors are already in the form rustls verifies with, so nothing is read or parsed, neither at
//! init nor at the first request.
//!
//! What it keeps from the SDK's client: the connect timeout (TCP connect and TLS handshake) and the
//! read timeout of each client's `HttpConnectorSettings`; failures classified as the SDK's retry
//! strategy expects (timeouts and broken connections are retried, a refused certificate or a
//! request that cannot be sent is not); poisoning of a connection the SDK gives up on; and pooled
//! connections, one pool for all the SDK clients built from one [`client`] (per distinct timeout
//! settings, which in practice are the same for all). Plain http (the local emulator) goes through
//! the same pool.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{
    CaptureConnection, HttpConnector as TcpConnector, HttpInfo, capture_connection,
};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tower_service::Service;

/// A new client with its own connection pool. Cheap: no file is read, no certificate parsed.
pub fn client() -> Result<SharedHttpClient, rustls::Error> {
    Ok(SharedHttpClient::new(HttpsClient {
        tls: tls_config()?,
        connectors: Mutex::default(),
    }))
}

/// The TLS 1.3 and 1.2 suites the SDK's own rustls client allows (AES-GCM, and ChaCha20 for
/// TLS 1.2 with RSA), so moving off it changes nothing on the wire.
const CIPHER_SUITES: [rustls::CipherSuite; 7] = [
    rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

pub(crate) fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|suite| CIPHER_SUITES.contains(&suite.suite()));
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(trust_anchors())
            .with_no_client_auth(),
    )
}

/// Mozilla's roots as of the webpki-roots release in Cargo.lock. A `TrustAnchor` is what rustls
/// keeps of a parsed root certificate, so copying the compiled-in ones is all there is to do.
fn trust_anchors() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

#[derive(Debug)]
struct HttpsClient {
    tls: rustls::ClientConfig,
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for HttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        // A panic elsewhere cannot leave the map half-written: an entry is inserted whole.
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(self.tls.clone(), timeouts)))
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the SDK's own client reports in the user agent: the transport is the same hyper.
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// One pool of connections, each made within the connect timeout.
#[derive(Debug)]
struct Connector {
    client: Client<TimedConnect, SdkBody>,
    read_timeout: Option<Duration>,
}

impl Connector {
    fn new(tls: rustls::ClientConfig, timeouts: Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // The pool needs a timer to close connections idle past its timeout (90 s).
            .pool_timer(TokioTimer::new())
            .build(TimedConnect {
                https,
                timeout: timeouts.connect,
            });
        Self {
            client,
            read_timeout: timeouts.read,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        // Lets the SDK poison the connection of an attempt it gives up on (a timeout, a
        // transient error), so the pool does not hand it out again.
        let captured = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || connection_metadata(&captured));
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => response.await,
            }
            .map_err(|err| connector_error(err.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}

fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = captured.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let to_poison = captured.clone();
    let mut metadata = ConnectionMetadata::builder()
        .proxied(connected.is_proxied())
        .poison_fn(move || {
            if let Some(connected) = to_poison.connection_metadata().as_ref() {
                connected.poison();
            }
        });
    metadata
        .set_remote_addr(info.map(HttpInfo::remote_addr))
        .set_local_addr(info.map(HttpInfo::local_addr));
    Some(metadata.build())
}

/// TCP connect and TLS handshake within the connect timeout, as the SDK's client does.
#[derive(Clone)]
struct TimedConnect {
    https: HttpsConnector<TcpConnector>,
    timeout: Option<Duration>,
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<MaybeHttpsStream<TokioIo<TcpStream>>, BoxError>> + Send>>;

impl Service<http::Uri> for TimedConnect {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Connecting {
        let connecting = self.https.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match timeout {
                Some(limit) => tokio::time::timeout(limit, connecting).await?,
                None => connecting.await,
            }
        })
    }
}

/// What a failed attempt means for the SDK's retry strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Connect or read timeout: retried.
    Timeout,
    /// The connection could not be made or broke: retried.
    Io,
    /// The server closed the connection mid-answer: retried as transient.
    Transient,
    /// The request itself cannot be sent: never retried.
    User,
    /// Anything else, a refused TLS handshake among them (the same roots refuse it again): not
    /// retried.
    Other,
}

fn connector_error(err: BoxError) -> ConnectorError {
    match failure(&*err) {
        Failure::Timeout => ConnectorError::timeout(err),
        Failure::Io => ConnectorError::io(err),
        Failure::Transient => ConnectorError::other(err, Some(ErrorKind::TransientError)),
        Failure::User => ConnectorError::user(err),
        Failure::Other => ConnectorError::other(err, None),
    }
}

fn failure(err: &(dyn Error + 'static)) -> Failure {
    if causes(err).any(|cause| {
        cause.is::<tokio::time::error::Elapsed>()
            || io_kind(cause) == Some(std::io::ErrorKind::TimedOut)
    }) {
        return Failure::Timeout;
    }
    if let Some(http) = causes(err).find_map(|cause| cause.downcast_ref::<hyper::Error>()) {
        return if http.is_timeout() {
            Failure::Timeout
        } else if http.is_user() {
            Failure::User
        } else if http.is_incomplete_message() {
            Failure::Transient
        } else if http.is_closed()
            || http.is_canceled()
            || causes(http).any(|cause| cause.is::<std::io::Error>())
        {
            Failure::Io
        } else {
            Failure::Other
        };
    }
    if causes(err).any(|cause| cause.is::<rustls::Error>()) {
        return Failure::Other;
    }
    let connecting = causes(err)
        .find_map(|cause| cause.downcast_ref::<hyper_util::client::legacy::Error>())
        .is_some_and(hyper_util::client::legacy::Error::is_connect);
    if connecting || causes(err).any(|cause| cause.is::<std::io::Error>()) {
        return Failure::Io;
    }
    Failure::Other
}

fn io_kind(err: &(dyn Error + 'static)) -> Option<std::io::ErrorKind> {
    err.downcast_ref::<std::io::Error>()
        .map(std::io::Error::kind)
}

/// `err` and every error under it. An `io::Error`'s `source()` skips the error it wraps (it
/// returns that error's source), so the wrapped one is taken with `get_ref` instead: hyper-rustls
/// puts rustls' refusal two `io::Error`s deep.
fn causes<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&err| {
        match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => err.source(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the local server does with each connection it accepts, by the connection's index.
    #[derive(Clone, Copy)]
    enum Answer {
        /// Answers every request on the connection with an empty DynamoDB table list.
        Tables,
        /// Reads the request, then closes the connection without a word.
        Hangs,
        /// Reads nothing and says nothing, keeping the connection open.
        Silent,
        /// Answers with plain HTTP whatever arrives (a TLS hello included).
        PlainText,
    }

    /// A loopback server answering connection `n` with `answers[n]` (the last one for any
    /// further); returns its address and the count of connections it accepted.
    async fn server(answers: &'static [Answer]) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let answer = answers[n.min(answers.len() - 1)];
                tokio::spawn(serve(stream, answer));
            }
        });
        (addr, accepted)
    }

    async fn serve(mut stream: TcpStream, answer: Answer) {
        match answer {
            Answer::Silent => {
                let _ = stream.read_to_end(&mut Vec::new()).await;
            }
            Answer::PlainText => {
                let _ = stream.read(&mut [0; 1024]).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
            Answer::Hangs => {
                let _ = read_request(&mut stream).await;
            }
            Answer::Tables => {
                while read_request(&mut stream).await {
                    let body = br#"{"TableNames":[]}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(body).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Reads one request (head and content-length body); false once the client hung up.
    async fn read_request(stream: &mut TcpStream) -> bool {
        let mut seen = Vec::new();
        let mut byte = [0; 1];
        while !seen.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => seen.push(byte[0]),
                _ => return false,
            }
        }
        let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        stream.read_exact(&mut vec![0; length]).await.is_ok()
    }

    fn dynamodb(addr: std::net::SocketAddr) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(format!("http://{addr}"))
            .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
            .http_client(client().expect("client"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    async fn attempt(url: String, timeouts: Timeouts) -> Result<HttpResponse, ConnectorError> {
        let connector = Connector::new(tls_config().expect("tls"), timeouts);
        let request = http::Request::post(url)
            .body(SdkBody::from("{}"))
            .expect("request");
        connector
            .call(request.try_into().expect("smithy request"))
            .await
    }

    const SHORT: Option<Duration> = Some(Duration::from_millis(200));

    #[test]
    fn trusts_the_compiled_in_roots() {
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert_eq!(trust_anchors().len(), webpki_roots::TLS_SERVER_ROOTS.len());
    }

    #[test]
    fn offers_only_the_cipher_suites_the_sdk_client_offers() {
        let tls = tls_config().expect("tls");
        let suites: Vec<_> = tls
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|suite| suite.suite())
            .collect();
        assert!(suites.contains(&rustls::CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert!(suites.iter().all(|suite| CIPHER_SUITES.contains(suite)));
        assert!(!suites.contains(&rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
    }

    #[tokio::test]
    async fn sdk_requests_over_plain_http_share_one_connection() {
        let (addr, accepted) = server(&[Answer::Tables]).await;
        let dynamodb = dynamodb(addr);
        for _ in 0..3 {
            let tables = dynamodb.list_tables().send().await.expect("list tables");
            assert_eq!(tables.table_names(), &[] as &[String]);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_retried_by_the_sdk() {
        let (addr, accepted) = server(&[Answer::Hangs, Answer::Tables]).await;
        let tables = dynamodb(addr).list_tables().send().await.expect("retried");
        assert_eq!(tables.table_names(), &[] as &[String]);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_transient() {
        let (addr, _) = server(&[Answer::Hangs]).await;
        let timeouts = Timeouts {
            connect: SHORT,
            read: SHORT,
        };
        let err = attempt(format!("http://{addr}/"), timeouts)
            .await
            .expect_err("closed");
        assert_eq!(err.as_other(), Some(ErrorKind::TransientError), "{err:?}");
    }

    #[tokio::test]
    async fn no_answer_within_the_read_timeout_is_a_timeout() {
        let (addr, _) = server(&[Answer::Silent]).await;
        let timeouts = Timeouts {
            connect: SHORT,
            read: SHORT,
        };
        let err = attempt(format!("http://{addr}/"), timeouts)
            .await
            .expect_err("silent");
        assert!(err.is_timeout(), "{err:?}");
    }

    #[tokio::test]
    async fn the_tls_handshake_counts_against_the_connect_timeout() {
        let (addr, _) = server(&[Answer::Silent]).await;
        let timeouts = Timeouts {
            connect: SHORT,
            read: None,
        };
        let err = attempt(format!("https://{addr}/"), timeouts)
            .await
            .expect_err("silent");
        assert!(err.is_timeout(), "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_io() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        let timeouts = Timeouts {
            connect: SHORT,
            read: SHORT,
        };
        let err = attempt(format!("http://{addr}/"), timeouts)
            .await
            .expect_err("refused");
        assert!(err.is_io(), "{err:?}");
    }

    #[tokio::test]
    async fn a_failed_tls_handshake_is_not_retried() {
        let (addr, _) = server(&[Answer::PlainText]).await;
        let timeouts = Timeouts {
            connect: SHORT,
            read: SHORT,
        };
        let err = attempt(format!("https://{addr}/"), timeouts)
            .await
            .expect_err("not tls");
        assert!(err.is_other() && err.as_other().is_none(), "{err:?}");
    }

    #[test]
    fn a_timed_out_io_error_anywhere_in_the_chain_is_a_timeout() {
        let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout");
        let outer = std::io::Error::other(inner);
        assert_eq!(failure(&outer), Failure::Timeout);
    }

    #[test]
    fn a_certificate_refusal_is_not_io() {
        let refusal = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            refusal,
        ));
        assert_eq!(failure(&wrapped), Failure::Other);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(failure(&reset), Failure::Io);
    }
}
