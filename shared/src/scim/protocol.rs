//! What every SCIM resource shares (RFC 7643/7644): the schemas, the endpoint and ETags, list
//! paging and filters, attribute projection, and the error body.

use super::filter;
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
    let projection = Projection {
        wanted: attribute_names(attributes),
        unwanted: attribute_names(excluded),
    };
    let Value::Object(object) = resource else {
        return resource;
    };
    let mut out = projection.keep_in(object, None);
    // Extension objects: their attributes follow the same rules; an emptied one goes.
    let extensions: Vec<String> = out
        .keys()
        .filter(|k| k.contains(":extension:"))
        .cloned()
        .collect();
    for key in extensions {
        if let Some(Value::Object(inner)) = out.remove(&key) {
            let inner = projection.keep_in(inner, Some(&key.to_ascii_lowercase()));
            if !inner.is_empty() {
                out.insert(key, Value::Object(inner));
            }
        }
    }
    Value::Object(out)
}

/// An attribute name of a projection: its schema, the attribute and a sub-attribute.
type AttributeName = (Option<String>, String, Option<String>);

/// The names of a comma-separated list; names that do not parse are left out.
fn attribute_names(text: Option<&str>) -> Vec<AttributeName> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .filter_map(|n| filter::parse_path(n).ok())
        .map(|p| (p.schema, p.attr, p.sub))
        .collect()
}

/// What a request asks to see (`attributes`) or not to see (`excludedAttributes`).
struct Projection {
    wanted: Vec<AttributeName>,
    unwanted: Vec<AttributeName>,
}

impl Projection {
    /// The attributes of an object (the resource, or an extension's object under `schema`) that
    /// the projection keeps, each with the sub-attributes it keeps.
    fn keep_in(&self, obj: Map<String, Value>, schema: Option<&str>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in obj {
            let always = ["id", "schemas"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&key));
            if schema.is_none() && (always || key.contains(":extension:")) {
                out.insert(key, value);
                continue;
            }
            let kept = if self.wanted.is_empty() {
                Self::without(&named(&self.unwanted, schema, &key), value)
            } else {
                Self::only(&named(&self.wanted, schema, &key), value)
            };
            if let Some(value) = kept {
                out.insert(key, value);
            }
        }
        out
    }

    /// An attribute `attributes` names (`subs`: how it names it), with only the sub-attributes
    /// named when every name names one.
    fn only(subs: &[Option<String>], value: Value) -> Option<Value> {
        if subs.is_empty() {
            return None;
        }
        Some(match (value, subs.iter().all(Option::is_some)) {
            (Value::Object(inner), true) => Value::Object(
                inner
                    .into_iter()
                    .filter(|(k, _)| subs.iter().flatten().any(|s| s.eq_ignore_ascii_case(k)))
                    .collect(),
            ),
            (value, _) => value,
        })
    }

    /// An attribute `excludedAttributes` does not name whole, without the sub-attributes it
    /// names.
    fn without(subs: &[Option<String>], value: Value) -> Option<Value> {
        if subs.iter().any(Option::is_none) {
            return None;
        }
        Some(match value {
            Value::Object(inner) if !subs.is_empty() => Value::Object(
                inner
                    .into_iter()
                    .filter(|(k, _)| !subs.iter().flatten().any(|s| s.eq_ignore_ascii_case(k)))
                    .collect(),
            ),
            value => value,
        })
    }
}

/// How the names of `list` name the attribute `key` (of an extension's object under `schema`):
/// one entry per name, with the sub-attribute it names, if any.
fn named(list: &[AttributeName], schema: Option<&str>, key: &str) -> Vec<Option<String>> {
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
        .collect()
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
