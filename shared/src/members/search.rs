//! The directory and search: a search (`q`) reads the term partition and the members it names; a
//! directory page is one index query. Both are filtered to what the reader may filter by, and
//! shown as the reader may see each member.

use super::directory::{self, ContactRules, Listing, Reader};
use super::records::department_of;
use super::{Member, MemberSource, MemberStatus, fold};
use crate::app::App;
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::{ApiResult, Checks};
use crate::model::department::Department;
use crate::model::keys::{
    GSI2, GSI3, GSI4, GSI5, Key, MEMBER_PREFIX, SK, directory_partition, last_login_partition,
    name_partition, search_partition, subtree_prefix, tenant_partition, tree_partition,
};
use crate::model::licence::LicenceFilter;
use crate::model::member::SearchTerm;
use crate::model::roles::Role;
use crate::model::{List, PageParams};
use crate::store::{Item, Query, SortRange, from_item};
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
}

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

    /// Whether `member` passes the filters: in the directory, and of the status, role, source
    /// and licence asked for.
    fn wanted(&self, member: &Member, now: OffsetDateTime) -> bool {
        member.status.in_directory()
            && self.status.is_none_or(|s| member.status == s)
            && self.role.is_none_or(|r| member.role == r)
            && self.source.is_none_or(|s| member.source == s)
            && self
                .licence
                .is_none_or(|l| l.matches(member.licence.as_ref(), now))
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

    /// The index query a directory page reads: the department's part of the tree, or the
    /// tenant's members in the order asked for.
    fn directory_query(&self, tenant_id: Uuid, department: Option<&Department>) -> Query {
        match (department, self.sort) {
            (Some(d), _) => Query::new(
                Some(GSI2),
                tree_partition(tenant_id),
                SortRange::Prefix(if self.descendants {
                    subtree_prefix(&d.id_path)
                } else {
                    format!("{}/#", d.id_path)
                }),
            ),
            (None, MemberSort::Directory) => {
                Query::new(Some(GSI3), directory_partition(tenant_id), SortRange::All)
            }
            (None, MemberSort::Name) => {
                Query::new(Some(GSI4), name_partition(tenant_id), SortRange::All)
            }
            (None, MemberSort::LastLoginAt) => {
                let mut q = Query::new(Some(GSI5), last_login_partition(tenant_id), SortRange::All);
                q.newest_first = true;
                q
            }
            (None, MemberSort::CreatedAt) => Query::new(
                None,
                tenant_partition(tenant_id),
                SortRange::Prefix(MEMBER_PREFIX.into()),
            ),
        }
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
    let keys: Vec<Key> = filters
        .department_id
        .map(|d| Key::department(tenant_id, d))
        .into_iter()
        .collect();
    let (access, tenant, items) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &keys).await?;
    let reader = Reader::of(&access)?;
    if filters.admin_only() && !reader.is_admin() {
        return Err(directory::needs_members_read());
    }
    let rules = ContactRules::load(app, reader, &tenant).await?;
    let department = match filters.department_id {
        Some(_) => Some(department_of(
            items.into_iter().next().flatten(),
            "department_id",
        )?),
        None => None,
    };
    let scope = Scope {
        reader,
        rules: &rules,
        department: department.as_ref(),
        now,
    };
    match &filters.q {
        Some(q) => search_terms(app, tenant_id, &filters, &scope, q, &page).await,
        None => directory_page(app, tenant_id, &filters, &scope, &page).await,
    }
}

