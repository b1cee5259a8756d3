//! The test harness: each test starts its own Roster (own table and bucket in the shared emulator,
//! own signing-key secrets in its Secrets Manager, own request counters) behind the real local
//! gateway on a free port, and talks to it over HTTP like a client. The emulator is started by
//! scripts/test.sh (AWS_ENDPOINT_URL).

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use roster_shared::app::{AppOptions, Clock, Config};
use roster_shared::limits::Limits;
use roster_shared::signing_keys::{self, KeySecrets};
use roster_shared::store::{Item, RequestCounter};
use roster_shared::tokens::TokenKeys;
use roster_shared::{App, setup};
use serde_json::{Value, json};
use std::sync::OnceLock;
use uuid::Uuid;

pub mod receiver;
pub mod scim;
pub mod sessions;

pub struct Env {
    pub base: String,
    pub http: reqwest::Client,
    pub app: &'static App,
    pub counter: RequestCounter,
    /// Requests to Secrets Manager (the signing keys), counted apart from DynamoDB's.
    pub secret_requests: RequestCounter,
    /// The signing-key and public-key secrets' names.
    pub signing_key_secret: String,
    pub public_keys_secret: String,
    /// base64 PKCS#8 of the signing key current at the start, for tests that forge tokens.
    pub private_key: String,
    pub endpoint: String,
    pub admin_email: String,
    pub admin_password: String,
}

/// An HTTP answer: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "status of {:?}", self.body);
        assert_eq!(self.body["code"], code, "code of {:?}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(
            self.headers
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("")),
            Some("application/problem+json")
        );
        self
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer {:?}",
            self.body
        );
        &self.body
    }
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with scripts/test.sh, which starts the emulator")
    })
}

/// The password the owner of every tenant from [`Env::tenant_with_owner`] sets.
pub const OWNER_PASSWORD: &str = "owner-password-1";

/// The secret the tests' CloudFront would add to the requests it passes on (`ROSTER_EDGE_SECRET`).
pub const EDGE_SECRET: &str = "roster-test-edge-secret-0123456789abcdef";

static SDK: OnceLock<aws_config::SdkConfig> = OnceLock::new();

/// 503s the harness retried in a run under faults.
pub static UNAVAILABLE_ANSWERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether this run is under injected faults (see [`Env::call`]).
pub fn under_faults() -> bool {
    std::env::var("ROSTER_TEST_UNDER_FAULTS").is_ok_and(|v| v == "1")
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::now_v7().simple().to_string()[16..])
}

/// `t` as RFC 3339 text, as the API writes times.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

/// A UK mobile number nobody else in the run gets (E.164; in a range libphonenumber takes for
/// mobiles, so invitations may text it).
pub fn mobile_number() -> String {
    format!("+44771{:07}", uuid::Uuid::now_v7().as_u128() % 10_000_000)
}

