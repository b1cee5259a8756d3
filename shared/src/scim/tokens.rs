//! SCIM tokens: the static bearer tokens identity providers present on `/scim/v2/{tenant}`.
//! A token reads `scim.<token id>.<secret>`; only its SHA-256 is stored (it carries 256 random
//! bits, so a fast hash is enough), under its id, so checking one is a single read batched with
//! what the operation needs. Created, listed and revoked by `api_clients.write`, like API clients.
//!
//! A token carries permissions, chosen at creation from those its minter holds (SPEC §9.1; by
//! default `members.read`, `members.write`, `departments.write`): SCIM requests act with them, so
//! a token is never more than the person who made it. What the token "holds" in the targeting
//! rule of SPEC §8.2 is exactly this set, and a token is never an owner: it acts only on members
//! whose permissions it holds all of, and never on owners (see `members::policy::may_manage`).

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::model::keys::{GSI1, Key, scim_tokens_of};
use crate::model::roles::{Permission, Permissions};
pub use crate::model::scim_token::PresentedToken;
use crate::model::scim_token::{ScimToken, default_permissions};
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, from_item, to_item};
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct ScimTokenView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Uuid,
    pub permissions: Permissions,
    /// Only in the answer to the creation: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&ScimToken> for ScimTokenView {
    fn from(t: &ScimToken) -> Self {
        Self {
            id: t.id,
            tenant_id: t.tenant_id,
            label: t.label.clone(),
            created_at: t.created_at,
            created_by: t.created_by,
            permissions: t.permissions(),
            token: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    pub label: String,
    /// What the token acts with; the default set when absent.
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateScimToken,
) -> ApiResult<ScimTokenView> {
    let mut checks = Checks::new();
    let label = validate::text(&mut checks, "label", &input.label, validate::MAX_NAME);
    checks.finish()?;
    let (access, tenant, _) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ApiClientsWrite),
        Batch::new(),
    )
    .await?;
    tenant.feature_flags.require_api_access()?;
    // A caller gives only what it holds (as for API clients): a token never does what its
    // minter could not.
    let permissions = input.permissions.unwrap_or_else(default_permissions);
    if !access.caller.permissions().covers(&permissions) {
        return Err(ApiError::Forbidden(
            "a caller cannot give a SCIM token permissions it does not hold",
        ));
    }
    let id = Uuid::now_v7();
    let token = format!("scim.{id}.{}", crypto::new_token());
    let stored = ScimToken {
        id,
        tenant_id,
        label,
        token_hash: crypto::token_hash(&token),
        created_at: app.now(),
        created_by: access.caller.user_id,
        permissions: Some(permissions),
    };
    let mut view = ScimTokenView::from(&stored);
    let mut tx = Transaction::new();
    tx.put(
        to_item(
            &stored,
            &Key::scim_token(id),
            &[
                (GSI1.pk, scim_tokens_of(tenant_id)),
                (GSI1.sk, id.to_string()),
            ],
        )?,
        Some((
            Condition::absent(),
            ApiError::internal("token id collision"),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "scim_token.create",
            target_type: "scim_token",
            target_id: id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant_id,
        EventType::ScimTokenCreated,
        &view,
    )?;
    app.store.transact(tx).await?;
    view.token = Some(token);
    Ok(view)
}

pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<ScimTokenView>> {
    let (_, tenant, _) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ApiClientsWrite),
        Batch::new(),
    )
    .await?;
    tenant.feature_flags.require_api_access()?;
    app.store
        .query(Query::new(Some(GSI1), scim_tokens_of(tenant_id), SortRange::All).page(&page))
        .await?
        .into_list(|t: ScimToken| ScimTokenView::from(&t))
}

/// Whether the presented token is a live SCIM token (of any tenant: which tenant it may reach is
/// the operation's check). Entrypoints call it before reading anything of the request, so a
/// wrong token answers 401 whatever the body says.
pub async fn check(app: &App, presented: &PresentedToken) -> ApiResult<()> {
    let token_id = presented.token_id().ok_or(ApiError::Unauthorized)?;
    let stored: ScimToken = from_item(
        app.store
            .get(&Key::scim_token(token_id))
            .await?
            .ok_or(ApiError::Unauthorized)?,
    )?;
    if presented.proves(&stored) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Revokes a token: the identity provider's next request with it answers 401. Revoking needs no
/// feature: a tenant whose API access was switched off can still end its tokens.
pub async fn revoke(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    token_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let stored = batch.read::<ScimToken>(Key::scim_token(token_id));
    let (access, _, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ApiClientsWrite),
        batch,
    )
    .await?;
    let stored = read.take(stored)?.ok_or(ApiError::NotFound)?;
    if stored.tenant_id != tenant_id {
        return Err(ApiError::NotFound);
    }
    let mut tx = Transaction::new();
    tx.delete(
        &Key::scim_token(token_id),
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "scim_token.revoke",
            target_type: "scim_token",
            target_id: token_id,
            before: audit::snapshot(&ScimTokenView::from(&stored)),
            after: None,
        },
    )?;
    let view = ScimTokenView::from(&stored);
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant_id,
        EventType::ScimTokenDeleted,
        &view,
    )?;
    app.store.transact(tx).await
}
