//! The single-table key layout: every item of Roster lives in one DynamoDB table, and this module is
//! the only place that builds keys. The whole layout, in one table:
//!
//! | item                 | pk                         | sk                               | gsi1pk / gsi1sk                          | gsi2pk / gsi2sk                         |
//! |----------------------|----------------------------|----------------------------------|------------------------------------------|-----------------------------------------|
//! | user                 | `USER#<user>`              | `USER`                           |                                          |                                         |
//! | email guard          | `EMAIL#<lowercase email>`  | `EMAIL`                          |                                          |                                         |
//! | platform admin       | `PLATFORM`                 | `ADMIN#<user>`                   |                                          |                                         |
//! | tenant               | `TENANT#<t>`               | `TENANT`                         | `TENANTS` / `<t>`                        | `CUSTOMERS#<parent t>` / `<t>`          |
//! | department           | `TENANT#<t>`               | `DEPT#<d>`                       |                                          |                                         |
//! | sibling-name guard   | `TENANT#<t>`               | `DEPTNAME#<parent d>#<lc name>`  |                                          |                                         |
//! | department move lock | `TENANT#<t>`               | `DEPTMOVE`                       |                                          |                                         |
//! | tenant purge mark    | `TENANT#<t>`               | `PURGING`                        |                                          |                                         |
//! | member               | `TENANT#<t>`               | `MEMBER#<m>`                     | `USER#<user>` / `TENANT#<t>`             | `TREE#<t>` / `<dept id path>/#<m>`      |
//! | search term          | `SEARCH#<t>#<first char>`  | `<folded term>#<m>`              |                                          |                                         |
//! | user-in-tenant guard | `TENANT#<t>`               | `USERMEMBER#<user>`              |                                          |                                         |
//! | SCIM userName guard  | `TENANT#<t>`               | `SCIMUSER#<lowercase userName>`  |                                          |                                         |
//! | SCIM externalId guard| `TENANT#<t>`               | `SCIMEXTID#<externalId>`         |                                          |                                         |
//! | SCIM page cursor     | `TENANT#<t>`               | `SCIMPAGE#<token>#<startIndex, 10 digits>` |                                |                                         |
//! | one-time token       | `TOKEN#<sha256 of token>`  | `TOKEN`                          |                                          |                                         |
//! | invitation           | `TENANT#<t>`               | `INVITE#<i>`                     |                                          |                                         |
//! | live-invitation guard| `TENANT#<t>`               | `INVITEEMAIL#<lowercase email>`  |                                          |                                         |
//! | same, phone only     | `TENANT#<t>`               | `INVITEPHONE#<E.164 number>`     |                                          |                                         |
//! | join link            | `TENANT#<t>`               | `JOINLINK#<l>`                   |                                          |                                         |
//! | join-number guard    | `JOINNUMBER#<8 digits>`    | `JOINNUMBER`                     |                                          |                                         |
//! | job (task centre)    | `TENANT#<t>`               | `JOB#<j>`                        |                                          |                                         |
//! | import row outcome   | `TENANT#<t>`               | `JOBROW#<j>#<row, 7 digits>`     |                                          |                                         |
//! | import day counter   | `IMPORTQUOTA#<user#u or ip#a>` | `<yyyy-mm-dd>`               |                                          |                                         |
//! | abuse-limit counter  | `RATE#<door>#<subject>`    | `<window, 12 digits>[#<part>]`   |                                          |                                         |
//! | API client           | `APICLIENT#<client>`       | `APICLIENT`                      | `APICLIENTS#<t>` / `<client>`            |                                         |
//! | SCIM token           | `SCIMTOKEN#<token>`        | `SCIMTOKEN`                      | `SCIMTOKENS#<t>` / `<token>`             |                                         |
//! | login-log entry      | `LOGINS#<t>`               | `<entry id, UUIDv7>`             | `LOGINSBY#<user>` / `<entry id>`         |                                         |
//! | audit entry          | `AUDIT#<t>`                | `<audit id, UUIDv7>`             | `AUDITBY#<t>#<actor>` / `<audit id>`     |                                         |
//! | queued public mail   | `OUTBOX`                   | `MAIL#<id, UUIDv7>`              |                                          |                                         |
//! | session (sign-in)    | `SESSION#<s>`              | `SESSION`                        | `SESSIONS#<user>` / `<s>`                | `SESSIONSIN#<t>` / `<s>` (tenant scope) |
//! | spent refresh token  | `SESSION#<s>`              | `SPENT#<sha256 of token>`        |                                          |                                         |
//! | webhook endpoint     | `TENANT#<t>`               | `WEBHOOK#<w>`                    |                                          |                                         |
//! | webhook delivery     | `DELIVERIES#<t>`           | `<w>#<event id>`                 |                                          |                                         |
//! | pending event        | `EVENTQ#<t>` or `EVENTQ#ALL` (platform log alone) | `<event id, UUIDv7>` |                                          |                                         |
//! | event (tenant's log) | `EVENTS#<t>`               | `<seq, 16 digits>`               |                                          |                                         |
//! | event (platform log) | `EVENTS#ALL`               | `<seq, 16 digits>`               |                                          |                                         |
//! | event sequence       | `EVENTSEQ#<t>` or `EVENTSEQ#ALL` | `EVENTSEQ`                 |                                          |                                         |
//! | idempotency record   | `IDEMPOTENCY#<sha256 of tenant, caller, key>` | `IDEMPOTENCY`  |                                          |                                         |
//!
//! A member also carries `gsi3pk`/`gsi3sk`: `DIR#<t>` / `<directory number, 5 digits>#<folded name>#<m>`
//! (directory order) while active or disabled, `BIN#<t>` / `<deleted_at>#<m>` while in the recycle
//! bin; and `gsi4pk`/`gsi4sk`: `NAME#<t>` / `<folded name>#<m>` (name order) while not deleted,
//! `PURGE` / `<purge_at>#<t>#<m>` while in the bin (the recycle-purge job's queue, all tenants);
//! and `gsi5pk`/`gsi5sk`: `LOGIN#<t>` / `<last_login_at or 0>#<m>` (last sign-in order) while not
//! deleted. A member that is a join request (pending or rejected) has only gsi1 and
//! `gsi3pk`/`gsi3sk`: `REQUESTS#<t>` / `<status>#<m>`. A licensed member also carries
//! `gsi6pk`/`gsi6sk`: `LICENCES#<t>` / `<expires_at>#<m>` (the tenant's licences by expiry: the
//! "expiring within 30 days" figure is one key range) and `gsi7pk`/`gsi7sk`: `LICENCEDUE` /
//! `<expires_at>#<t>#<m>` (the licence-expiry job's queue, all tenants).
//!
//! The department move lock (one per tenant while a move runs as a job: which subtree it holds)
//! carries `gsi4pk`/`gsi4sk`: `DEPTMOVES` / `<t>` (the move worker's sweep, all tenants). A
//! deleted tenant (status `deleting`) carries `gsi4pk`/`gsi4sk`: `TENANTPURGE` /
//! `<purge_after>#<t>` (the tenant-purge job's queue).
//!
//! An invitation carries `gsi3pk`/`gsi3sk`: `INVITES#<t>#<stored status>` / `<expires_at>#<i>`
//! while pending (so "pending" and "expired" are the two sides of one key condition on now) and
//! `<i>` once accepted or revoked; and, while it holds a place in the quota, `gsi4pk`/`gsi4sk`:
//! `INVITEEXPIRY` / `<expires_at>#<t>#<i>` (the invitation-expiry job's queue, all tenants).
//! One-time tokens (`TOKEN#`) point at what they open: a user (password links), an invitation
//! or a join link; only the SHA-256 of a token is ever stored.
//!
//! A session is what one sign-in started (SPEC.md §9.4): its item holds the SHA-256 of its one
//! current refresh token, the epochs it lives under and its `ttl` (12 hours after its last use,
//! 7 days after the sign-in at most). A refresh spends the token: the session takes the next one's
//! hash and a spent marker (`SPENT#`, kept by TTL until the session's end) records the old one in
//! the session's partition, so a spent token presented again is known for a reuse, not taken for
//! a forgery, and ends the session. Access tokens name their session (`sid`), and the request that
//! checks them reads the session item in the batch it makes anyway; an ended session's item is
//! deleted. gsi1 lists a user's sessions, newest first; gsi2 a tenant's (its purge removes them).
//!
//! A webhook delivery waiting for its next attempt carries `gsi4pk`/`gsi4sk`: `WEBHOOKDUE` /
//! `<next attempt at>#<t>#<w>#<event id>` (the retry job's queue).
//!
//! An event (SPEC.md §9.2) is written with its change as a pending item, in the change's own
//! transaction; the event sequencer, fed from the stream, moves pending items into the tenant's
//! log and the platform's, each numbered by a sequence it moves in the same transaction, so a
//! log item `n` exists only once every item below it does and a reader's cursor never skips one.
//! A pending item also carries `gsi4pk`/`gsi4sk`: `EVENTQ#<shard>` / `<event id>#<t>` (the
//! sequencer's sweep of items the stream did not bring; 16 shards by tenant, so one queue key
//! never takes every write). Events live 30 days (`ttl`).
//!
//! Why this shape:
//! - A tenant's departments, members and guards share its partition, so the tree is one query and a
//!   change to a department and its guards is one transaction.
//! - Guards (`EMAIL#`, `DEPTNAME#`, `USERMEMBER#`, `JOINNUMBER#`, `SCIMUSER#`, `SCIMEXTID#`) make uniqueness rules hold under concurrency: they
//!   are created with `attribute_not_exists` in the same transaction as the thing they guard.
//! - A department's id path (`<root>/<child>/.../<d>`) is the member's `gsi2sk` prefix, so "members of
//!   this department and all its descendants" is one `begins_with` query on gsi2.
//! - Search terms (the email and each word of the name, lowercase without accents) are items of
//!   their own, so a prefix search is one `begins_with` query on the term partition (sharded by the
//!   first character) and one batched read of the members it names.
//! - UUIDv7 ids sort by time, so audit entries page newest-first by `sk` and time ranges are key
//!   conditions, not filters.
//! - Items that expire (tokens, recycle-bin entries, counters) carry `ttl` (epoch seconds); DynamoDB
//!   deletes them late, so every read of such an item checks the expiry itself.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use uuid::Uuid;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TTL: &str = "ttl";