/// The `id` of an answer's body (or of any object in it).
#[track_caller]
pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(Clock::System).await
    }

    /// A Roster whose abuse limits are raised out of the way of ordinary tests.
    pub async fn start_with(clock: Clock) -> Self {
        Self::start_with_limits(clock, Limits::relaxed()).await
    }

    /// A Roster with the production abuse limits (SPEC.md §8.1's defaults): for the tests of the
    /// limits themselves.
    pub async fn start_limited(clock: Clock) -> Self {
        Self::start_with_limits(clock, Limits::default()).await
    }

    pub async fn start_with_limits(clock: Clock, limits: Limits) -> Self {
        let timeout = roster_shared::config::dynamodb_attempt_timeout().expect("attempt timeout");
        Self::start_configured(clock, limits, timeout).await
    }

    /// A Roster whose DynamoDB attempts time out after `timeout`: for the tests of lost answers.
    pub async fn start_with_attempt_timeout(timeout: std::time::Duration) -> Self {
        Self::start_configured(Clock::System, Limits::relaxed(), timeout).await
    }

    async fn start_configured(
        clock: Clock,
        limits: Limits,
        dynamodb_attempt_timeout: std::time::Duration,
    ) -> Self {
        let endpoint = endpoint();
        let sdk = match SDK.get() {
            Some(sdk) => sdk.clone(),
            None => {
                let sdk = sdk_config().await;
                SDK.get_or_init(|| sdk).clone()
            }
        };
        let config = Config {
            table: unique("roster"),
            bucket: unique("roster-files"),
            mail_from: "no-reply@roster.test".into(),
            app_url: "https://app.roster.test".into(),
            limits,
            dynamodb_attempt_timeout,
            sms: roster_shared::config::SmsPolicy::default(),
            consistency_repair: false,
            sealing_secret: Some(unique("roster-sealing")),
            edge_secret: Some(EDGE_SECRET.into()),
            webhooks_allow_local: true,
            event_bus: roster_shared::config::DEFAULT_EVENT_BUS.into(),
        };
        let counter = RequestCounter::default();
        let secret_requests = RequestCounter::default();
        let signing_key_secret = unique("roster-signing-key");
        let public_keys_secret = unique("roster-public-keys");
        let keys = TokenKeys::from_secrets(KeySecrets::new(
            &sdk,
            Some(signing_key_secret.clone()),
            public_keys_secret.clone(),
            Some(secret_requests.clone()),
        ));
        let app: &'static App = Box::leak(Box::new(
            App::new(
                &sdk,
                config,
                keys,
                AppOptions {
                    counter: Some(counter.clone()),
                    clock,
                },
            )
            .expect("app"),
        ));
        setup::create_table(app).await.expect("table");
        setup::create_bucket_and_sender(app).await.expect("bucket");
        signing_keys::create_secrets(app)
            .await
            .expect("signing keys");
        app.sealing.ensure_created().await.expect("sealing secret");
        let private_key = app
            .keys
            .secrets()
            .expect("keys from secrets")
            .current_signing_key()
            .await
            .expect("current signing key")
            .pkcs8_base64();
        let admin_email = format!("{}@operators.test", unique("admin"));
        let admin_password = "bootstrap-password-1".to_string();
        setup::bootstrap_admin(app, &admin_email, &admin_password)
            .await
            .expect("admin");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(roster_functions::gateway::serve(app, listener));
        Self {
            base,
            http: reqwest::Client::new(),
            app,
            counter,
            secret_requests,
            signing_key_secret,
            public_keys_secret,
            private_key,
            endpoint,
            admin_email,
            admin_password,
        }
    }

    /// Another container of this Roster (same table, bucket and secrets, fresh caches: what a
    /// function cold-starting now would read) behind its own gateway; returns its base URL.
    pub async fn another_container(&self) -> String {
        let sdk = SDK.get().expect("sdk").clone();
        let keys = TokenKeys::from_secrets(KeySecrets::new(
            &sdk,
            Some(self.signing_key_secret.clone()),
            self.public_keys_secret.clone(),
            None,
        ));
        let app: &'static App = Box::leak(Box::new(
            App::new(
                &sdk,
                self.app.config.clone(),
                keys,
                AppOptions {
                    clock: self.app.clock.clone(),
                    ..AppOptions::default()
                },
            )
            .expect("app"),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(roster_functions::gateway::serve(app, listener));
        base
    }

    /// Sends a request; `body` None sends none.
    ///
    /// In a run under injected faults (`ROSTER_TEST_UNDER_FAULTS=1`, scripts/test.sh's second
    /// run) the harness is the client SPEC.md §8.6 asks for: it retries a 503 after a pause (the
    /// answer promises nothing was written), sends every POST with an `Idempotency-Key` so a
    /// retried create cannot create twice, and fails the test on any other 5xx.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let under_faults = under_faults();
        let idempotency_key =
            (under_faults && method == Method::POST).then(|| Uuid::now_v7().to_string());
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{}", self.base, path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(key) = &idempotency_key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let answer = Self::answer(request.send().await.expect("request")).await;
            // A new person's join is filed by the outbox worker; the stream would have run it.
            if method == Method::POST
                && token.is_none()
                && path.starts_with("/v1/join/")
                && answer.status.as_u16() == 202
            {
                self.deliver_outbox().await;
            }
            if !under_faults {
                return answer;
            }
            let status = answer.status.as_u16();
            assert!(
                status < 500 || status == 503,
                "{method} {path} answered {status} under faults: {:?}",
                answer.body
            );
            if status != 503 || attempt == 10 {
                return answer;
            }
            assert!(
                answer.headers.contains_key("retry-after"),
                "a 503 without Retry-After"
            );
            UNAVAILABLE_ANSWERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Adds fault rules to the emulator (scripts/emulator.py), each matching this Roster's own
    /// table (or bucket) unless it says otherwise, so tests sharing the emulator are untouched.
    pub async fn inject_faults(&self, rules: Value) {
        let rules: Vec<Value> = rules
            .as_array()
            .expect("a list of rules")
            .iter()
            .map(|rule| {
                let mut rule = rule.clone();
                if rule.get("match").is_none() {
                    let own = match rule["service"].as_str() {
                        Some("s3") => self.app.config.bucket.clone(),
                        _ => self.app.config.table.clone(),
                    };
                    rule["match"] = json!(own);
                }
                rule
            })
            .collect();
        let url = format!("{}/_roster/faults", self.endpoint);
        let answer = self
            .http
            .post(url)
            .json(&json!({ "rules": rules }))
            .send()
            .await
            .expect("fault rules");
        assert!(answer.status().is_success());
    }

    /// Removes the fault rules that match this Roster's table and bucket.
    /// Runs the consistency checker on this test's table and fails the test on any finding: the
    /// counters, guards, search terms and tree keys the test's requests left must all agree. Under
    /// injected faults a scan that stays unavailable is tried again.
    pub async fn assert_consistent(&self) {
        let mut attempts = 0;
        let report = loop {
            match roster_shared::consistency::check(self.app).await {
                Ok(report) => break report,
                Err(roster_shared::ApiError::Unavailable { .. }) if attempts < 10 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(err) => panic!("the consistency check failed: {err}"),
            }
        };
        assert!(
            report.is_clean(),
            "broken invariants: {}",
            serde_json::to_string_pretty(&report.findings).expect("findings")
        );
    }

    pub async fn clear_faults(&self) {
        for own in [&self.app.config.table, &self.app.config.bucket] {
            let url = format!("{}/_roster/faults", self.endpoint);
            self.http
                .delete(url)
                .query(&[("match", own.as_str())])
                .send()
                .await
                .expect("fault rules cleared");
        }
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// A GET without a token, as a public page makes it.
    pub async fn get_public(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A POST with `Idempotency-Key: key` (SPEC.md §8.6), sent once.
    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: Value) -> Answer {
        let request = self
            .http
            .post(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body);
        Self::answer(request.send().await.expect("request")).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str, tenant_id: Option<&str>) -> String {
        let mut body = json!({"email": email, "password": password});
        if let Some(t) = tenant_id {
            body["tenant_id"] = json!(t);
        }
        let answer = self.post("/v1/auth/login", None, body).await;
        answer.ok(200)["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// Signs `t`'s owner in again (with the password [`Env::tenant_with_owner`] set): a fresh
    /// token, e.g. after the clock moved past the old one's lifetime.
    pub async fn owner_login(&self, t: &Tenant) -> String {
        self.login(&t.owner_email, OWNER_PASSWORD, Some(&t.id))
            .await
    }

    pub async fn admin_token(&self) -> String {
        self.login(&self.admin_email, &self.admin_password, None)
            .await
    }

    /// Mails the emulator holds for `to`, oldest first: (subject, body). Read from the emulator's
    /// sent-mail endpoint (scripts/emulator.py), the same messages moto's data.json lists.
    /// The bodies of the text messages SNS "sent" to `to` (E.164), oldest first.
    pub async fn sms_to(&self, to: &str) -> Vec<String> {
        let sent: Value = self
            .http
            .get(format!("{}/_roster/sent-sms", self.endpoint))
            .send()
            .await
            .expect("sent sms")
            .json()
            .await
            .expect("sent sms json");
        sent.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["to"].as_str() == Some(to))
            .map(|m| m["body"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The invitation token of the newest text message to `to`.
    pub async fn sms_token_for(&self, to: &str) -> String {
        let prefix = format!("{}/invitations/accept?token=", self.app.config.app_url);
        let sent = self.sms_to(to).await;
        let body = sent
            .iter()
            .rev()
            .find(|b| b.contains(&prefix))
            .unwrap_or_else(|| panic!("no text message to {to} with a link: {sent:?}"));
        let start = body.find(&prefix).expect("link") + prefix.len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Does what public answers queued (mails, new people's join requests), as the stream would
    /// have had the outbox worker do by now.
    pub async fn deliver_outbox(&self) {
        // One drain at a time: a drain that finds an item another is delivering must wait for
        // that delivery to be done before what it did is read.
        static DRAINING: std::sync::OnceLock<futures::lock::Mutex<()>> = std::sync::OnceLock::new();
        let _one_at_a_time = DRAINING.get_or_init(Default::default).lock().await;
        roster_shared::outbox_worker::drain(self.app)
            .await
            .expect("the outbox is delivered");
    }

    /// Numbers every pending event into its logs, as the stream would have had the sequencer do
    /// by now.
    pub async fn deliver_events(&self) {
        // Under injected faults a sweep may fail as any worker may; the next one (the stream's
        // retry, or the schedule's minute) goes on where it stopped.
        let mut attempts = 0;
        loop {
            match roster_shared::events::sequencer::sweep(self.app).await {
                Err(e) if e.code() == "unavailable" && under_faults() && attempts < 10 => {
                    attempts += 1;
                }
                done => {
                    done.expect("the events are numbered");
                    return;
                }
            }
        }
    }

    /// The keys of the items with a string attribute containing `needle` (a full scan).
    pub async fn items_containing(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .app
                .store
                .client()
                .scan()
                .table_name(self.app.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items() {
                if item
                    .values()
                    .any(|v| v.as_s().is_ok_and(|s| s.contains(needle)))
                {
                    let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned();
                    found.push(pk.unwrap_or_default());
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return found,
            }
        }
    }

    /// Gives every event of `t` to its webhook endpoints (numbering them first), as the stream
    /// would have by now.
    pub async fn deliver_webhooks(&self, t: &Tenant) {
        self.deliver_events().await;
        let tenant_id = t.id.parse().expect("tenant id");
        roster_shared::webhooks::worker::dispatch_log(self.app, tenant_id)
            .await
            .expect("the webhooks are dispatched");
    }

    /// Every event of `t` after `after` (following `has_more`), and the cursor to go on from.
    pub async fn events_after(&self, t: &Tenant, after: &str) -> (Vec<Value>, String) {
        let mut events = Vec::new();
        let mut cursor = after.to_string();
        loop {
            let after = if cursor.is_empty() {
                String::new()
            } else {
                format!("?after={cursor}")
            };
            let page = self
                .get(
                    &format!("/v1/tenants/{}/events{after}", t.id),
                    &t.owner_token,
                )
                .await;
            let body = page.ok(200);
            events.extend(body["items"].as_array().expect("items").iter().cloned());
            cursor = body["next_cursor"].as_str().expect("cursor").to_string();
            if body["has_more"] != true {
                return (events, cursor);
            }
        }
    }

    /// Mails the outbox worker sends (what public answers queue) are sent first, as the stream
    /// would have them sent by now.
    pub async fn mails_to(&self, to: &str) -> Vec<(String, String)> {
        self.deliver_outbox().await;
        let mails: Value = self
            .http
            .get(format!("{}/_roster/sent-mail", self.endpoint))
            .send()
            .await
            .expect("sent mail")
            .json()
            .await
            .expect("sent mail json");
        mails
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|d| d.as_str() == Some(to)))
            })
            .map(|m| {
                (
                    m["subject"].as_str().unwrap_or("").to_string(),
                    m["body"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The token of the newest link mailed to `to`.
    pub async fn link_token(&self, to: &str) -> String {
        let mails = self.mails_to(to).await;
        let (_, body) = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
        let start = body.find("token=").expect("a link with a token") + "token=".len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Creates a tenant as the platform admin, follows the owner's mail link to set a password and
    /// signs the owner in.
    pub async fn tenant_with_owner(&self, name: &str) -> Tenant {
        self.tenant_of_kind(name, "customer").await
    }

    /// [`Env::tenant_with_owner`] for a tenant of `kind` (`customer` or `reseller`).
    pub async fn tenant_of_kind(&self, name: &str, kind: &str) -> Tenant {
        let admin = self.admin_token().await;
        let owner_email = format!("{}@{}.test", unique("owner"), unique("corp"));
        let tenant = self
            .post(
                "/v1/tenants",
                Some(&admin),
                json!({
                    "name": name, "kind": kind, "plan": "paid",
                    "member_quota": 50, "seats_total": 5,
                    "owner_email": owner_email, "owner_name": "Olive Owner"
                }),
            )
            .await;
        let tenant = tenant.ok(201).clone();
        let token = self.link_token(&owner_email).await;
        self.post(
            "/v1/auth/password-reset",
            None,
            json!({"token": token, "new_password": OWNER_PASSWORD}),
        )
        .await
        .ok(204);
        let id = tenant["id"].as_str().expect("id").to_string();
        let owner_token = self.login(&owner_email, OWNER_PASSWORD, Some(&id)).await;
        Tenant {
            root: tenant["root_department_id"]
                .as_str()
                .expect("root")
                .to_string(),
            id,
            owner_email,
            owner_token,
            body: tenant,
        }
    }

    /// DynamoDB requests sent while `f` ran.
    pub async fn count<F: std::future::Future<Output = T>, T>(&self, f: F) -> (T, u64) {
        self.counter.reset();
        let out = f.await;
        (out, self.counter.total())
    }
}

#[derive(Clone)]
pub struct Tenant {
    pub id: String,
    pub root: String,
    pub owner_email: String,
    pub owner_token: String,
    pub body: Value,
}

/// The SDK's configuration from the environment (the emulator's endpoint and credentials), over
/// Roster's own HTTP client, as the functions build it: the SDK's default client is not built in.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(roster_shared::https::client().expect("the HTTP client"))
        .load()
        .await
}

/// The password a person whose first password an admin chose (`given`) replaces it with at the
/// first sign-in (see [`Env::prove_and_sign_in`]).
pub fn own_password(given: &str) -> String {
    format!("{given}-own")
}

/// A member signed in to one tenant, made by [`Env::member_in`].
#[derive(Clone, Debug)]
pub struct Person {
    pub email: String,
    pub password: String,
    pub member_id: String,
    pub token: String,
}

// Proof of address, sessions and abuse limits (tests/identity.rs).
impl Env {
    /// A sign-in attempt's whole answer (`login` asserts success; this one does not).
    pub async fn try_login(&self, email: &str, password: &str, tenant_id: Option<&str>) -> Answer {
        let mut body = json!({"email": email, "password": password});
        if let Some(t) = tenant_id {
            body["tenant_id"] = json!(t);
        }
        self.post("/v1/auth/login", None, body).await
    }

    /// [`Env::try_login`] from another source address: a loopback address (`127.0.0.2`, ...) the
    /// connection is made from, which the gateway, like API Gateway, takes as the source address.
    pub async fn try_login_from(
        &self,
        source: &str,
        email: &str,
        password: &str,
        tenant_id: Option<&str>,
    ) -> Answer {
        let source: std::net::IpAddr = source.parse().expect("a source address");
        let client = reqwest::Client::builder()
            .local_address(source)
            .build()
            .expect("a client");
        let mut body = json!({"email": email, "password": password});
        if let Some(t) = tenant_id {
            body["tenant_id"] = json!(t);
        }
        let request = client
            .post(format!("{}/v1/auth/login", self.base))
            .json(&body);
        Self::answer(request.send().await.expect("request")).await
    }

    /// The token of the newest link to `{app_url}/{page}?token=` mailed to `to` (page e.g.
    /// `verify-email`, `set-password`, `confirm-email`, `invitations/accept`).
    pub async fn link_token_for(&self, to: &str, page: &str) -> String {
        let prefix = format!("{}/{page}?token=", self.app.config.app_url);
        let mails = self.mails_to(to).await;
        let body = mails
            .iter()
            .rev()
            .map(|(_, body)| body)
            .find(|body| body.contains(&prefix))
            .unwrap_or_else(|| panic!("no mail to {to} with a link to {prefix}: {mails:?}"));
        let start = body.find(&prefix).expect("link") + prefix.len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// How many mails to `to` carry a link to `{app_url}/{page}?token=`.
    pub async fn links_mailed(&self, to: &str, page: &str) -> usize {
        let prefix = format!("{}/{page}?token=", self.app.config.app_url);
        self.mails_to(to)
            .await
            .iter()
            .filter(|(_, body)| body.contains(&prefix))
            .count()
    }

    /// Proves an unproven address the way its owner does and signs in: the right password answers
    /// 403 `email_unverified` and mails a verification link; `POST /v1/auth/verify-email` with that
    /// link and `password` proves the address (and sets the password); then the sign-in works, or,
    /// when an admin chose `password`, allows only changing it: it becomes
    /// [`own_password`]`(password)`.
    pub async fn prove_and_sign_in(
        &self,
        email: &str,
        password: &str,
        tenant_id: Option<&str>,
    ) -> String {
        let before = self.links_mailed(email, "verify-email").await;
        self.try_login(email, password, tenant_id)
            .await
            .problem(403, "email_unverified");
        assert_eq!(
            self.links_mailed(email, "verify-email").await,
            before + 1,
            "a fresh verification link is mailed to {email}"
        );
        let token = self.link_token_for(email, "verify-email").await;
        let proven = self
            .post(
                "/v1/auth/verify-email",
                None,
                json!({"token": token, "password": password}),
            )
            .await;
        assert_eq!(proven.ok(200), &json!({"email_verified": true}));
        let signed_in = self.try_login(email, password, tenant_id).await;
        if signed_in.body["code"] != "password_expired" {
            return signed_in.ok(200)["access_token"]
                .as_str()
                .expect("token")
                .to_string();
        }
        // An admin chose the password (and the proof kept it): the first sign-in allows only
        // changing it, to [`own_password`].
        let change = signed_in.body["access_token"]
            .as_str()
            .expect("a change token")
            .to_string();
        self.post(
            "/v1/auth/password",
            Some(&change),
            json!({"current_password": password, "new_password": own_password(password)}),
        )
        .await
        .ok(200);
        self.login(email, &own_password(password), tenant_id).await
    }

    /// Creates a member of `t` (by its owner, without a password; `extra` adds fields such as
    /// `role`, `permissions`, `department_id`), follows the set-password link mailed to them (which
    /// proves the address) and signs them in to `t`.
    pub async fn member_in(&self, t: &Tenant, name: &str, extra: Value) -> Person {
        let email = format!("{}@people.test", unique(&name.to_lowercase()));
        let member_id = self.create_member(t, &email, name, &t.root, extra).await;
        let password = format!("{}-password-1", name.to_lowercase());
        let link = self.link_token_for(&email, "set-password").await;
        self.post(
            "/v1/auth/password-reset",
            None,
            json!({"token": link, "new_password": password}),
        )
        .await
        .ok(204);
        let token = self.login(&email, &password, Some(&t.id)).await;
        Person {
            email,
            password,
            member_id,
            token,
        }
    }

    /// Creates a member of `t` (by its owner, without a password, not signed in): `name` at a
    /// fresh address in `department`; `extra` adds fields such as `position` or `role`. Returns
    /// its id.
    pub async fn member_under(
        &self,
        t: &Tenant,
        name: &str,
        department: &str,
        extra: Value,
    ) -> String {
        let email = format!("{}@people.test", unique("m"));
        self.create_member(t, &email, name, department, extra).await
    }

    /// Creates `n` members of `t` in its root (by its owner, ten requests at a time, all named
    /// "Seat Holder"); returns their ids in order.
    pub async fn add_members(&self, t: &Tenant, n: usize) -> Vec<String> {
        let path = format!("/v1/tenants/{}/members", t.id);
        let emails: Vec<String> = (0..n)
            .map(|i| format!("{}@people.test", unique(&format!("m{i}"))))
            .collect();
        let mut ids = Vec::new();
        for batch in emails.chunks(10) {
            let answers = join_all(batch.iter().map(|email| {
                self.post(
                    &path,
                    Some(&t.owner_token),
                    json!({"email": email, "name": "Seat Holder", "department_id": t.root}),
                )
            }))
            .await;
            ids.extend(answers.iter().map(|a| id(a.ok(201))));
        }
        ids
    }

    /// `POST /v1/tenants/{t}/members` by `t`'s owner of `name` at `email` in `department`, with
    /// `extra`'s fields added (or replacing these); returns the member's id.
    async fn create_member(
        &self,
        t: &Tenant,
        email: &str,
        name: &str,
        department: &str,
        extra: Value,
    ) -> String {
        let mut body = json!({"email": email, "name": name, "department_id": department});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let created = self
            .post(
                &format!("/v1/tenants/{}/members", t.id),
                Some(&t.owner_token),
                body,
            )
            .await;
        id(created.ok(201))
    }

    /// Creates a department under `t`'s root (by its owner); returns its id.
    pub async fn department_in(&self, t: &Tenant, name: &str) -> String {
        self.department_under(t, name, &t.root).await
    }

    /// Creates a department under `parent` in `t` (by its owner); returns its id.
    pub async fn department_under(&self, t: &Tenant, name: &str, parent: &str) -> String {
        let created = self
            .post(
                &format!("/v1/tenants/{}/departments", t.id),
                Some(&t.owner_token),
                json!({"name": name, "parent_id": parent}),
            )
            .await;
        id(created.ok(201))
    }

    /// `t` as its owner sees it (`GET /v1/tenants/{t}`): settings, counts, quota.
    pub async fn tenant_view(&self, t: &Tenant) -> Value {
        self.get(&format!("/v1/tenants/{}", t.id), &t.owner_token)
            .await
            .ok(200)
            .clone()
    }

    /// `t`'s `member_count` as its owner sees it.
    pub async fn member_count(&self, t: &Tenant) -> i64 {
        self.tenant_view(t).await["member_count"]
            .as_i64()
            .expect("member_count")
    }

    /// Sets `settings` of `t` (by its owner) and asserts they were taken.
    pub async fn set_settings(&self, t: &Tenant, settings: Value) {
        self.patch(
            &format!("/v1/tenants/{}", t.id),
            &t.owner_token,
            json!({ "settings": settings }),
        )
        .await
        .ok(200);
    }

    /// Sets what only the platform admin sets on `t` (`plan`, `member_quota`, `seats_total`,
    /// `feature_flags`): signs
    /// the admin in, patches the tenant and asserts it was taken.
    pub async fn set_limits(&self, t: &Tenant, body: Value) {
        let admin = self.admin_token().await;
        self.patch(&format!("/v1/tenants/{}", t.id), &admin, body)
            .await
            .ok(200);
    }

    /// Switches on `t`'s feature flag `api_access` (off for new tenants), as a platform admin.
    pub async fn enable_api_access(&self, t: &Tenant) {
        self.set_limits(t, json!({"feature_flags": {"api_access": true}}))
            .await;
    }

    /// The actions of the first page of `t`'s audit log (read by its owner), newest first.
    pub async fn audit_actions(&self, t: &Tenant) -> Vec<String> {
        let log = self
            .get(&format!("/v1/tenants/{}/audit-log", t.id), &t.owner_token)
            .await;
        log.ok(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["action"].as_str().expect("action").to_string())
            .collect()
    }

    /// Creates a public join link of `t` (by its owner); returns its code.
    pub async fn join_code(&self, t: &Tenant) -> String {
        let link = self
            .post(
                &format!("/v1/tenants/{}/join-links", t.id),
                Some(&t.owner_token),
                json!({}),
            )
            .await;
        link.ok(201)["code"].as_str().expect("code").to_string()
    }

    /// `POST /v1/join/{code}`, signed in with `bearer` or not; a Null `body` sends none.
    pub async fn join(&self, code: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/v1/join/{code}"),
            bearer,
            some(body),
        )
        .await
    }

    /// Invites `email` into `t`'s root department (by its owner) and returns the link's token.
    pub async fn invite(&self, t: &Tenant, email: &str) -> String {
        self.post(
            &format!("/v1/tenants/{}/invitations", t.id),
            Some(&t.owner_token),
            json!({"email": email, "department_id": t.root}),
        )
        .await
        .ok(201);
        self.link_token_for(email, "invitations/accept").await
    }

    /// `POST /v1/invitations/{token}/accept`, signed in with `bearer` or not; a Null `body` sends
    /// none.
    pub async fn accept(&self, token: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/v1/invitations/{token}/accept"),
            bearer,
            some(body),
        )
        .await
    }

    /// Uploads `csv` to an import job's presigned upload URL, as a browser would.
    pub async fn upload_csv(&self, url: &str, csv: &str) {
        self.upload_file(url, "text/csv", csv.as_bytes().to_vec())
            .await
    }

    /// Uploads `file` as `content_type` to a presigned upload URL and asserts it was taken.
    pub async fn upload_file(&self, url: &str, content_type: &str, file: Vec<u8>) {
        let put = self
            .http
            .put(url)
            .header("content-type", content_type)
            .body(file)
            .send()
            .await
            .expect("upload");
        assert!(
            put.status().is_success(),
            "upload answered {}",
            put.status()
        );
    }

    /// Creates a create-mode import job of `t` (by its owner) and uploads `csv` to it; returns
    /// the job id and the upload URL (good for 15 minutes). Not started yet.
    pub async fn uploaded_import(
        &self,
        t: &Tenant,
        csv: &str,
        send_email: bool,
    ) -> (String, String) {
        let created = self
            .post(
                &format!("/v1/tenants/{}/imports", t.id),
                Some(&t.owner_token),
                json!({"mode": "create", "send_email": send_email}),
            )
            .await;
        let created = created.ok(201).clone();
        let url = created["upload_url"]
            .as_str()
            .expect("upload_url")
            .to_string();
        self.upload_csv(&url, csv).await;
        let job = created["job"]["id"].as_str().expect("job id").to_string();
        (job, url)
    }

    /// `POST /v1/tenants/{t}/imports/{job}/start` by `t`'s owner.
    pub async fn start_import(&self, t: &Tenant, job: &str) -> Answer {
        self.post(
            &format!("/v1/tenants/{}/imports/{job}/start", t.id),
            Some(&t.owner_token),
            json!({}),
        )
        .await
    }

    /// Plays a started import's stream record to the import worker, as a delivery (or its retry)
    /// would.
    pub async fn play_import_record(
        &self,
        t: &Tenant,
        job: &str,
    ) -> roster_shared::ApiResult<roster_shared::jobs::import::WorkerReport> {
        let fields = json!({"kind": "import", "status": "queued", "tenant_id": t.id, "id": job});
        let record = roster_shared::worker_events::stream_event("MODIFY", &fields)?;
        let event = roster_shared::worker_events::StreamOr::Stream(record);
        roster_shared::jobs::import::handle_event(self.app, event).await
    }

    /// Plays the import's stream record as Lambda's event source does: a batch that failed for
    /// a transient reason (503 `unavailable`, as injected faults cause) is handed over again, a
    /// few times; the worker gave the job back queued, so the next run goes on where it stopped.
    pub async fn import_as_lambda_would(
        &self,
        t: &Tenant,
        job: &str,
    ) -> roster_shared::ApiResult<roster_shared::jobs::import::WorkerReport> {
        let mut attempts = 0;
        loop {
            match self.play_import_record(t, job).await {
                Err(e) if e.code() == "unavailable" && attempts < 5 => attempts += 1,
                answer => return answer,
            }
        }
    }

    /// Queues an export of all `t`'s members as CSV (by its owner); returns the job id.
    pub async fn queue_export(&self, t: &Tenant) -> String {
        let queued = self
            .post(
                &format!("/v1/tenants/{}/exports", t.id),
                Some(&t.owner_token),
                json!({"scope": "all", "format": "csv"}),
            )
            .await;
        id(queued.ok(202))
    }

    /// A job of `t` as the task centre shows it to the owner.
    pub async fn job(&self, t: &Tenant, job: &str) -> Value {
        self.get(&format!("/v1/tenants/{}/jobs/{job}", t.id), &t.owner_token)
            .await
            .ok(200)
            .clone()
    }

    /// Runs a create-mode import of `csv` into `t` (by its owner, with mails): creates the job,
    /// uploads the file, starts it, plays the start's stream record to the worker; returns the job.
    pub async fn import_create(&self, t: &Tenant, csv: &str) -> Value {
        let (job, _) = self.uploaded_import(t, csv, true).await;
        self.start_import(t, &job).await.ok(202);
        self.play_import_record(t, &job).await.expect("import");
        self.job(t, &job).await
    }

    /// Writes `n` members of `t` into its root department straight into the table, with their
    /// search terms and their events, as no route would (so large tenants take seconds):
    /// `seeded(i)` names the i-th's email, name and directory number. The root's `member_count`
    /// is not changed.
    pub async fn seed_members(
        &self,
        t: &Tenant,
        n: usize,
        seeded: impl Fn(usize) -> (String, String, u32),
    ) -> Vec<Item> {
        use roster_shared::auth::{Permissions, Role};
        use roster_shared::members::{Member, MemberSource, Person};
        let tenant_id: Uuid = t.id.parse().expect("tenant id");
        let root: Uuid = t.root.parse().expect("root id");
        let now = self.app.now();
        let mut items = Vec::new();
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            let (email, name, directory_number) = seeded(i);
            let member = Member {
                directory_number,
                ..Member::new(
                    tenant_id,
                    root,
                    Person {
                        user_id: Uuid::now_v7(),
                        email,
                        name,
                        phone: None,
                        email_verified: false,
                    },
                    Role::Member,
                    Permissions::none(),
                    MemberSource::Import,
                    now,
                )
            };
            items.push(member.to_item(&t.root).expect("member item"));
            items.extend(member.search_term_items().expect("search terms"));
            members.push(member);
        }
        self.put_items(&items, 16).await;
        self.seed_events(tenant_id, &members).await;
        items
    }

    /// The `member.created` events a create would have written with `members` (seeded straight
    /// into the table): pending items of a hundred, as a bulk create writes them, which the
    /// consistency checker holds the members against.
    pub async fn seed_events(&self, tenant_id: Uuid, members: &[roster_shared::members::Member]) {
        use roster_shared::events::{self, EventType};
        use roster_shared::members::MemberView;
        for chunk in members.chunks(100) {
            let created = chunk
                .iter()
                .map(|m| {
                    let view = serde_json::to_value(MemberView::from(m)).expect("view");
                    (EventType::MemberCreated, view)
                })
                .collect();
            let mut tx = roster_shared::store::Transaction::new();
            let caller = roster_shared::auth::Caller::system();
            events::record_many(self.app, &mut tx, &caller, tenant_id, created).expect("events");
            self.app.store.transact(tx).await.expect("seeded events");
        }
    }

    /// Writes `items` straight into the table, as no route would: BatchWriteItem requests of 25,
    /// `in_flight` of them at a time, each retrying its unprocessed items until none are left.
    pub async fn put_items(&self, items: &[Item], in_flight: usize) {
        let client = self.app.store.client();
        let table = self.app.table();
        let batches: Vec<&[Item]> = items.chunks(25).collect();
        for wave in batches.chunks(in_flight) {
            join_all(wave.iter().map(|batch| async move {
                let mut pending: Vec<WriteRequest> = batch
                    .iter()
                    .map(|item| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(item.clone()))
                                    .build()
                                    .expect("put"),
                            )
                            .build()
                    })
                    .collect();
                while !pending.is_empty() {
                    let out = client
                        .batch_write_item()
                        .request_items(table, pending)
                        .send()
                        .await
                        .expect("batch write");
                    pending = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(table))
                        .unwrap_or_default();
                }
            }))
            .await;
        }
    }

    /// Asserts a 429 `rate_limited` answer with a `Retry-After` of whole seconds above zero, and
    /// returns those seconds.
    #[track_caller]
    pub fn retry_after(answer: &Answer) -> i64 {
        answer.problem(429, "rate_limited");
        let seconds: i64 = answer
            .headers
            .get("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After on {:?}", answer.body))
            .to_str()
            .expect("ascii")
            .parse()
            .expect("Retry-After in whole seconds");
        assert!(seconds > 0, "Retry-After {seconds}");
        seconds
    }
}

/// A request body: none for Null.
fn some(body: Value) -> Option<Value> {
    if body.is_null() { None } else { Some(body) }
}
