//! Listing Users (`GET /Users`, and the Users of `POST /.search`) one page at a time (SPEC §9.1:
//! a list reads one page of the directory per request, O(page), not O(tenant)).
//!
//! SCIM pages by `startIndex`, an offset; DynamoDB pages by cursor (the last key read) and cannot
//! skip. An offset becomes a cursor through a small cursor cache: when a page of the directory
//! (gsi3 `DIR#<t>`, directory order) ends with more to come, the cursor where the next page starts
//! is kept under (token, startIndex of the next page) for an hour, in the tenant's partition (so
//! the tenant's purge takes it too). A walk (Okta's and Entra's imports ask startIndex 1,
//! 1+count, 1+2·count…) finds each page's cursor in the very read that authenticates it, reads
//! `count` members from there and keeps the next one: each member is read about once per walk,
//! and a page costs the same few requests whatever its startIndex. `totalResults` is the tenant's
//! member counter (active and disabled members: exactly the directory).
//!
//! Why a cache and not a position index: a member's position in directory order shifts whenever
//! a member before it is created, renamed, renumbered or deleted, so numbering positions would
//! rewrite O(tenant) items per change. A cursor kept for an hour is all a walk needs, costs one
//! small put per page, and goes stale harmlessly: a walk that overlaps changes may see a member
//! twice or miss one, as RFC 7644 §3.4.2.4 allows for index-based paging. The cache is keyed by
//! token (not filter: only unfiltered lists page through the directory), so one identity
//! provider's walks never move another's.
//!
//! A startIndex without a kept cursor (a client jumping ahead, another `count`, a walk resumed
//! after an hour) goes on from the nearest cursor kept below it, counting keys forward
//! (`Select COUNT`: one request per megabyte of members, nothing returned); one past the
//! directory's end answers an empty page without reading.
//!
//! Filters: `userName`, `externalId` or a work address pinned with `eq` are read through their
//! guard (one member). Any other filter would read every member to count `totalResults`, so it is
//! evaluated only on a directory of at most [`FILTER_SCAN_CAP`] members and answers 400 `tooMany`
//! on a larger one (RFC 7644 §3.12). A value longer than its attribute can ever be (so no key
//! could hold it) answers 400 `invalidFilter` before anything is read.

