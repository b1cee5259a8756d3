//! API clients ("APIC"): machine clients of one tenant with chosen permissions. The secret is shown
//! once at creation and stored as its SHA-256 (it carries 256 random bits, so a fast hash is
//! enough); clients trade it for a 15-minute access token (client-credentials grant). Members a
//! client creates carry source `api` and its id.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::limits::{self, Counter};
pub use crate::model::ApiClient;
use crate::model::keys::{GSI1, Key, api_clients_of};
use crate::model::roles::{Permission, Permissions};
use crate::model::{List, PageParams, Tenant};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, from_item, to_item};
use crate::tokens::{ACCESS_TOKEN_SECONDS, Grant, TokenScope};
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct ApiClientView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub permissions: Permissions,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Uuid,
    /// Only in the answer to the creation: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<&ApiClient> for ApiClientView {
    fn from(c: &ApiClient) -> Self {
        Self {
            id: c.id,
            tenant_id: c.tenant_id,
            name: c.name.clone(),
            permissions: c.permissions.clone(),
            created_at: c.created_at,
            created_by: c.created_by,
            client_secret: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiClient {
    pub name: String,
    pub permissions: Permissions,
}

pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateApiClient,
) -> ApiResult<ApiClientView> {
    let mut checks = Checks::new();
    let name = validate::text(&mut checks, "name", &input.name, validate::MAX_NAME);
    if input.permissions.allows(Permission::CustomersWrite)
        || input.permissions.allows(Permission::ApiClientsWrite)
    {
        checks.fail(
            "permissions",
            "API clients cannot manage customers or other API clients",
        );
    }
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
    // A caller grants only what it holds.
    if !access.caller.permissions().covers(&input.permissions) {
        return Err(ApiError::Forbidden(
            "a caller cannot grant permissions it does not hold",
        ));
    }
    let secret = crypto::new_token();
    let client = ApiClient {
        id: Uuid::now_v7(),
        tenant_id,
        name,
        permissions: input.permissions,
        secret_hash: crypto::token_hash(&secret),
        created_at: app.now(),
        created_by: access.caller.user_id,
    };
    let mut view = ApiClientView::from(&client);
    let mut tx = Transaction::new();
    tx.put(
        to_item(
            &client,
            &Key::api_client(client.id),
            &[
                (GSI1.pk, api_clients_of(tenant_id)),
                (GSI1.sk, client.id.to_string()),
            ],
        )?,
        Some((
            Condition::absent(),
            ApiError::internal("client id collision"),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "api_client.create",
            target_type: "api_client",
            target_id: client.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    let event = EventType::ApiClientCreated;
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await?;
    view.client_secret = Some(secret);
    Ok(view)
}

pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<ApiClientView>> {
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
        .query(Query::new(Some(GSI1), api_clients_of(tenant_id), SortRange::All).page(&page))
        .await?
        .into_list(|c: ApiClient| ApiClientView::from(&c))
}

/// Deletes a client: its tokens stop working at their next request.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    client_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let client = batch.read::<ApiClient>(Key::api_client(client_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ApiClientsWrite),
        batch,
    )
    .await?;
    tenant.feature_flags.require_api_access()?;
    let client = read.take(client)?.ok_or(ApiError::NotFound)?;
    if client.tenant_id != tenant_id {
        return Err(ApiError::NotFound);
    }
    let mut tx = Transaction::new();
    tx.delete(
        &Key::api_client(client_id),
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "api_client.delete",
            target_type: "api_client",
            target_id: client_id,
            before: audit::snapshot(&ApiClientView::from(&client)),
            after: None,
        },
    )?;
    let view = ApiClientView::from(&client);
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant_id,
        EventType::ApiClientDeleted,
        &view,
    )?;
    app.store.transact(tx).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// The client-credentials grant. Unknown clients and wrong secrets answer the same 401, and
/// count against the caller's address: past the limit, every grant from it answers 429.
pub async fn token(
    app: &App,
    requester: &Requester,
    input: TokenRequest,
) -> ApiResult<TokenResponse> {
    if input.grant_type != "client_credentials" {
        return Err(ApiError::invalid(
            "grant_type",
            "must be client_credentials",
        ));
    }
    let failures = [Counter::client_grant_address(
        &app.config.limits,
        requester.origin.source_ip.as_deref(),
    )];
    let client_id = Uuid::parse_str(&input.client_id).ok();
    let mut keys = failures[0].keys(app.now()).to_vec();
    keys.extend(client_id.map(Key::api_client));
    let mut items = app.store.get_many(&keys).await?;
    limits::check(app, &failures, &items)?;
    let client: Option<ApiClient> = match client_id {
        Some(_) => items.pop().flatten().map(from_item).transpose()?,
        None => None,
    };
    let presented = crypto::token_hash(&input.client_secret);
    let client = client.filter(|c| {
        input.client_secret.len() <= 256
            && crate::crypto::constant_time_eq(presented.as_bytes(), c.secret_hash.as_bytes())
    });
    let Some(client) = client else {
        limits::count_failure(app, &failures).await?;
        return Err(ApiError::Unauthorized);
    };
    // Read only once the secret is proven, so nobody learns a tenant's features by guessing.
    let tenant: Tenant = from_item(
        app.store
            .get(&Key::tenant(client.tenant_id))
            .await?
            .ok_or(ApiError::Unauthorized)?,
    )?;
    // A deleting tenant issues nothing: its client is answered as a deleted tenant's, which is
    // gone. (A tenant set deleting after this read gets a token none of its routes take.)
    let grant = Grant::in_tenant(&tenant, client.id, TokenScope::ApiClient)?;
    tenant.feature_flags.require_api_access()?;
    let access_token = app.keys.issue(app.now(), &grant).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
    })
}
