//! Idempotency keys (SPEC.md §8.6): a client that sends `Idempotency-Key` with a create may send it
//! again after a 503 or a lost response. The same key with the same request, within 24 hours,
//! answers the first response again and creates nothing; the same key with another request answers
//! 409. Keys belong to one caller in one tenant, so nobody can replay another's answer.
//!
//! How: before the create runs, a record is claimed under the key (a conditioned put, so of two
//! requests racing with one key only one runs). Its answer is then kept in the record; a request
//! that failed transiently (5xx, 429) releases the key instead, since it wrote nothing and may run
//! again. A request that dies between its create and keeping its answer (a Lambda killed at its
//! timeout) holds the key until its lease ends; after that a retry runs again.
//!
//! A key that is held answers only a caller the route would let in now (SPEC.md §9.1, see
//! [`Gate`]): a caller signed out, disabled, outside the allowlist or in a deleting tenant gets
//! the refusal a new request would get, never the kept body.
//!
//! Kept answers may carry what is shown once (an API client's secret, a SCIM token): they are
//! sealed (AES-256-GCM) under a key derived from the deployment's sealing secret
//! ([`crate::sealing`]), bound to their record (its key is the associated data, so a sealed answer
//! copied into another record does not open). The request a key stands for is kept as an HMAC
//! under another key derived from the same secret, so the table holds no readable request either.

mod gate;

pub use gate::Gate;

use crate::App;
use crate::auth::Requester;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::sealing::Purpose;
use crate::store::{Condition, Item, Transaction, num, s};
use aws_lc_rs::digest;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// The longest key accepted (SPEC.md §8.6).
pub const MAX_KEY_LEN: usize = 255;
/// How long an answer is kept for retries.
const KEPT_SECONDS: i64 = 24 * 60 * 60;
/// How long a request holding a key may run before a retry may take the key over: longer than any
/// API function may run (API Gateway gives up after 29 s).
const LEASE_SECONDS: i64 = 60;

/// A key as the client sent it, checked: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> ApiResult<Self> {
        let valid = !value.is_empty()
            && value.len() <= MAX_KEY_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            ));
        }
        Ok(Self(value.to_string()))
    }
}

/// Who sends the key and what it asks: the scope the key belongs to (tenant and caller), the
/// request it stands for, and what the route asks of its caller.
pub struct Attempt<'a> {
    pub key: &'a IdempotencyKey,
    /// The tenant the request is about (its path's) or none, and the caller's subject.
    pub tenant: Option<uuid::Uuid>,
    pub caller: uuid::Uuid,
    /// The caller as the entrypoint resolved it, cleared again by `gate` before a held key
    /// answers.
    pub requester: &'a Requester,
    pub gate: Gate,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
}

impl Attempt<'_> {
    /// The record's address: a hash of the scope, so the key itself is never stored. (A plain
    /// hash: records kept before answers were sealed under the deployment secret are still found,
    /// and their retries refused as another request rather than run twice.)
    fn record_key(&self) -> Key {
        let scope = format!(
            "{}\n{}\n{}",
            self.tenant.map(|t| t.to_string()).unwrap_or_default(),
            self.caller,
            self.key.0
        );
        Key::idempotency(&hex(
            digest::digest(&digest::SHA256, scope.as_bytes()).as_ref()
        ))
    }

    /// The request, as kept: its HMAC under the deployment's key for request fingerprints.
    async fn fingerprint(&self, app: &App) -> ApiResult<String> {
        app.sealing
            .fingerprint(Purpose::IdempotentRequest, &self.request())
            .await
    }

    fn request(&self) -> Vec<u8> {
        let mut request = Vec::with_capacity(self.body.len() + self.path.len() + 16);
        request.extend_from_slice(self.method.as_bytes());
        request.push(b' ');
        request.extend_from_slice(self.path.as_bytes());
        request.push(b'\n');
        request.extend_from_slice(self.body);
        request
    }
}

/// The answer a request gave, as kept for its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAnswer {
    pub status: u16,
    /// The headers a client reads of a create (content type, location, ETag).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What claiming a key found.
pub enum Claim {
    /// The key is this request's: run it, then [`keep`] or [`release`].
    Fresh(Lease),
    /// The key already answered this request, and the caller may still have it: answer the same
    /// again.
    Replay(KeptAnswer),
}

/// A request's hold on its key.
pub struct Lease {
    record: Key,
    lease_id: String,
    fingerprint: String,
}

