//! The local HTTP gateway: serves every route of the route table on a local port by calling the
//! same handlers the Lambda binaries run, with the path parameters, query string and request
//! context API Gateway would fill in.

use crate::http::{MAX_BODY_BYTES, problem};
use crate::lambda::dispatch;
use crate::routes::{Match, Route, find, routes};
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
use tokio::net::TcpListener;

type HyperResponse = hyper::Response<http_body_util::Full<hyper::body::Bytes>>;

/// Serves until the task is dropped.
pub async fn serve(app: &'static App, listener: TcpListener) -> std::io::Result<()> {
    let routes: &'static [Route] = Box::leak(routes().into_boxed_slice());
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(app, routes, peer, req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    app: &'static App,
    routes: &'static [Route],
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<HyperResponse, Infallible> {
    let (parts, body) = req.into_parts();
    let Some(bytes) = collect_limited(body, MAX_BODY_BYTES + 1).await else {
        return Ok(to_hyper(problem(&ApiError::PayloadTooLarge(
            MAX_BODY_BYTES,
        ))));
    };
    let response = match find(routes, &parts.method, parts.uri.path()) {
        Match::Found(route, params) => {
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
            context.route_key = Some(format!("{} {}", route.method, route.path));
            context.stage = Some("$default".into());
            context.request_id = Some(roster_shared::crypto::new_token());
            context.http = http_description;
            request = request
                .with_path_parameters(params.into_iter().collect::<HashMap<_, _>>())
                .with_query_string_parameters(query)
                .with_request_context(RequestContext::ApiGatewayV2(context));
            dispatch(app, request, route.handler).await
        }
        Match::WrongMethod(allowed) => {
            let mut response = problem(&ApiError::MethodNotAllowed(
                "this path does not support this method",
            ));
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
        Match::Unknown => problem(&ApiError::NotFound),
    };
    Ok(to_hyper(response))
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