use super::filter;
use super::protocol::{Endpoint, ListQuery, page_response, paging, parse_filter, project};
use super::users::{MAX_IDENTIFIER, user_json};
use crate::app::App;
use crate::auth::{Need, PresentedToken, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::members::ScimGuard;
use crate::model::department::Department;
use crate::model::keys::{GSI3, Key, directory_partition, tenant_partition};
use crate::model::member::Member;
use crate::model::roles::Permission;
use crate::model::user::EmailGuard;
use crate::store::{Batch, Condition, Query, SortRange, from_item, to_item};
use crate::validate::MAX_EMAIL;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// Filters no index serves are evaluated on directories of at most this many members.
pub const FILTER_SCAN_CAP: usize = 1_000;
/// How long a page cursor is kept.
const CURSOR_SECONDS: i64 = 3_600;
/// Kept cursors looked at when a startIndex has none of its own (some may have expired).
const NEAREST_LOOKED_AT: u32 = 5;

/// One page of Users and how many there are in all.
pub(crate) struct UserPage {
    pub total: usize,
    pub resources: Vec<Value>,
}

/// Where a walk of the directory goes on: its `start_index`-th member comes after `cursor`.
#[derive(Debug, Serialize, Deserialize)]
struct KeptCursor {
    start_index: usize,
    cursor: String,
    /// Epoch seconds; DynamoDB deletes it late, so reads check it.
    ttl: i64,
}

/// The Users the query's filter matches from `start` (1-based), at most `count`, projected as it
/// asks, and their total.
pub(crate) async fn page(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    query: &ListQuery,
    (start, count): (usize, usize),
) -> ApiResult<UserPage> {
    let filter = parse_filter(query.filter.as_deref())?;
    if let Some(f) = &filter {
        fits_keys(f, None)?;
    }
    let (total, users) = match &filter {
        None => directory_page(app, requester, endpoint, start, count).await?,
        Some(f) => {
            let all = filtered(app, requester, endpoint, f).await?;
            let total = all.len();
            (total, all.into_iter().skip(start - 1).take(count).collect())
        }
    };
    let resources = users
        .into_iter()
        .map(|json| {
            project(
                json,
                query.attributes.as_deref(),
                query.excluded_attributes.as_deref(),
            )
        })
        .collect();
    Ok(UserPage { total, resources })
}

/// Whether a filter's values fit the attributes they compare (and so the keys those are found
/// by): a longer `userName`, `externalId` or address than any member can have is refused.
fn fits_keys(f: &filter::Filter, within: Option<&str>) -> ApiResult<()> {
    use filter::Filter;
    match f {
        Filter::Compare(path, _, Value::String(v)) => {
            let attr = within.unwrap_or(&path.attr);
            let sub = if within.is_some() {
                Some(path.attr.as_str())
            } else {
                path.sub.as_deref()
            };
            // A member nobody provisioned answers to its address as its userName.
            let max = match (attr, sub) {
                ("username", None) => Some(MAX_IDENTIFIER.max(MAX_EMAIL)),
                ("externalid", None) => Some(MAX_IDENTIFIER),
                ("emails", Some("value")) => Some(MAX_EMAIL),
                _ => None,
            };
            match max {
                Some(max) if v.chars().count() > max => Err(ApiError::Scim {
                    scim_type: "invalidFilter",
                    detail: format!("{attr} is at most {max} characters: no User has this value"),
                }),
                _ => Ok(()),
            }
        }
        Filter::Compare(..) | Filter::Present(_) => Ok(()),
        Filter::Has(path) => match &path.filter {
            Some(inner) => fits_keys(inner, Some(&path.attr)),
            None => Ok(()),
        },
        Filter::And(a, b) | Filter::Or(a, b) => {
            fits_keys(a, within)?;
            fits_keys(b, within)
        }
        Filter::Not(inner) => fits_keys(inner, within),
    }
}

/// Where a page starts: after a cursor (none: at the beginning), or past the directory's end.
enum Position {
    After(Option<String>),
    PastEnd,
}

/// A page of the unfiltered list: `count` members in directory order from `start`.
async fn directory_page(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    start: usize,
    count: usize,
) -> ApiResult<(usize, Vec<Value>)> {
    let tenant_id = endpoint.tenant_id;
    // The cursor kept for this page is read with the caller's token, in the same batch.
    let token_id = requester.scim.as_ref().and_then(PresentedToken::token_id);
    let mut batch = Batch::new();
    let kept = token_id
        .filter(|_| start > 1)
        .map(|t| batch.read::<KeptCursor>(Key::scim_page(tenant_id, t, start)));
    let (_, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersRead),
        batch,
    )
    .await?;
    let total = tenant.member_count as usize;
    if count == 0 || start > total {
        return Ok((total, Vec::new()));
    }
    let now = app.now().unix_timestamp();
    let kept = match kept {
        Some(slot) => read.take(slot)?,
        None => None,
    };
    let position = match kept.filter(|k| k.ttl > now) {
        _ if start == 1 => Position::After(None),
        Some(kept) => Position::After(Some(kept.cursor)),
        None => position(app, tenant_id, token_id, start, now).await?,
    };
    let Position::After(cursor) = position else {
        return Ok((total, Vec::new()));
    };
    let (members, next) = read_members(app, tenant_id, cursor, count).await?;
    if let (Some(next), Some(token_id)) = (next.filter(|_| members.len() == count), token_id) {
        keep(app, tenant_id, token_id, start + count, next, now).await?;
    }
    let departments = departments_of(app, &members, tenant.root_department_id).await?;
    let users = members
        .iter()
        .map(|m| user_json(m, departments.get(&m.department_id), endpoint))
        .collect();
    Ok((total, users))
}

/// Up to `count` members of the directory after `cursor`, and the cursor after the last one read
/// (None: the directory ended).
async fn read_members(
    app: &App,
    tenant_id: Uuid,
    cursor: Option<String>,
    count: usize,
) -> ApiResult<(Vec<Member>, Option<String>)> {
    let mut query = Query::new(Some(GSI3), directory_partition(tenant_id), SortRange::All);
    query.cursor = cursor;
    let mut members: Vec<Member> = Vec::with_capacity(count);
    loop {
        query.limit = u32::try_from(count - members.len()).unwrap_or(u32::MAX);
        let page = app.store.query(query.clone()).await?;
        for item in page.items {
            members.push(from_item(item)?);
        }
        match page.next_cursor {
            // A page cut short by DynamoDB's megabyte goes on.
            Some(next) if members.len() < count => query.cursor = Some(next),
            next => return Ok((members, next)),
        }
    }
}

