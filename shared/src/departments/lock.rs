//! The tenant's move lock, which a move job holds on its subtree until it completes, and the
//! members a move places: read from the tree index below a department, with a check that the index
//! holds them all.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::job::MoveSpec;
use crate::model::keys::{
    DEPARTMENT_MOVE_QUEUE, GSI2, GSI4, Key, MEMBER_PREFIX, PK, SK, subtree_prefix, tree_partition,
    tree_position,
};
use crate::store::{Condition, Item, Query, SortRange, Transaction, Update, num, s, to_item};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The tenant's move lock: which subtree a running move job holds. It sits in the sweep's queue
/// (gsi4 `DEPTMOVES`), so a job whose runs all died is found again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MoveLock {
    pub job_id: Uuid,
    pub tenant_id: Uuid,
    pub department_id: Uuid,
    pub old_id_path: String,
    pub new_id_path: String,
}

fn names(id_path: &str, id: Uuid) -> bool {
    let id = id.to_string();
    id_path.split('/').any(|segment| segment == id)
}

impl MoveLock {
    pub fn for_job(job_id: Uuid, spec: &MoveSpec, tenant_id: Uuid) -> Self {
        Self {
            job_id,
            tenant_id,
            department_id: spec.department_id,
            old_id_path: spec.old_id_path.clone(),
            new_id_path: spec.new_id_path.clone(),
        }
    }

    pub fn item(&self) -> ApiResult<Item> {
        to_item(
            self,
            &Key::department_move(self.tenant_id),
            &[
                (GSI4.pk, DEPARTMENT_MOVE_QUEUE.to_string()),
                (GSI4.sk, self.tenant_id.to_string()),
            ],
        )
    }

    /// Whether `d` is in the moving subtree (whichever of its id paths it has yet).
    pub fn holds(&self, d: &Department) -> bool {
        d.id == self.department_id || names(&d.id_path, self.department_id)
    }

    /// Whether moving or renaming `d` would meet the move: `d` is in the moving subtree or above
    /// it, before or after the move.
    pub fn touches(&self, d: &Department) -> bool {
        self.holds(d) || names(&self.old_id_path, d.id) || names(&self.new_id_path, d.id)
    }

    pub fn refusal(&self) -> ApiError {
        ApiError::Conflict(format!(
            "a move of department {} is still in progress (job {} in the task centre); \
             retry once it has finished",
            self.department_id, self.job_id
        ))
    }
}

/// A department write that read the tenant's move lock goes through only while the lock is as
/// it was read (none, or the same job, whose subtree the write was checked against).
pub(crate) fn check_lock(
    tx: &mut Transaction,
    tenant_id: Uuid,
    lock: Option<&MoveLock>,
) -> ApiResult<()> {
    let condition = match lock {
        None => Condition::absent(),
        Some(lock) => Condition::new("attribute_not_exists(pk) OR job_id = :lock_job")
            .value(":lock_job", s(lock.job_id.to_string())),
    };
    tx.check(
        &Key::department_move(tenant_id),
        condition,
        ApiError::Conflict("a department move started at the same time; retry".into()),
    )
}

/// A member as the tree index holds it: its key, department and tree key.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub key: Key,
    pub member_id: Uuid,
    pub department_id: Uuid,
    pub tree_key: String,
}

impl Placement {
    /// Of an item of the tree index or of the table; None for one without a tree key (deleted
    /// members and join requests are not in the tree).
    pub fn of(item: &Item) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let (pk, sk) = (text(PK)?, text(SK)?);
        Some(Self {
            key: Key {
                pk: pk.clone(),
                sk: sk.clone(),
            },
            member_id: sk.strip_prefix(MEMBER_PREFIX)?.parse().ok()?,
            department_id: text("department_id")?.parse().ok()?,
            tree_key: text(GSI2.sk)?.clone(),
        })
    }

    /// Sets the member's tree key to `id_path` (its department's) and moves its version on,
    /// while the member is still where it was read.
    pub fn rewrite(&self, tx: &mut Transaction, id_path: &str) -> ApiResult<()> {
        tx.update(
            &self.key,
            Update::new("SET #tree = :tree ADD #version :one")
                .name("#tree", GSI2.sk)
                .name("#version", "version")
                .value(":tree", s(tree_position(id_path, self.member_id)))
                .value(":one", num(1)),
            Some((
                Condition::new("#tree = :seen AND department_id = :dept")
                    .name("#tree", GSI2.sk)
                    .value(":seen", s(&self.tree_key))
                    .value(":dept", s(self.department_id.to_string())),
                ApiError::Conflict(
                    "a member of the subtree changed at the same time; retry".into(),
                ),
            )),
        )
    }
}

