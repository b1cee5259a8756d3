//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: the result is then handled as a PUT
//! of the whole resource, so both verbs share one set of rules. Accepts what Okta and Entra ID send:
//! `op` in any case (`Replace`), operations without `path` whose value is an object of attributes
//! (plain, dotted like `name.givenName`, or schema-qualified), value-filtered paths
//! (`members[value eq "…"]`, `emails[type eq "work"].value`), and `remove` of `members` with a
//! value listing the members to take out.

use super::filter::{self, AttrPath, SyntaxError};
use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{Map, Value};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

/// Why an operation cannot apply, as SCIM's `scimType` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    InvalidPath(String),
    NoTarget(String),
    InvalidValue(String),
    InvalidSyntax(String),
}

impl From<SyntaxError> for PatchError {
    fn from(e: SyntaxError) -> Self {
        PatchError::InvalidPath(e.0)
    }
}

/// At most this many operations in one request.
pub const MAX_OPERATIONS: usize = 100;

/// How a resource's schema spells an attribute's name (`givenname` → `givenName`), given the
/// name of the attribute it belongs to; `None` for an unknown attribute.
pub type Canonical = dyn Fn(Option<&str>, &str) -> Option<&'static str>;

/// Applies `request` to `resource`. `canonical` gives an attribute's name as the schema spells it
/// (`givenname` → `givenName`) and refuses unknown ones.
pub fn apply(
    resource: &mut Value,
    request: &PatchRequest,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    if !request.schemas.iter().any(|s| s == PATCH_OP) {
        return Err(PatchError::InvalidSyntax(format!(
            "schemas must hold {PATCH_OP}"
        )));
    }
    if request.operations.is_empty() || request.operations.len() > MAX_OPERATIONS {
        return Err(PatchError::InvalidSyntax(format!(
            "between 1 and {MAX_OPERATIONS} Operations are required"
        )));
    }
    for operation in &request.operations {
        apply_operation(resource, operation, canonical)?;
    }
    Ok(())
}

fn apply_operation(
    resource: &mut Value,
    operation: &Operation,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    let op = operation.op.to_ascii_lowercase();
    match (op.as_str(), operation.path.as_deref()) {
        ("add" | "replace", None) => {
            let Some(Value::Object(attrs)) = &operation.value else {
                return Err(PatchError::InvalidValue(
                    "an operation without a path needs an object value".into(),
                ));
            };
            set_attributes(resource, attrs, &op, canonical)?;
        }
        // The whole extension object named by its schema URN.
        ("add" | "replace", Some(path)) if is_extension(path) => {
            let Some(Value::Object(attrs)) = &operation.value else {
                return Err(PatchError::InvalidValue(
                    "an extension's value is an object".into(),
                ));
            };
            set_extension(resource, path, attrs, &op, canonical)?;
        }
        ("remove", Some(path)) if is_extension(path) => {
            if let Some(root) = resource.as_object_mut() {
                root.retain(|k, _| !k.eq_ignore_ascii_case(path));
            }
        }
        ("add" | "replace", Some(path)) => {
            let path = filter::parse_path(path)?;
            let value = operation
                .value
                .clone()
                .ok_or_else(|| PatchError::InvalidValue("a value is required".into()))?;
            set(resource, &path, value, &op, canonical)?;
        }
        ("remove", Some(path)) => {
            let path = filter::parse_path(path)?;
            remove(resource, &path, operation.value.as_ref(), canonical)?;
        }
        ("remove", None) => {
            return Err(PatchError::NoTarget("remove needs a path".into()));
        }
        _ => {
            return Err(PatchError::InvalidSyntax(format!(
                "unknown op '{}'",
                operation.op
            )));
        }
    }
    Ok(())
}

/// An operation without a path: each attribute of its value in turn (plain, dotted or
/// schema-qualified; a whole extension object attribute by attribute).
fn set_attributes(
    resource: &mut Value,
    attrs: &Map<String, Value>,
    op: &str,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    for (name, value) in attrs {
        match value {
            Value::Object(extension) if name.contains(":extension:") && !name.contains('.') => {
                set_extension(resource, name, extension, op, canonical)?;
            }
            _ => {
                let path = filter::parse_path(name)?;
                set(resource, &path, value.clone(), op, canonical)?;
            }
        }
    }
    Ok(())
}

/// Each attribute of an extension's object (its `schemas` left out).
fn set_extension(
    resource: &mut Value,
    schema: &str,
    attrs: &Map<String, Value>,
    op: &str,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    for (sub, v) in attrs
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
    {
        let path = filter::parse_path(&format!("{schema}:{sub}"))?;
        set(resource, &path, v.clone(), op, canonical)?;
    }
    Ok(())
}

/// Whether a path is an extension schema's URN itself (`urn:…:enterprise:2.0:User`).
fn is_extension(path: &str) -> bool {
    path.eq_ignore_ascii_case(super::protocol::ENTERPRISE_SCHEMA)
}

