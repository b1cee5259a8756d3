//! The two secrets as Secrets Manager keeps them: reading the current signing key and the
//! published set, and each step of a rotation.

use super::keys::{KeyStage, PublicKeySet, PublishedKey, SigningKey};
use crate::error::{ApiError, ApiResult};
use crate::store::{RequestCounter, sdk_error};
use aws_sdk_secretsmanager::Client;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

pub const CURRENT: &str = "AWSCURRENT";
pub const PENDING: &str = "AWSPENDING";
pub const PREVIOUS: &str = "AWSPREVIOUS";

/// A version of the signing-key secret. The secret starts as `{}`, no key (template.yaml cannot
/// make an Ed25519 key): its first rotation makes one.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
}

/// What the signing-key secret holds before its first rotation.
pub const NO_KEY_YET: &str = "{}";

/// The two secrets (names or ARNs) and a client built on first use (a function's init makes no
/// network call, and builds nothing it may not need).
pub struct KeySecrets {
    /// The signing-key secret: set only where tokens are issued or keys rotated.
    signing_key: Option<String>,
    public_keys: String,
    sdk: aws_config::SdkConfig,
    counter: Option<RequestCounter>,
    client: OnceLock<Client>,
}

impl std::fmt::Debug for KeySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySecrets")
            .field("signing_key", &self.signing_key)
            .field("public_keys", &self.public_keys)
            .finish_non_exhaustive()
    }
}

