//! Running one handler under the Lambda runtime (API Gateway HTTP API, payload v2).

use lambda_http::{Body, Request, Response};
use roster_shared::http::{precheck, problem, respond};
use roster_shared::{ApiResult, App};
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
pub async fn dispatch<F, Fut>(app: &'static App, req: Request, handler: F) -> Response<Body>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = ApiResult<Response<Body>>>,
{
    match precheck(&req) {
        Err(err) => problem(&err),
        Ok(()) => respond(handler(app, req).await),
    }
}
