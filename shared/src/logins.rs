//! The sign-in log: every sign-in to a tenant, successful or not, with address and user agent.
//! Entries expire after a year (TTL).

use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Need, authenticate, authorize};
use crate::error::ApiResult;
use crate::model::keys::{GSI1, Key, login_partition, logins_of};
use crate::model::roles::Permission;
use crate::model::{List, PageParams};
use crate::store::{Batch, Query, SortRange, Transaction, from_item, to_item};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

const KEEP_DAYS: i64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    BadPassword,
    AccountDisabled,
    IpNotAllowed,
    PasswordExpired,
    /// Refused by an abuse limit before the password was even checked.
    RateLimited,
    /// The right password for an address nobody has proven yet.
    EmailUnverified,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginEntry {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub member_id: Uuid,
    pub email: String,
    pub success: bool,
    pub failure: Option<LoginFailure>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(skip_serializing)]
    #[serde(default)]
    pub ttl: i64,
}

impl LoginEntry {
    pub fn new(
        now: OffsetDateTime,
        requester: &Requester,
        member: &crate::model::member::Member,
        failure: Option<LoginFailure>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id: member.tenant_id,
            user_id: member.user_id,
            member_id: member.id,
            email: member.email.clone(),
            success: failure.is_none(),
            failure,
            source_ip: requester.origin.source_ip.clone(),
            user_agent: requester.origin.user_agent.clone(),
            at: now,
            ttl: (now + time::Duration::days(KEEP_DAYS)).unix_timestamp(),
        }
    }

    /// Adds the entry to `tx`.
    pub fn record(&self, tx: &mut Transaction) -> ApiResult<()> {
        let mut item = to_item(
            self,
            &Key::login_entry(self.tenant_id, self.id),
            &[
                (GSI1.pk, logins_of(self.user_id)),
                (GSI1.sk, self.id.to_string()),
            ],
        )?;
        item.insert("ttl".into(), crate::store::num(self.ttl));
        tx.put(item, None)
    }
}

fn page_of(
    app: &App,
    items: Vec<crate::store::Item>,
    next_cursor: Option<String>,
) -> ApiResult<List<LoginEntry>> {
    let now = app.now().unix_timestamp();
    Ok(List {
        items: items
            .into_iter()
            .map(from_item::<LoginEntry>)
            .collect::<ApiResult<Vec<_>>>()?
            .into_iter()
            .filter(|e| e.ttl == 0 || e.ttl > now)
            .collect(),
        next_cursor,
    })
}

/// A tenant's sign-ins, newest first (`audit.read`).
pub async fn for_tenant(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<LoginEntry>> {
    authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::AuditRead),
        Batch::new(),
    )
    .await?;
    let mut query = Query::new(None, login_partition(tenant_id), SortRange::All).page(&page);
    query.newest_first = true;
    let result = app.store.query(query).await?;
    page_of(app, result.items, result.next_cursor)
}

/// The caller's own sign-ins across tenants, newest first.
pub async fn mine(
    app: &App,
    requester: &Requester,
    page: PageParams,
) -> ApiResult<List<LoginEntry>> {
    let caller = authenticate(app, requester, Batch::new()).await?.caller;
    let mut query = Query::new(Some(GSI1), logins_of(caller.user_id), SortRange::All).page(&page);
    query.newest_first = true;
    let result = app.store.query(query).await?;
    page_of(app, result.items, result.next_cursor)
}