/// A secondary index: its name and its two key attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

pub const GSI1: Index = Index {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
};
pub const GSI2: Index = Index {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};
pub const GSI3: Index = Index {
    name: "gsi3",
    pk: "gsi3pk",
    sk: "gsi3sk",
};
pub const GSI4: Index = Index {
    name: "gsi4",
    pk: "gsi4pk",
    sk: "gsi4sk",
};
pub const GSI5: Index = Index {
    name: "gsi5",
    pk: "gsi5pk",
    sk: "gsi5sk",
};
pub const GSI6: Index = Index {
    name: "gsi6",
    pk: "gsi6pk",
    sk: "gsi6sk",
};
pub const GSI7: Index = Index {
    name: "gsi7",
    pk: "gsi7pk",
    sk: "gsi7sk",
};
pub const INDEXES: [Index; 7] = [GSI1, GSI2, GSI3, GSI4, GSI5, GSI6, GSI7];

/// The primary key of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Self { pk, sk: sk.into() }
    }

    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(self.pk.clone())),
            (SK.to_string(), AttributeValue::S(self.sk.clone())),
        ])
    }

    pub fn user(user_id: Uuid) -> Self {
        Self::new(format!("USER#{user_id}"), "USER")
    }

    /// `email` must already be normalised (trimmed, lowercase).
    pub fn email(email: &str) -> Self {
        Self::new(format!("EMAIL#{email}"), "EMAIL")
    }

    pub fn platform_admin(user_id: Uuid) -> Self {
        Self::new("PLATFORM".to_string(), format!("ADMIN#{user_id}"))
    }

    pub fn tenant(tenant_id: Uuid) -> Self {
        Self::new(tenant_partition(tenant_id), "TENANT")
    }

    pub fn department(tenant_id: Uuid, department_id: Uuid) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{DEPARTMENT_PREFIX}{department_id}"),
        )
    }

    /// `name` is compared case-insensitively, so the guard holds the lowercase name.
    pub fn sibling_name(tenant_id: Uuid, parent_id: Uuid, name: &str) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("DEPTNAME#{parent_id}#{}", name.to_lowercase()),
        )
    }

    pub fn member(tenant_id: Uuid, member_id: Uuid) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{MEMBER_PREFIX}{member_id}"),
        )
    }

    pub fn user_in_tenant(tenant_id: Uuid, user_id: Uuid) -> Self {
        Self::new(tenant_partition(tenant_id), format!("USERMEMBER#{user_id}"))
    }

    /// `token_hash` is the hex SHA-256 of the token: the token itself is never stored.
    pub fn token(token_hash: &str) -> Self {
        Self::new(format!("TOKEN#{token_hash}"), "TOKEN")
    }

    /// `term` is folded (see `members::fold`) and not empty.
    pub fn search_term(tenant_id: Uuid, term: &str, member_id: Uuid) -> Self {
        Self::new(
            search_partition(tenant_id, term),
            format!("{term}#{member_id}"),
        )
    }

    pub fn invitation(tenant_id: Uuid, invitation_id: Uuid) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("INVITE#{invitation_id}"),
        )
    }

    /// Keeps one live invitation per email per tenant; `email` is normalised.
    pub fn invitation_email(tenant_id: Uuid, email: &str) -> Self {
        Self::new(tenant_partition(tenant_id), format!("INVITEEMAIL#{email}"))
    }

    /// The live-invitation guard of an invitation by phone only (E.164).
    pub fn invitation_phone(tenant_id: Uuid, phone: &str) -> Self {
        Self::new(tenant_partition(tenant_id), format!("INVITEPHONE#{phone}"))
    }

    /// Written when the purge of a deleted tenant begins: from then on it cannot be restored.
    pub fn tenant_purge_mark(tenant_id: Uuid) -> Self {
        Self::new(tenant_partition(tenant_id), "PURGING")
    }

    /// The guard that makes a join number name one tenant (and finds it from the number).
    pub fn join_number(number: &str) -> Self {
        Self::new(format!("JOINNUMBER#{number}"), "JOINNUMBER")
    }

    pub fn join_link(tenant_id: Uuid, join_link_id: Uuid) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{JOIN_LINK_PREFIX}{join_link_id}"),
        )
    }

    pub fn job(tenant_id: Uuid, job_id: Uuid) -> Self {
        Self::new(tenant_partition(tenant_id), format!("{JOB_PREFIX}{job_id}"))
    }

    /// Held while a department move runs as a job (one per tenant): the moving subtree.
    pub fn department_move(tenant_id: Uuid) -> Self {
        Self::new(tenant_partition(tenant_id), "DEPTMOVE")
    }

    /// The outcome of one row of an import: what makes a rerun skip it.
    pub fn job_row(tenant_id: Uuid, job_id: Uuid, row: usize) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{}{row:07}", Self::job_rows_prefix(job_id)),
        )
    }

    pub fn job_rows_prefix(job_id: Uuid) -> String {
        format!("JOBROW#{job_id}#")
    }

    /// Rows a user or an address imported on a day (free plan), expiring by TTL.
    pub fn import_quota(subject: &str, day: &str) -> Self {
        Self::new(format!("IMPORTQUOTA#{subject}"), day)
    }

    /// Attempts at one door (sign-in, join, ...) by one subject (an address, a hashed email) in
    /// one fixed window (epoch seconds divided by the window length, 12 digits so windows sort),
    /// optionally narrowed to a part of the subject (an account's attempts from one address);
    /// expiring by TTL.
    pub fn rate_counter(door: &str, subject: &str, part: Option<&str>, window: i64) -> Self {
        let window = rate_window(window);
        Self::new(
            rate_partition(door, subject),
            match part {
                Some(part) => format!("{window}#{part}"),
                None => window,
            },
        )
    }

    /// The outbox's one partition: public answers that mail queue there (see `crate::outbox`).
    pub const OUTBOX: &'static str = "OUTBOX";

    /// A mail a public answer queued; the outbox worker spends (deletes) it.
    pub fn outbox_mail(id: Uuid) -> Self {
        Self::new(Self::OUTBOX.to_string(), format!("MAIL#{id}"))
    }

    /// A tenant's webhook endpoint.
    pub fn webhook(tenant_id: Uuid, endpoint_id: Uuid) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{WEBHOOK_PREFIX}{endpoint_id}"),
        )
    }

    /// One event's delivery to one endpoint, with its attempts.
    pub fn delivery(tenant_id: Uuid, endpoint_id: Uuid, event_id: Uuid) -> Self {
        Self::new(
            deliveries_of(tenant_id),
            format!("{endpoint_id}#{event_id}"),
        )
    }

    /// An event written with its change, until the sequencer numbers it.
    pub fn pending_event(tenant_id: Option<Uuid>, event_id: Uuid) -> Self {
        Self::new(pending_events_of(tenant_id), event_id.to_string())
    }

    /// Event `seq` of a log: a tenant's, or the platform's (`None`).
    pub fn event(tenant_id: Option<Uuid>, seq: u64) -> Self {
        Self::new(event_log(tenant_id), event_seq(seq))
    }

    /// The sequence of a log: its last event's number.
    pub fn event_sequence(tenant_id: Option<Uuid>) -> Self {
        let of = tenant_id.map_or_else(|| "ALL".to_string(), |t| t.to_string());
        Self::new(format!("EVENTSEQ#{of}"), "EVENTSEQ")
    }

    /// API clients are found by client id alone when they ask for a token.
    pub fn api_client(client_id: Uuid) -> Self {
        Self::new(format!("APICLIENT#{client_id}"), "APICLIENT")
    }

    /// Keeps a provisioned member's SCIM `userName` unique in its tenant (case-insensitively) and
    /// finds the member by it.
    pub fn scim_user_name(tenant_id: Uuid, user_name: &str) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("SCIMUSER#{}", user_name.to_lowercase()),
        )
    }

    /// Keeps a provisioned member's SCIM `externalId` unique in its tenant and finds it by it.
    pub fn scim_external_id(tenant_id: Uuid, external_id: &str) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("SCIMEXTID#{external_id}"),
        )
    }

    /// Where a SCIM token's walk of the Users list goes on at `start_index` (kept an hour by TTL;
    /// see `scim::user_list`). Sorted by start index, so the nearest one below is one query.
    pub fn scim_page(tenant_id: Uuid, token_id: Uuid, start_index: usize) -> Self {
        Self::new(
            tenant_partition(tenant_id),
            format!("{}{start_index:010}", scim_pages_prefix(token_id)),
        )
    }

    /// SCIM tokens are found by the id the presented token starts with.
    pub fn scim_token(token_id: Uuid) -> Self {
        Self::new(format!("SCIMTOKEN#{token_id}"), "SCIMTOKEN")
    }

    /// A create's idempotency record (kept 24 h by TTL); `scope_hash` is the hex SHA-256 of the
    /// tenant, the caller and the key, so the key itself is never stored.
    pub fn idempotency(scope_hash: &str) -> Self {
        Self::new(format!("IDEMPOTENCY#{scope_hash}"), "IDEMPOTENCY")
    }

    /// A person's session (see the layout above).
    pub fn session(session_id: Uuid) -> Self {
        Self::new(session_partition(session_id), "SESSION")
    }

    /// Whether this is the key of a session's item (not of a marker in its partition).
    pub fn is_session(&self) -> bool {
        self.pk.starts_with(SESSION_PREFIX) && self.sk == "SESSION"
    }

    /// The marker of a refresh token of the session that was spent (rotated); `token_hash` is
    /// the token's hex SHA-256.
    pub fn spent_refresh(session_id: Uuid, token_hash: &str) -> Self {
        Self::new(session_partition(session_id), format!("SPENT#{token_hash}"))
    }

    pub fn login_entry(tenant_id: Uuid, entry_id: Uuid) -> Self {
        Self::new(login_partition(tenant_id), entry_id.to_string())
    }

    pub fn audit(tenant_id: Uuid, audit_id: Uuid) -> Self {
        Self::new(audit_partition(tenant_id), audit_id.to_string())
    }
}

