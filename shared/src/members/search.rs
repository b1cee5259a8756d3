//! The directory and search, in the order asked for (`sort`, directory order by default) whatever
//! the scope, filtered to what the reader may filter by, and shown as the reader may see each
//! member.
//!
//! Each order has an index of the tenant's members (see [`Order`]). The whole directory pages
//! through it: one Query a page. A department (with or without its descendants) or a search
//! (`q`) is a scope read whole and sorted in memory when it is small enough:
//! - a department of up to [`SORTED_SCOPE_CAP`] members: its part of the tree index, one Query
//!   (the departments' counters decide first: no request for a department, one Query of the
//!   departments for a subtree);
//! - a search: its terms (one Query of up to 3,000) carry each member's place in directory and
//!   name order (and the member id its creation order), so they are sorted as they are and only
//!   the page's members are read (one BatchGetItem): SPEC §6's three requests. In sign-in
//!   order, or for terms written before they carried places, the members are read whole when
//!   the search names up to [`SORTED_SEARCH_CAP`] of them.
//!
//! A larger scope pages through the order's index instead, keeping the scope's members (pages may
//! then come back short; `next_cursor` goes on). Both ways the cursor is a key of the order's
//! index, so a list can change between pages and never repeats or skips a member.

use super::directory::{self, ContactRules, Listing, Reader};
use super::records::department_of;
use crate::app::App;
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::department::Department;
use crate::model::keys::{
    GSI2, GSI3, GSI4, GSI5, Index, Key, MEMBER_PREFIX, SK, directory_partition,
    last_login_partition, name_partition, search_partition, subtree_prefix, tenant_partition,
    tree_partition,
};
use crate::model::licence::LicenceFilter;
use crate::model::member::{DEFAULT_DIRECTORY_NUMBER, Member, MemberSource, MemberStatus, fold};
use crate::model::member::{SearchTerm, search_terms};
use crate::model::roles::Role;
use crate::model::{List, PageParams};
use crate::store::{Batch, Item, Query, SortRange, cursor_after, cursor_position, from_item};
use crate::validate;
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSort {
    Directory,
    Name,
    CreatedAt,
    /// Most recent sign-in first; members who never signed in last.
    LastLoginAt,
}

/// The directory and search.
#[derive(Debug, Default)]
pub struct MemberSearch {
    pub q: Option<String>,
    pub department_id: Option<String>,
    pub include_descendants: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
    pub source: Option<String>,
    pub licence: Option<String>,
    pub sort: Option<String>,
    pub position: Option<String>,
    pub location: Option<String>,
    pub work_number: Option<String>,
    pub directory_number_set: Option<String>,
}

/// How many members a department view reads whole to sort them (see the module's documentation).
pub const SORTED_SCOPE_CAP: usize = 1_000;

/// How many members a search reads whole to sort them: one BatchGetItem.
pub const SORTED_SEARCH_CAP: usize = 100;

/// How many search terms a search reads in its one Query (a term item is about 250 bytes with
/// its places, so this stays below the 1 MB a Query page holds).
const SEARCH_TERMS_READ: usize = 3_000;

/// A search's parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filters {
    /// The folded search text, if any.
    q: Option<String>,
    department_id: Option<Uuid>,
    descendants: bool,
    status: Option<MemberStatus>,
    role: Option<Role>,
    source: Option<MemberSource>,
    licence: Option<LicenceFilter>,
    sort: MemberSort,
    /// Exact matches, case ignored (held lowercase).
    position: Option<String>,
    location: Option<String>,
    work_number: Option<String>,
    /// Whether the directory number was set (differs from the default).
    directory_number_set: Option<bool>,
}

/// An exact-match filter's value: trimmed and lowercase; empty is no filter.
fn exact(value: Option<&str>) -> Option<String> {
    value
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty())
}

/// Whether a member's field holds the filter's value, case ignored.
fn holds(filter: Option<&str>, field: Option<&str>) -> bool {
    filter.is_none_or(|f| field.is_some_and(|v| v.trim().to_lowercase() == f))
}

