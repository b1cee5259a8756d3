//! What the SCIM endpoint says about itself (RFC 7643 §5–7): it claims only what is built, and
//! its schemas publish only the attributes Roster stores and reads back as sent, so an identity
//! provider (or a conformance tester) that follows them never loses a value.

use super::protocol::{
    ENTERPRISE_SCHEMA, Endpoint, GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA,
};
use crate::error::{ApiError, ApiResult};
use serde_json::{Value, json};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(endpoint: &Endpoint) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://roster.dev/docs/scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A tenant's SCIM token (POST /v1/tenants/{tenant_id}/scim-tokens) as a bearer token",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", endpoint.base_url)
        }
    })
}

fn resource_types(endpoint: &Endpoint) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "description": "A member of the tenant",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/User", endpoint.base_url)}
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "description": "A department of the tenant; its members are the department's own",
            "endpoint": "/Groups",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/Group", endpoint.base_url)}
        }),
    ]
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none"
    })
}

fn multi_valued(name: &str, description: &str, required: bool, kinds: &[&str]) -> Value {
    let mut kind = attribute("type", "string", false, "readWrite", "The kind of value");
    kind["canonicalValues"] = json!(kinds);
    json!({
        "name": name,
        "type": "complex",
        "multiValued": true,
        "description": description,
        "required": required,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        "subAttributes": [
            // A value without its value says nothing.
            attribute("value", "string", true, "readWrite", "The value"),
            kind,
            attribute("primary", "boolean", false, "readWrite", "Whether this is the primary value"),
        ]
    })
}

fn schemas(endpoint: &Endpoint) -> Vec<Value> {
    let location = |id: &str| format!("{}/Schemas/{id}", endpoint.base_url);
    vec![
        user_schema(&location(USER_SCHEMA)),
        enterprise_schema(&location(ENTERPRISE_SCHEMA)),
        group_schema(&location(GROUP_SCHEMA)),
    ]
}

/// The User schema: a member of the tenant.
fn user_schema(location: &str) -> Value {
    let mut user_name = attribute(
        "userName",
        "string",
        true,
        "readWrite",
        "Unique in the tenant; the member's email when it is an address",
    );
    user_name["uniqueness"] = json!("server");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A member of the tenant",
        "attributes": [
            user_name,
            {
                "name": "name",
                "type": "complex",
                "multiValued": false,
                "description": "The member's name, as the identity provider sent it",
                "required": false,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
                "subAttributes": [
                    attribute("formatted", "string", false, "readWrite", "The full name"),
                    attribute("familyName", "string", false, "readWrite", "The family name"),
                    attribute("givenName", "string", false, "readWrite", "The given name"),
                ]
            },
            attribute("displayName", "string", false, "readWrite", "The member's name in the directory"),
            attribute("title", "string", false, "readWrite", "The member's position"),
            // Every member is active or disabled: the attribute always has a value.
            attribute("active", "boolean", true, "readWrite", "false: the member is disabled"),
            multi_valued("emails", "The member's addresses; the primary one is the account's", true, &["work", "home", "other"]),
            multi_valued("phoneNumbers", "The member's phone numbers; the primary one is the member's phone", false, &["work", "mobile", "home", "other"]),
        ],
        "meta": {"resourceType": "Schema", "location": location}
    })
}

/// The enterprise extension: a member's work number and department.
fn enterprise_schema(location: &str) -> Value {
    let mut department = attribute(
        "department",
        "string",
        false,
        "readOnly",
        "The member's department path below the root (Sales/EMEA); changed through Groups",
    );
    department["returned"] = json!("default");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": ENTERPRISE_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise attributes of a member",
        "attributes": [
            attribute("employeeNumber", "string", false, "readWrite", "The member's work number"),
            department,
        ],
        "meta": {"resourceType": "Schema", "location": location}
    })
}

/// The Group schema: a department of the tenant and its own members.
fn group_schema(location: &str) -> Value {
    let mut member_id = attribute("value", "string", false, "immutable", "The member's id");
    member_id["caseExact"] = json!(true);
    let mut member_kind = attribute("type", "string", false, "immutable", "User");
    member_kind["canonicalValues"] = json!(["User"]);
    let mut member_ref = attribute("$ref", "reference", false, "immutable", "The member's URI");
    member_ref["referenceTypes"] = json!(["User"]);
    let members = json!({
        "name": "members",
        "type": "complex",
        "multiValued": true,
        "description": "The department's own members (not those of its sub-departments)",
        "required": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        "subAttributes": [member_id, member_kind, member_ref]
    });
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A department of the tenant",
        "attributes": [
            attribute("displayName", "string", true, "readWrite", "The department's name"),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": location}
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub fn list_resource_types(endpoint: &Endpoint) -> Value {
    list(resource_types(endpoint))
}

pub fn resource_type(endpoint: &Endpoint, id: &str) -> ApiResult<Value> {
    resource_types(endpoint)
        .into_iter()
        .find(|r| r["id"] == id)
        .ok_or(ApiError::NotFound)
}

pub fn list_schemas(endpoint: &Endpoint) -> Value {
    list(schemas(endpoint))
}

pub fn schema(endpoint: &Endpoint, id: &str) -> ApiResult<Value> {
    schemas(endpoint)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
        .ok_or(ApiError::NotFound)
}

/// An attribute's name as the schemas spell it, for PATCH paths in any case; `None` for one the
/// resource does not have. `parent` is the attribute a sub-attribute belongs to.
pub fn canonical(parent: Option<&str>, name: &str) -> Option<&'static str> {
    const TOP: [&str; 13] = [
        "userName",
        "name",
        "displayName",
        "title",
        "active",
        "emails",
        "phoneNumbers",
        "externalId",
        "employeeNumber",
        "department",
        "members",
        "schemas",
        "password",
    ];
    const SUB: [&str; 7] = [
        "formatted",
        "familyName",
        "givenName",
        "value",
        "type",
        "primary",
        "$ref",
    ];
    let list: &[&'static str] = match parent {
        Some(p) if !p.contains(':') => &SUB,
        _ => &TOP,
    };
    list.iter().copied().find(|c| c.eq_ignore_ascii_case(name))
}