/// Keeps where the page at `start_index` begins, for the walk's next request.
async fn keep(
    app: &App,
    tenant_id: Uuid,
    token_id: Uuid,
    start_index: usize,
    cursor: String,
    now: i64,
) -> ApiResult<()> {
    let kept = KeptCursor {
        start_index,
        cursor,
        ttl: now + CURSOR_SECONDS,
    };
    let key = Key::scim_page(tenant_id, token_id, start_index);
    app.store
        .put_if(to_item(&kept, &key, &[])?, Condition::default())
        .await?;
    Ok(())
}

/// Where the `start`-th member of the directory is when no cursor was kept for it: from the
/// nearest cursor kept below it (else the beginning), counted forward key by key.
async fn position(
    app: &App,
    tenant_id: Uuid,
    token_id: Option<Uuid>,
    start: usize,
    now: i64,
) -> ApiResult<Position> {
    let (mut at, mut cursor) = (1, None);
    if let Some(token_id) = token_id {
        let mut nearest = Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Between(
                Key::scim_page(tenant_id, token_id, 2).sk,
                Key::scim_page(tenant_id, token_id, start).sk,
            ),
        );
        nearest.newest_first = true;
        nearest.limit = NEAREST_LOOKED_AT;
        let page = app.store.query(nearest).await?;
        for item in page.items {
            let kept: KeptCursor = from_item(item)?;
            if kept.ttl > now {
                (at, cursor) = (kept.start_index, Some(kept.cursor));
                break;
            }
        }
    }
    let mut counting = Query::new(Some(GSI3), directory_partition(tenant_id), SortRange::All);
    counting.count_only = true;
    counting.cursor = cursor;
    let mut left = start - at;
    while left > 0 {
        counting.limit = u32::try_from(left).unwrap_or(u32::MAX);
        let page = app.store.query(counting.clone()).await?;
        left = left.saturating_sub(usize::try_from(page.count).unwrap_or(usize::MAX));
        match page.next_cursor {
            Some(next) => counting.cursor = Some(next),
            None => return Ok(Position::PastEnd),
        }
    }
    Ok(Position::After(counting.cursor))
}

/// The departments `members` are in (for their `department` path), in one batched read; not
/// `root`, whose members have no department path.
async fn departments_of(
    app: &App,
    members: &[Member],
    root: Uuid,
) -> ApiResult<HashMap<Uuid, Department>> {
    let mut ids: Vec<Uuid> = members
        .iter()
        .map(|m| m.department_id)
        .filter(|d| *d != root)
        .collect();
    ids.sort();
    ids.dedup();
    let Some(tenant_id) = members.first().map(|m| m.tenant_id) else {
        return Ok(HashMap::new());
    };
    let keys: Vec<Key> = ids.iter().map(|d| Key::department(tenant_id, *d)).collect();
    let mut found = HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    for item in app.store.get_many(&keys).await?.into_iter().flatten() {
        let department: Department = from_item(item)?;
        found.insert(department.id, department);
    }
    Ok(found)
}

/// The tenant's whole directory, for a filter no key answers: only on a directory of at most
/// [`FILTER_SCAN_CAP`] members (`tooMany` otherwise).
pub(super) async fn whole_directory(
    app: &App,
    tenant: &crate::model::Tenant,
) -> ApiResult<Vec<Member>> {
    if tenant.member_count as usize > FILTER_SCAN_CAP {
        return Err(too_many());
    }
    let whole = Query::new(Some(GSI3), directory_partition(tenant.id), SortRange::All);
    let items = app
        .store
        .query_up_to(whole, FILTER_SCAN_CAP)
        .await?
        .ok_or_else(too_many)?;
    items.into_iter().map(from_item).collect()
}

fn too_many() -> ApiError {
    ApiError::Scim {
        scim_type: "tooMany",
        detail: format!(
            "this filter is evaluated on directories of at most {FILTER_SCAN_CAP} members; \
             filter on userName, externalId or emails.value with eq, or page without a filter"
        ),
    }
}

