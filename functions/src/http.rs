//! HTTP at the edge: reading the caller, path ids, query parameters and JSON bodies with their
//! limits, and building JSON and problem+json answers. `shared` knows nothing of HTTP; this is
//! where a request becomes the values its functions take.

use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use roster_shared::auth::{Origin, PresentedToken, Requester};
use roster_shared::client_address::{EDGE_SECRET_HEADER, Hops, client_address};
use roster_shared::model::PageParams;
use roster_shared::{ApiError, ApiResult, App};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Bodies above 1 MB are refused with 413 before anything is parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The bearer token of `Authorization: Bearer …`, if any.
pub fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The caller as the entrypoint resolves it before any handler logic: its bearer token verified
/// (a forged or expired one answers 401 here, whatever the body says) and where it called from.
/// Whether the token's account is still live is the domain's batched read.
pub async fn resolve_requester(app: &App, req: &Request, scim: bool) -> ApiResult<Requester> {
    // A SCIM operation takes the tenant's SCIM token, never a signed one (and the reverse).
    let (token, scim) = match (bearer(req), scim) {
        (Some(token), true) => (None, Some(PresentedToken::new(token))),
        (Some(token), false) => (Some(app.keys.verify(&token, app.now()).await?), None),
        (None, _) => (None, None),
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let connected = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    let hops = Hops {
        source_ip: connected,
        forwarded_for: header("x-forwarded-for"),
        edge_secret: header(EDGE_SECRET_HEADER),
    };
    let source_ip = client_address(hops, app.config.edge_secret.as_deref());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    Ok(Requester {
        token,
        scim,
        origin: Origin {
            source_ip,
            user_agent,
        },
    })
}

/// The requester [`crate::lambda::dispatch`] resolved for this request.
pub fn requester(req: &Request) -> Requester {
    req.extensions()
        .get::<Requester>()
        .cloned()
        .unwrap_or_default()
}

/// A UUID from the path. A malformed id cannot name anything, so it answers 404 like an unknown one.
pub fn path_id(req: &Request, name: &str) -> ApiResult<Uuid> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or(ApiError::NotFound)
}

/// A text parameter from the path (a link token or code), refused as 404 when absent or absurd.
pub fn path_text(req: &Request, name: &str) -> ApiResult<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .ok_or(ApiError::NotFound)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// `limit` and `cursor` of a list request.
pub fn page(req: &Request) -> ApiResult<PageParams> {
    PageParams::new(
        query_param(req, "limit").as_deref(),
        query_param(req, "cursor"),
    )
}

/// Parses a JSON body: size limit, well-formed JSON, no unknown fields (each input type says
/// `deny_unknown_fields`), and the path of the field that failed.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    parse_json(req.body().as_ref())
}

/// Like [`json_body`], but an empty body means the type's default (every field optional).
pub fn optional_json_body<T: DeserializeOwned + Default>(req: &Request) -> ApiResult<T> {
    let bytes = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    // Every body is an object: serde would take an array for a struct (its fields in order) and
    // some types a bare scalar. Well-formed JSON that starts with `{` is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("body", "a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        let message = err.inner().to_string();
        // serde_json appends " at line 1 column 17"; the field path says where already.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        ApiError::invalid(field, message)
    })
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response<Body>> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Binary(body))
        .map_err(ApiError::internal)
}

/// A CSV file, offered as a download.
pub fn csv_file(name: &str, text: String) -> ApiResult<Response<Body>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::Text(text))
        .map_err(ApiError::internal)
}

pub fn ok<T: Serialize>(value: &T) -> ApiResult<Response<Body>> {
    json(StatusCode::OK, value)
}

pub fn created<T: Serialize>(value: &T) -> ApiResult<Response<Body>> {
    json(StatusCode::CREATED, value)
}

/// 202 without a body: the request is taken, and what follows goes by mail.
pub fn accepted() -> ApiResult<Response<Body>> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

pub fn no_content() -> ApiResult<Response<Body>> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .map_err(ApiError::internal)
}

/// The cookie a person's refresh token travels in (SPEC.md §9.4). `__Secure-`: browsers take it
/// only with `Secure` from an https origin, so no plain-http page can plant or overwrite it.
pub const REFRESH_COOKIE: &str = "__Secure-roster_refresh";

/// The cookie's path. SPEC.md §9.4 scopes it to `/v1/auth/refresh`; it is widened to `/v1/auth`,
/// and no further, because signing out (`POST /v1/auth/logout`) must name the session to end: a
/// browser whose access token has expired (or that never kept one past a reload) can still end
/// its session on the server, not just forget it, and a stolen access token alone cannot sign
/// its owner out. The other `/v1/auth` routes never read the cookie; `SameSite=Strict` keeps it
/// off every cross-site request and `HttpOnly` away from scripts.
pub const REFRESH_COOKIE_PATH: &str = "/v1/auth";

