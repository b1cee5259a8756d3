//! Access tokens: EdDSA (Ed25519) JWTs, 15 minutes, naming their key (`kid`) and verified against
//! the keys published at `/.well-known/jwks.json`. Only the functions that issue tokens read the
//! private key; where keys live and how they rotate is [`crate::signing_keys`].

use crate::config::env;
use crate::error::{ApiError, ApiResult};
use crate::model::tenant::Tenant;
use crate::signing_keys::keys::{KeyStage, PublicKey, PublicKeySet, PublishedKey, SigningKey};
use crate::signing_keys::secrets::KeySecrets;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
const ISSUER: &str = "roster";
const AUDIENCE: &str = "roster-api";

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// An operator of the platform.
    Platform,
    /// A member acting in their tenant.
    Tenant,
    /// Only changing an expired password.
    PasswordChange,
    /// A machine client of one tenant (client-credentials grant); `sub` is the client id.
    ApiClient,
    /// A person signed in without a membership to act in (none yet, or only pending ones): their
    /// own identity, accepting invitations and asking to join.
    User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<Uuid>,
    pub scp: TokenScope,
    /// The IP allowlist in force when the token was issued: every request is checked against it,
    /// so a token taken inside the allowed network is no use outside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipl: Vec<String>,
    /// The department's allowlist in force then: an address must pass both lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipd: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's session epoch when the token was issued: once the user's record holds another
    /// (password changed or reset, email changed or proven), the token is dead.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sev: u64,
    /// The same for the membership the token acts in (an admin disabled or deleted it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mev: u64,
    /// The session (a person's sign-in, SPEC.md §9.4) the token was issued in: once it has ended
    /// (signed out, ended from the session list, its refresh token reused), the token is dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

impl Claims {
    /// Whether a request from `source_ip` may use the token: both allowlists it carries pass.
    pub fn allows_address(&self, source_ip: Option<&str>) -> bool {
        crate::model::tenant::ip_allowed(source_ip, &self.ipl)
            && crate::model::tenant::ip_allowed(source_ip, &self.ipd)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Who a token is for and what it opens.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    pub user_id: Uuid,
    pub scope: Option<TokenScope>,
    /// The tenant the token acts in: set only by [`Grant::in_tenant`] and [`Grant::renewing`],
    /// which ask the tenant first, so no token is minted into a deleting tenant (SPEC.md §9.1).
    tenant_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    /// The addresses the token is usable from (empty: anywhere)...
    pub allowlist: Vec<String>,
    /// ...which the department's list narrows (empty: no narrowing).
    pub department_allowlist: Vec<String>,
    pub user_session: u64,
    pub member_session: u64,
    /// The session the token belongs to (none: a token of no session, e.g. a machine client's).
    pub session: Option<Uuid>,
}

impl Grant {
    pub fn new(user_id: Uuid, scope: TokenScope) -> Self {
        Self {
            user_id,
            scope: Some(scope),
            ..Self::default()
        }
    }

    /// A grant in `tenant` (a membership's or a machine client's), while the tenant issues.
    pub fn in_tenant(tenant: &Tenant, user_id: Uuid, scope: TokenScope) -> ApiResult<Self> {
        tenant.issuing()?;
        Ok(Self {
            tenant_id: Some(tenant.id),
            ..Self::new(user_id, scope)
        })
    }

    /// The tenant the token acts in.
    pub fn tenant_id(&self) -> Option<Uuid> {
        self.tenant_id
    }

