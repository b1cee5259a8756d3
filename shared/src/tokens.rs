//! Access tokens: EdDSA (Ed25519) JWTs, 15 minutes, verified against the keys published at
//! `/.well-known/jwks.json`. Only the login function holds the private key.

use crate::config::env;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
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
    pub tenant_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    /// The addresses the token is usable from (empty: anywhere)...
    pub allowlist: Vec<String>,
    /// ...which the department's list narrows (empty: no narrowing).
    pub department_allowlist: Vec<String>,
    pub user_session: u64,
    pub member_session: u64,
}

impl Grant {
    pub fn new(user_id: Uuid, scope: TokenScope) -> Self {
        Self {
            user_id,
            scope: Some(scope),
            ..Self::default()
        }
    }

    /// The grant a token was issued under, to issue a fresh one like it.
    pub fn of(claims: &Claims) -> Self {
        Self {
            user_id: claims.sub,
            scope: Some(claims.scp),
            tenant_id: claims.tid,
            member_id: claims.mid,
            allowlist: claims.ipl.clone(),
            department_allowlist: claims.ipd.clone(),
            user_session: claims.sev,
            member_session: claims.mev,
        }
    }
}

#[derive(Clone)]
pub struct TokenKeys {
    kid: Arc<str>,
    public_x: Arc<str>,
    verifier: Arc<DecodingKey>,
    signer: Option<Arc<EncodingKey>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("can_sign", &self.signer.is_some())
            .finish()
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
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(ApiError::internal)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(ApiError::internal)?;
    Ok(GeneratedKey {
        private_pkcs8_base64: STANDARD.encode(pkcs8.as_ref()),
        public_x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    })
}

impl TokenKeys {
    /// ROSTER_JWT_PUBLIC_KEY is required; ROSTER_JWT_PRIVATE_KEY only where tokens are issued.
    pub fn from_env() -> ApiResult<Self> {
        let private = std::env::var("ROSTER_JWT_PRIVATE_KEY").ok();
        match private {
            Some(private) if !private.is_empty() => Self::from_private(&private),
            _ => Self::from_public(&env("ROSTER_JWT_PUBLIC_KEY")?),
        }
    }

    pub fn from_public(public_x: &str) -> ApiResult<Self> {
        let verifier = DecodingKey::from_ed_components(public_x).map_err(ApiError::internal)?;
        Ok(Self {
            kid: kid_of(public_x)?.into(),
            public_x: public_x.into(),
            verifier: Arc::new(verifier),
            signer: None,
        })
    }

    pub fn from_private(pkcs8_base64: &str) -> ApiResult<Self> {
        let der = STANDARD
            .decode(pkcs8_base64.trim())
            .map_err(|_| ApiError::internal("ROSTER_JWT_PRIVATE_KEY is not base64"))?;
        let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| {
            ApiError::internal("ROSTER_JWT_PRIVATE_KEY is not an Ed25519 PKCS#8 key")
        })?;
        let public_x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let mut keys = Self::from_public(&public_x)?;
        keys.signer = Some(Arc::new(EncodingKey::from_ed_der(&der)));
        Ok(keys)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": &*self.kid,
                "x": &*self.public_x,
            }]
        })
    }

    pub fn issue(&self, now: OffsetDateTime, grant: &Grant) -> ApiResult<String> {
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| ApiError::internal("this function holds no signing key"))?;
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
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.to_string());
        jsonwebtoken::encode(&header, &claims, signer).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm, key id, issuer, audience and expiry against `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> ApiResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(&*self.kid) {
            return Err(ApiError::Unauthorized);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the app's clock, so tests can move time.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.verifier, &validation)
            .map_err(|_| ApiError::Unauthorized)?;
        let now = now.unix_timestamp();
        if data.claims.exp <= now || data.claims.iat > now + 60 {
            return Err(ApiError::Unauthorized);
        }
        Ok(data.claims)
    }
}

fn kid_of(public_x: &str) -> ApiResult<String> {
    let raw = URL_SAFE_NO_PAD
        .decode(public_x.trim())
        .map_err(|_| ApiError::internal("ROSTER_JWT_PUBLIC_KEY is not base64url"))?;
    if raw.len() != 32 {
        return Err(ApiError::internal(
            "ROSTER_JWT_PUBLIC_KEY is not an Ed25519 key",
        ));
    }
    Ok(crypto::sha256_base64url(&raw)[..16].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_private(&generate_key().unwrap().private_pkcs8_base64).unwrap()
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let keys = keys();
        let now = OffsetDateTime::now_utc();
        let user = Uuid::now_v7();
        let token = keys
            .issue(now, &Grant::new(user, TokenScope::Platform))
            .unwrap();
        assert_eq!(keys.verify(&token, now).unwrap().sub, user);
        let later = now + time::Duration::seconds(ACCESS_TOKEN_SECONDS);
        assert!(keys.verify(&token, later).is_err());
    }

    #[test]
    fn tokens_of_another_key_are_refused() {
        let now = OffsetDateTime::now_utc();
        let token = keys()
            .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
            .unwrap();
        assert!(keys().verify(&token, now).is_err());
    }

    #[test]
    fn public_only_keys_verify_but_cannot_sign() {
        let full = keys();
        let public = TokenKeys::from_public(&full.public_x).unwrap();
        let now = OffsetDateTime::now_utc();
        let token = full
            .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
            .unwrap();
        assert!(public.verify(&token, now).is_ok());
        assert!(
            public
                .issue(now, &Grant::new(Uuid::now_v7(), TokenScope::Platform))
                .is_err()
        );
    }
}