fn parse_param<T: serde::de::DeserializeOwned>(
    checks: &mut Checks,
    field: &str,
    value: Option<&str>,
) -> Option<T> {
    let value = value?;
    match serde_json::from_value(serde_json::Value::String(value.into())) {
        Ok(v) => Some(v),
        Err(_) => {
            checks.fail(
                field,
                format!("\"{value}\" is not one of the accepted values"),
            );
            None
        }
    }
}

impl Filters {
    /// Checks every parameter (each bad one reported at once).
    fn parse(params: &MemberSearch) -> ApiResult<Self> {
        let mut checks = Checks::new();
        let q = params
            .q
            .as_deref()
            .map(|q| fold(q.trim()))
            .filter(|q| !q.is_empty());
        if q.as_ref()
            .is_some_and(|q| q.chars().count() > validate::MAX_NAME)
        {
            checks.fail("q", "must be at most 200 characters");
        }
        let department_id = match params.department_id.as_deref() {
            Some(raw) => match Uuid::parse_str(raw) {
                Ok(id) => Some(id),
                Err(_) => {
                    checks.fail("department_id", "must be a UUID");
                    None
                }
            },
            None => None,
        };
        let descendants = match params.include_descendants.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                checks.fail("include_descendants", "must be true or false");
                false
            }
        };
        let status = parse_param(&mut checks, "status", params.status.as_deref());
        match status {
            Some(MemberStatus::Deleted) => {
                checks.fail("status", "deleted members are in the recycle bin")
            }
            Some(MemberStatus::Pending | MemberStatus::Rejected) => checks.fail(
                "status",
                "join requests are listed at /v1/tenants/{tenant_id}/join-requests",
            ),
            _ => {}
        }
        let directory_number_set = match params.directory_number_set.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                checks.fail("directory_number_set", "must be true or false");
                None
            }
        };
        for (field, value) in [
            ("position", &params.position),
            ("location", &params.location),
            ("work_number", &params.work_number),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().count() > validate::MAX_SHORT_TEXT)
            {
                checks.fail(field, "is longer than any value it could match");
            }
        }
        let filters = Self {
            q,
            department_id,
            descendants,
            status,
            role: parse_param(&mut checks, "role", params.role.as_deref()),
            source: parse_param(&mut checks, "source", params.source.as_deref()),
            licence: parse_param(&mut checks, "licence", params.licence.as_deref()),
            sort: parse_param(&mut checks, "sort", params.sort.as_deref())
                .unwrap_or(MemberSort::Directory),
            position: exact(params.position.as_deref()),
            location: exact(params.location.as_deref()),
            work_number: exact(params.work_number.as_deref()),
            directory_number_set,
        };
        checks.finish()?;
        Ok(filters)
    }

    /// What a directory entry does not show, a colleague cannot filter or sort by either.
    fn admin_only(&self) -> bool {
        self.status.is_some()
            || self.role.is_some()
            || self.source.is_some()
            || self.licence.is_some()
            || matches!(self.sort, MemberSort::LastLoginAt | MemberSort::CreatedAt)
    }

    /// Whether `member` passes the filters: in the directory, and of the status, role, source,
    /// licence, position, location, work number and directory number asked for.
    fn wanted(&self, member: &Member, now: OffsetDateTime) -> bool {
        member.status.in_directory()
            && self.status.is_none_or(|s| member.status == s)
            && self.role.is_none_or(|r| member.role == r)
            && self.source.is_none_or(|s| member.source == s)
            && self
                .licence
                .is_none_or(|l| l.matches(member.licence.as_ref(), now))
            && holds(self.position.as_deref(), member.position.as_deref())
            && holds(self.location.as_deref(), member.location.as_deref())
            && holds(self.work_number.as_deref(), member.work_number.as_deref())
            && self
                .directory_number_set
                .is_none_or(|set| (member.directory_number != DEFAULT_DIRECTORY_NUMBER) == set)
    }

    /// Whether `member` (with its tree key) sits in `department`, or below it when descendants
    /// are asked for.
    fn in_department(
        &self,
        department: Option<&Department>,
        member: &Member,
        tree_key: Option<&str>,
    ) -> bool {
        match (department, tree_key) {
            (None, _) => true,
            (Some(d), _) if !self.descendants => member.department_id == d.id,
            (Some(d), Some(key)) => key.starts_with(&subtree_prefix(&d.id_path)),
            (Some(_), None) => false,
        }
    }

    /// The query of a department's part of the tree: its members, or its subtree's.
    fn department_query(&self, tenant_id: Uuid, d: &Department) -> Query {
        Query::new(
            Some(GSI2),
            tree_partition(tenant_id),
            SortRange::Prefix(if self.descendants {
                subtree_prefix(&d.id_path)
            } else {
                format!("{}/#", d.id_path)
            }),
        )
    }

    /// Whether `member`, found by the search `q` through `terms`, is one the reader may find:
    /// a colleague who may not see a member's email must not find them by it either (prefix
    /// searches would spell the address out).
    fn findable(scope: &Scope<'_>, member: &Member, terms: &[String]) -> bool {
        let email = fold(&member.email);
        terms.iter().any(|t| *t != email) || scope.rules.shows_contacts(scope.reader, member)
    }
}