    /// The grant a token was issued under, to issue a fresh one like it. A token of a tenant is
    /// renewed only while that tenant (`home`, as read now with the caller) issues.
    pub fn renewing(claims: &Claims, home: Option<&Tenant>) -> ApiResult<Self> {
        let tenant_id = match claims.tid {
            None => None,
            Some(tid) => {
                let tenant = home.filter(|t| t.id == tid).ok_or(ApiError::Unauthorized)?;
                tenant.issuing()?;
                Some(tid)
            }
        };
        Ok(Self {
            user_id: claims.sub,
            scope: Some(claims.scp),
            tenant_id,
            member_id: claims.mid,
            allowlist: claims.ipl.clone(),
            department_allowlist: claims.ipd.clone(),
            user_session: claims.sev,
            member_session: claims.mev,
            session: claims.sid,
        })
    }
}

/// The keys that sign and verify tokens: from Secrets Manager (rotated; see
/// [`crate::signing_keys`]), or fixed by the environment where there is no Secrets Manager.
#[derive(Clone)]
pub struct TokenKeys {
    source: Arc<KeySource>,
}

enum KeySource {
    /// ROSTER_JWT_PUBLIC_KEY (and ROSTER_JWT_PRIVATE_KEY where tokens are issued): one key, no
    /// rotation, no network. For runs without Secrets Manager (the init benchmark).
    Fixed {
        signer: Option<Signer>,
        verifiers: Verifiers,
    },
    /// Read on first use, never at init, and cached for the container's life with the refreshes
    /// rotation needs (see [`Cached`]).
    Secrets(Box<Cached>),
}

struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    fn new(key: &SigningKey) -> Self {
        Self {
            kid: key.kid().to_string(),
            key: EncodingKey::from_ed_der(key.pkcs8_der()),
        }
    }
}

/// The public keys a function accepts, ready to verify.
struct Verifiers {
    set: PublicKeySet,
    by_kid: HashMap<String, Arc<DecodingKey>>,
}

impl Verifiers {
    /// The verifying key of `kid` if the set publishes it at `now`, and whether it is the key
    /// that signs now.
    fn published(&self, kid: &str, now: i64) -> Option<(Arc<DecodingKey>, bool)> {
        let entry = self.set.published(now).find(|k| k.key.kid == kid)?;
        let key = self.by_kid.get(kid)?.clone();
        Some((key, entry.stage == KeyStage::Current))
    }

    fn new(set: PublicKeySet) -> ApiResult<Self> {
        let by_kid = set
            .keys
            .iter()
            .map(|k| {
                DecodingKey::from_ed_components(&k.key.x)
                    .map(|d| (k.key.kid.clone(), Arc::new(d)))
                    .map_err(ApiError::internal)
            })
            .collect::<ApiResult<_>>()?;
        Ok(Self { set, by_kid })
    }
}

/// Verifiers keep the public set, re-read when older than this, so a key withdrawn from the set
/// stops verifying. One request an hour; sooner for a token of a key that no longer signs (see
/// [`UNKNOWN_KID_REREAD_SECONDS`]) or of a key the set does not know.
pub const KEY_CACHE_SECONDS: i64 = 60 * 60;

/// Issuers keep the current signing key, re-read when older than this: after a rotation the old
/// key stops signing everywhere within it, and what it signed expires
/// ([`ACCESS_TOKEN_SECONDS`]) well before it stops being published
/// ([`crate::signing_keys::RETIRED_KEY_SECONDS`]), so a rotation fails no request.
pub const SIGNER_CACHE_SECONDS: i64 = 10 * 60;

/// A token whose `kid` the cached set lacks makes the verifier re-read the set (a rotation it
/// has not seen), at most once per this many seconds: a flood of forged kids costs Secrets
/// Manager one request per container per window. So does a token of a key that no longer signs
/// when the set is older than this: the key may have been revoked since.
pub const UNKNOWN_KID_REREAD_SECONDS: i64 = 10;

/// The JWKS answers from a set at most this old: other verifiers fetch it when they meet a kid
/// they do not know, so it shows a rotation's new key as soon as a token may carry it.
pub const JWKS_CACHE_SECONDS: i64 = 10;

struct Cached {
    secrets: KeySecrets,
    signer: tokio::sync::Mutex<Option<(Arc<Signer>, i64)>>,
    verifiers: tokio::sync::Mutex<VerifierCache>,
}

#[derive(Default)]
struct VerifierCache {
    verifiers: Option<Arc<Verifiers>>,
    read_at: i64,
    unknown_kid_reread_at: Option<i64>,
}

