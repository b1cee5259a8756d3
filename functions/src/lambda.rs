//! Running one handler under the Lambda runtime (API Gateway HTTP API, payload v2).

use crate::http::{precheck, problem, resolve_requester, respond};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use roster_shared::auth::Requester;
use roster_shared::{ApiError, ApiResult, App};
use std::future::Future;

/// Runs `handler` for every request. The SDK clients are created once, here, with no network call.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Response<Body>>> + Send,
{
    roster_shared::init_tracing();
    // One App per container for its whole life: leaking it gives handlers a plain `&'static`.
    let app: &'static App = Box::leak(Box::new(App::for_lambda().await?));
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(dispatch(app, req, handler).await)
    }))
    .await
}

/// The checks every request passes, then the handler, then errors as problem+json.
pub async fn dispatch<F, Fut>(app: &'static App, mut req: Request, handler: F) -> Response<Body>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = ApiResult<Response<Body>>>,
{
    let checked = match precheck(&req) {
        Ok(()) => authentication_first(app, &req).await,
        Err(err) => Err(err),
    };
    match checked {
        Err(err) => problem(&err),
        Ok(requester) => {
            req.extensions_mut().insert(requester);
            respond(handler(app, req).await)
        }
    }
}

/// Authentication comes before anything about the request is read: on an authenticated route a
/// missing, malformed, forged or expired token answers 401 whatever the body says, and a token
/// sent to a public route must be valid too. The caller it resolves is what handlers hand to
/// `shared`. (Whether the token's account is still live is the domain's batched read.)
async fn authentication_first(app: &App, req: &Request) -> ApiResult<Requester> {
    let requester = resolve_requester(app, req).await?;
    let route_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone(),
        _ => None,
    };
    let public = route_key.as_deref().is_some_and(crate::routes::is_public);
    if requester.token.is_none() && !public {
        return Err(ApiError::Unauthorized);
    }
    Ok(requester)
}