/// An order of the tenant's members: the index that lists them so, its partition, and the
/// attribute holding a member's place in it.
#[derive(Debug, Clone)]
struct Order {
    index: Option<Index>,
    partition: String,
    range: SortRange,
    place: &'static str,
    newest_first: bool,
}

impl Order {
    fn of(sort: MemberSort, tenant_id: Uuid) -> Self {
        let by = |index: Index, partition: String| Self {
            index: Some(index),
            partition,
            range: SortRange::All,
            place: index.sk,
            newest_first: false,
        };
        match sort {
            MemberSort::Directory => by(GSI3, directory_partition(tenant_id)),
            MemberSort::Name => by(GSI4, name_partition(tenant_id)),
            MemberSort::LastLoginAt => Self {
                newest_first: true,
                ..by(GSI5, last_login_partition(tenant_id))
            },
            MemberSort::CreatedAt => Self {
                index: None,
                partition: tenant_partition(tenant_id),
                range: SortRange::Prefix(MEMBER_PREFIX.into()),
                place: SK,
                newest_first: false,
            },
        }
    }

    /// The query of the whole order.
    fn query(&self) -> Query {
        let mut q = Query::new(self.index, self.partition.clone(), self.range.clone());
        q.newest_first = self.newest_first;
        q
    }

    /// A member item's place in the order (absent: not listed in it).
    fn place_of<'i>(&self, item: &'i Item) -> Option<&'i str> {
        item.get(self.place)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }

    /// The place a cursor of this order points after.
    fn cursor_place(&self, cursor: &str) -> ApiResult<String> {
        let key = cursor_position(cursor, &self.partition, self.index)?;
        self.place_of(&key)
            .map(str::to_string)
            .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor of this list"))
    }

    /// The cursor after the member `member_id` of `tenant_id` at `place` in this order, as a
    /// page read from the order's index would give it.
    fn cursor_at(&self, tenant_id: Uuid, member_id: Uuid, place: &str) -> ApiResult<String> {
        let key = Key::member(tenant_id, member_id);
        let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
        let mut item: Item = key.to_item();
        if let Some(index) = self.index {
            item.insert(index.pk.to_string(), s(&self.partition));
            item.insert(index.sk.to_string(), s(place));
        }
        cursor_after(&item, self.index)
    }

    /// Whether place `a` comes before place `b`.
    fn before(&self, a: &str, b: &str) -> bool {
        if self.newest_first { a > b } else { a < b }
    }

    /// The page of `items` (the scope's members, in any order) after `cursor`, sorted, and the
    /// cursor of the next page. Items without a place in the order are left out.
    fn page_of(
        &self,
        mut items: Vec<Item>,
        page: &PageParams,
    ) -> ApiResult<(Vec<Item>, Option<String>)> {
        let after = match &page.cursor {
            Some(cursor) => Some(self.cursor_place(cursor)?),
            None => None,
        };
        items.retain(|item| {
            self.place_of(item)
                .is_some_and(|p| after.as_deref().is_none_or(|a| self.before(a, p)))
        });
        items.sort_by(|a, b| {
            let (a, b) = (self.place_of(a), self.place_of(b));
            if self.newest_first {
                b.cmp(&a)
            } else {
                a.cmp(&b)
            }
        });
        let limit = page.limit as usize;
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|last| cursor_after(last, self.index))
                .transpose()?
        } else {
            None
        };
        Ok((items, next))
    }
}