impl Cached {
    async fn signer(&self, now: i64) -> ApiResult<Arc<Signer>> {
        let mut cached = self.signer.lock().await;
        if let Some((signer, read_at)) = cached.as_ref()
            && now - read_at < SIGNER_CACHE_SECONDS
        {
            return Ok(signer.clone());
        }
        match self.secrets.current_signing_key().await {
            Ok(key) => {
                let signer = Arc::new(Signer::new(&key));
                *cached = Some((signer.clone(), now));
                Ok(signer)
            }
            // A refresh that fails keeps the key in hand: it is still published.
            Err(err) => match cached.as_ref() {
                Some((signer, _)) => {
                    tracing::warn!(%err, "signing key refresh failed; keeping the cached key");
                    Ok(signer.clone())
                }
                None => Err(err),
            },
        }
    }

    async fn verifiers(&self, now: i64, max_age: i64) -> ApiResult<Arc<Verifiers>> {
        let mut cache = self.verifiers.lock().await;
        self.refresh_if_stale(&mut cache, now, max_age).await?;
        cache
            .verifiers
            .clone()
            .ok_or_else(|| ApiError::internal("no public keys"))
    }

    /// The verifying key of `kid`, re-reading the set once per window when it is unknown, or
    /// when it no longer signs and the set is older than a window (it may have been revoked).
    async fn verifier(&self, kid: &str, now: i64) -> ApiResult<Option<Arc<DecodingKey>>> {
        let mut cache = self.verifiers.lock().await;
        let just_read = self
            .refresh_if_stale(&mut cache, now, KEY_CACHE_SECONDS)
            .await?;
        let find =
            |cache: &VerifierCache| cache.verifiers.as_ref().and_then(|v| v.published(kid, now));
        let found = find(&cache);
        let settled = match &found {
            Some((_, signs)) => *signs || now - cache.read_at < UNKNOWN_KID_REREAD_SECONDS,
            None => false,
        };
        let window_open = cache
            .unknown_kid_reread_at
            .is_none_or(|at| now - at >= UNKNOWN_KID_REREAD_SECONDS);
        if settled || just_read || !window_open {
            return Ok(found.map(|(key, _)| key));
        }
        cache.unknown_kid_reread_at = Some(now);
        self.read(&mut cache, now).await?;
        Ok(find(&cache).map(|(key, _)| key))
    }

    /// Drops what was read, so the next use reads again.
    async fn forget(&self) {
        *self.signer.lock().await = None;
        *self.verifiers.lock().await = VerifierCache::default();
    }

    /// Reads the set if there is none or it is `max_age` seconds old; returns whether it read.
    async fn refresh_if_stale(
        &self,
        cache: &mut VerifierCache,
        now: i64,
        max_age: i64,
    ) -> ApiResult<bool> {
        if cache.verifiers.is_some() && now - cache.read_at < max_age {
            return Ok(false);
        }
        self.read(cache, now).await?;
        Ok(true)
    }

    async fn read(&self, cache: &mut VerifierCache, now: i64) -> ApiResult<()> {
        let read = match self.secrets.public_keys().await {
            Ok(set) => Verifiers::new(set),
            Err(err) => Err(err),
        };
        match read {
            Ok(verifiers) => {
                cache.verifiers = Some(Arc::new(verifiers));
                cache.read_at = now;
                Ok(())
            }
            // Keys in hand still verify what they verified; try again after the window.
            Err(err) if cache.verifiers.is_some() => {
                tracing::warn!(%err, "public key refresh failed; keeping the cached keys");
                cache.read_at = now - KEY_CACHE_SECONDS + UNKNOWN_KID_REREAD_SECONDS;
                Ok(())
            }
            Err(err) => Err(err),
        }
    }
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match &*self.source {
            KeySource::Fixed { signer, .. } => f
                .debug_struct("TokenKeys::Fixed")
                .field("kid", &signer.as_ref().map(|s| &s.kid))
                .finish_non_exhaustive(),
            KeySource::Secrets(cached) => f
                .debug_struct("TokenKeys::Secrets")
                .field("secrets", &cached.secrets)
                .finish_non_exhaustive(),
        }
    }
}