/// The object the path's attribute lives in, created when absent (an extension's object).
fn container<'v>(
    resource: &'v mut Value,
    schema: Option<&str>,
) -> Result<&'v mut Map<String, Value>, PatchError> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| PatchError::InvalidValue("the resource is not an object".into()))?;
    match schema {
        Some(uri) if uri.contains(":extension:") => {
            let key = root
                .keys()
                .find(|k| k.eq_ignore_ascii_case(uri))
                .cloned()
                .unwrap_or_else(|| uri.to_string());
            let entry = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
            entry
                .as_object_mut()
                .ok_or_else(|| PatchError::InvalidValue("an extension is not an object".into()))
        }
        _ => Ok(root),
    }
}

fn key_in(map: &Map<String, Value>, name: &str, canonical: &'static str) -> String {
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| canonical.to_string())
}

fn set(
    resource: &mut Value,
    path: &AttrPath,
    value: Value,
    op: &str,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    let schema = path.schema.as_deref();
    let attr_name = canonical(schema, &path.attr)
        .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute '{}'", path.attr)))?;
    let map = container(resource, schema)?;
    let key = key_in(map, &path.attr, attr_name);
    match (&path.filter, &path.sub) {
        (None, None) => set_value(map, key, value, op),
        (None, Some(sub)) => {
            let sub_name = canonical(Some(attr_name), sub)
                .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute '{sub}'")))?;
            let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(inner) => {
                    let k = key_in(inner, sub, sub_name);
                    inner.insert(k, value);
                }
                // A sub-attribute of a multi-valued attribute without a filter: every value.
                Value::Array(items) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let k = key_in(item, sub, sub_name);
                        item.insert(k, value.clone());
                    }
                }
                _ => {
                    return Err(PatchError::InvalidPath(format!(
                        "'{}' has no sub-attributes",
                        path.attr
                    )));
                }
            }
        }
        (Some(f), sub) => {
            let entry = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = entry else {
                return Err(PatchError::InvalidPath(format!(
                    "'{}' is not multi-valued",
                    path.attr
                )));
            };
            let sub = sub.as_deref();
            let attr = (path.attr.as_str(), attr_name);
            set_filtered(items, attr, f, sub, value, op, canonical)?;
        }
    }
    Ok(())
}

/// An attribute set whole: add to a multi-valued one appends (new values only), add or replace
/// on a complex one merges its sub-attributes, anything else replaces it.
fn set_value(map: &mut Map<String, Value>, key: String, value: Value, op: &str) {
    match (op, map.get_mut(&key), value) {
        ("add", Some(Value::Array(items)), Value::Array(new)) => {
            for v in new {
                if !items.contains(&v) {
                    items.push(v);
                }
            }
        }
        ("add", Some(Value::Array(items)), v) => {
            if !items.contains(&v) {
                items.push(v);
            }
        }
        (_, Some(Value::Object(current)), Value::Object(new)) => {
            for (k, v) in new {
                let k = current
                    .keys()
                    .find(|c| c.eq_ignore_ascii_case(&k))
                    .cloned()
                    .unwrap_or(k);
                current.insert(k, v);
            }
        }
        (_, _, v) => {
            map.insert(key, v);
        }
    }
}