/// What a search reads with: the reader, the contact rules in force and the department asked
/// for.
struct Scope<'a> {
    reader: Reader,
    rules: &'a ContactRules,
    department: Option<&'a Department>,
    now: OffsetDateTime,
}

/// Search (`q`: a prefix of the email or of any word of the name, case and accents ignored) or
/// the directory, filtered and sorted. A search's first page is one query on the term partition
/// and one batched read of the members it names; a directory page is one index query.
pub async fn search(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    params: MemberSearch,
    page: PageParams,
) -> ApiResult<List<Listing>> {
    let filters = Filters::parse(&params)?;
    let now = app.now();
    let mut batch = Batch::new();
    let department = filters
        .department_id
        .map(|d| batch.read::<Department>(Key::department(tenant_id, d)));
    let (access, tenant, mut read) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, batch).await?;
    let reader = Reader::of(&access)?;
    if filters.admin_only() && !reader.is_admin() {
        return Err(directory::needs_members_read());
    }
    let rules = ContactRules::load(app, reader, &tenant).await?;
    let department = match department {
        Some(slot) => Some(department_of(read.take(slot)?, "department_id")?),
        None => None,
    };
    let scope = Scope {
        reader,
        rules: &rules,
        department: department.as_ref(),
        now,
    };
    let order = Order::of(filters.sort, tenant_id);
    if let Some(q) = &filters.q {
        return search_page(app, tenant_id, &filters, &scope, &order, q, &page).await;
    }
    let scope_items = match scope.department {
        None => None,
        Some(d) if scope_size(app, &filters, d).await? <= SORTED_SCOPE_CAP => {
            app.store
                .query_up_to(filters.department_query(tenant_id, d), SORTED_SCOPE_CAP)
                .await?
        }
        Some(_) => None,
    };
    match scope_items {
        Some(items) => sorted_page(&filters, &scope, &order, items, &page),
        None => index_page(app, &filters, &scope, &order, &page).await,
    }
}

/// How many members a department view holds, by the departments' counters: the department's
/// own (no request), or its subtree's (one Query of the departments), so a large scope is never
/// read only to learn it is too large.
async fn scope_size(app: &App, filters: &Filters, d: &Department) -> ApiResult<usize> {
    if !filters.descendants {
        return Ok(d.member_count as usize);
    }
    let below = subtree_prefix(&d.id_path);
    Ok(crate::departments::all(app, d.tenant_id)
        .await?
        .iter()
        .filter(|x| x.id == d.id || x.id_path.starts_with(&below))
        .map(|x| x.member_count as usize)
        .sum())
}

