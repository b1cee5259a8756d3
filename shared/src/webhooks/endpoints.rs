//! The endpoints' routes (`webhooks.write`): create one (its signing secret answered once), list,
//! read, change (enabling one Roster disabled starts it afresh), delete, and rotate its secret
//! (the old one keeps signing beside the new one for 24 hours, so receivers can switch).

use super::address::allowed;
use super::{Endpoint, EndpointView, SigningSecret, signing};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::EventType;
use crate::model::keys::{Key, WEBHOOK_PREFIX, tenant_partition};
use crate::model::roles::Permission;
use crate::model::{List, PageParams};
use crate::sealing::Purpose;
use crate::store::{Batch, Condition, Query, SortRange, Transaction, from_item};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Endpoints a tenant may have.
pub const MAX_ENDPOINTS: u64 = 20;

/// How long a rotated-out secret keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub url: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An endpoint's URL: `https` (or, where the deployment allows it, `http`), a host, no user
/// name or password; a literal address must be one deliveries may go to. Names are checked
/// again at each delivery, when they are resolved.
fn url(checks: &mut Checks, field: &str, raw: &str, allow_local: bool) -> String {
    let raw = raw.trim();
    let parsed = (raw.len() <= MAX_URL)
        .then(|| raw.parse::<hyper::Uri>().ok())
        .flatten();
    let Some(uri) = parsed else {
        checks.fail(
            field,
            format!("must be an absolute URL of at most {MAX_URL} characters"),
        );
        return String::new();
    };
    let scheme_ok = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => allow_local,
        _ => false,
    };
    if !scheme_ok {
        checks.fail(field, "must be an https URL");
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    match uri.host() {
        None => checks.fail(field, "must name a host"),
        Some(_) if authority.contains('@') => checks.fail(field, "must not carry a user name"),
        Some(host) => {
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            let ip = literal.parse::<std::net::IpAddr>();
            if ip.is_ok_and(|ip| !allowed(ip, allow_local)) {
                checks.fail(field, "must not point at a private or reserved address");
            }
        }
    }
    raw.to_string()
}

fn event_types(checks: &mut Checks, names: &[String]) -> Vec<EventType> {
    let mut types = Vec::new();
    for name in names {
        match EventType::parse(name) {
            Some(t) if !types.contains(&t) => types.push(t),
            Some(_) => {}
            None => checks.fail("event_types", format!("`{name}` is not an event type")),
        }
    }
    types
}

fn description(checks: &mut Checks, text: Option<String>) -> Option<String> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_DESCRIPTION)
    {
        checks.fail(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
    }
    text
}

async fn authorized(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<Access> {
    let need = Need::Permission(Permission::WebhooksWrite);
    Ok(authorize(app, requester, tenant_id, need, Batch::new())
        .await?
        .0)
}

/// A new secret for `endpoint_id`, and how it is kept.
async fn new_secret(
    app: &App,
    endpoint: &Endpoint,
    now: OffsetDateTime,
) -> ApiResult<(String, SigningSecret)> {
    let secret = signing::new_secret();
    let sealed = app
        .sealing
        .seal(
            Purpose::WebhookSecret,
            &context(endpoint),
            secret.as_bytes(),
        )
        .await?;
    let kept = SigningSecret {
        sealed: STANDARD.encode(sealed),
        created_at: now,
        retires_at: None,
    };
    Ok((secret, kept))
}

/// What a sealed secret is bound to: its tenant and endpoint.
fn context(endpoint: &Endpoint) -> Vec<u8> {
    [
        endpoint.tenant_id.as_bytes().as_slice(),
        endpoint.id.as_bytes().as_slice(),
    ]
    .concat()
}

/// The secrets that sign a delivery at `now`, opened.
pub(crate) async fn signing_secrets(
    app: &App,
    endpoint: &Endpoint,
    now: OffsetDateTime,
) -> ApiResult<Vec<String>> {
    let mut open = Vec::new();
    for secret in endpoint.live_secrets(now) {
        let sealed = STANDARD
            .decode(&secret.sealed)
            .map_err(ApiError::internal)?;
        let plain = app
            .sealing
            .open(Purpose::WebhookSecret, &context(endpoint), &sealed)
            .await?;
        open.push(String::from_utf8(plain).map_err(ApiError::internal)?);
    }
    Ok(open)
}

fn endpoints_of(tenant_id: Uuid) -> Query {
    Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(WEBHOOK_PREFIX.into()),
    )
}

/// The tenant's endpoints (for delivery: no caller).
pub(crate) async fn all_of(app: &App, tenant_id: Uuid) -> ApiResult<Vec<Endpoint>> {
    let items = app.store.query_all(endpoints_of(tenant_id)).await?;
    items.into_iter().map(from_item).collect()
}

pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: NewEndpoint,
) -> ApiResult<EndpointView> {
    let mut checks = Checks::new();
    let allow_local = app.config.webhooks_allow_local;
    let url = url(&mut checks, "url", &input.url, allow_local);
    let types = event_types(&mut checks, &input.event_types);
    let description = description(&mut checks, input.description);
    checks.finish()?;
    let access = authorized(app, requester, tenant_id).await?;
    if app.store.count(endpoints_of(tenant_id)).await? >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let now = app.now();
    let mut endpoint = Endpoint {
        id: Uuid::now_v7(),
        tenant_id,
        url,
        event_types: types,
        description,
        enabled: input.enabled.unwrap_or(true),
        disabled_reason: None,
        failing_since: None,
        secrets: Vec::new(),
        created_at: now,
        updated_at: now,
        created_by: access.caller.user_id,
        version: 1,
    };
    let (secret, kept) = new_secret(app, &endpoint, now).await?;
    endpoint.secrets.push(kept);
    let mut view = EndpointView::from(&endpoint);
    write(app, &access, None, &endpoint, "webhook.create").await?;
    view.secret = Some(secret);
    Ok(view)
}