/// Claims the key for this request, or finds the answer it already gave (for a caller the route
/// still lets in).
pub async fn claim(app: &App, attempt: &Attempt<'_>) -> ApiResult<Claim> {
    let now = app.now().unix_timestamp();
    let record = attempt.record_key();
    let fingerprint = attempt.fingerprint(app).await?;
    let lease_id = crate::crypto::new_token();
    let mut item: Item = record.to_item();
    item.insert("state".into(), s("running"));
    item.insert("fingerprint".into(), s(&fingerprint));
    item.insert("lease_id".into(), s(&lease_id));
    item.insert("lease_until".into(), num(now + LEASE_SECONDS));
    item.insert("ttl".into(), num(now + KEPT_SECONDS));
    // Free when no record is there, the kept one has expired (TTL deletes late), or its request
    // died holding it.
    let free = Condition::new(
        "attribute_not_exists(pk) OR #ttl < :now OR (#state = :running AND lease_until < :now)",
    )
    .name("#ttl", "ttl")
    .name("#state", "state")
    .value(":now", num(now))
    .value(":running", s("running"));
    let lease = Lease {
        record: record.clone(),
        lease_id: lease_id.clone(),
        fingerprint: fingerprint.clone(),
    };
    if app.store.put_if(item, free).await? {
        return Ok(Claim::Fresh(lease));
    }
    // The key is held: whatever it holds is told only to a caller the route lets in now. The
    // record is read in the same request as the caller's standing.
    let held = attempt
        .gate
        .admit(app, attempt.requester, attempt.tenant, &record)
        .await?
        .unwrap_or_default();
    let text = |name: &str| match held.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    // A put that DynamoDB carried out but whose answer was lost, retried by the SDK.
    if text("lease_id") == Some(lease_id.as_str()) {
        return Ok(Claim::Fresh(lease));
    }
    if text("fingerprint") != Some(fingerprint.as_str()) {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was already used with another request".into(),
        ));
    }
    match (text("state"), held.get("answer")) {
        (Some("kept"), Some(AttributeValue::B(sealed))) => {
            Ok(Claim::Replay(open(app, &record, sealed.as_ref()).await?))
        }
        _ => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still running; retry it in a moment".into(),
        )),
    }
}

/// Keeps the answer for the key's retries (only while this request still holds it).
pub async fn keep(app: &App, lease: Lease, answer: &KeptAnswer) -> ApiResult<()> {
    let now = app.now().unix_timestamp();
    let sealed = seal(app, &lease.record, answer).await?;
    let mut item: Item = lease.record.to_item();
    item.insert("state".into(), s("kept"));
    item.insert("fingerprint".into(), s(&lease.fingerprint));
    item.insert("lease_id".into(), s(&lease.lease_id));
    item.insert("answer".into(), AttributeValue::B(sealed.into()));
    item.insert("ttl".into(), num(now + KEPT_SECONDS));
    let mut tx = Transaction::new();
    tx.put(item, Some((still_held(&lease), lost_hold())))?;
    app.store.transact(tx).await
}

/// Gives the key up: the request wrote nothing and may run again.
pub async fn release(app: &App, lease: Lease) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.delete(&lease.record, Some((still_held(&lease), lost_hold())))?;
    app.store.transact(tx).await
}

fn still_held(lease: &Lease) -> Condition {
    Condition::new("lease_id = :lease").value(":lease", s(&lease.lease_id))
}

fn lost_hold() -> ApiError {
    ApiError::internal("the idempotency key was taken over while its request ran")
}

/// What a sealed answer is bound to: its record's address.
fn binding(record: &Key) -> Vec<u8> {
    format!("{}\n{}", record.pk, record.sk).into_bytes()
}

async fn seal(app: &App, record: &Key, answer: &KeptAnswer) -> ApiResult<Vec<u8>> {
    let plain = serde_json::to_vec(answer).map_err(ApiError::internal)?;
    app.sealing
        .seal(Purpose::IdempotentAnswer, &binding(record), &plain)
        .await
}

async fn open(app: &App, record: &Key, sealed: &[u8]) -> ApiResult<KeptAnswer> {
    let plain = app
        .sealing
        .open(Purpose::IdempotentAnswer, &binding(record), sealed)
        .await?;
    serde_json::from_slice(&plain).map_err(ApiError::internal)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(
        key: &'a IdempotencyKey,
        requester: &'a Requester,
        body: &'a [u8],
    ) -> Attempt<'a> {
        Attempt {
            key,
            tenant: Some(uuid::Uuid::nil()),
            caller: uuid::Uuid::max(),
            requester,
            gate: Gate::Tenant(&[]),
            method: "POST",
            path: "/v1/tenants/x/members",
            body,
        }
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("9f1c-42").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", " ", "a b", "ключ", &"k".repeat(256)] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().code(),
                "validation_failed"
            );
        }
    }

    #[test]
    fn the_record_belongs_to_tenant_and_caller_and_the_request_is_all_of_it() {
        let key = IdempotencyKey::parse("k1").unwrap();
        let requester = Requester::default();
        let first = attempt(&key, &requester, b"{\"a\":1}");
        let mut other_caller = attempt(&key, &requester, b"{\"a\":1}");
        other_caller.caller = uuid::Uuid::nil();
        let mut other_tenant = attempt(&key, &requester, b"{\"a\":1}");
        other_tenant.tenant = None;
        assert_ne!(first.record_key(), other_caller.record_key());
        assert_ne!(first.record_key(), other_tenant.record_key());
        assert_eq!(first.request(), b"POST /v1/tenants/x/members\n{\"a\":1}");
        // The stored address says nothing of the key itself.
        assert!(!first.record_key().pk.contains("k1"));
    }

    #[test]
    fn a_sealed_answer_is_bound_to_its_record() {
        let key = IdempotencyKey::parse("k1").unwrap();
        let other = IdempotencyKey::parse("k2").unwrap();
        let requester = Requester::default();
        let a = attempt(&key, &requester, b"").record_key();
        let b = attempt(&other, &requester, b"").record_key();
        assert_ne!(binding(&a), binding(&b));
    }
}
