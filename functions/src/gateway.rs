//! The local HTTP gateway: serves every operation of the registry on a local port by calling the
//! same handlers the Lambda binaries run, with the path parameters, query string and request
//! context API Gateway would fill in, and the CORS answers template.yaml configures the HTTP API
//! to give. With `ROSTER_CONSOLE_DIR` set, it also serves the web console's build
//! ([`ConsoleFiles`]) on the paths that are not the API's.

use crate::console_files::ConsoleFiles;
use crate::http::{Dialect, MAX_BODY_BYTES, error_for};
use crate::lambda::dispatch;
use crate::registry::{Match, Operation, find};
use bytes_body::collect_limited;
use http::{HeaderValue, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use roster_shared::{ApiError, App};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use tokio::net::TcpListener;

type HyperResponse = hyper::Response<http_body_util::Full<hyper::body::Bytes>>;

/// Serves until the task is dropped.
pub async fn serve(app: &'static App, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(app, peer, req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    app: &'static App,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<HyperResponse, Infallible> {
    let (parts, body) = req.into_parts();
    let cors = Cors::of(&app.config.app_url, &parts.headers);
    if parts.method == http::Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Ok(to_hyper(cors.preflight()));
    }
    if let Some(page) = console().and_then(|c| c.answer(&parts.method, parts.uri.path())) {
        return Ok(to_hyper(page));
    }
    let dialect = Dialect::of_path(parts.uri.path());
    let Some(bytes) = collect_limited(body, MAX_BODY_BYTES + 1).await else {
        return Ok(to_hyper(error_for(
            dialect,
            &ApiError::PayloadTooLarge(MAX_BODY_BYTES),
        )));
    };
    let response = match find(&parts.method, parts.uri.path()) {
        Match::Found(route, params) => {
            let request = api_gateway_request(parts, bytes, route, params, peer);
            dispatch(app, request, route).await
        }
        Match::WrongMethod(allowed) => {
            let mut response = error_for(
                dialect,
                &ApiError::MethodNotAllowed("this path does not support this method"),
            );
            let allow = allowed
                .iter()
                .map(http::Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        Match::Unknown => error_for(dialect, &ApiError::NotFound),
    };
    Ok(to_hyper(cors.answer(response)))
}

/// The console's build, read from the environment once (`None`: the gateway serves the API only).
fn console() -> Option<&'static ConsoleFiles> {
    static CONSOLE: OnceLock<Option<ConsoleFiles>> = OnceLock::new();
    CONSOLE.get_or_init(ConsoleFiles::from_env).as_ref()
}

/// The request as API Gateway hands it to a function: the path parameters, query string and
/// request context (route key, source address) filled in.
fn api_gateway_request(
    parts: http::request::Parts,
    bytes: hyper::body::Bytes,
    route: &Operation,
    params: Vec<(String, String)>,
    peer: SocketAddr,
) -> lambda_http::Request {
    let mut parts = parts;
    // API Gateway tells functions the scheme it was reached by; so does the local one.
    parts
        .headers
        .entry("x-forwarded-proto")
        .or_insert(HeaderValue::from_static("http"));
    let mut request = http::Request::from_parts(
        parts.clone(),
        if bytes.is_empty() {
            Body::Empty
        } else {
            Body::Binary(bytes.to_vec())
        },
    );
    let query: HashMap<String, Vec<String>> = form_urlencoded::parse(
        parts.uri.query().unwrap_or("").as_bytes(),
    )
    .fold(HashMap::new(), |mut map, (k, v)| {
        map.entry(k.into_owned()).or_default().push(v.into_owned());
        map
    });
    let mut http_description = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_description.method = parts.method.clone();
    http_description.path = Some(parts.uri.path().to_string());
    http_description.protocol = Some("HTTP/1.1".into());
    http_description.source_ip = Some(peer.ip().to_string());
    http_description.user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route.route_key());
    context.stage = Some("$default".into());
    context.request_id = Some(roster_shared::crypto::new_token());
    context.http = http_description;
    request = request
        .with_path_parameters(params.into_iter().collect::<HashMap<_, _>>())
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(context));
    request
}

/// What template.yaml's `CorsConfiguration` allows (tests/contract.rs checks they agree).
pub const CORS_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
pub const CORS_HEADERS: [&str; 4] = [
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
];
pub const CORS_EXPOSED: [&str; 4] = ["location", "retry-after", "etag", "idempotent-replayed"];
pub const CORS_MAX_AGE: u32 = 600;

/// CORS as the HTTP API answers it: the web app's origin (the scheme and host of ROSTER_APP_URL)
/// may call; any other origin gets no CORS header, so browsers keep its pages out.
struct Cors {
    allowed: Option<HeaderValue>,
}

impl Cors {
    fn of(app_url: &str, headers: &http::HeaderMap) -> Self {
        let allowed = headers
            .get(header::ORIGIN)
            .filter(|origin| origin.to_str().is_ok_and(|o| o == origin_of(app_url)))
            .cloned();
        Self { allowed }
    }

    fn preflight(&self) -> lambda_http::Response<Body> {
        let mut response = lambda_http::Response::new(Body::Empty);
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        if let Some(origin) = &self.allowed {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS.join(",")),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_HEADERS.join(",")),
                (header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE.to_string()),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        response
    }

    fn answer(&self, mut response: lambda_http::Response<Body>) -> lambda_http::Response<Body> {
        if let Some(origin) = &self.allowed {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            if let Ok(exposed) = HeaderValue::from_str(&CORS_EXPOSED.join(",")) {
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
            }
        }
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        response
    }
}

/// `https://app.example.com/any/path` → `https://app.example.com` (as template.yaml derives it).
pub fn origin_of(url: &str) -> String {
    let parts: Vec<&str> = url.split('/').collect();
    match parts.as_slice() {
        [scheme, "", host, ..] => format!("{scheme}//{host}"),
        _ => url.to_string(),
    }
}

fn to_hyper(response: lambda_http::Response<Body>) -> HyperResponse {
    let (mut parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    if let Ok(len) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, len);
    }
    hyper::Response::from_parts(parts, http_body_util::Full::new(bytes.into()))
}

mod bytes_body {
    use http_body_util::{BodyExt, Limited};
    use hyper::body::{Bytes, Incoming};

    /// The whole body, or `None` when it is longer than `limit`.
    pub async fn collect_limited(body: Incoming, limit: usize) -> Option<Bytes> {
        Limited::new(body, limit)
            .collect()
            .await
            .ok()
            .map(|c| c.to_bytes())
    }
}
