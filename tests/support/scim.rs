//! SCIM helpers shared by the SCIM test files: a tenant with a SCIM token, requests to its
//! `/scim/v2/{tenant}` endpoint with any token, and the SCIM error assertion.

use crate::{Answer, Env, Tenant};
use reqwest::Method;
use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A tenant with API access on and a SCIM token of its own.
#[derive(Clone)]
pub struct Scim {
    pub t: Tenant,
    pub token: String,
    pub base: String,
}

pub async fn scim_tenant(env: &Env, name: &str) -> Scim {
    let t = env.tenant_with_owner(name).await;
    env.enable_api_access(&t).await;
    let created = env
        .post(
            &format!("/v1/tenants/{}/scim-tokens", t.id),
            Some(&t.owner_token),
            json!({"label": "Okta"}),
        )
        .await;
    let token = created.ok(201)["token"].as_str().unwrap().to_string();
    Scim {
        base: format!("/scim/v2/{}", t.id),
        t,
        token,
    }
}

pub async fn call(
    env: &Env,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = env
        .http
        .request(method, format!("{}{}", env.base, path))
        .bearer_auth(token)
        .header("accept", "application/scim+json");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    Env::answer(request.send().await.unwrap()).await
}

impl Scim {
    pub async fn get(&self, env: &Env, path: &str) -> Answer {
        call(
            env,
            Method::GET,
            &format!("{}{path}", self.base),
            &self.token,
            None,
        )
        .await
    }
    pub async fn post(&self, env: &Env, path: &str, body: Value) -> Answer {
        call(
            env,
            Method::POST,
            &format!("{}{path}", self.base),
            &self.token,
            Some(body),
        )
        .await
    }
    pub async fn put(&self, env: &Env, path: &str, body: Value) -> Answer {
        call(
            env,
            Method::PUT,
            &format!("{}{path}", self.base),
            &self.token,
            Some(body),
        )
        .await
    }
    pub async fn patch(&self, env: &Env, path: &str, operations: Value) -> Answer {
        let body = json!({"schemas": [PATCH], "Operations": operations});
        call(
            env,
            Method::PATCH,
            &format!("{}{path}", self.base),
            &self.token,
            Some(body),
        )
        .await
    }
    pub async fn delete(&self, env: &Env, path: &str) -> Answer {
        call(
            env,
            Method::DELETE,
            &format!("{}{path}", self.base),
            &self.token,
            None,
        )
        .await
    }
    /// The member as the REST API shows it to the owner.
    pub async fn member(&self, env: &Env, id: &str) -> Answer {
        env.get(
            &format!("/v1/tenants/{}/members/{id}", self.t.id),
            &self.t.owner_token,
        )
        .await
    }
}

/// Asserts a SCIM error answer.
#[track_caller]
pub fn scim_error(answer: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    assert_eq!(answer.body["schemas"], json!([ERROR]), "{:?}", answer.body);
    assert_eq!(answer.body["status"], status.to_string());
    assert_eq!(
        answer.body["scimType"].as_str(),
        scim_type,
        "{:?}",
        answer.body
    );
    assert_eq!(
        answer.headers["content-type"].to_str().unwrap(),
        "application/scim+json"
    );
}

impl Scim {
    /// The same tenant's endpoint, called with another token.
    pub fn with_token(&self, token: &str) -> Scim {
        Scim {
            token: token.to_string(),
            ..self.clone()
        }
    }
}