/// A freshly generated Ed25519 key pair, as the configuration carries it.
pub struct GeneratedKey {
    /// base64 of the PKCS#8 DER private key (ROSTER_JWT_PRIVATE_KEY).
    pub private_pkcs8_base64: String,
    /// base64url of the raw 32-byte public key (ROSTER_JWT_PUBLIC_KEY).
    pub public_x: String,
}

pub fn generate_key() -> ApiResult<GeneratedKey> {
    let key = SigningKey::generate()?;
    Ok(GeneratedKey {
        private_pkcs8_base64: key.pkcs8_base64(),
        public_x: key.public().x.clone(),
    })
}

impl TokenKeys {
    /// From the function's configuration, with no network call. ROSTER_PUBLIC_KEYS_SECRET names
    /// the public-key secret (every function) and ROSTER_SIGNING_KEY_SECRET the signing-key
    /// secret (only where tokens are issued). Without them, the fixed ROSTER_JWT_PUBLIC_KEY (and
    /// ROSTER_JWT_PRIVATE_KEY).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> ApiResult<Self> {
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(public_keys) = set("ROSTER_PUBLIC_KEYS_SECRET") {
            let signing_key = set("ROSTER_SIGNING_KEY_SECRET");
            return Ok(Self::from_secrets(KeySecrets::new(
                sdk,
                signing_key,
                public_keys,
                None,
            )));
        }
        match set("ROSTER_JWT_PRIVATE_KEY") {
            Some(private) => Self::from_private(&private),
            None => Self::from_public(&env("ROSTER_JWT_PUBLIC_KEY")?),
        }
    }

    pub fn from_secrets(secrets: KeySecrets) -> Self {
        Self {
            source: Arc::new(KeySource::Secrets(Box::new(Cached {
                secrets,
                signer: tokio::sync::Mutex::new(None),
                verifiers: tokio::sync::Mutex::new(VerifierCache::default()),
            }))),
        }
    }

    /// One fixed public key: verifies, cannot sign.
    pub fn from_public(public_x: &str) -> ApiResult<Self> {
        Self::fixed(None, PublicKey::from_x(public_x)?)
    }

    /// One fixed key pair (base64 PKCS#8).
    pub fn from_private(pkcs8_base64: &str) -> ApiResult<Self> {
        let key = SigningKey::from_pkcs8_base64(pkcs8_base64)?;
        Self::fixed(Some(Signer::new(&key)), key.public().clone())
    }

    fn fixed(signer: Option<Signer>, public: PublicKey) -> ApiResult<Self> {
        let set = PublicKeySet {
            keys: vec![PublishedKey {
                key: public,
                stage: KeyStage::Current,
                retired_at: None,
            }],
        };
        Ok(Self {
            source: Arc::new(KeySource::Fixed {
                signer,
                verifiers: Verifiers::new(set)?,
            }),
        })
    }

    /// The secrets the keys come from, if they do (for the rotation).
    pub fn secrets(&self) -> Option<&KeySecrets> {
        match &*self.source {
            KeySource::Secrets(cached) => Some(&cached.secrets),
            KeySource::Fixed { .. } => None,
        }
    }

    /// Forgets the keys read from the secrets (after this process revoked one), so the next
    /// token issued or verified reads them again.
    pub async fn forget_cached(&self) {
        if let KeySource::Secrets(cached) = &*self.source {
            cached.forget().await;
        }
    }

    /// The JWKS document: every key published at `now` (current, then pending, then previous).
    pub async fn jwks(&self, now: OffsetDateTime) -> ApiResult<serde_json::Value> {
        let jwk = |k: &PublicKey| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": k.kid,
                "x": k.x,
            })
        };
        let now = now.unix_timestamp();
        let keys: Vec<serde_json::Value> = match &*self.source {
            KeySource::Fixed { verifiers, .. } => {
                verifiers.set.published(now).map(|k| jwk(&k.key)).collect()
            }
            KeySource::Secrets(cached) => {
                let verifiers = cached.verifiers(now, JWKS_CACHE_SECONDS).await?;
                verifiers.set.published(now).map(|k| jwk(&k.key)).collect()
            }
        };
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Signs a token for `grant` with the current key; its header names the key (`kid`).
    pub async fn issue(&self, now: OffsetDateTime, grant: &Grant) -> ApiResult<String> {
        let no_signer = || ApiError::internal("this function holds no signing key");
        let cached;
        let signer = match &*self.source {
            KeySource::Fixed { signer, .. } => signer.as_ref().ok_or_else(no_signer)?,
            KeySource::Secrets(source) => {
                cached = source.signer(now.unix_timestamp()).await?;
                &*cached
            }
        };
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: grant.user_id,
            tid: grant.tenant_id,
            mid: grant.member_id,
            scp: grant
                .scope
                .ok_or_else(|| ApiError::internal("a grant without a scope"))?,
            ipl: grant.allowlist.clone(),
            ipd: grant.department_allowlist.clone(),
            iat: now.unix_timestamp(),
            exp: now.unix_timestamp() + ACCESS_TOKEN_SECONDS,
            jti: Uuid::now_v7(),
            sev: grant.user_session,
            mev: grant.member_session,
            sid: grant.session,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, &claims, &signer.key).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm, key id (one of the published keys), issuer, audience and
    /// expiry against `now`.
    pub async fn verify(&self, token: &str, now: OffsetDateTime) -> ApiResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        let kid = match header.kid {
            Some(kid) if header.alg == Algorithm::EdDSA => kid,
            _ => return Err(ApiError::Unauthorized),
        };
        let key = match &*self.source {
            KeySource::Fixed { verifiers, .. } => verifiers
                .published(&kid, now.unix_timestamp())
                .map(|(key, _)| key),
            KeySource::Secrets(cached) => cached.verifier(&kid, now.unix_timestamp()).await?,
        };
        let key = key.ok_or(ApiError::Unauthorized)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the app's clock, so tests can move time.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| ApiError::Unauthorized)?;
        let now = now.unix_timestamp();
        if data.claims.exp <= now || data.claims.iat > now + 60 {
            return Err(ApiError::Unauthorized);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_private(&generate_key().unwrap().private_pkcs8_base64).unwrap()
    }

    #[tokio::test]
    async fn issued_tokens_verify_until_they_expire() {
        let keys = keys();
        let now = OffsetDateTime::now_utc();
        let user = Uuid::now_v7();
        let token = keys
            .issue(now, &Grant::new(user, TokenScope::Platform))
            .await
            .unwrap();
        assert_eq!(keys.verify(&token, now).await.unwrap().sub, user);
        let later = now + time::Duration::seconds(ACCESS_TOKEN_SECONDS);
        assert!(keys.verify(&token, later).await.is_err());
    }

    #[tokio::test]
    async fn tokens_of_another_key_are_refused() {
        let now = OffsetDateTime::now_utc();
        let token = keys()
            .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
            .await
            .unwrap();
        assert!(keys().verify(&token, now).await.is_err());
    }

    #[tokio::test]
    async fn public_only_keys_verify_but_cannot_sign() {
        let generated = generate_key().unwrap();
        let full = TokenKeys::from_private(&generated.private_pkcs8_base64).unwrap();
        let public = TokenKeys::from_public(&generated.public_x).unwrap();
        let now = OffsetDateTime::now_utc();
        let token = full
            .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
            .await
            .unwrap();
        assert!(public.verify(&token, now).await.is_ok());
        assert!(
            public
                .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
                .await
                .is_err()
        );
        let jwks = public.jwks(now).await.unwrap();
        assert_eq!(jwks["keys"][0]["x"], generated.public_x.as_str());
        assert!(!format!("{full:?}").contains(&generated.private_pkcs8_base64));
    }
}
