//! `Idempotency-Key` at the edge (SPEC.md §8.6): on a route that creates, a request with the key
//! runs once; its retries get the answer it gave. The rules are `roster_shared::idempotency`'s;
//! this is where a request and its response become what they keep.

use crate::http::{error_for, path_id, requester};
use crate::registry::Operation;
use http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use roster_shared::idempotency::{self, Attempt, Claim, IdempotencyKey, KeptAnswer};
use roster_shared::{ApiResult, App};

pub const HEADER: &str = "idempotency-key";
/// Marks an answer given again for a retry, as Stripe does.
pub const REPLAYED: &str = "idempotent-replayed";
/// The headers of a create's answer a client reads, kept with its body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// Runs `operation`'s handler for `req`: once per idempotency key when the operation creates
/// and the caller sent one, else plainly. A retry gets the first answer only past the
/// operation's gate (the caller cleared again as a new request would be).
pub async fn run(
    app: &'static App,
    req: Request,
    operation: &'static Operation,
) -> ApiResult<Response<Body>> {
    let handler = operation.handler;
    let gate = operation.creates;
    let sent = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    // Every route that creates takes a signed token (the key belongs to its subject) or, on SCIM,
    // a SCIM token already checked against its hash (the key belongs to that token).
    let requester = requester(&req);
    let caller = requester
        .token
        .as_ref()
        .map(|claims| claims.sub)
        .or_else(|| {
            requester
                .scim
                .as_ref()
                .and_then(|presented| presented.token_id())
        });
    let (Some(sent), Some(caller), Some(gate)) = (sent, caller, gate) else {
        return handler(app, req).await;
    };
    let key = IdempotencyKey::parse(sent)?;
    let path = req.uri().path().to_string();
    let body = req.body().as_ref().to_vec();
    let attempt = Attempt {
        key: &key,
        tenant: path_id(&req, "tenant_id").ok(),
        caller,
        requester: &requester,
        gate,
        method: req.method().as_str(),
        path: &path,
        body: &body,
    };
    let lease = match idempotency::claim(app, &attempt).await? {
        Claim::Replay(kept) => return Ok(replayed(kept)),
        Claim::Fresh(lease) => lease,
    };
    // The answer kept is the one the operation's clients read: a SCIM error on SCIM routes.
    let response = match handler(app, req).await {
        Ok(response) => response,
        Err(err) => error_for(operation.dialect(), &err),
    };
    let status = response.status();
    // A request that failed for a passing reason wrote nothing: its retry runs again.
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Err(err) = idempotency::release(app, lease).await {
            tracing::warn!(error = %err, "an idempotency key was not released; it frees itself when its lease ends");
        }
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = body.as_ref().to_vec();
    let kept = KeptAnswer {
        status: status.as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_string(), value.to_string()))
            })
            .collect(),
        body,
    };
    // The create is done: a failure to keep its answer must not turn it into an error. A retry
    // then finds the key held until its lease ends.
    if let Err(err) = idempotency::keep(app, lease, &kept).await {
        tracing::warn!(error = %err, "an answer was not kept for its idempotency key");
    }
    Ok(Response::from_parts(parts, Body::Binary(kept.body)))
}

fn replayed(kept: KeptAnswer) -> Response<Body> {
    let mut response = Response::new(if kept.body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(kept.body)
    });
    *response.status_mut() = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
