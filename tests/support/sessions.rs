//! Sessions as a client sees them (SPEC.md §9.4): signing in for the refresh cookie, refreshing
//! and signing out with the cookie (as a browser sends it) or the body (as other clients do).

use crate::{Answer, Env};
use serde_json::{Value, json};

/// The refresh cookie's name.
pub const COOKIE: &str = "__Secure-roster_refresh";

/// A sign-in's session as the client holds it.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
}

/// The `Set-Cookie` headers of an answer.
pub fn set_cookies(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

/// The refresh token an answer sets as the cookie (asserting it sets exactly one cookie).
#[track_caller]
pub fn cookie_token(answer: &Answer) -> String {
    let cookies = set_cookies(answer);
    assert_eq!(cookies.len(), 1, "one Set-Cookie: {cookies:?}");
    let value = cookies[0]
        .strip_prefix(&format!("{COOKIE}="))
        .unwrap_or_else(|| panic!("not the refresh cookie: {}", cookies[0]));
    value.split(';').next().expect("value").to_string()
}

/// The session an answer of sign-in or refresh opens: its access token and its cookie's token.
#[track_caller]
pub fn session_of(answer: &Answer) -> Session {
    let body = answer.ok(200);
    Session {
        access: body["access_token"].as_str().expect("access_token").into(),
        refresh: cookie_token(answer),
    }
}

impl Env {
    /// `POST /v1/auth/login` as a browser makes it (with a user agent); `extra` adds fields
    /// (`tenant_id`, `refresh`).
    pub async fn sign_in(&self, email: &str, password: &str, extra: Value) -> Answer {
        let mut body = json!({"email": email, "password": password});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let request = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .header("user-agent", "sessions-test/1.0")
            .json(&body);
        Self::answer(request.send().await.expect("request")).await
    }

    /// A new session of `email` in `tenant_id`.
    pub async fn session(&self, email: &str, password: &str, tenant_id: &str) -> Session {
        session_of(
            &self
                .sign_in(email, password, json!({"tenant_id": tenant_id}))
                .await,
        )
    }

    /// `POST /v1/auth/refresh` with the cookie `token`, as a browser sends it.
    pub async fn refresh_by_cookie(&self, token: &str) -> Answer {
        self.with_cookie("/v1/auth/refresh", token).await
    }

    /// `POST /v1/auth/refresh` with `body` (e.g. `{"refresh_token": ...}`) and no cookie.
    pub async fn refresh_by_body(&self, body: Value) -> Answer {
        self.post("/v1/auth/refresh", None, body).await
    }

    /// `POST /v1/auth/logout` with the cookie `token`.
    pub async fn logout_by_cookie(&self, token: &str) -> Answer {
        self.with_cookie("/v1/auth/logout", token).await
    }

    async fn with_cookie(&self, path: &str, token: &str) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("theme=dark; {COOKIE}={token}"))
            .header("user-agent", "sessions-test/1.0");
        Self::answer(request.send().await.expect("request")).await
    }
}