impl KeySecrets {
    /// `counter`, if given, counts the requests sent to Secrets Manager (tests).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        signing_key: Option<String>,
        public_keys: String,
        counter: Option<RequestCounter>,
    ) -> Self {
        Self {
            signing_key,
            public_keys,
            sdk: sdk.clone(),
            counter,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            let mut config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk);
            if let Some(counter) = &self.counter {
                config = config.interceptor(counter.clone());
            }
            Client::from_conf(config.build())
        })
    }

    fn signing_key_secret(&self) -> ApiResult<&str> {
        self.signing_key
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function holds no signing key"))
    }

    /// The `AWSCURRENT` signing key: what issuers sign with. (Issuers may read no other stage.)
    pub async fn current_signing_key(&self) -> ApiResult<SigningKey> {
        self.current()
            .await?
            .ok_or_else(|| ApiError::internal("no signing key yet: the secret was never rotated"))
    }

    async fn current(&self) -> ApiResult<Option<SigningKey>> {
        let out = self
            .client()
            .get_secret_value()
            .secret_id(self.signing_key_secret()?)
            .version_stage(CURRENT)
            .send()
            .await
            .map_err(sdk_error)?;
        parse_stored(out.secret_string())
    }

    /// The keys verifiers accept.
    pub async fn public_keys(&self) -> ApiResult<PublicKeySet> {
        let out = self
            .client()
            .get_secret_value()
            .secret_id(&self.public_keys)
            .send()
            .await
            .map_err(sdk_error)?;
        serde_json::from_str(out.secret_string().unwrap_or_default())
            .map_err(|_| ApiError::internal("the public-key secret is not a key set"))
    }

    /// The signing-key secret's versions and their stages.
    async fn version_stages(&self) -> ApiResult<HashMap<String, Vec<String>>> {
        let out = self
            .client()
            .describe_secret()
            .secret_id(self.signing_key_secret()?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.version_ids_to_stages().cloned().unwrap_or_default())
    }

    /// The key of one version, or None if there is no such version or it holds no key.
    async fn version(&self, version_id: &str) -> ApiResult<Option<SigningKey>> {
        let out = self
            .client()
            .get_secret_value()
            .secret_id(self.signing_key_secret()?)
            .version_id(version_id)
            .send()
            .await;
        match out {
            Ok(out) => parse_stored(out.secret_string()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    /// Rebuilds the public set from the signing-key secret's stages and writes it if it changed;
    /// returns whether it did. A previous key keeps the time it stopped signing, or takes `now`
    /// (epoch seconds) when it stops now.
    async fn publish(&self, now: i64) -> ApiResult<bool> {
        let stages = self.version_stages().await?;
        let published = self.public_keys().await.ok();
        let mut keys = Vec::new();
        for (label, stage) in [
            (CURRENT, KeyStage::Current),
            (PENDING, KeyStage::Pending),
            (PREVIOUS, KeyStage::Previous),
        ] {
            let Some(version_id) = holder(&stages, label) else {
                continue;
            };
            // The version a finished rotation made current keeps its AWSPENDING label until the
            // next rotation: it is published once, as current.
            if stage != KeyStage::Current && holder(&stages, CURRENT) == Some(version_id) {
                continue;
            }
            if let Some(key) = self.version(version_id).await? {
                let retired_at = (stage == KeyStage::Previous).then(|| {
                    published
                        .as_ref()
                        .and_then(|set| set.keys.iter().find(|k| k.key.kid == key.kid()))
                        .and_then(|k| k.retired_at)
                        .unwrap_or(now)
                });
                keys.push(PublishedKey {
                    key: key.public().clone(),
                    stage,
                    retired_at,
                });
            }
        }
        let set = PublicKeySet { keys };
        if published.as_ref() == Some(&set) {
            return Ok(false);
        }
        self.client()
            .put_secret_value()
            .secret_id(&self.public_keys)
            .secret_string(serde_json::to_string(&set).map_err(ApiError::internal)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(true)
    }

    /// Creates both secrets where they do not exist and, if there is no current key yet, makes
    /// one by a rotation. For the local stack and the tests; on AWS, template.yaml declares the
    /// secrets and their rotation schedule rotates once at creation.
    pub async fn ensure_created(&self, now: i64) -> ApiResult<()> {
        for (name, initial) in [
            (self.signing_key_secret()?, NO_KEY_YET.to_string()),
            (
                self.public_keys.as_str(),
                serde_json::to_string(&PublicKeySet::default()).map_err(ApiError::internal)?,
            ),
        ] {
            let created = self
                .client()
                .create_secret()
                .name(name)
                .secret_string(initial)
                .send()
                .await;
            if let Err(err) = created
                && !err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception())
            {
                return Err(sdk_error(err));
            }
        }
        if self.current().await?.is_none() {
            self.rotate(now).await?;
        }
        Ok(())
    }

    /// Runs the four rotation steps under a fresh ClientRequestToken, as Secrets Manager does on
    /// schedule (`local-gateway rotate-key`); returns the new current key id. `now`: epoch
    /// seconds, when the old key stops signing.
    pub async fn rotate(&self, now: i64) -> ApiResult<String> {
        let token = uuid::Uuid::now_v7().to_string();
        let mut kid = String::new();
        for step in [
            RotationStep::CreateSecret,
            RotationStep::SetSecret,
            RotationStep::TestSecret,
            RotationStep::FinishSecret,
        ] {
            kid = self.rotation_step(&token, step, now).await?.kid;
        }
        Ok(kid)
    }

    /// One rotation step for the version `token`, at `now` (epoch seconds). Rerunning a step with
    /// the same token changes nothing more (Secrets Manager retries steps).
    pub async fn rotation_step(
        &self,
        token: &str,
        step: RotationStep,
        now: i64,
    ) -> ApiResult<StepReport> {
        let stages = self.version_stages().await?;
        let staged = |label: &str| {
            stages
                .get(token)
                .is_some_and(|s| s.iter().any(|l| l == label))
        };
        let already_current = staged(CURRENT);
        if step != RotationStep::CreateSecret && !already_current && !staged(PENDING) {
            return Err(ApiError::internal(format!(
                "{step:?}: version {token} is not pending"
            )));
        }
        let changed = match step {
            RotationStep::CreateSecret if already_current => false,
            RotationStep::CreateSecret => self.create_pending(token).await?,
            RotationStep::SetSecret => self.publish(now).await?,
            RotationStep::TestSecret => false,
            RotationStep::FinishSecret => {
                let moved = match holder(&stages, CURRENT) {
                    Some(current) if current == token => false,
                    current => {
                        self.client()
                            .update_secret_version_stage()
                            .secret_id(self.signing_key_secret()?)
                            .version_stage(CURRENT)
                            .move_to_version_id(token)
                            .set_remove_from_version_id(current.map(str::to_string))
                            .send()
                            .await
                            .map_err(sdk_error)?;
                        true
                    }
                };
                self.publish(now).await? || moved
            }
        };
        let key = self
            .version(token)
            .await?
            .ok_or_else(|| ApiError::internal(format!("version {token} holds no key")))?;
        if step == RotationStep::TestSecret {
            self.test_published(&key).await?;
        }
        tracing::info!(?step, kid = key.kid(), changed, "signing key rotation step");
        Ok(StepReport {
            step: Some(step),
            kid: key.kid().to_string(),
            changed,
            revoked: None,
        })
    }

    /// Retires the key that signed before the current one at once: its `AWSPREVIOUS` label goes
    /// (so no later publication brings it back) and the set is published without it. Reports the
    /// current key and the one revoked; a rerun changes nothing.
    pub async fn revoke_previous(&self, now: i64) -> ApiResult<StepReport> {
        let stages = self.version_stages().await?;
        let current = holder(&stages, CURRENT)
            .ok_or_else(|| ApiError::internal("no signing key yet: nothing to revoke"))?;
        let mut revoked = None;
        if let Some(previous) = holder(&stages, PREVIOUS).filter(|p| *p != current) {
            revoked = self.version(previous).await?.map(|k| k.kid().to_string());
            self.client()
                .update_secret_version_stage()
                .secret_id(self.signing_key_secret()?)
                .version_stage(PREVIOUS)
                .remove_from_version_id(previous)
                .send()
                .await
                .map_err(sdk_error)?;
        }
        let published = self.publish(now).await?;
        let key = self
            .version(current)
            .await?
            .ok_or_else(|| ApiError::internal("the current version holds no key"))?;
        tracing::info!(kid = key.kid(), ?revoked, "previous signing key revoked");
        Ok(StepReport {
            step: None,
            kid: key.kid().to_string(),
            changed: revoked.is_some() || published,
            revoked,
        })
    }

    /// createSecret: a new key as AWSPENDING under `token`, unless that version exists.
    async fn create_pending(&self, token: &str) -> ApiResult<bool> {
        if self.version(token).await?.is_some() {
            return Ok(false);
        }
        let key = SigningKey::generate()?;
        let stored = serde_json::to_string(&StoredKey {
            private_key: Some(key.pkcs8_base64()),
        })
        .map_err(ApiError::internal)?;
        self.client()
            .put_secret_value()
            .secret_id(self.signing_key_secret()?)
            .client_request_token(token)
            .secret_string(stored)
            .version_stages(PENDING)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(true)
    }

    /// testSecret: the key signs a probe that its published public half verifies.
    async fn test_published(&self, key: &SigningKey) -> ApiResult<()> {
        let set = self.public_keys().await?;
        let published = set
            .find(key.kid())
            .ok_or_else(|| ApiError::internal(format!("key {} is not published", key.kid())))?;
        let probe = crate::crypto::random_bytes::<32>();
        if !published.verifies(&probe, &key.sign(&probe)?) {
            return Err(ApiError::internal(format!(
                "the published key {} does not verify its private key's signature",
                key.kid()
            )));
        }
        Ok(())
    }
}

fn parse_stored(secret: Option<&str>) -> ApiResult<Option<SigningKey>> {
    let stored: StoredKey = serde_json::from_str(secret.unwrap_or_default())
        .map_err(|_| ApiError::internal("a signing-key secret version is not a stored key"))?;
    stored
        .private_key
        .as_deref()
        .map(SigningKey::from_pkcs8_base64)
        .transpose()
}

/// The version holding `label`.
fn holder<'a>(stages: &'a HashMap<String, Vec<String>>, label: &str) -> Option<&'a str> {
    stages
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| l == label))
        .map(|(id, _)| id.as_str())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationStep {
    #[serde(rename = "createSecret")]
    CreateSecret,
    #[serde(rename = "setSecret")]
    SetSecret,
    #[serde(rename = "testSecret")]
    TestSecret,
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

/// What a step did (key ids only, never key material).
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The rotation step; none for a revocation alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<RotationStep>,
    /// The key that signs now (for a step: the version it was run for).
    pub kid: String,
    /// Whether the step wrote anything (false on a rerun).
    pub changed: bool,
    /// The key a revocation retired at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

impl KeySecrets {
    /// The same secrets client and public-key secret, for the signing-key secret `secret_id`.
    pub(super) fn for_signing_key(&self, secret_id: String) -> Self {
        Self {
            signing_key: Some(secret_id),
            public_keys: self.public_keys.clone(),
            sdk: self.sdk.clone(),
            counter: self.counter.clone(),
            client: self.client.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing_keys::{RETIRED_KEY_SECONDS, RotationEvent};

    #[test]
    fn a_key_round_trips_through_its_stored_form() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8_base64(&key.pkcs8_base64()).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(key.kid().len(), 16);
        assert!(!format!("{key:?}").contains(&key.pkcs8_base64()));
    }

    #[test]
    fn the_published_half_verifies_only_its_own_key() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let probe = b"probe";
        let signature = key.sign(probe).unwrap();
        assert!(key.public().verifies(probe, &signature));
        assert!(!other.public().verifies(probe, &signature));
    }

    #[test]
    fn a_previous_key_is_published_for_an_hour_after_it_stopped_signing() {
        let key = |stage, retired_at| PublishedKey {
            key: SigningKey::generate().unwrap().public().clone(),
            stage,
            retired_at,
        };
        let set = PublicKeySet {
            keys: vec![
                key(KeyStage::Current, None),
                key(KeyStage::Previous, Some(1_000)),
            ],
        };
        let at = |now| set.published(now).count();
        assert_eq!(at(1_000 + RETIRED_KEY_SECONDS - 1), 2);
        assert_eq!(at(1_000 + RETIRED_KEY_SECONDS), 1);
        // A set written before the time was recorded keeps its previous key until republished.
        let old: PublicKeySet = serde_json::from_value(serde_json::json!({"keys": [
            {"kid": "k", "x": "x", "stage": "previous"}]}))
        .unwrap();
        assert_eq!(old.published(i64::MAX).count(), 1);
    }

    #[test]
    fn the_set_serialises_as_flat_keys_with_their_stage() {
        let key = SigningKey::generate().unwrap();
        let set = PublicKeySet {
            keys: vec![PublishedKey {
                key: key.public().clone(),
                stage: KeyStage::Current,
                retired_at: None,
            }],
        };
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(json["keys"][0]["kid"], key.kid());
        assert_eq!(json["keys"][0]["stage"], "current");
        assert_eq!(set.current(), Some(key.public()));
        let event: RotationEvent = serde_json::from_value(serde_json::json!({
            "SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k",
            "ClientRequestToken": "t", "Step": "testSecret"}))
        .unwrap();
        assert_eq!(event.step, RotationStep::TestSecret);
    }
}
