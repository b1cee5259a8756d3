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
//! Kept answers may carry what is shown once (an API client's secret, a SCIM token): they are
//! sealed with AES-256-GCM under a key derived from the idempotency key, which only the client
//! holds and which is stored only as a hash, so the table never holds them readable.

use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::store::{Condition, Item, Transaction, num, s};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
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

/// Who sends the key and what it asks: the scope the key belongs to (tenant and caller) and the
/// request it stands for.
pub struct Attempt<'a> {
    pub key: &'a IdempotencyKey,
    /// The tenant the request is about (its path's) or none, and the caller's subject.
    pub tenant: Option<uuid::Uuid>,
    pub caller: uuid::Uuid,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
}

impl Attempt<'_> {
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

    fn fingerprint(&self) -> String {
        let mut request = Vec::with_capacity(self.body.len() + self.path.len() + 16);
        request.extend_from_slice(self.method.as_bytes());
        request.push(b' ');
        request.extend_from_slice(self.path.as_bytes());
        request.push(b'\n');
        request.extend_from_slice(self.body);
        hex(digest::digest(&digest::SHA256, &request).as_ref())
    }

    /// The sealing key of kept answers: derived from the idempotency key (domain-separated from
    /// the record's address, which is also a hash of it).
    fn sealing_key(&self) -> ApiResult<LessSafeKey> {
        let material = format!("roster idempotent answer\n{}", self.key.0);
        let derived = digest::digest(&digest::SHA256, material.as_bytes());
        let key = UnboundKey::new(&AES_256_GCM, derived.as_ref()).map_err(ApiError::internal)?;
        Ok(LessSafeKey::new(key))
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
    /// The key already answered this request: answer the same again.
    Replay(KeptAnswer),
}

/// A request's hold on its key.
pub struct Lease {
    record: Key,
    lease_id: String,
    fingerprint: String,
    sealing_key: LessSafeKey,
}

/// Claims the key for this request, or finds the answer it already gave.
pub async fn claim(app: &App, attempt: &Attempt<'_>) -> ApiResult<Claim> {
    let now = app.now().unix_timestamp();
    let record = attempt.record_key();
    let fingerprint = attempt.fingerprint();
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
        sealing_key: attempt.sealing_key()?,
    };
    if app.store.put_if(item, free).await? {
        return Ok(Claim::Fresh(lease));
    }
    let held = app.store.get(&record).await?.unwrap_or_default();
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
            Ok(Claim::Replay(open(&lease.sealing_key, sealed.as_ref())?))
        }
        _ => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still running; retry it in a moment".into(),
        )),
    }
}

/// Keeps the answer for the key's retries (only while this request still holds it).
pub async fn keep(app: &App, lease: Lease, answer: &KeptAnswer) -> ApiResult<()> {
    let now = app.now().unix_timestamp();
    let mut item: Item = lease.record.to_item();
    item.insert("state".into(), s("kept"));
    item.insert("fingerprint".into(), s(&lease.fingerprint));
    item.insert("lease_id".into(), s(&lease.lease_id));
    item.insert(
        "answer".into(),
        AttributeValue::B(seal(&lease.sealing_key, answer)?.into()),
    );
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

/// Seals an answer: a random nonce, then the ciphertext and tag.
fn seal(key: &LessSafeKey, answer: &KeptAnswer) -> ApiResult<Vec<u8>> {
    let mut data = serde_json::to_vec(answer).map_err(ApiError::internal)?;
    let nonce_bytes = crate::crypto::random_bytes::<NONCE_LEN>();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::empty(),
        &mut data,
    )
    .map_err(ApiError::internal)?;
    let mut sealed = nonce_bytes.to_vec();
    sealed.extend_from_slice(&data);
    Ok(sealed)
}

fn open(key: &LessSafeKey, sealed: &[u8]) -> ApiResult<KeptAnswer> {
    if sealed.len() < NONCE_LEN {
        return Err(ApiError::internal("a kept answer is too short"));
    }
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(ApiError::internal)?;
    let mut data = data.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::empty(), &mut data)
        .map_err(|_| ApiError::internal("a kept answer does not open with its key"))?;
    serde_json::from_slice(plain).map_err(ApiError::internal)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(key: &'a IdempotencyKey, body: &'a [u8]) -> Attempt<'a> {
        Attempt {
            key,
            tenant: Some(uuid::Uuid::nil()),
            caller: uuid::Uuid::max(),
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
    fn the_record_belongs_to_tenant_and_caller_and_the_fingerprint_to_the_request() {
        let key = IdempotencyKey::parse("k1").unwrap();
        let first = attempt(&key, b"{\"a\":1}");
        let mut other_caller = attempt(&key, b"{\"a\":1}");
        other_caller.caller = uuid::Uuid::nil();
        let mut other_tenant = attempt(&key, b"{\"a\":1}");
        other_tenant.tenant = None;
        assert_ne!(first.record_key(), other_caller.record_key());
        assert_ne!(first.record_key(), other_tenant.record_key());
        assert_eq!(
            first.fingerprint(),
            attempt(&key, b"{\"a\":1}").fingerprint()
        );
        assert_ne!(
            first.fingerprint(),
            attempt(&key, b"{\"a\":2}").fingerprint()
        );
        // The stored address says nothing of the key itself.
        assert!(!first.record_key().pk.contains("k1"));
    }

    #[test]
    fn kept_answers_open_only_with_their_key() {
        let key = IdempotencyKey::parse("k1").unwrap();
        let answer = KeptAnswer {
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{\"client_secret\":\"s3cret\"}".to_vec(),
        };
        let sealed = seal(&attempt(&key, b"").sealing_key().unwrap(), &answer).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        assert_eq!(
            open(&attempt(&key, b"").sealing_key().unwrap(), &sealed).unwrap(),
            answer
        );
        let other = IdempotencyKey::parse("k2").unwrap();
        assert!(open(&attempt(&other, b"").sealing_key().unwrap(), &sealed).is_err());
    }
}
