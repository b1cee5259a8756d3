//! SCIM 2.0 provisioning (RFC 7643/7644, SPEC §8.5): identity providers (Okta, Entra ID) create,
//! update, disable and delete members, and push departments as groups, at
//! `/scim/v2/{tenant_id}` with one of the tenant's SCIM tokens.
//!
//! SCIM is a view onto the same rules as the REST API: a User is a member and a Group a
//! department, and every write goes through the members and departments modules (quota, seats,
//! guards, counters, audit), with the SCIM token as the caller. PATCH is applied to the resource's
//! JSON and then handled as a PUT of the result, so both verbs share one set of rules.

pub mod discovery;
pub mod filter;
pub mod groups;
pub mod patch;
mod protocol;
pub mod tokens;
pub mod user_list;
pub mod users;

pub(crate) use protocol::invalid_value;
pub use protocol::{
    DEFAULT_COUNT, ENTERPRISE_SCHEMA, ERROR_SCHEMA, Endpoint, GROUP_SCHEMA, LIST_SCHEMA, ListQuery,
    MAX_RESULTS, MEDIA_TYPE, Resource, USER_SCHEMA, error_body, etag, expected_version,
    list_response, page_response, paging, parse_filter, project,
};

use crate::error::ApiError;
use serde_json::Value;

pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// POST `/.search` (RFC 7644 §3.4.3): a query in a body, over Users and Groups at once (a filter
/// naming attributes of one type matches none of the other).
pub async fn search(
    app: &crate::app::App,
    requester: &crate::auth::Requester,
    endpoint: &Endpoint,
    body: &Value,
) -> Result<Value, ApiError> {
    let schemas = filter::member(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|s| s == SEARCH_SCHEMA)) {
        return Err(ApiError::Scim {
            scim_type: "invalidSyntax",
            detail: format!("schemas must hold {SEARCH_SCHEMA}"),
        });
    }
    let names = |name: &str| -> Result<Option<String>, ApiError> {
        match filter::member(body, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(|l| Some(l.join(",")))
                .ok_or_else(|| invalid_value(format!("{name} must be a list of attribute names"))),
            Some(_) => Err(invalid_value(format!(
                "{name} must be a list of attribute names"
            ))),
        }
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match filter::member(body, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(invalid_value(format!("{name} has the wrong type"))),
        }
    };
    let query = ListQuery {
        filter: text("filter")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        attributes: names("attributes")?,
        excluded_attributes: names("excludedAttributes")?,
    };
    let (start, count) = paging(&query)?;
    // Users first, then Groups: the Users' page and total come from `user_list` (one page of the
    // directory), the Groups' from the departments.
    let users = user_list::page(app, requester, endpoint, &query, (start, count)).await?;
    let window = (
        start.saturating_sub(users.total).max(1),
        count - users.resources.len(),
    );
    let (groups, found) = groups::page(app, requester, endpoint, &query, window).await?;
    let mut resources = users.resources;
    resources.extend(found);
    Ok(page_response(users.total + groups, resources, start))
}
