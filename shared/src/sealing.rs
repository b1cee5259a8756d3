//! The deployment's sealing secret: a Secrets Manager secret (`ROSTER_SEALING_SECRET` names it;
//! template.yaml declares it, `local-gateway serve --setup` and the tests create it in the
//! emulator) from which the keys derive that seal what the table keeps for a while but must not
//! hold readable (an idempotent create's answer, which may carry a secret shown once) and that
//! fingerprint requests. Each use derives its own key (HKDF-SHA256 with a label per use), so a
//! key of one use opens or signs nothing of another, and the table alone (a backup, a leaked
//! export) opens nothing.
//!
//! Read on first use, never at init, and kept for the container's life. Only the functions that
//! seal (the creates, which honour `Idempotency-Key`) are given the secret and may read it.

use crate::error::{ApiError, ApiResult};
use crate::store::sdk_error;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};
use tokio::sync::OnceCell;

/// The shortest secret accepted: 256 bits of a random string's characters at the least.
const MIN_SECRET_BYTES: usize = 32;
/// HKDF's salt: fixed, the secret is the entropy (RFC 5869 §3.1).
const SALT: &[u8] = b"roster sealing secret";

/// What a derived key is for: its HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sealing an idempotent create's kept answer.
    IdempotentAnswer,
    /// Fingerprinting the request an idempotency key stands for.
    IdempotentRequest,
    /// A webhook endpoint's signing secret, kept to sign with (so it cannot be hashed).
    WebhookSecret,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::IdempotentAnswer => b"roster/idempotency/answer/v1",
            Self::IdempotentRequest => b"roster/idempotency/request/v1",
            Self::WebhookSecret => b"roster/webhooks/secret/v1",
        }
    }
}

/// The secret, read once.
pub struct SealingSecret {
    /// The secret's name or ARN; none where the function was given none.
    secret_id: Option<String>,
    client: Option<aws_sdk_secretsmanager::Client>,
    material: OnceCell<Vec<u8>>,
}

impl std::fmt::Debug for SealingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingSecret")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

impl SealingSecret {
    /// The secret `secret_id` names in Secrets Manager (read on first use).
    pub fn new(sdk: &aws_config::SdkConfig, secret_id: Option<String>) -> Self {
        Self {
            client: secret_id
                .as_ref()
                .map(|_| aws_sdk_secretsmanager::Client::new(sdk)),
            secret_id,
            material: OnceCell::new(),
        }
    }

    /// A secret given as it is (unit tests).
    pub fn fixed(material: &[u8]) -> Self {
        Self {
            secret_id: None,
            client: None,
            material: OnceCell::new_with(Some(material.to_vec())),
        }
    }

    async fn material(&self) -> ApiResult<&[u8]> {
        let material = self
            .material
            .get_or_try_init(|| async {
                let (Some(id), Some(client)) = (&self.secret_id, &self.client) else {
                    return Err(ApiError::internal(
                        "ROSTER_SEALING_SECRET is not set: this function seals nothing",
                    ));
                };
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(out.secret_string().unwrap_or_default().as_bytes().to_vec())
            })
            .await?;
        if material.len() < MIN_SECRET_BYTES {
            return Err(ApiError::internal("the sealing secret is too short"));
        }
        Ok(material)
    }

    async fn prk(&self) -> ApiResult<hkdf::Prk> {
        Ok(hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(self.material().await?))
    }

