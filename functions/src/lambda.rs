//! Running one operation under the Lambda runtime (API Gateway HTTP API, payload v2).

use crate::http::{error_for, precheck, resolve_requester, respond};
use crate::registry::{Access, Operation};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use roster_shared::auth::Requester;
use roster_shared::{ApiError, ApiResult, App};
use std::time::{Duration, Instant};

/// Serves `operation` for every request. The SDK clients are created once, here, with no
/// network call. Only `operation`'s own handler is reached, so the binary links only it.
pub async fn serve(operation: &'static Operation) -> Result<(), lambda_http::Error> {
    roster_shared::init_tracing();
    // One App per container for its whole life: leaking it gives handlers a plain `&'static`.
    let app: &'static App = Box::leak(Box::new(App::for_lambda().await?));
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(dispatch(app, req, operation).await)
    }))
    .await
}

/// The checks every request passes (what `operation` says of its callers), then its handler,
/// then errors in its dialect; then one log line for the request.
pub async fn dispatch(
    app: &'static App,
    mut req: Request,
    operation: &'static Operation,
) -> Response<Body> {
    let started = Instant::now();
    let mut line = RequestLine::of(&req);
    let dialect = operation.dialect();
    let checked = match precheck(&req) {
        Ok(()) => authentication_first(app, &req, operation.access).await,
        Err(err) => Err(err),
    };
    let response = match checked {
        Err(err) => error_for(dialect, &err),
        Ok(requester) => {
            if line.tenant_id.is_none() {
                line.tenant_id = requester
                    .token
                    .as_ref()
                    .and_then(|t| t.tid)
                    .map(|t| t.to_string());
            }
            req.extensions_mut().insert(requester);
            respond(dialect, crate::idempotent::run(app, req, operation).await)
        }
    };
    line.log(response.status().as_u16(), started.elapsed());
    response
}

/// What the log line of a request says: where it came in and for whom, never what it carried
/// (no header, body, query string or token is logged).
struct RequestLine {
    request_id: Option<String>,
    route: Option<String>,
    tenant_id: Option<String>,
}

impl RequestLine {
    fn of(req: &Request) -> Self {
        let (route, gateway_request_id) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                (ctx.route_key.clone(), ctx.request_id.clone())
            }
            _ => (None, None),
        };
        // Lambda's own request id when running under Lambda; the gateway's otherwise.
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .filter(|id| !id.is_empty())
            .or(gateway_request_id);
        let tenant_id = req
            .path_parameters_ref()
            .and_then(|p| p.first("tenant_id"))
            .map(str::to_string);
        Self {
            request_id,
            route,
            tenant_id,
        }
    }

    fn log(&self, status: u16, took: Duration) {
        tracing::info!(
            request_id = self.request_id.as_deref().unwrap_or(""),
            route = self.route.as_deref().unwrap_or(""),
            tenant_id = self.tenant_id.as_deref().unwrap_or(""),
            status,
            duration_ms = took.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// Authentication comes before anything about the request is read: on an authenticated route a
/// missing, malformed, forged or expired token answers 401 whatever the body says, and a token
/// sent to a public route must be valid too. The caller it resolves is what handlers hand to
/// `shared`. (Whether the token's account is still live is the domain's batched read.)
async fn authentication_first(app: &App, req: &Request, access: Access) -> ApiResult<Requester> {
    let requester = resolve_requester(app, req, access == Access::Scim).await?;
    if requester.token.is_none() && requester.scim.is_none() && access != Access::Public {
        return Err(ApiError::Unauthorized);
    }
    if let Some(presented) = &requester.scim {
        roster_shared::scim::tokens::check(app, presented).await?;
    }
    Ok(requester)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_shared::app::{AppOptions, Config, Limits};
    use roster_shared::tokens::{TokenKeys, generate_key};
    use std::sync::{Arc, Mutex};

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn offline_app() -> &'static App {
        let sdk = aws_config_free_sdk();
        let key = generate_key().expect("key");
        let config = Config {
            table: "roster".into(),
            bucket: "roster-files".into(),
            mail_from: "no-reply@roster.test".into(),
            app_url: "https://app.roster.test".into(),
            limits: Limits::default(),
            sms: roster_shared::config::SmsPolicy::default(),
            dynamodb_attempt_timeout: roster_shared::config::dynamodb_attempt_timeout()
                .expect("attempt timeout"),
            consistency_repair: false,
            sealing_secret: None,
            edge_secret: None,
            webhooks_allow_local: false,
            event_bus: roster_shared::config::DEFAULT_EVENT_BUS.into(),
        };
        let keys = TokenKeys::from_private(&key.private_pkcs8_base64).expect("keys");
        Box::leak(Box::new(
            App::new(&sdk, config, keys, AppOptions::default()).expect("app"),
        ))
    }

    fn aws_config_free_sdk() -> roster_shared::app::SdkConfig {
        roster_shared::app::SdkConfig::builder()
            .behavior_version(roster_shared::app::BehaviorVersion::latest())
            .build()
    }

    /// A public operation whose handler answers 200 without reading anything.
    static PUBLIC: Operation = Operation {
        name: "login",
        method: http::Method::POST,
        path: "/v1/auth/login",
        access: Access::Public,
        creates: None,
        handler: |_, _| {
            Box::pin(async {
                Response::builder()
                    .status(200)
                    .body(Body::Empty)
                    .map_err(ApiError::internal)
            })
        },
    };

    fn event(route_key: &str, path: &str, authorization: Option<&str>, body: &str) -> Request {
        let mut headers = serde_json::json!({"content-type": "application/json"});
        if let Some(value) = authorization {
            headers["authorization"] = value.into();
        }
        let (method, _) = route_key.split_once(' ').expect("route key");
        let event = serde_json::json!({
            "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
            "headers": headers, "body": body, "isBase64Encoded": false,
            "requestContext": {"accountId": "1", "apiId": "api", "domainName": "x", "domainPrefix": "x",
                "requestId": "gateway-request-1", "routeKey": route_key, "stage": "$default",
                "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "test"}},
        });
        lambda_http::request::from_str(&event.to_string()).expect("request")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_request_is_one_json_line_without_what_it_carried() {
        let app = offline_app();
        let captured = Captured::default();
        let sink = captured.clone();
        let _logs = tracing::subscriber::set_default(roster_shared::json_logs(
            tracing::Level::INFO,
            move || sink.clone(),
        ));
        let secret_body = r#"{"email":"a@b.test","password":"hunter2-never-logged"}"#;
        let forged = event(
            "POST /v1/auth/login",
            "/v1/auth/login",
            Some("Bearer forged-token-never-logged"),
            secret_body,
        );
        assert_eq!(dispatch(app, forged, &PUBLIC).await.status(), 401);
        let public = event("POST /v1/auth/login", "/v1/auth/login", None, secret_body);
        assert_eq!(dispatch(app, public, &PUBLIC).await.status(), 200);

        let text = String::from_utf8(captured.0.lock().expect("logs").clone()).expect("utf-8");
        assert!(!text.contains("never-logged"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .filter(|l: &serde_json::Value| l["fields"]["message"] == "request")
            .collect();
        let statuses: Vec<_> = lines
            .iter()
            .map(|l| l["fields"]["status"].clone())
            .collect();
        assert_eq!(statuses, [401, 200]);
        for line in &lines {
            assert_eq!(line["fields"]["route"], "POST /v1/auth/login");
            assert_eq!(line["fields"]["request_id"], "gateway-request-1");
            assert!(line["fields"]["duration_ms"].as_f64().is_some(), "{line}");
        }
    }
}
