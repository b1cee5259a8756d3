//! The keys themselves: an Ed25519 signing key, its public half as a JWK carries it, and the
//! published set verifiers read.

use crate::error::{ApiError, ApiResult};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// A key stays published this long after it stops signing. Issuers re-read the current key
/// every [`crate::tokens::SIGNER_CACHE_SECONDS`] and tokens live
/// [`crate::tokens::ACCESS_TOKEN_SECONDS`], so every token it signed has expired by then.
pub const RETIRED_KEY_SECONDS: i64 = 60 * 60;

/// An Ed25519 private key and its public half. The private half leaves this type only to sign or
/// to be stored: it has no `Debug`, `Display` or `Serialize` of it.
pub struct SigningKey {
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> ApiResult<Self> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(ApiError::internal)?;
        Self::from_pkcs8(pkcs8.as_ref().to_vec())
    }

    /// From base64 of the PKCS#8 DER (what the secret and ROSTER_JWT_PRIVATE_KEY hold).
    pub fn from_pkcs8_base64(text: &str) -> ApiResult<Self> {
        let der = STANDARD
            .decode(text.trim())
            .map_err(|_| ApiError::internal("a signing key is not base64"))?;
        Self::from_pkcs8(der)
    }

    fn from_pkcs8(pkcs8: Vec<u8>) -> ApiResult<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| ApiError::internal("a signing key is not an Ed25519 PKCS#8 key"))?;
        let public = PublicKey::from_x(&URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))?;
        Ok(Self { pkcs8, public })
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The PKCS#8 DER, for the JWT signer.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn pkcs8_base64(&self) -> String {
        STANDARD.encode(&self.pkcs8)
    }

    pub(super) fn sign(&self, message: &[u8]) -> ApiResult<Vec<u8>> {
        let pair = Ed25519KeyPair::from_pkcs8(&self.pkcs8).map_err(ApiError::internal)?;
        Ok(pair.sign(message).as_ref().to_vec())
    }
}

/// An Ed25519 public key as a JWK carries it, with its key id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// The first 16 characters of the base64url SHA-256 of the raw key: the same key always has
    /// the same id, on every function and across rotations.
    pub kid: String,
    /// base64url of the raw 32 bytes (ROSTER_JWT_PUBLIC_KEY).
    pub x: String,
}

impl PublicKey {
    pub fn from_x(x: &str) -> ApiResult<Self> {
        let raw = URL_SAFE_NO_PAD
            .decode(x.trim())
            .map_err(|_| ApiError::internal("a public key is not base64url"))?;
        if raw.len() != 32 {
            return Err(ApiError::internal("a public key is not an Ed25519 key"));
        }
        Ok(Self {
            kid: crate::crypto::sha256_base64url(&raw)[..16].to_string(),
            x: x.trim().to_string(),
        })
    }

    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        URL_SAFE_NO_PAD.decode(&self.x).is_ok_and(|raw| {
            UnparsedPublicKey::new(&ED25519, raw)
                .verify(message, signature)
                .is_ok()
        })
    }
}

/// Where a key stands in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStage {
    Current,
    Pending,
    Previous,
}

/// A public key verifiers accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    #[serde(flatten)]
    pub key: PublicKey,
    pub stage: KeyStage,
    /// A previous key's: when it stopped signing (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

impl PublishedKey {
    /// Whether verifiers accept it at `now` (epoch seconds): a previous key only for
    /// [`RETIRED_KEY_SECONDS`] after it stopped signing.
    pub fn published_at(&self, now: i64) -> bool {
        self.retired_at
            .is_none_or(|retired| now < retired + RETIRED_KEY_SECONDS)
    }
}

/// The public-key secret's document: current first, then pending, then previous.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeySet {
    pub keys: Vec<PublishedKey>,
}

impl PublicKeySet {
    pub fn find(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().map(|k| &k.key).find(|k| k.kid == kid)
    }

    /// The keys verifiers accept at `now` (epoch seconds).
    pub fn published(&self, now: i64) -> impl Iterator<Item = &PublishedKey> {
        self.keys.iter().filter(move |k| k.published_at(now))
    }

    pub fn current(&self) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|k| k.stage == KeyStage::Current)
            .map(|k| &k.key)
    }
}