    async fn aead_key(&self, purpose: Purpose) -> ApiResult<LessSafeKey> {
        let prk = self.prk().await?;
        let info = [purpose.label()];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| ApiError::internal("HKDF expansion failed"))?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    /// Seals `plain` for `purpose`, bound to `context` (authenticated, not stored): a random
    /// nonce, then the ciphertext and its tag. It opens only with the same purpose and context.
    pub async fn seal(&self, purpose: Purpose, context: &[u8], plain: &[u8]) -> ApiResult<Vec<u8>> {
        let key = self.aead_key(purpose).await?;
        let nonce = crate::crypto::random_bytes::<NONCE_LEN>();
        let mut data = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut data,
        )
        .map_err(ApiError::internal)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(sealed)
    }

    /// Opens what [`SealingSecret::seal`] sealed for the same purpose and context.
    pub async fn open(
        &self,
        purpose: Purpose,
        context: &[u8],
        sealed: &[u8],
    ) -> ApiResult<Vec<u8>> {
        let key = self.aead_key(purpose).await?;
        let does_not_open = || ApiError::internal("a sealed value does not open in its place");
        if sealed.len() < NONCE_LEN {
            return Err(does_not_open());
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| does_not_open())?;
        let mut data = data.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context), &mut data)
            .map_err(|_| does_not_open())?;
        Ok(plain.to_vec())
    }

    /// HMAC-SHA256 of `message` under the key of `purpose`, hex.
    pub async fn fingerprint(&self, purpose: Purpose, message: &[u8]) -> ApiResult<String> {
        let prk = self.prk().await?;
        let info = [purpose.label()];
        let okm = prk
            .expand(&info, hmac::HMAC_SHA256)
            .map_err(|_| ApiError::internal("HKDF expansion failed"))?;
        let tag = hmac::sign(&hmac::Key::from(okm), message);
        Ok(tag.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Creates the secret with 256 random bits where it does not exist: for the local stack and
    /// the tests (on AWS, template.yaml declares it with a generated value).
    pub async fn ensure_created(&self) -> ApiResult<()> {
        let (Some(id), Some(client)) = (&self.secret_id, &self.client) else {
            return Ok(());
        };
        let created = client
            .create_secret()
            .name(id)
            .secret_string(crate::crypto::new_token())
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(sdk_error(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    #[tokio::test]
    async fn sealed_values_open_only_with_their_secret_purpose_and_context() {
        let secret = SealingSecret::fixed(SECRET);
        let sealed = secret
            .seal(Purpose::IdempotentAnswer, b"record-1", b"s3cret")
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        let opened = secret.open(Purpose::IdempotentAnswer, b"record-1", &sealed);
        assert_eq!(opened.await.unwrap(), b"s3cret");
        // Moved to another record, read for another use, or under another deployment's secret.
        let moved = secret.open(Purpose::IdempotentAnswer, b"record-2", &sealed);
        assert!(moved.await.is_err());
        let other_use = secret.open(Purpose::IdempotentRequest, b"record-1", &sealed);
        assert!(other_use.await.is_err());
        let other = SealingSecret::fixed(b"another deployment's secret, 32+ bytes");
        let elsewhere = other.open(Purpose::IdempotentAnswer, b"record-1", &sealed);
        assert!(elsewhere.await.is_err());
        assert!(
            secret
                .open(Purpose::IdempotentAnswer, b"record-1", &sealed[..5])
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn fingerprints_are_keyed_by_the_secret() {
        let secret = SealingSecret::fixed(SECRET);
        let other = SealingSecret::fixed(b"another deployment's secret, 32+ bytes");
        let purpose = Purpose::IdempotentRequest;
        let a = secret.fingerprint(purpose, b"POST /x\n{}").await.unwrap();
        assert_eq!(a.len(), 64);
        let again = secret.fingerprint(purpose, b"POST /x\n{}").await.unwrap();
        assert_eq!(a, again);
        let other_body = secret.fingerprint(purpose, b"POST /x\n{ }").await.unwrap();
        assert_ne!(a, other_body);
        let other_secret = other.fingerprint(purpose, b"POST /x\n{}").await.unwrap();
        assert_ne!(a, other_secret);
    }

    #[tokio::test]
    async fn a_short_or_missing_secret_seals_nothing() {
        let short = SealingSecret::fixed(b"too short");
        assert!(
            short
                .seal(Purpose::IdempotentAnswer, b"", b"x")
                .await
                .is_err()
        );
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let missing = SealingSecret::new(&sdk, None);
        let err = missing.fingerprint(Purpose::IdempotentRequest, b"x").await;
        assert!(err.is_err());
    }
}