/// A page of the search `q`: one Query of the term partition, then
/// - when the terms carry the members' places in the order asked (directory, name and creation
///   order do), the terms sorted and one read of the page's members;
/// - otherwise (sign-in order, or terms written before they carried places) the members read
///   whole if there are at most [`SORTED_SEARCH_CAP`], else the order's index filtered.
async fn search_page(
    app: &App,
    tenant_id: Uuid,
    filters: &Filters,
    scope: &Scope<'_>,
    order: &Order,
    q: &str,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let terms = Query::new(
        None,
        search_partition(tenant_id, q),
        SortRange::Prefix(q.to_string()),
    );
    let Some(terms) = app.store.query_up_to(terms, SEARCH_TERMS_READ).await? else {
        return index_page(app, filters, scope, order, page).await;
    };
    let matched = matched_terms(terms)?;
    let placed: Option<Vec<(String, Uuid)>> = matched
        .iter()
        .map(|m| m.place(filters.sort).map(|place| (place, m.member_id)))
        .collect();
    if let Some(placed) = placed {
        return placed_page(app, tenant_id, filters, scope, order, placed, page).await;
    }
    if matched.len() > SORTED_SEARCH_CAP {
        return index_page(app, filters, scope, order, page).await;
    }
    let keys: Vec<Key> = matched
        .iter()
        .map(|m| Key::member(tenant_id, m.member_id))
        .collect();
    let items = app
        .store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .collect();
    sorted_page(filters, scope, order, items, page)
}

/// A page of search hits sorted by the places their terms carry: the page's members are read
/// (one BatchGetItem up to 100), then filtered, so a page may come back short.
async fn placed_page(
    app: &App,
    tenant_id: Uuid,
    filters: &Filters,
    scope: &Scope<'_>,
    order: &Order,
    mut placed: Vec<(String, Uuid)>,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let after = match &page.cursor {
        Some(cursor) => Some(order.cursor_place(cursor)?),
        None => None,
    };
    placed.retain(|(place, _)| after.as_deref().is_none_or(|a| order.before(a, place)));
    placed.sort();
    let limit = page.limit as usize;
    let next_cursor = match placed.get(limit.saturating_sub(1)) {
        Some((place, member)) if placed.len() > limit => {
            Some(order.cursor_at(tenant_id, *member, place)?)
        }
        _ => None,
    };
    placed.truncate(limit);
    let keys: Vec<Key> = placed
        .iter()
        .map(|(_, member)| Key::member(tenant_id, *member))
        .collect();
    let mut items = Vec::new();
    for item in app.store.get_many(&keys).await?.into_iter().flatten() {
        if let Some(member) = kept_member(filters, scope, &item)? {
            items.push(Listing::of(scope.reader, scope.rules, &member));
        }
    }
    Ok(List { items, next_cursor })
}

/// A page of a scope read whole: its members the filters keep, sorted, after the cursor.
fn sorted_page(
    filters: &Filters,
    scope: &Scope<'_>,
    order: &Order,
    items: Vec<Item>,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let mut kept = Vec::new();
    for item in items {
        if kept_member(filters, scope, &item)?.is_some() {
            kept.push(item);
        }
    }
    let (items, next_cursor) = order.page_of(kept, page)?;
    let mut listed = Vec::with_capacity(items.len());
    for item in items {
        let member: Member = from_item(item)?;
        listed.push(Listing::of(scope.reader, scope.rules, &member));
    }
    Ok(List {
        items: listed,
        next_cursor,
    })
}

/// A page of the order's index, keeping the members in the scope the filters ask for: the whole
/// directory, or a scope too large to sort whole.
async fn index_page(
    app: &App,
    filters: &Filters,
    scope: &Scope<'_>,
    order: &Order,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let result = app.store.query(order.query().page(page)).await?;
    let mut found = Vec::new();
    for item in result.items {
        if let Some(member) = kept_member(filters, scope, &item)? {
            found.push(Listing::of(scope.reader, scope.rules, &member));
        }
    }
    Ok(List {
        items: found,
        next_cursor: result.next_cursor,
    })
}

/// The member of `item` when it is one the filters keep: in the directory, of the kind asked,
/// in the department asked, found by the search asked as the reader may find them.
fn kept_member(filters: &Filters, scope: &Scope<'_>, item: &Item) -> ApiResult<Option<Member>> {
    let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
    let member: Member = from_item(item.clone())?;
    let searched = match &filters.q {
        None => true,
        Some(q) => {
            let terms: Vec<String> = search_terms(&member.email, &member.name)
                .into_iter()
                .filter(|t| t.starts_with(q.as_str()))
                .collect();
            !terms.is_empty() && Filters::findable(scope, &member, &terms)
        }
    };
    let kept = searched
        && filters.wanted(&member, scope.now)
        && filters.in_department(scope.department, &member, tree.as_deref());
    Ok(kept.then_some(member))
}

