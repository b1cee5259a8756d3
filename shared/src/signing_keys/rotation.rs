//! The entry points of rotation: the `rotate-signing-key` function (Secrets Manager's steps, and an
//! operator's `RevokePrevious`), `local-gateway rotate-key [--revoke-previous]`, and the secrets'
//! creation for the local stack and the tests.

use super::secrets::{KeySecrets, RotationStep, StepReport};
use crate::error::{ApiError, ApiResult};
use serde::Deserialize;

/// What the rotation function is sent: Secrets Manager's step (`SecretId`, `ClientRequestToken`,
/// `Step`), which an operator may send with `RevokePrevious: true` on `finishSecret`; or, alone,
/// `{"SecretId", "RevokePrevious": true}`: retire the key that signed before the current one at
/// once (after a leak), instead of an hour after it stopped signing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub secret_id: String,
    pub client_request_token: String,
    pub step: RotationStep,
    #[serde(default, alias = "revoke_previous")]
    pub revoke_previous: bool,
}

/// An operator's revocation without a rotation step.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevokeEvent {
    secret_id: String,
    #[serde(alias = "revoke_previous")]
    revoke_previous: bool,
}

fn not_an_event(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("not a rotation event: {err}"))
}

/// The rotation function (`rotate-signing-key`): one step for the secret the event names, with
/// the public-key secret of the function's configuration, and the revocation it asks for.
pub async fn handle_rotation(
    app: &crate::app::App,
    event: serde_json::Value,
) -> ApiResult<StepReport> {
    let secrets = secrets_of(app)?;
    let now = app.now().unix_timestamp();
    if event.get("Step").is_none() {
        let event: RevokeEvent = serde_json::from_value(event).map_err(not_an_event)?;
        if !event.revoke_previous {
            return Err(not_an_event("neither a Step nor RevokePrevious"));
        }
        let report = secrets
            .for_signing_key(event.secret_id)
            .revoke_previous(now)
            .await?;
        app.keys.forget_cached().await;
        return Ok(report);
    }
    let event: RotationEvent = serde_json::from_value(event).map_err(not_an_event)?;
    if event.revoke_previous && event.step != RotationStep::FinishSecret {
        return Err(not_an_event(
            "RevokePrevious goes with finishSecret or alone",
        ));
    }
    let secrets = secrets.for_signing_key(event.secret_id);
    let mut report = secrets
        .rotation_step(&event.client_request_token, event.step, now)
        .await?;
    if event.revoke_previous {
        let revoked = secrets.revoke_previous(now).await?;
        report.changed |= revoked.changed;
        report.revoked = revoked.revoked;
        app.keys.forget_cached().await;
    }
    Ok(report)
}

/// The secrets `app` reads its keys from; an error where the keys are fixed by the environment.
fn secrets_of(app: &crate::app::App) -> ApiResult<&KeySecrets> {
    app.keys
        .secrets()
        .ok_or_else(|| ApiError::internal("ROSTER_PUBLIC_KEYS_SECRET is not set"))
}

/// `local-gateway rotate-key`: the four rotation steps, as Secrets Manager runs them on schedule;
/// returns the new current key id.
pub async fn rotate(app: &crate::app::App) -> ApiResult<String> {
    secrets_of(app)?.rotate(app.now().unix_timestamp()).await
}

/// `local-gateway rotate-key --revoke-previous` (after the rotation): the key that signed before
/// the current one stops being published at once, and this process forgets the keys it cached
/// (other containers re-read within [`crate::tokens::UNKNOWN_KID_REREAD_SECONDS`] when they meet
/// a token of a key that no longer signs). Returns whether anything changed.
pub async fn revoke_previous(app: &crate::app::App) -> ApiResult<bool> {
    let report = secrets_of(app)?
        .revoke_previous(app.now().unix_timestamp())
        .await?;
    app.keys.forget_cached().await;
    Ok(report.changed)
}

/// `local-gateway serve --setup` and the tests: both secrets and a first key in the emulator,
/// where the keys come from secrets (nothing to do where they are fixed by the environment).
pub async fn create_secrets(app: &crate::app::App) -> ApiResult<()> {
    match app.keys.secrets() {
        Some(secrets) => secrets.ensure_created(app.now().unix_timestamp()).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_a_step_with_an_optional_revocation() {
        let event: RotationEvent = serde_json::from_value(serde_json::json!({
            "SecretId": "k", "ClientRequestToken": "t", "Step": "finishSecret",
            "RevokePrevious": true}))
        .unwrap();
        assert!(event.revoke_previous);
        let event: RotationEvent = serde_json::from_value(serde_json::json!({
            "SecretId": "k", "ClientRequestToken": "t", "Step": "createSecret"}))
        .unwrap();
        assert!(!event.revoke_previous);
        let alone: RevokeEvent = serde_json::from_value(serde_json::json!({
            "SecretId": "k", "revoke_previous": true}))
        .unwrap();
        assert!(alone.revoke_previous);
    }
}