/// A page of members found by `q`: one query of the term partition, one batched read of the
/// members it names.
async fn search_terms(
    app: &App,
    tenant_id: Uuid,
    filters: &Filters,
    scope: &Scope<'_>,
    q: &str,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let terms = app
        .store
        .query(
            Query::new(
                None,
                search_partition(tenant_id, q),
                SortRange::Prefix(q.to_string()),
            )
            .page(page),
        )
        .await?;
    let matched = matched_terms(terms.items)?;
    let keys: Vec<Key> = matched
        .iter()
        .map(|(m, _)| Key::member(tenant_id, *m))
        .collect();
    let matched: HashMap<Uuid, Vec<String>> = matched.into_iter().collect();
    let mut found = Vec::new();
    for item in app.store.get_many(&keys).await?.into_iter().flatten() {
        let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
        let member: Member = from_item(item)?;
        // A colleague who may not see a member's email must not find them by it either
        // (prefix searches would spell the address out).
        let by_name = matched
            .get(&member.id)
            .is_some_and(|terms| terms.iter().any(|t| *t != fold(&member.email)));
        let findable = by_name || scope.rules.shows_contacts(scope.reader, &member);
        if filters.wanted(&member, scope.now)
            && filters.in_department(scope.department, &member, tree.as_deref())
            && findable
        {
            found.push(Listing::of(scope.reader, scope.rules, &member));
        }
    }
    Ok(List {
        items: found,
        next_cursor: terms.next_cursor,
    })
}

/// The members a page of search terms names, in the order first found, each with the terms it
/// matched by.
fn matched_terms(items: Vec<Item>) -> ApiResult<Vec<(Uuid, Vec<String>)>> {
    let mut matched: Vec<(Uuid, Vec<String>)> = Vec::new();
    for item in items {
        let term_text = item
            .get(SK)
            .and_then(|v| v.as_s().ok())
            .and_then(|sk| sk.rsplit_once('#'))
            .map(|(term, _)| term.to_string())
            .unwrap_or_default();
        let term: SearchTerm = from_item(item)?;
        match matched.iter_mut().find(|(id, _)| *id == term.member_id) {
            Some((_, terms)) => terms.push(term_text),
            None => matched.push((term.member_id, vec![term_text])),
        }
    }
    Ok(matched)
}

/// A directory page: one index query, filtered.
async fn directory_page(
    app: &App,
    tenant_id: Uuid,
    filters: &Filters,
    scope: &Scope<'_>,
    page: &PageParams,
) -> ApiResult<List<Listing>> {
    let query = filters
        .directory_query(tenant_id, scope.department)
        .page(page);
    let result = app.store.query(query).await?;
    let mut found = Vec::new();
    for item in result.items {
        let member: Member = from_item(item)?;
        if filters.wanted(&member, scope.now) {
            found.push(Listing::of(scope.reader, scope.rules, &member));
        }
    }
    Ok(List {
        items: found,
        next_cursor: result.next_cursor,
    })
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
    fn a_directory_page_reads_the_index_of_its_order() {
        let tenant = Uuid::from_u128(1);
        let parse = |sort: &str| {
            Filters::parse(&MemberSearch {
                sort: Some(sort.into()),
                ..MemberSearch::default()
            })
            .expect("valid")
        };
        let by_login = parse("last_login_at").directory_query(tenant, None);
        assert_eq!(by_login.index.map(|i| i.name), Some(GSI5.name));
        assert!(by_login.newest_first);
        let by_name = parse("name").directory_query(tenant, None);
        assert_eq!(by_name.index.map(|i| i.name), Some(GSI4.name));
        assert!(
            parse("created_at")
                .directory_query(tenant, None)
                .index
                .is_none()
        );
        let d = department("/a/b");
        let only_here = parse("name").directory_query(tenant, Some(&d));
        assert_eq!(only_here.index.map(|i| i.name), Some(GSI2.name));
        assert!(matches!(only_here.range, SortRange::Prefix(p) if p == "/a/b/#"));
    }

    #[test]
    fn search_hits_are_grouped_by_member_in_order() {
        let ada = member(Role::Member, Permissions::none());
        let bob = member(Role::Member, Permissions::none());
        let hit = |m: &Member, term: &str| {
            to_item(
                &SearchTerm { member_id: m.id },
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
        assert_eq!(
            matched,
            vec![
                (bob.id, vec!["lovelace".to_string(), "lovely".to_string()]),
                (ada.id, vec!["lovelace".to_string()]),
            ]
        );
    }
}