pub const DEPARTMENT_PREFIX: &str = "DEPT#";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const JOIN_LINK_PREFIX: &str = "JOINLINK#";
const SESSION_PREFIX: &str = "SESSION#";
pub const JOB_PREFIX: &str = "JOB#";

pub fn tenant_partition(tenant_id: Uuid) -> String {
    format!("TENANT#{tenant_id}")
}

pub fn audit_partition(tenant_id: Uuid) -> String {
    format!("AUDIT#{tenant_id}")
}

/// The abuse-limit counters of one subject at one door, every window and part.
pub fn rate_partition(door: &str, subject: &str) -> String {
    format!("RATE#{door}#{subject}")
}

/// A window number as counters' sort keys spell it: fixed width, so a range of windows is a
/// range of keys.
pub fn rate_window(window: i64) -> String {
    format!("{window:012}")
}

/// gsi1 of a tenant: every tenant, for platform admins.
pub const ALL_TENANTS: &str = "TENANTS";

/// gsi2 of a tenant: the customers of a reseller.
pub fn customers_of(reseller_id: Uuid) -> String {
    format!("CUSTOMERS#{reseller_id}")
}

/// gsi1 of a member: a user's memberships across tenants.
pub fn memberships_of(user_id: Uuid) -> String {
    format!("USER#{user_id}")
}

