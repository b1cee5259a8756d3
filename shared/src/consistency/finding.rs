//! One broken invariant and how it is repaired.

use crate::model::item::Item;
use crate::model::keys::Key;
use serde::Serialize;
use uuid::Uuid;

/// One broken invariant.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Which invariant (`tenant.member_count`, `guard.user_in_tenant`, `search.term`, ...).
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    pub pk: String,
    pub sk: String,
    pub detail: String,
    /// Whether `repair` can fix it.
    pub repairable: bool,
    #[serde(skip)]
    pub fix: Option<Fix>,
}

impl Finding {
    pub(super) fn new(rule: &str, tenant_id: Option<Uuid>, key: &Key, detail: String) -> Self {
        Self {
            rule: rule.to_string(),
            tenant_id,
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            detail,
            repairable: false,
            fix: None,
        }
    }

    pub(super) fn fix(mut self, fix: Fix) -> Self {
        self.repairable = true;
        self.fix = Some(fix);
        self
    }

    pub(super) fn fix_if(self, can: bool, fix: impl FnOnce() -> Fix) -> Self {
        if can { self.fix(fix()) } else { self }
    }
}

/// How a finding is repaired.
#[derive(Debug, Clone)]
pub enum Fix {
    /// Recount the tenant's counters and its departments' (one repair per tenant).
    Counters(Uuid),
    /// Put a missing guard or search term, while what it guards is unchanged.
    Put {
        item: Item,
        target: Key,
        target_version: u64,
    },
    /// Delete a guard or search term that names nothing (or something that does not hold it),
    /// while it still names the same holder and that holder is still absent or unchanged.
    Delete {
        key: Key,
        holder_attr: &'static str,
        holder: Option<Uuid>,
        target: Key,
        target_version: Option<u64>,
    },
}

impl Fix {
    /// The guard expires at `ttl` (a binned member's guard expires with the entry).
    pub(super) fn expiring(mut self, ttl: Option<i64>) -> Self {
        if let (Self::Put { item, .. }, Some(ttl)) = (&mut self, ttl) {
            item.insert(crate::model::keys::TTL.into(), crate::store::num(ttl));
        }
        self
    }
}

/// Puts a missing guard naming `holder` (in `attr`), while its target is unchanged.
pub(super) fn put_guard(
    key: &Key,
    attr: &str,
    holder: Uuid,
    target: &Key,
    target_version: u64,
) -> Fix {
    let mut item = key.to_item();
    item.insert(attr.to_string(), crate::store::s(holder.to_string()));
    Fix::Put {
        item,
        target: target.clone(),
        target_version,
    }
}
