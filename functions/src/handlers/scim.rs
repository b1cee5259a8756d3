//! SCIM 2.0 at `/scim/v2/{tenant_id}` (SPEC §8.5), and the SCIM tokens that open it. Bodies are
//! read and written as `application/scim+json`; errors are SCIM error documents (the dispatcher
//! renders them for every route under `/scim/`).

use super::Answer;
use crate::http::{
    MAX_BODY_BYTES, created, no_content, ok, page, path_id, path_text, query_param, requester,
};
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use roster_shared::scim::{
    self, Endpoint, ListQuery, Resource, discovery, groups, user_list, users,
};
use roster_shared::{ApiError, ApiResult, App};
use serde_json::Value;

/// POST /v1/tenants/{tenant_id}/scim-tokens
pub async fn create_token(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = crate::http::json_body(&req)?;
    created(&scim::tokens::create(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/scim-tokens
pub async fn list_tokens(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&scim::tokens::list(app, &requester(&req), tenant_id, page).await?)
}

/// DELETE /v1/tenants/{tenant_id}/scim-tokens/{token_id}
pub async fn revoke_token(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let token_id = path_id(&req, "token_id")?;
    scim::tokens::revoke(app, &requester(&req), tenant_id, token_id).await?;
    no_content()
}

/// Where the provider reached the tenant's SCIM endpoint (for `location` and `$ref`).
fn endpoint(req: &Request) -> ApiResult<Endpoint> {
    let tenant_id = path_id(req, "tenant_id")?;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 255 && !v.contains(['/', ' ', '"']))
    };
    // The Host the gateway was reached at (API Gateway routes by it, so it names this API or
    // its custom domain); a client's X-Forwarded-Host is not trusted.
    let host = header(header::HOST.as_str()).unwrap_or("localhost");
    let scheme = match header("x-forwarded-proto") {
        Some("http") => "http",
        _ => "https",
    };
    Ok(Endpoint {
        tenant_id,
        base_url: format!("{scheme}://{host}/scim/v2/{tenant_id}"),
    })
}

fn scim_json(status: StatusCode, body: &Value) -> ApiResult<Response<Body>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, scim::MEDIA_TYPE)
        .body(Body::Binary(
            serde_json::to_vec(body).map_err(ApiError::internal)?,
        ))
        .map_err(ApiError::internal)
}

fn answer(status: StatusCode, resource: &Resource) -> Answer {
    let mut response = scim_json(status, &resource.json)?;
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&resource.etag()) {
        headers.insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&resource.location)
    {
        headers.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A SCIM body: any JSON object (SCIM bodies carry attributes in any case and extension objects,
/// so they are read as JSON and checked by `shared`).
fn body(req: &Request) -> ApiResult<Value> {
    let bytes = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::Scim {
        scim_type: "invalidSyntax",
        detail: format!("the body is not JSON: {e}"),
    })?;
    if !value.is_object() {
        return Err(ApiError::Scim {
            scim_type: "invalidSyntax",
            detail: "the body must be a JSON object".into(),
        });
    }
    Ok(value)
}

fn patch_request(req: &Request) -> ApiResult<scim::patch::PatchRequest> {
    serde_json::from_value(body(req)?).map_err(|e| ApiError::Scim {
        scim_type: "invalidSyntax",
        detail: format!("not a PatchOp: {e}"),
    })
}

fn if_match(req: &Request) -> ApiResult<Option<u64>> {
    scim::expected_version(
        req.headers()
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok()),
    )
}

fn list_query(req: &Request) -> ListQuery {
    ListQuery {
        filter: query_param(req, "filter"),
        start_index: query_param(req, "startIndex"),
        count: query_param(req, "count"),
        attributes: query_param(req, "attributes"),
        excluded_attributes: query_param(req, "excludedAttributes"),
    }
}

/// `attributes` / `excludedAttributes` on a single resource.
fn projected(req: &Request, mut resource: Resource) -> Resource {
    resource.json = scim::project(
        resource.json,
        query_param(req, "attributes").as_deref(),
        query_param(req, "excludedAttributes").as_deref(),
    );
    resource
}

/// Discovery needs a valid token of the tenant like everything else (it says nothing secret,
/// but the endpoint answers its own tenant's provider only).
async fn discovered(app: &'static App, req: &Request) -> ApiResult<Endpoint> {
    let endpoint = endpoint(req)?;
    roster_shared::auth::authorize(
        app,
        &requester(req),
        endpoint.tenant_id,
        roster_shared::auth::Need::Permission(roster_shared::auth::Permission::MembersRead),
        roster_shared::store::Batch::new(),
    )
    .await?;
    Ok(endpoint)
}

/// GET /scim/v2/{tenant_id}/ServiceProviderConfig
pub async fn service_provider_config(app: &'static App, req: Request) -> Answer {
    let endpoint = discovered(app, &req).await?;
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&endpoint),
    )
}