/// One transaction: the endpoint (new, or at the version read) and its audit entry.
async fn write(
    app: &App,
    access: &Access,
    before: Option<&Endpoint>,
    after: &Endpoint,
    action: &str,
) -> ApiResult<()> {
    let mut tx = Transaction::new();
    let condition = match before {
        None => Condition::absent(),
        Some(b) => Condition::version_is(b.version),
    };
    let changed = ApiError::Conflict("the endpoint changed at the same time; retry".into());
    tx.put(after.item()?, Some((condition, changed)))?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id: after.tenant_id,
            action,
            target_type: "webhook",
            target_id: after.id,
            before: before.and_then(|b| audit::snapshot(&EndpointView::from(b))),
            after: audit::snapshot(&EndpointView::from(after)),
        },
    )?;
    app.store.transact(tx).await
}

pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<EndpointView>> {
    authorized(app, requester, tenant_id).await?;
    let page = app.store.query(endpoints_of(tenant_id).page(&page)).await?;
    let items = page
        .items
        .into_iter()
        .map(|item| from_item::<Endpoint>(item).map(|e| EndpointView::from(&e)))
        .collect::<ApiResult<_>>()?;
    Ok(List {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The endpoint, for a caller cleared to manage the tenant's webhooks.
pub(crate) async fn read(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
) -> ApiResult<(Access, Endpoint)> {
    let mut batch = Batch::new();
    let slot = batch.read::<Endpoint>(Key::webhook(tenant_id, endpoint_id));
    let need = Need::Permission(Permission::WebhooksWrite);
    let (access, mut read) = authorize(app, requester, tenant_id, need, batch).await?;
    let endpoint = read.take(slot)?.ok_or(ApiError::NotFound)?;
    Ok((access, endpoint))
}

pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
) -> ApiResult<EndpointView> {
    let (_, endpoint) = read(app, requester, tenant_id, endpoint_id).await?;
    Ok(EndpointView::from(&endpoint))
}

pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    patch: EndpointPatch,
) -> ApiResult<EndpointView> {
    let mut checks = Checks::new();
    let allow_local = app.config.webhooks_allow_local;
    let url = patch.url.map(|u| url(&mut checks, "url", &u, allow_local));
    let types = patch.event_types.map(|t| event_types(&mut checks, &t));
    let description = patch.description.map(|d| description(&mut checks, d));
    checks.finish()?;
    let (access, before) = read(app, requester, tenant_id, endpoint_id).await?;
    let mut after = before.clone();
    after.url = url.unwrap_or(after.url);
    after.event_types = types.unwrap_or(after.event_types);
    after.description = description.unwrap_or(after.description);
    if let Some(enabled) = patch.enabled {
        if enabled && !before.enabled {
            // Enabled again by a person: it starts afresh.
            after.disabled_reason = None;
            after.failing_since = None;
        }
        after.enabled = enabled;
    }
    after.updated_at = app.now();
    after.version += 1;
    write(app, &access, Some(&before), &after, "webhook.update").await?;
    Ok(EndpointView::from(&after))
}

pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
) -> ApiResult<()> {
    let (access, endpoint) = read(app, requester, tenant_id, endpoint_id).await?;
    let mut tx = Transaction::new();
    tx.delete(
        &endpoint.key(),
        Some((Condition::exists(), ApiError::NotFound)),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "webhook.delete",
            target_type: "webhook",
            target_id: endpoint_id,
            before: audit::snapshot(&EndpointView::from(&endpoint)),
            after: None,
        },
    )?;
    app.store.transact(tx).await
}

/// A new secret, answered once; the current one keeps signing beside it for
/// [`ROTATION_OVERLAP`], and any older one stops now.
pub async fn rotate_secret(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
) -> ApiResult<EndpointView> {
    let (access, before) = read(app, requester, tenant_id, endpoint_id).await?;
    let now = app.now();
    let mut after = before.clone();
    after.secrets = before
        .secrets
        .iter()
        .filter(|s| s.retires_at.is_none())
        .map(|s| SigningSecret {
            retires_at: Some(now + ROTATION_OVERLAP),
            ..s.clone()
        })
        .collect();
    let (secret, kept) = new_secret(app, &after, now).await?;
    after.secrets.push(kept);
    after.updated_at = now;
    after.version += 1;
    write(app, &access, Some(&before), &after, "webhook.rotate_secret").await?;
    let mut view = EndpointView::from(&after);
    view.secret = Some(secret);
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(raw: &str, allow_local: bool) -> Result<String, String> {
        let mut checks = Checks::new();
        let url = url(&mut checks, "url", raw, allow_local);
        checks.finish().map(|()| url).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn only_https_urls_of_hosts_that_may_be_public_are_taken() {
        assert!(checked("https://hooks.example.com/roster", false).is_ok());
        assert!(checked("https://93.184.216.34:8443/in", false).is_ok());
        for refused in [
            "http://hooks.example.com/roster",
            "ftp://hooks.example.com/",
            "https:///nohost",
            "hooks.example.com/roster",
            "https://user:pass@hooks.example.com/",
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://10.0.0.8/hook",
        ] {
            assert!(checked(refused, false).is_err(), "{refused}");
        }
        // The local stack and its tests: http and loopback, never private ranges.
        assert!(checked("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(checked("http://10.0.0.8/hook", true).is_err());
    }
}