/// The refresh token of the request's cookie, if it sent one.
pub fn refresh_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_string())
        .filter(|value| !value.is_empty())
}

/// `response` setting the refresh cookie to `token` for `max_age` seconds (0: clearing it).
pub fn with_refresh_cookie(
    mut response: Response<Body>,
    token: &str,
    max_age: i64,
) -> ApiResult<Response<Body>> {
    let cookie = format!(
        "{REFRESH_COOKIE}={token}; Path={REFRESH_COOKIE_PATH}; Max-Age={}; HttpOnly; Secure; \
         SameSite=Strict",
        max_age.max(0)
    );
    let value = HeaderValue::from_str(&cookie).map_err(ApiError::internal)?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(response)
}

/// `response` clearing the refresh cookie.
pub fn clearing_refresh_cookie(response: Response<Body>) -> ApiResult<Response<Body>> {
    with_refresh_cookie(response, "", 0)
}

/// A JSON answer with an ETag (the item's version), for resources clients update with If-Match.
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header names; `*` or no header means "any".
pub fn if_match_version(req: &Request) -> ApiResult<Option<u64>> {
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok());
    match if_match.map(str::trim) {
        None | Some("*") => Ok(None),
        Some(tag) => tag
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .map(Some)
            .map_err(|_| ApiError::PreconditionFailed),
    }
}

/// The problem+json answer of an error. Internal errors are logged with their cause here, the one
/// place every failed request passes.
pub fn problem(err: &ApiError) -> Response<Body> {
    log_cause(err);
    let body = serde_json::to_vec(&err.problem()).unwrap_or_default();
    let mut response = Response::new(Body::Binary(body));
    *response.status_mut() = err.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// What clients are never shown of a failure, for the logs.
fn log_cause(err: &ApiError) {
    match err {
        ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
        ApiError::Unavailable { cause, .. } => {
            tracing::warn!(%cause, "request failed: a dependency is unavailable")
        }
        _ => {}
    }
}

/// How an operation's errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `application/problem+json` (RFC 9457) with Roster's `code`.
    Problem,
    /// SCIM's error schema (RFC 7644 §3.12).
    Scim,
}

impl Dialect {
    /// For a path no operation serves (the local gateway's 404, 405 and 413): SCIM's under
    /// `/scim/`, as a SCIM client expects there.
    pub fn of_path(path: &str) -> Self {
        if path.starts_with("/scim/") {
            Self::Scim
        } else {
            Self::Problem
        }
    }
}

/// An error as the operation's clients read them: a SCIM error document (RFC 7644 §3.12) on
/// SCIM operations, problem+json elsewhere.
pub fn error_for(dialect: Dialect, err: &ApiError) -> Response<Body> {
    if dialect == Dialect::Problem {
        return problem(err);
    }
    log_cause(err);
    let (status, body) = roster_shared::scim::error_body(err);
    let mut response = Response::new(Body::Binary(serde_json::to_vec(&body).unwrap_or_default()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(roster_shared::scim::MEDIA_TYPE),
    );
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Turns a handler's result into the answer, its error in the operation's dialect.
pub fn respond(dialect: Dialect, result: ApiResult<Response<Body>>) -> Response<Body> {
    match result {
        Ok(response) => response,
        Err(err) => error_for(dialect, &err),
    }
}

/// Checks done before any handler runs.
pub fn precheck(req: &Request) -> ApiResult<()> {
    if req.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        #[serde(default, deserialize_with = "roster_shared::validate::nullable")]
        phone: Option<Option<String>>,
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let err = parse_json::<Input>(br#"{"name":"a","nam":"b"}"#).unwrap_err();
        let problem = err.problem();
        assert_eq!(problem.code, "validation_failed");
        assert!(
            problem.errors.unwrap()[0]
                .message
                .contains("unknown field `nam`")
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_json::<Input>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(err.problem().errors.unwrap()[0].field, "name");
    }

    #[test]
    fn null_and_absent_differ() {
        let absent: Input = parse_json(br#"{"name":"a"}"#).unwrap();
        let null: Input = parse_json(br#"{"name":"a","phone":null}"#).unwrap();
        assert_eq!(absent.phone, None);
        assert_eq!(null.phone, Some(None));
    }

    #[test]
    fn malformed_and_oversized_bodies_are_refused() {
        assert_eq!(
            parse_json::<Input>(b"{").unwrap_err().code(),
            "validation_failed"
        );
        assert_eq!(
            parse_json::<Input>(b"").unwrap_err().code(),
            "validation_failed"
        );
        // serde reads a struct from an array of its fields; a body must be an object.
        for not_an_object in [
            &b"[null, null]"[..],
            b"[\"a\"]",
            b" 5",
            b"\"a\"",
            b"null",
            b"true",
        ] {
            assert_eq!(
                parse_json::<Input>(not_an_object).unwrap_err().code(),
                "validation_failed"
            );
        }
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_json::<Input>(&big).unwrap_err().code(),
            "payload_too_large"
        );
    }
}