/// Every member indexed below `id_path` (its tree index, following pages).
pub(crate) async fn members_below(
    app: &App,
    tenant_id: Uuid,
    id_path: &str,
) -> ApiResult<Vec<Placement>> {
    Ok(app
        .store
        .query_all(Query::new(
            Some(GSI2),
            tree_partition(tenant_id),
            SortRange::Prefix(subtree_prefix(id_path)),
        ))
        .await?
        .iter()
        .filter_map(Placement::of)
        .collect())
}

/// The per-department member counts of a subtree agree with its members in the tree index:
/// then the index holds them all (a member added just before and not indexed yet would show
/// as a difference) and an atomic move rewrites every one.
pub(crate) fn index_agrees(members: &[Placement], counts: &HashMap<Uuid, u32>) -> bool {
    let mut seen: HashMap<Uuid, u32> = HashMap::new();
    for m in members {
        *seen.entry(m.department_id).or_default() += 1;
    }
    seen.keys().all(|d| counts.contains_key(d))
        && counts
            .iter()
            .all(|(d, n)| seen.get(d).copied().unwrap_or(0) == *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_holds_the_subtree_and_touches_its_ancestors() {
        let (root, a, b, c, x) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let lock = MoveLock {
            job_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            department_id: b,
            old_id_path: format!("{root}/{a}/{b}"),
            new_id_path: format!("{root}/{x}/{b}"),
        };
        let at = |id: Uuid, id_path: String| {
            let mut d = Department {
                id,
                tenant_id: lock.tenant_id,
                name: "d".into(),
                parent_id: None,
                path: "d".into(),
                id_path,
                depth: 0,
                member_count: 0,
                child_count: 0,
                settings: Default::default(),
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                updated_at: time::OffsetDateTime::UNIX_EPOCH,
                version: 1,
                scim_external_id: None,
            };
            d.parent_id = Some(root);
            d
        };
        // Below the moving department, by its old or its new id path.
        assert!(lock.holds(&at(c, format!("{root}/{a}/{b}/{c}"))));
        assert!(lock.holds(&at(c, format!("{root}/{x}/{b}/{c}"))));
        assert!(lock.holds(&at(b, format!("{root}/{x}/{b}"))));
        assert!(!lock.holds(&at(a, format!("{root}/{a}"))));
        // Its old and new ancestors are touched, a sibling is not.
        assert!(lock.touches(&at(a, format!("{root}/{a}"))));
        assert!(lock.touches(&at(x, format!("{root}/{x}"))));
        assert!(!lock.touches(&at(c, format!("{root}/{c}"))));
    }

    #[test]
    fn the_index_agrees_only_with_exact_counts() {
        let (d, e) = (Uuid::now_v7(), Uuid::now_v7());
        let member = |department_id| Placement {
            key: Key {
                pk: "p".into(),
                sk: "s".into(),
            },
            member_id: Uuid::now_v7(),
            department_id,
            tree_key: String::new(),
        };
        let members = vec![member(d), member(d), member(e)];
        let counts = HashMap::from([(d, 2), (e, 1)]);
        assert!(index_agrees(&members, &counts));
        assert!(!index_agrees(&members, &HashMap::from([(d, 2), (e, 2)])));
        assert!(!index_agrees(&members, &HashMap::from([(d, 2)])));
        assert!(!index_agrees(&members[..2], &counts));
    }
}
