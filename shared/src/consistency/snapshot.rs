//! What the checker reads: one consistent scan of the table, each item kept as the few fields the
//! invariants compare (not the item), grouped by what it is.

use crate::error::{ApiError, ApiResult};
use crate::events::sequencer::Logged;
use crate::events::{EventType, Pending};
use crate::invitations::{Invitation, InvitationStatus};
use crate::model::department::Department;
use crate::model::item::{Item, from_item};
use crate::model::keys::{DEPARTMENT_PREFIX, GSI2, GSI6, GSI7, Key, MEMBER_PREFIX, PK, SK, TTL};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Role;
use crate::model::tenant::Tenant;
use crate::store::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Tries of one scan page that DynamoDB keeps answering as unavailable.
const PAGE_ATTEMPTS: u32 = 6;
/// Segments of the parallel scan (`Snapshot::read` joins this many).
const SEGMENTS: i32 = 4;

/// A member, as far as the invariants look at it.
#[derive(Debug, Clone)]
pub struct MemberFacts {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub department_id: Uuid,
    pub status: MemberStatus,
    /// A join request through a public door (a join link or the join number).
    pub public_request: bool,
    pub owner: bool,
    pub seats: i64,
    pub version: u64,
    pub updated_at: time::OffsetDateTime,
    /// When a binned member's guard may expire (its purge time), epoch seconds.
    pub ttl: Option<i64>,
    /// Its index keys as stored: the tree position and the licence queue entries.
    pub tree_key: Option<String>,
    pub licence_keys: [Option<String>; 2],
    /// As it should be stored: the licence queue entries its licence makes.
    pub expected_licence_keys: [Option<String>; 2],
    pub term_keys: Vec<Key>,
    pub scim_guards: Vec<Key>,
    /// Its places in directory and name order, which its search terms carry (for a repair that
    /// puts one back); empty when it is not listed.
    pub term_places: Option<[String; 2]>,
}

impl MemberFacts {
    fn of(member: Member, item: &Item) -> ApiResult<Self> {
        let listed = member.status.in_directory();
        let expected_licence_keys = match member.licence.as_ref().filter(|_| listed) {
            Some(licence) => {
                let keys = licence.index_keys(member.tenant_id, member.id);
                let sk = |attr: &str| {
                    keys.iter()
                        .find(|(a, _)| *a == attr)
                        .map(|(_, v)| v.clone())
                };
                [sk(GSI6.sk), sk(GSI7.sk)]
            }
            None => [None, None],
        };
        Ok(Self {
            id: member.id,
            tenant_id: member.tenant_id,
            user_id: member.user_id,
            department_id: member.department_id,
            status: member.status,
            public_request: crate::joining::is_public(&member),
            owner: member.role == Role::Owner,
            seats: member.licence.as_ref().map_or(0, |l| l.seats_held()),
            version: member.version,
            updated_at: member.updated_at,
            ttl: member.ttl,
            tree_key: text(item, GSI2.sk),
            licence_keys: [text(item, GSI6.sk), text(item, GSI7.sk)],
            expected_licence_keys,
            term_keys: if listed {
                member.term_keys()
            } else {
                Vec::new()
            },
            scim_guards: member.scim_guard_keys(),
            term_places: listed.then(|| member.name_order_keys().map(|(_, place)| place)),
        })
    }
}

/// An invitation, as far as the invariants look at it.
#[derive(Debug, Clone)]
pub struct InvitationFacts {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pending: bool,
    pub holds_quota: bool,
    pub expires_epoch: i64,
    pub guard: Key,
    pub version: u64,
}

/// An event, as far as the invariants look at it.
#[derive(Debug, Clone)]
pub struct EventFacts {
    pub event_type: EventType,
    pub occurred_at: OffsetDateTime,
    /// The `id` of the resource its data shows.
    pub resource: Option<Uuid>,
    /// The `updated_at` its data shows, in whole seconds.
    pub updated_at: Option<i64>,
    /// Where it was read: its log item, or its pending item.
    pub key: Key,
}