/// The values of a multi-valued attribute that match a filter (or their `sub`-attribute) set;
/// where none matches, a value the filter describes is added (`attr`: as the path names it, as
/// the schema spells it).
fn set_filtered(
    items: &mut Vec<Value>,
    (attr, attr_name): (&str, &'static str),
    f: &filter::Filter,
    sub: Option<&str>,
    value: Value,
    op: &str,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    let mut found = false;
    for item in items.iter_mut().filter(|i| f.matches(i)) {
        found = true;
        match (sub, item) {
            (Some(sub), Value::Object(inner)) => {
                let sub_name = canonical(Some(attr_name), sub)
                    .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute '{sub}'")))?;
                let k = key_in(inner, sub, sub_name);
                inner.insert(k, value.clone());
            }
            (None, item) => *item = value.clone(),
            _ => {}
        }
    }
    if found {
        return Ok(());
    }
    // Entra adds a typed value by its filter path: `emails[type eq "work"].value`.
    match (filter_equality(f), sub) {
        (Some((field, selector)), Some(sub)) => {
            let mut new = Map::new();
            new.insert(field, Value::String(selector));
            let sub_name = canonical(Some(attr_name), sub).unwrap_or("value");
            new.insert(sub_name.to_string(), value);
            items.push(Value::Object(new));
        }
        _ if op == "add" => items.push(value),
        _ => {
            return Err(PatchError::NoTarget(format!(
                "no value of '{attr}' matches"
            )));
        }
    }
    Ok(())
}

/// `type eq "work"` → (`type`, `work`).
fn filter_equality(f: &filter::Filter) -> Option<(String, String)> {
    match f {
        filter::Filter::Compare(p, filter::CompareOp::Eq, Value::String(v)) if p.sub.is_none() => {
            Some((p.attr.clone(), v.clone()))
        }
        _ => None,
    }
}

fn remove(
    resource: &mut Value,
    path: &AttrPath,
    value: Option<&Value>,
    canonical: &Canonical,
) -> Result<(), PatchError> {
    let schema = path.schema.as_deref();
    canonical(schema, &path.attr)
        .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute '{}'", path.attr)))?;
    let map = container(resource, schema)?;
    let Some(key) = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&path.attr))
        .cloned()
    else {
        return Ok(());
    };
    match (&path.filter, &path.sub, value) {
        // Entra: {"op":"Remove","path":"members","value":[{"value":"<id>"}]}
        (None, None, Some(Value::Array(listed))) => {
            if let Some(Value::Array(items)) = map.get_mut(&key) {
                let ids: Vec<&Value> = listed
                    .iter()
                    .filter_map(|v| filter::member(v, "value"))
                    .collect();
                items
                    .retain(|item| filter::member(item, "value").is_none_or(|v| !ids.contains(&v)));
            }
        }
        (None, None, _) => {
            map.remove(&key);
        }
        (None, Some(sub), _) => match map.get_mut(&key) {
            Some(Value::Object(inner)) => {
                inner.retain(|k, _| !k.eq_ignore_ascii_case(sub));
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
            _ => {}
        },
        (Some(f), sub, _) => {
            if let Some(Value::Array(items)) = map.get_mut(&key) {
                match sub {
                    None => items.retain(|item| !f.matches(item)),
                    Some(sub) => {
                        for item in items.iter_mut().filter(|i| f.matches(i)) {
                            if let Value::Object(inner) = item {
                                inner.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// A PATCH that cannot be applied, as SCIM's error body names it.
pub(crate) fn patch_error(e: PatchError) -> ApiError {
    let (scim_type, detail) = match e {
        PatchError::InvalidPath(d) => ("invalidPath", d),
        PatchError::NoTarget(d) => ("noTarget", d),
        PatchError::InvalidValue(d) => ("invalidValue", d),
        PatchError::InvalidSyntax(d) => ("invalidSyntax", d),
    };
    ApiError::Scim { scim_type, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(_schema: Option<&str>, name: &str) -> Option<&'static str> {
        [
            "active",
            "displayName",
            "name",
            "givenName",
            "familyName",
            "emails",
            "value",
            "type",
            "primary",
            "members",
            "title",
            "department",
            "employeeNumber",
            "externalId",
            "userName",
        ]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(name))
    }

    fn patched(resource: Value, ops: Value) -> Result<Value, PatchError> {
        let mut resource = resource;
        let request: PatchRequest = serde_json::from_value(json!({
            "schemas": [PATCH_OP], "Operations": ops
        }))
        .unwrap();
        apply(&mut resource, &request, &canonical)?;
        Ok(resource)
    }

    #[test]
    fn okta_deactivates_with_a_pathless_replace() {
        let out = patched(
            json!({"active": true}),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(out["active"], json!(false));
    }

    #[test]
    fn entra_sends_capitalised_ops_and_string_booleans() {
        let out = patched(
            json!({"active": true, "name": {"givenName": "A"}}),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "name.givenName", "value": "B"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.io"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}
            ]),
        )
        .unwrap();
        assert_eq!(out["active"], json!("False"));
        assert_eq!(out["name"]["givenName"], json!("B"));
        assert_eq!(out["emails"], json!([{"type": "work", "value": "b@x.io"}]));
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"]["department"],
            json!("Sales")
        );
    }

    #[test]
    fn group_members_are_added_and_removed() {
        let group = json!({"displayName": "Eng", "members": [{"value": "a"}, {"value": "b"}]});
        let out = patched(
            group.clone(),
            json!([
                {"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"}
            ]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "a"}, {"value": "c"}]));
        let out = patched(
            group,
            json!([
                {"op": "Remove", "path": "members", "value": [{"value": "a"}]}
            ]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}]));
    }

    #[test]
    fn bad_operations_say_why() {
        let r = json!({"active": true});
        assert!(matches!(
            patched(
                r.clone(),
                json!([{"op": "jump", "path": "active", "value": 1}])
            ),
            Err(PatchError::InvalidSyntax(_))
        ));
        assert!(matches!(
            patched(
                r.clone(),
                json!([{"op": "replace", "path": "nope", "value": 1}])
            ),
            Err(PatchError::InvalidPath(_))
        ));
        assert!(matches!(
            patched(r.clone(), json!([{"op": "remove"}])),
            Err(PatchError::NoTarget(_))
        ));
        assert!(matches!(
            patched(r.clone(), json!([{"op": "replace", "value": 3}])),
            Err(PatchError::InvalidValue(_))
        ));
        assert!(matches!(
            patched(
                r,
                json!([{"op": "replace", "path": "emails[type eq \"x\"]", "value": {}}])
            ),
            Err(PatchError::NoTarget(_))
        ));
    }
}