/// GET /scim/v2/{tenant_id}/ResourceTypes
pub async fn list_resource_types(app: &'static App, req: Request) -> Answer {
    let endpoint = discovered(app, &req).await?;
    scim_json(StatusCode::OK, &discovery::list_resource_types(&endpoint))
}

/// GET /scim/v2/{tenant_id}/ResourceTypes/{resource_type}
pub async fn get_resource_type(app: &'static App, req: Request) -> Answer {
    let endpoint = discovered(app, &req).await?;
    let id = path_text(&req, "resource_type")?;
    scim_json(StatusCode::OK, &discovery::resource_type(&endpoint, &id)?)
}

/// GET /scim/v2/{tenant_id}/Schemas
pub async fn list_schemas(app: &'static App, req: Request) -> Answer {
    let endpoint = discovered(app, &req).await?;
    scim_json(StatusCode::OK, &discovery::list_schemas(&endpoint))
}

/// GET /scim/v2/{tenant_id}/Schemas/{schema_id}
pub async fn get_schema(app: &'static App, req: Request) -> Answer {
    let endpoint = discovered(app, &req).await?;
    let id = path_text(&req, "schema_id")?;
    scim_json(StatusCode::OK, &discovery::schema(&endpoint, &id)?)
}

/// GET /scim/v2/{tenant_id}/Users
pub async fn list_users(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let list = user_list::list(app, &requester(&req), &endpoint, &list_query(&req)).await?;
    scim_json(StatusCode::OK, &list)
}

/// POST /scim/v2/{tenant_id}/Users
pub async fn create_user(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let body = body(&req)?;
    let user = users::create(app, &requester(&req), &endpoint, &body).await?;
    answer(StatusCode::CREATED, &user)
}

/// GET /scim/v2/{tenant_id}/Users/{user_id}
pub async fn get_user(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "user_id")?;
    let user = users::get(app, &requester(&req), &endpoint, id).await?;
    answer(StatusCode::OK, &projected(&req, user))
}

/// PUT /scim/v2/{tenant_id}/Users/{user_id}
pub async fn replace_user(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "user_id")?;
    let body = body(&req)?;
    let user = users::replace(app, &requester(&req), &endpoint, id, &body, if_match(&req)?).await?;
    answer(StatusCode::OK, &user)
}

/// PATCH /scim/v2/{tenant_id}/Users/{user_id}
pub async fn patch_user(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "user_id")?;
    let request = patch_request(&req)?;
    let user = users::patch(
        app,
        &requester(&req),
        &endpoint,
        id,
        &request,
        if_match(&req)?,
    )
    .await?;
    answer(StatusCode::OK, &user)
}

/// DELETE /scim/v2/{tenant_id}/Users/{user_id}
pub async fn delete_user(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "user_id")?;
    users::delete(app, &requester(&req), &endpoint, id).await?;
    no_content()
}

/// GET /scim/v2/{tenant_id}/Groups
pub async fn list_groups(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let list = groups::list(app, &requester(&req), &endpoint, &list_query(&req)).await?;
    scim_json(StatusCode::OK, &list)
}

/// POST /scim/v2/{tenant_id}/Groups
pub async fn create_group(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let body = body(&req)?;
    let group = groups::create(app, &requester(&req), &endpoint, &body).await?;
    answer(StatusCode::CREATED, &group)
}

/// GET /scim/v2/{tenant_id}/Groups/{group_id}
pub async fn get_group(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "group_id")?;
    let group = groups::get(app, &requester(&req), &endpoint, id).await?;
    answer(StatusCode::OK, &projected(&req, group))
}

/// PUT /scim/v2/{tenant_id}/Groups/{group_id}
pub async fn replace_group(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "group_id")?;
    let body = body(&req)?;
    let group =
        groups::replace(app, &requester(&req), &endpoint, id, &body, if_match(&req)?).await?;
    answer(StatusCode::OK, &group)
}

/// PATCH /scim/v2/{tenant_id}/Groups/{group_id}
pub async fn patch_group(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "group_id")?;
    let request = patch_request(&req)?;
    let group = groups::patch(
        app,
        &requester(&req),
        &endpoint,
        id,
        &request,
        if_match(&req)?,
    )
    .await?;
    answer(StatusCode::OK, &group)
}

/// DELETE /scim/v2/{tenant_id}/Groups/{group_id}
pub async fn delete_group(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let id = path_id(&req, "group_id")?;
    groups::delete(app, &requester(&req), &endpoint, id).await?;
    no_content()
}

/// POST /scim/v2/{tenant_id}/.search
pub async fn search(app: &'static App, req: Request) -> Answer {
    let endpoint = endpoint(&req)?;
    let body = body(&req)?;
    let found = scim::search(app, &requester(&req), &endpoint, &body).await?;
    scim_json(StatusCode::OK, &found)
}