/// A member a search's terms name, with the places its terms carry.
#[derive(Debug, PartialEq, Eq)]
struct Hit {
    member_id: Uuid,
    /// The terms it matched by.
    terms: Vec<String>,
    directory_place: Option<String>,
    name_place: Option<String>,
}

impl Hit {
    /// The member's place in `sort`'s order, as its index holds it, when the terms say it.
    fn place(&self, sort: MemberSort) -> Option<String> {
        match sort {
            MemberSort::Directory => self.directory_place.clone(),
            MemberSort::Name => self.name_place.clone(),
            MemberSort::CreatedAt => Some(format!("{MEMBER_PREFIX}{}", self.member_id)),
            MemberSort::LastLoginAt => None,
        }
    }
}

/// The members a page of search terms names, in the order first found, each with the terms it
/// matched by and the places they carry.
fn matched_terms(items: Vec<Item>) -> ApiResult<Vec<Hit>> {
    let mut matched: Vec<Hit> = Vec::new();
    let mut at: HashMap<Uuid, usize> = HashMap::new();
    for item in items {
        let term_text = item
            .get(SK)
            .and_then(|v| v.as_s().ok())
            .and_then(|sk| sk.rsplit_once('#'))
            .map(|(term, _)| term.to_string())
            .unwrap_or_default();
        let term: SearchTerm = from_item(item)?;
        match at.get(&term.member_id) {
            Some(&i) => matched[i].terms.push(term_text),
            None => {
                at.insert(term.member_id, matched.len());
                matched.push(Hit {
                    member_id: term.member_id,
                    terms: vec![term_text],
                    directory_place: term.directory_place,
                    name_place: term.name_place,
                });
            }
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::members::policy::tests::member;
    use crate::model::roles::Permissions;
    use crate::store::to_item;

    fn fields_refused(params: MemberSearch) -> Vec<String> {
        match Filters::parse(&params) {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn department(id_path: &str) -> Department {
        Department {
            id: Uuid::from_u128(2),
            tenant_id: Uuid::from_u128(1),
            name: "Research".into(),
            parent_id: None,
            path: "/Research".into(),
            id_path: id_path.into(),
            depth: 0,
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            version: 1,
            scim_external_id: None,
        }
    }

    #[test]
    fn search_text_is_folded_and_blank_text_is_no_search() {
        let filters = Filters::parse(&MemberSearch {
            q: Some("  Ádá ".into()),
            ..MemberSearch::default()
        })
        .expect("valid");
        assert_eq!(filters.q.as_deref(), Some("ada"));
        assert_eq!(filters.sort, MemberSort::Directory);
        let blank = Filters::parse(&MemberSearch {
            q: Some("   ".into()),
            ..MemberSearch::default()
        })
        .expect("valid");
        assert_eq!(blank.q, None);
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let fields = fields_refused(MemberSearch {
            department_id: Some("nope".into()),
            include_descendants: Some("yes".into()),
            status: Some("deleted".into()),
            role: Some("king".into()),
            sort: Some("age".into()),
            ..MemberSearch::default()
        });
        assert_eq!(
            fields,
            [
                "department_id",
                "include_descendants",
                "status",
                "role",
                "sort"
            ]
        );
        assert_eq!(
            fields_refused(MemberSearch {
                status: Some("pending".into()),
                ..MemberSearch::default()
            }),
            ["status"]
        );
    }

    #[test]
    fn colleagues_filter_and_sort_only_by_what_entries_show() {
        let parse = |params| Filters::parse(&params).expect("valid");
        assert!(!parse(MemberSearch::default()).admin_only());
        assert!(
            !parse(MemberSearch {
                sort: Some("name".into()),
                ..MemberSearch::default()
            })
            .admin_only()
        );
        for params in [
            MemberSearch {
                status: Some("disabled".into()),
                ..MemberSearch::default()
            },
            MemberSearch {
                role: Some("admin".into()),
                ..MemberSearch::default()
            },
            MemberSearch {
                sort: Some("last_login_at".into()),
                ..MemberSearch::default()
            },
        ] {
            assert!(parse(params).admin_only());
        }
    }

    #[test]
    fn a_department_search_keeps_its_members_or_its_subtree() {
        let d = department("/a/b");
        let inside = member(Role::Member, Permissions::none());
        let below = Member {
            department_id: Uuid::from_u128(3),
            ..inside.clone()
        };
        let below_key = format!("/a/b/c/#{}", below.id);
        let mut filters = Filters::parse(&MemberSearch::default()).expect("valid");
        assert!(filters.in_department(None, &below, None));
        assert!(filters.in_department(Some(&d), &inside, None));
        assert!(!filters.in_department(Some(&d), &below, Some(&below_key)));
        filters.descendants = true;
        assert!(filters.in_department(Some(&d), &below, Some(&below_key)));
        assert!(!filters.in_department(Some(&d), &below, Some("/a/x/#1")));
        assert!(!filters.in_department(Some(&d), &below, None));
    }

    #[test]
    fn only_directory_members_of_the_asked_kind_are_wanted() {
        let filters = Filters::parse(&MemberSearch {
            role: Some("admin".into()),
            ..MemberSearch::default()
        })
        .expect("valid");
        let admin = member(Role::Admin, Permissions::All);
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(filters.wanted(&admin, now));
        assert!(!filters.wanted(&member(Role::Member, Permissions::none()), now));
        let deleted = Member {
            status: MemberStatus::Deleted,
            ..admin
        };
        assert!(!filters.wanted(&deleted, now));
    }

    #[test]
    fn each_order_reads_its_index() {
        let tenant = Uuid::from_u128(1);
        let by_login = Order::of(MemberSort::LastLoginAt, tenant).query();
        assert_eq!(by_login.index.map(|i| i.name), Some(GSI5.name));
        assert!(by_login.newest_first);
        let by_name = Order::of(MemberSort::Name, tenant).query();
        assert_eq!(by_name.index.map(|i| i.name), Some(GSI4.name));
        assert!(
            Order::of(MemberSort::CreatedAt, tenant)
                .query()
                .index
                .is_none()
        );
        let filters = Filters::parse(&MemberSearch::default()).expect("valid");
        let only_here = filters.department_query(tenant, &department("/a/b"));
        assert_eq!(only_here.index.map(|i| i.name), Some(GSI2.name));
        assert!(matches!(only_here.range, SortRange::Prefix(p) if p == "/a/b/#"));
    }

    fn placed(order: &Order, place: &str) -> Item {
        let mut item = Item::new();
        let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
        item.insert("pk".into(), s("TENANT#t"));
        item.insert("sk".into(), s(&format!("MEMBER#{place}")));
        if let Some(index) = order.index {
            item.insert(index.pk.into(), s(&order.partition));
            item.insert(index.sk.into(), s(place));
        }
        item
    }

    fn places(order: &Order, items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| order.place_of(i).expect("placed").to_string())
            .collect()
    }

    #[test]
    fn a_sorted_scope_pages_in_its_orders_places_and_cursors() {
        let order = Order::of(MemberSort::Directory, Uuid::from_u128(1));
        let items: Vec<Item> = ["00003#c", "00001#a", "10000#z", "00002#b"]
            .iter()
            .map(|p| placed(&order, p))
            .collect();
        let first = PageParams::new(Some("2"), None).expect("page");
        let (page, next) = order.page_of(items.clone(), &first).expect("page");
        assert_eq!(places(&order, &page), ["00001#a", "00002#b"]);
        let second = PageParams::new(Some("2"), next).expect("page");
        let (page, next) = order.page_of(items.clone(), &second).expect("page");
        assert_eq!(places(&order, &page), ["00003#c", "10000#z"]);
        assert_eq!(next, None);
        // The same cursor pages the index itself: it is a key of the order's index.
        let cursor = cursor_after(&items[1], order.index).expect("cursor");
        let key = cursor_position(&cursor, &order.partition, order.index).expect("key");
        assert_eq!(order.place_of(&key), Some("00001#a"));
        // Newest first for the last sign-in.
        let by_login = Order::of(MemberSort::LastLoginAt, Uuid::from_u128(1));
        let items: Vec<Item> = ["0", "2026", "2025"]
            .iter()
            .map(|p| placed(&by_login, p))
            .collect();
        let (page, _) = by_login
            .page_of(items, &PageParams::new(None, None).expect("page"))
            .expect("page");
        assert_eq!(places(&by_login, &page), ["2026", "2025", "0"]);
        // Another list's cursor is refused.
        let other = Order::of(MemberSort::Name, Uuid::from_u128(1));
        let foreign = PageParams::new(None, Some(cursor)).expect("page");
        assert!(other.page_of(Vec::new(), &foreign).is_err());
    }

    #[test]
    fn exact_filters_ignore_case_and_the_default_number_is_unset() {
        let filters = Filters::parse(&MemberSearch {
            position: Some(" ENGINEER ".into()),
            directory_number_set: Some("true".into()),
            ..MemberSearch::default()
        })
        .expect("valid");
        let now = OffsetDateTime::UNIX_EPOCH;
        let engineer = Member {
            position: Some("Engineer".into()),
            directory_number: 7,
            ..member(Role::Member, Permissions::none())
        };
        assert!(filters.wanted(&engineer, now));
        let unnumbered = Member {
            directory_number: DEFAULT_DIRECTORY_NUMBER,
            ..engineer.clone()
        };
        assert!(!filters.wanted(&unnumbered, now));
        let senior = Member {
            position: Some("Senior Engineer".into()),
            ..engineer
        };
        assert!(!filters.wanted(&senior, now));
        assert_eq!(
            fields_refused(MemberSearch {
                directory_number_set: Some("yes".into()),
                ..MemberSearch::default()
            }),
            ["directory_number_set"]
        );
    }

    #[test]
    fn search_hits_are_grouped_by_member_in_order() {
        let ada = member(Role::Member, Permissions::none());
        let bob = member(Role::Member, Permissions::none());
        let hit = |m: &Member, term: &str| {
            to_item(
                &SearchTerm {
                    member_id: m.id,
                    directory_place: None,
                    name_place: None,
                },
                &Key::search_term(m.tenant_id, term, m.id),
                &[],
            )
            .expect("item")
        };
        let matched = matched_terms(vec![
            hit(&bob, "lovelace"),
            hit(&ada, "lovelace"),
            hit(&bob, "lovely"),
        ])
        .expect("read");
        let grouped: Vec<(Uuid, Vec<String>)> = matched
            .iter()
            .map(|h| (h.member_id, h.terms.clone()))
            .collect();
        assert_eq!(
            grouped,
            vec![
                (bob.id, vec!["lovelace".to_string(), "lovely".to_string()]),
                (ada.id, vec!["lovelace".to_string()]),
            ]
        );
        // Terms from before places were stored sort only by creation (the id says it).
        assert_eq!(matched[0].place(MemberSort::Directory), None);
        assert_eq!(
            matched[0].place(MemberSort::CreatedAt),
            Some(format!("MEMBER#{}", bob.id))
        );
    }

    #[test]
    fn a_members_terms_carry_its_places_in_directory_and_name_order() {
        let ada = Member {
            directory_number: 12,
            ..member(Role::Member, Permissions::none())
        };
        let items = ada.search_term_items().expect("terms");
        assert!(!items.is_empty());
        let hits = matched_terms(items).expect("read");
        assert_eq!(hits.len(), 1);
        let [(_, directory), (_, name)] = ada.name_order_keys();
        assert_eq!(hits[0].place(MemberSort::Directory), Some(directory));
        assert_eq!(hits[0].place(MemberSort::Name), Some(name));
        assert_eq!(hits[0].place(MemberSort::LastLoginAt), None);
    }
}