/// gsi2 partition of a tenant's members, sorted by department id path.
pub fn tree_partition(tenant_id: Uuid) -> String {
    format!("TREE#{tenant_id}")
}

/// gsi2 sort key of a member: its department's id path, then the member id. The `/#` separator
/// sorts a department's own members apart from its sub-departments' (`/<uuid>...`).
pub fn tree_position(department_id_path: &str, member_id: Uuid) -> String {
    format!("{department_id_path}/#{member_id}")
}

/// The gsi2 prefix of every member of a department and its descendants.
pub fn subtree_prefix(department_id_path: &str) -> String {
    format!("{department_id_path}/")
}

/// The partition of the search terms beginning like `prefix` (not empty).
pub fn search_partition(tenant_id: Uuid, prefix: &str) -> String {
    let first = prefix.chars().next().unwrap_or('_');
    format!("SEARCH#{tenant_id}#{first}")
}

/// gsi3 of active and disabled members: directory order, directory number then name.
pub fn directory_partition(tenant_id: Uuid) -> String {
    format!("DIR#{tenant_id}")
}

pub fn directory_position(directory_number: u32, folded_name: &str, member_id: Uuid) -> String {
    format!("{directory_number:05}#{folded_name}#{member_id}")
}

/// gsi3 of deleted members: the recycle bin, by deletion time.
pub fn recycle_bin_partition(tenant_id: Uuid) -> String {
    format!("BIN#{tenant_id}")
}