/// Every User the filter matches (unprojected): the one a pinned value names, or those of a
/// directory small enough to read whole.
async fn filtered(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    filter: &filter::Filter,
) -> ApiResult<Vec<Value>> {
    let (_, tenant, _) = authorize_with_tenant(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::MembersRead),
        Batch::new(),
    )
    .await?;
    let (members, departments) = match pinned(app, tenant.id, filter).await? {
        Some(found) => {
            let members: Vec<Member> = found
                .into_iter()
                .filter(|m| m.status.in_directory())
                .collect();
            let departments = departments_of(app, &members, tenant.root_department_id).await?;
            (members, departments)
        }
        None => {
            let members = whole_directory(app, &tenant).await?;
            let departments = crate::departments::all(app, tenant.id)
                .await?
                .into_iter()
                .map(|d| (d.id, d))
                .collect();
            (members, departments)
        }
    };
    Ok(members
        .iter()
        .map(|m| user_json(m, departments.get(&m.department_id), endpoint))
        .filter(|json| filter.matches(json))
        .collect())
}

/// The member a filter pins by `userName`, `externalId` or a work address (`Some(None)`: nobody
/// has it), read through its guard; None when the filter pins none of them.
async fn pinned(
    app: &App,
    tenant_id: Uuid,
    filter: &filter::Filter,
) -> ApiResult<Option<Option<Member>>> {
    let by_guard = |key: Key| async move {
        let guard: Option<ScimGuard> = app.store.get(&key).await?.map(from_item).transpose()?;
        match guard {
            Some(g) => app
                .store
                .get(&Key::member(tenant_id, g.member_id))
                .await?
                .map(from_item::<Member>)
                .transpose(),
            None => Ok(None),
        }
    };
    let by_address = |address: String| async move {
        let guard: Option<EmailGuard> = app
            .store
            .get(&Key::email(&address.to_lowercase()))
            .await?
            .map(from_item)
            .transpose()?;
        match guard {
            Some(g) => crate::users::member_of(app, tenant_id, g.user_id).await,
            None => Ok(None),
        }
    };
    if let Some(user_name) = filter.pinned("username", None) {
        let found = match by_guard(Key::scim_user_name(tenant_id, user_name)).await? {
            Some(member) => Some(member),
            // A member nobody provisioned answers to its address as its userName.
            None if user_name.contains('@') => by_address(user_name.to_string())
                .await?
                .filter(|m| m.scim.is_none()),
            None => None,
        };
        return Ok(Some(found));
    }
    if let Some(external_id) = filter.pinned("externalid", None) {
        return Ok(Some(
            by_guard(Key::scim_external_id(tenant_id, external_id)).await?,
        ));
    }
    match filter.pinned("emails", Some("value")) {
        Some(address) => Ok(Some(by_address(address.to_string()).await?)),
        None => Ok(None),
    }
}

/// A page of Users (see above for how a page is found without reading the tenant).
pub async fn list(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    query: &ListQuery,
) -> ApiResult<Value> {
    let (start, count) = paging(query)?;
    let page = page(app, requester, endpoint, query, (start, count)).await?;
    Ok(page_response(page.total, page.resources, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(text: &str) -> bool {
        fits_keys(&filter::parse(text).unwrap(), None).is_ok()
    }

    #[test]
    fn values_longer_than_their_attribute_are_refused() {
        let long = |n: usize| "a".repeat(n);
        assert!(fits(&format!("userName eq \"{}@x.io\"", long(240))));
        assert!(!fits(&format!("userName eq \"{}@x.io\"", long(300))));
        assert!(!fits(&format!("externalId eq \"{}\"", long(201))));
        assert!(fits(&format!("externalId eq \"{}\"", long(200))));
        assert!(!fits(&format!(
            "active eq true and emails.value eq \"{}\"",
            long(255)
        )));
        assert!(!fits(&format!(
            "emails[type eq \"work\" and value eq \"{}\"]",
            long(255)
        )));
        assert!(!fits(&format!("not (userName sw \"{}\")", long(255))));
        assert!(fits(&format!("displayName eq \"{}\"", long(300))));
    }
}
