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
pub mod tokens;
pub mod user_list;
pub mod users;

use crate::error::ApiError;
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const MEDIA_TYPE: &str = "application/scim+json";

/// Lists answer at most this many resources per page (ServiceProviderConfig's `maxResults`).
pub const MAX_RESULTS: usize = 200;
/// A list without `count` answers this many.
pub const DEFAULT_COUNT: usize = 100;

/// Where the SCIM endpoint of a tenant is, as the identity provider reached it (for `location`
/// and `$ref`): `https://host/scim/v2/<tenant>`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub tenant_id: Uuid,
    pub base_url: String,
}

impl Endpoint {
    pub fn location(&self, collection: &str, id: Uuid) -> String {
        format!("{}/{collection}/{id}", self.base_url)
    }
}

/// One resource as answered: its JSON and its version (the ETag, `W/"<version>"`).
#[derive(Debug, Clone)]
pub struct Resource {
    pub json: Value,
    pub version: u64,
    pub location: String,
}

impl Resource {
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` header names (`W/"7"`, `"7"`, or `*` for any).
pub fn expected_version(if_match: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(header) = if_match.map(str::trim) else {
        return Ok(None);
    };
    if header == "*" {
        return Ok(None);
    }
    header
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| ApiError::PreconditionFailed)
}

/// The query of a list request (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// POST `/.search` (RFC 7644 §3.4.3): a query in a body, over Users and Groups at once (a filter
/// naming attributes of one type matches none of the other).
pub async fn search(
    app: &crate::App,
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

/// `startIndex` (1-based) and `count`, clamped as RFC 7644 §3.4.2.4 says: below 1 means 1, a
/// negative count means 0, and no page is larger than [`MAX_RESULTS`].
pub fn paging(query: &ListQuery) -> Result<(usize, usize), ApiError> {
    let number = |text: &Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
        text.as_deref()
            .map(|t| {
                t.trim().parse::<i64>().map_err(|_| ApiError::Scim {
                    scim_type: "invalidValue",
                    detail: format!("{name} must be an integer"),
                })
            })
            .transpose()
    };
    let start = number(&query.start_index, "startIndex")?
        .unwrap_or(1)
        .max(1) as usize;
    let count = number(&query.count, "count")?
        .map_or(DEFAULT_COUNT, |c| c.clamp(0, MAX_RESULTS as i64) as usize);
    Ok((start, count))
}

/// A page of a list, as `ListResponse`.
pub fn list_response(all: Vec<Value>, start: usize, count: usize) -> Value {
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start - 1).take(count).collect();
    page_response(total, page, start)
}

/// A page already cut from a list of `total` resources, as `ListResponse`.
pub fn page_response(total: usize, page: Vec<Value>, start: usize) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": page.len(),
        "Resources": page,
    })
}

pub fn parse_filter(text: Option<&str>) -> Result<Option<filter::Filter>, ApiError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| {
            filter::parse(t).map_err(|e| ApiError::Scim {
                scim_type: "invalidFilter",
                detail: e.0,
            })
        })
        .transpose()
}

/// `attributes` / `excludedAttributes` applied to a resource (RFC 7644 §3.4.2.5): `id` and
/// `schemas` are always returned; names may be qualified with their schema and name
/// sub-attributes (`name.givenName`).
pub fn project(resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let names = |text: Option<&str>| -> Vec<(Option<String>, String, Option<String>)> {
        text.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .filter_map(|n| filter::parse_path(n).ok())
            .map(|p| (p.schema, p.attr, p.sub))
            .collect()
    };
    let wanted = names(attributes);
    let unwanted = names(excluded);
    let Value::Object(object) = resource else {
        return resource;
    };
    let always = |key: &str| {
        ["id", "schemas"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
    };
    let named =
        |list: &[(Option<String>, String, Option<String>)], schema: Option<&str>, key: &str| {
            list.iter()
                .filter(|(s, attr, _)| {
                    attr.eq_ignore_ascii_case(key)
                        && match (s.as_deref(), schema) {
                            (Some(s), Some(ext)) => s.eq_ignore_ascii_case(ext),
                            (Some(s), None) => !s.contains(":extension:"),
                            (None, _) => true,
                        }
                })
                .map(|(_, _, sub)| sub.clone())
                .collect::<Vec<_>>()
        };
    let keep_in = |obj: Map<String, Value>, schema: Option<&str>| -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in obj {
            if schema.is_none() && always(&key) {
                out.insert(key, value);
                continue;
            }
            if schema.is_none() && key.contains(":extension:") {
                out.insert(key, value);
                continue;
            }
            if !wanted.is_empty() {
                let subs = named(&wanted, schema, &key);
                if subs.is_empty() {
                    continue;
                }
                let value = match (value, subs.iter().all(Option::is_some)) {
                    (Value::Object(inner), true) => Value::Object(
                        inner
                            .into_iter()
                            .filter(|(k, _)| {
                                subs.iter().flatten().any(|s| s.eq_ignore_ascii_case(k))
                            })
                            .collect(),
                    ),
                    (value, _) => value,
                };
                out.insert(key, value);
            } else {
                let subs = named(&unwanted, schema, &key);
                if subs.iter().any(Option::is_none) {
                    continue;
                }
                let value = match value {
                    Value::Object(inner) if !subs.is_empty() => Value::Object(
                        inner
                            .into_iter()
                            .filter(|(k, _)| {
                                !subs.iter().flatten().any(|s| s.eq_ignore_ascii_case(k))
                            })
                            .collect(),
                    ),
                    value => value,
                };
                out.insert(key, value);
            }
        }
        out
    };
    let mut out = keep_in(object, None);
    // Extension objects: their attributes follow the same rules; an emptied one goes.
    let extensions: Vec<String> = out
        .keys()
        .filter(|k| k.contains(":extension:"))
        .cloned()
        .collect();
    for key in extensions {
        if let Some(Value::Object(inner)) = out.remove(&key) {
            let inner = keep_in(inner, Some(&key.to_ascii_lowercase()));
            if !inner.is_empty() {
                out.insert(key, Value::Object(inner));
            }
        }
    }
    Value::Object(out)
}

/// The SCIM error document for `err` and its HTTP status (RFC 7644 §3.12).
pub fn error_body(err: &ApiError) -> (u16, Value) {
    let status = err.status().as_u16();
    let scim_type = match err {
        ApiError::Scim { scim_type, .. } => Some(*scim_type),
        ApiError::Validation(_) => Some("invalidValue"),
        ApiError::Conflict(_) | ApiError::AlreadyMember | ApiError::PreviouslyRemoved { .. } => {
            Some("uniqueness")
        }
        ApiError::PreconditionFailed => Some("invalidVers"),
        _ => None,
    };
    let detail = match err {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.problem().detail,
    };
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    (status, body)
}

pub(crate) fn invalid_value(detail: impl Into<String>) -> ApiError {
    ApiError::Scim {
        scim_type: "invalidValue",
        detail: detail.into(),
    }
}

pub(crate) fn patch_error(e: patch::PatchError) -> ApiError {
    let (scim_type, detail) = match e {
        patch::PatchError::InvalidPath(d) => ("invalidPath", d),
        patch::PatchError::NoTarget(d) => ("noTarget", d),
        patch::PatchError::InvalidValue(d) => ("invalidValue", d),
        patch::PatchError::InvalidSyntax(d) => ("invalidSyntax", d),
    };
    ApiError::Scim { scim_type, detail }
}

/// The `meta` of a resource.
pub(crate) fn meta(
    resource_type: &str,
    created: time::OffsetDateTime,
    modified: time::OffsetDateTime,
    version: u64,
    location: &str,
) -> Value {
    json!({
        "resourceType": resource_type,
        "created": crate::model::time::rfc3339(created),
        "lastModified": crate::model::time::rfc3339(modified),
        "version": etag(version),
        "location": location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_and_drops_what_is_asked() {
        let user = json!({
            "schemas": ["s"], "id": "1", "userName": "a", "externalId": "x",
            "name": {"givenName": "A", "familyName": "B"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7", "department": "D"}
        });
        let only = project(user.clone(), Some("externalId,name.givenName"), None);
        assert_eq!(
            only,
            json!({"schemas": ["s"], "id": "1", "externalId": "x", "name": {"givenName": "A"}})
        );
        let without = project(
            user.clone(),
            None,
            Some("name,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        );
        assert_eq!(
            without,
            json!({
                "schemas": ["s"], "id": "1", "userName": "a", "externalId": "x",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
            })
        );
        assert_eq!(
            project(user.clone(), None, Some("id")),
            user,
            "id is always returned"
        );
    }

    #[test]
    fn paging_is_clamped() {
        let q = |s: &str, c: &str| ListQuery {
            start_index: Some(s.into()),
            count: Some(c.into()),
            ..Default::default()
        };
        assert_eq!(paging(&q("0", "-5")).unwrap(), (1, 0));
        assert_eq!(paging(&q("3", "5000")).unwrap(), (3, MAX_RESULTS));
        assert!(paging(&q("x", "1")).is_err());
        assert_eq!(paging(&ListQuery::default()).unwrap(), (1, DEFAULT_COUNT));
        let page = list_response((1..=5).map(|i| json!(i)).collect(), 2, 2);
        assert_eq!(page["Resources"], json!([2, 3]));
        assert_eq!(page["totalResults"], json!(5));
    }

    #[test]
    fn versions_from_if_match() {
        assert_eq!(expected_version(Some("W/\"7\"")).unwrap(), Some(7));
        assert_eq!(expected_version(Some("\"7\"")).unwrap(), Some(7));
        assert_eq!(expected_version(Some("*")).unwrap(), None);
        assert!(expected_version(Some("W/\"x\"")).is_err());
    }
}