/// gsi4 of deleted members of every tenant, by purge time: what the recycle-purge job reads.
pub const PURGE_QUEUE: &str = "PURGE";

/// gsi4 of deleted tenants, by purge time: what the tenant-purge job reads.
pub const TENANT_PURGE_QUEUE: &str = "TENANTPURGE";

/// gsi4 sort key of a deleted tenant: its purge time, then its id.
pub fn tenant_purge_position(purge_after: &str, tenant_id: Uuid) -> String {
    format!("{purge_after}#{tenant_id}")
}

/// gsi5 of members not deleted: last sign-in order.
pub fn last_login_partition(tenant_id: Uuid) -> String {
    format!("LOGIN#{tenant_id}")
}

/// Members who never signed in sort before everyone who did ("0" < "2...").
pub fn last_login_position(last_login_at: Option<&str>, member_id: Uuid) -> String {
    format!("{}#{member_id}", last_login_at.unwrap_or("0"))
}

/// gsi4 of members not deleted: name order.
pub fn name_partition(tenant_id: Uuid) -> String {
    format!("NAME#{tenant_id}")
}

/// gsi3 of join requests: pending and rejected, each oldest first.
pub fn join_requests_partition(tenant_id: Uuid) -> String {
    format!("REQUESTS#{tenant_id}")
}