impl EventFacts {
    pub fn of(
        event_type: EventType,
        occurred_at: OffsetDateTime,
        data: &serde_json::Value,
        key: Key,
    ) -> Self {
        let updated_at = data["updated_at"]
            .as_str()
            .and_then(|at| {
                OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(OffsetDateTime::unix_timestamp);
        Self {
            event_type,
            occurred_at,
            resource: data["id"].as_str().and_then(|id| id.parse().ok()),
            updated_at,
            key,
        }
    }
}

impl InvitationFacts {
    fn of(invitation: &Invitation) -> Self {
        Self {
            id: invitation.id,
            tenant_id: invitation.tenant_id,
            pending: invitation.status == InvitationStatus::Pending,
            holds_quota: invitation.holds_quota,
            expires_epoch: invitation.expires_epoch,
            guard: invitation.guard_key(),
            version: invitation.version,
        }
    }
}

/// A guard: an item whose key makes something unique and which names what holds it.
#[derive(Debug, Clone)]
pub struct Guard {
    pub key: Key,
    /// The attribute naming the holder (`member_id`, `department_id`, ...) and its value.
    pub holder_attr: &'static str,
    pub holder: Option<Uuid>,
    pub ttl: Option<i64>,
    /// `verified`, on email guards.
    pub verified: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct UserFacts {
    pub id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub version: u64,
}

/// One tenant's part of the table.
#[derive(Debug, Default)]
pub struct TenantPart {
    pub tenant: Option<Tenant>,
    pub departments: Vec<Department>,
    pub members: Vec<MemberFacts>,
    pub invitations: Vec<InvitationFacts>,
    pub name_guards: Vec<Guard>,
    pub user_guards: Vec<Guard>,
    pub scim_guards: Vec<Guard>,
    pub invitation_guards: Vec<Guard>,
    pub search_terms: Vec<Guard>,
    /// Its events: in its log, and pending.
    pub events: Vec<EventFacts>,
}

impl TenantPart {
    fn merge(&mut self, other: Self) {
        self.tenant = self.tenant.take().or(other.tenant);
        self.departments.extend(other.departments);
        self.members.extend(other.members);
        self.invitations.extend(other.invitations);
        self.name_guards.extend(other.name_guards);
        self.user_guards.extend(other.user_guards);
        self.scim_guards.extend(other.scim_guards);
        self.invitation_guards.extend(other.invitation_guards);
        self.search_terms.extend(other.search_terms);
        self.events.extend(other.events);
    }
}

/// The table as the checker saw it.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub items: u64,
    pub tenants: HashMap<Uuid, TenantPart>,
    pub users: Vec<UserFacts>,
    pub email_guards: Vec<Guard>,
    /// Items of a kind the checker knows but could not read: each is a finding of its own.
    pub unreadable: Vec<(Key, String)>,
}

impl Snapshot {
    /// Scans the whole table (strongly consistent), its [`SEGMENTS`] segments at once: the
    /// scan waits on DynamoDB, not on the CPU.
    pub async fn read(store: &Store) -> ApiResult<Self> {
        let mut segments = tokio::task::JoinSet::new();
        for segment in 0..SEGMENTS {
            let store = store.clone();
            segments.spawn(async move { Self::read_segment(&store, segment).await });
        }
        let mut snapshot = Self::default();
        while let Some(part) = segments.join_next().await {
            snapshot.merge(part.map_err(ApiError::internal)??);
        }
        Ok(snapshot)
    }

    /// One segment, page by page. A page that stays throttled past the SDK's retries is asked
    /// for again a few times: a long scan should not start over for a passing fault.
    async fn read_segment(store: &Store, segment: i32) -> ApiResult<Self> {
        let mut snapshot = Self::default();
        let mut start = None;
        loop {
            let mut attempt = 0;
            let (items, next) = loop {
                match store.scan_page((segment, SEGMENTS), start.clone()).await {
                    Err(ApiError::Unavailable { .. }) if attempt < PAGE_ATTEMPTS => {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                    }
                    outcome => break outcome?,
                }
            };
            for item in items {
                snapshot.add(item);
            }
            match next {
                Some(key) => start = Some(key),
                None => return Ok(snapshot),
            }
        }
    }

    /// Adds what another segment read.
    pub(super) fn merge(&mut self, other: Self) {
        self.items += other.items;
        for (tenant_id, part) in other.tenants {
            self.tenants.entry(tenant_id).or_default().merge(part);
        }
        self.users.extend(other.users);
        self.email_guards.extend(other.email_guards);
        self.unreadable.extend(other.unreadable);
    }

    /// Files one item under what it is; items no invariant is about are only counted.
    pub fn add(&mut self, item: Item) {
        self.items += 1;
        let (Some(pk), Some(sk)) = (text(&item, PK), text(&item, SK)) else {
            return;
        };
        let key = Key {
            pk: pk.clone(),
            sk: sk.clone(),
        };
        if let Err(err) = self.file(&key, item) {
            self.unreadable.push((key, err.to_string()));
        }
    }

    fn file(&mut self, key: &Key, item: Item) -> ApiResult<()> {
        let (pk, sk) = (key.pk.as_str(), key.sk.as_str());
        if let Some(rest) = pk.strip_prefix("TENANT#") {
            let Ok(tenant_id) = rest.parse::<Uuid>() else {
                return Ok(());
            };
            let part = self.tenants.entry(tenant_id).or_default();
            let guard = |attr: &'static str, item: &Item| Guard {
                key: key.clone(),
                holder_attr: attr,
                holder: uuid(item, attr),
                ttl: number(item, TTL),
                verified: None,
            };
            if sk == "TENANT" {
                part.tenant = Some(from_item(item)?);
            } else if sk.starts_with(DEPARTMENT_PREFIX) {
                part.departments.push(from_item(item)?);
            } else if sk.starts_with(MEMBER_PREFIX) {
                let member: Member = from_item(item.clone())?;
                part.members.push(MemberFacts::of(member, &item)?);
            } else if sk.starts_with("INVITE#") {
                let invitation: Invitation = from_item(item)?;
                part.invitations.push(InvitationFacts::of(&invitation));
            } else if sk.starts_with("DEPTNAME#") {
                part.name_guards.push(guard("department_id", &item));
            } else if sk.starts_with("USERMEMBER#") {
                part.user_guards.push(guard("member_id", &item));
            } else if sk.starts_with("SCIMUSER#") || sk.starts_with("SCIMEXTID#") {
                part.scim_guards.push(guard("member_id", &item));
            } else if sk.starts_with("INVITEEMAIL#") || sk.starts_with("INVITEPHONE#") {
                part.invitation_guards.push(guard("invitation_id", &item));
            }
        } else if pk.starts_with("EVENTS#") || pk.starts_with("EVENTQ#") {
            self.file_event(key, item)?;
        } else if let Some(rest) = pk.strip_prefix("SEARCH#") {
            let Some(tenant_id) = rest.split('#').next().and_then(|t| t.parse::<Uuid>().ok())
            else {
                return Ok(());
            };
            let term = Guard {
                key: key.clone(),
                holder_attr: "member_id",
                holder: uuid(&item, "member_id"),
                ttl: None,
                verified: None,
            };
            self.tenants
                .entry(tenant_id)
                .or_default()
                .search_terms
                .push(term);
        } else if pk.starts_with("USER#") && sk == "USER" {
            let user: crate::model::user::User = from_item(item)?;
            self.users.push(UserFacts {
                id: user.id,
                email: user.email,
                email_verified: user.email_verified,
                version: user.version,
            });
        } else if pk.starts_with("EMAIL#") && sk == "EMAIL" {
            self.email_guards.push(Guard {
                key: key.clone(),
                holder_attr: "user_id",
                holder: uuid(&item, "user_id"),
                ttl: None,
                verified: Some(matches!(
                    item.get("verified"),
                    Some(AttributeValue::Bool(true))
                )),
            });
        }
        Ok(())
    }
}

impl Snapshot {
    /// An item of a tenant's event log, or a pending item of its events (the platform's log
    /// is not a tenant's: passed over).
    fn file_event(&mut self, key: &Key, item: Item) -> ApiResult<()> {
        let Some((log, rest)) = key.pk.split_once('#') else {
            return Ok(());
        };
        let Ok(tenant_id) = rest.parse::<Uuid>() else {
            return Ok(());
        };
        let part = self.tenants.entry(tenant_id).or_default();
        if log == "EVENTS" {
            let logged: Logged = from_item(item)?;
            let data = serde_json::from_str(&logged.data).map_err(ApiError::internal)?;
            let at = logged.occurred_at;
            let facts = EventFacts::of(logged.event_type, at, &data, key.clone());
            part.events.push(facts);
        } else {
            let pending: Pending = from_item(item)?;
            for entry in pending.entries()? {
                let (at, key) = (pending.occurred_at, key.clone());
                part.events
                    .push(EventFacts::of(entry.event_type, at, &entry.data, key));
            }
        }
        Ok(())
    }
}

pub(super) fn text(item: &Item, attr: &str) -> Option<String> {
    match item.get(attr) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn uuid(item: &Item, attr: &str) -> Option<Uuid> {
    text(item, attr).and_then(|v| v.parse().ok())
}

fn number(item: &Item, attr: &str) -> Option<i64> {
    match item.get(attr) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}