pub fn join_request_position(status: impl serde::Serialize, member_id: Uuid) -> String {
    let status = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{status}#{member_id}")
}

/// gsi3 of a tenant's invitations with one stored status (pending, accepted, revoked).
pub fn invitations_partition(tenant_id: Uuid, status: &str) -> String {
    format!("INVITES#{tenant_id}#{status}")
}

/// gsi4 of invitations holding a place in a quota, every tenant, by expiry.
pub const INVITATION_EXPIRY_QUEUE: &str = "INVITEEXPIRY";

/// gsi4 of the department move locks of every tenant: what the move worker's sweep reads.
pub const DEPARTMENT_MOVE_QUEUE: &str = "DEPTMOVES";

/// gsi6 of licensed members of a tenant, by licence expiry.
pub fn licences_partition(tenant_id: Uuid) -> String {
    format!("LICENCES#{tenant_id}")
}

/// gsi7 of licensed members of every tenant, by licence expiry: the licence-expiry job's queue.
pub const LICENCE_DUE_QUEUE: &str = "LICENCEDUE";

/// gsi1 partition of a tenant's API clients.
/// The sort-key prefix of one SCIM token's page cursors in its tenant's partition.
pub fn scim_pages_prefix(token_id: Uuid) -> String {
    format!("SCIMPAGE#{token_id}#")
}

/// gsi1 of a SCIM token: a tenant's tokens.
pub fn scim_tokens_of(tenant_id: Uuid) -> String {
    format!("SCIMTOKENS#{tenant_id}")
}

pub fn api_clients_of(tenant_id: Uuid) -> String {
    format!("APICLIENTS#{tenant_id}")
}

fn session_partition(session_id: Uuid) -> String {
    format!("{SESSION_PREFIX}{session_id}")
}

/// gsi1 partition of one user's sessions (sorted by session id, UUIDv7: oldest first).
pub fn sessions_of(user_id: Uuid) -> String {
    format!("SESSIONS#{user_id}")
}

pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

/// A tenant's webhook deliveries (an endpoint's are one `begins_with` away).
pub fn deliveries_of(tenant_id: Uuid) -> String {
    format!("DELIVERIES#{tenant_id}")
}

/// gsi4 partition of the deliveries waiting for their next attempt (the retry job's queue, all
/// tenants).
pub const WEBHOOK_RETRY_QUEUE: &str = "WEBHOOKDUE";

/// A tenant's events waiting for their number.
/// The pending events of a log: a tenant's, or the platform's alone (`None`).
pub fn pending_events_of(tenant_id: Option<Uuid>) -> String {
    match tenant_id {
        Some(t) => format!("EVENTQ#{t}"),
        None => "EVENTQ#ALL".into(),
    }
}

/// A log of events: a tenant's, or the platform's (`None`).
pub fn event_log(tenant_id: Option<Uuid>) -> String {
    match tenant_id {
        Some(t) => format!("EVENTS#{t}"),
        None => "EVENTS#ALL".into(),
    }
}

/// An event's number as its sort key (fixed width, so string order is number order).
pub fn event_seq(seq: u64) -> String {
    format!("{seq:016}")
}

/// Shards of the sequencer's sweep queue.
pub const EVENT_SWEEP_SHARDS: u8 = 16;

/// gsi4 partition of a pending event in the sweep queue (the tenant's shard).
pub fn event_sweep_queue(tenant_id: Uuid) -> String {
    let shard = tenant_id.as_bytes()[15] % EVENT_SWEEP_SHARDS;
    event_sweep_shard(shard)
}

pub fn event_sweep_shard(shard: u8) -> String {
    format!("EVENTQ#{shard:02}")
}

/// gsi2 partition of the sessions acting in one tenant (the tenant purge removes them).
pub fn sessions_in(tenant_id: Uuid) -> String {
    format!("SESSIONSIN#{tenant_id}")
}

/// A tenant's sign-ins, newest last by id.
pub fn login_partition(tenant_id: Uuid) -> String {
    format!("LOGINS#{tenant_id}")
}

/// gsi1 partition of one user's sign-ins across tenants.
pub fn logins_of(user_id: Uuid) -> String {
    format!("LOGINSBY#{user_id}")
}

/// gsi1 partition of the audit entries of one actor in one tenant.
pub fn audit_by_actor(tenant_id: Uuid, actor_id: Uuid) -> String {
    format!("AUDITBY#{tenant_id}#{actor_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_prefix_matches_own_and_descendant_members_only() {
        let root = Uuid::now_v7();
        let sales = Uuid::now_v7();
        let emea = Uuid::now_v7();
        let m = Uuid::now_v7();
        let sales_path = format!("{root}/{sales}");
        let emea_path = format!("{sales_path}/{emea}");
        let prefix = subtree_prefix(&sales_path);
        assert!(tree_position(&sales_path, m).starts_with(&prefix));
        assert!(tree_position(&emea_path, m).starts_with(&prefix));
        assert!(!tree_position(&root.to_string(), m).starts_with(&prefix));
    }

    #[test]
    fn sibling_names_compare_case_insensitively() {
        let (t, p) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            Key::sibling_name(t, p, "Sales"),
            Key::sibling_name(t, p, "SALES")
        );
    }
}
