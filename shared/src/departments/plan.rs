//! What a department PATCH changes, decided from what was read, without I/O: the new name,
//! parent, paths and settings; whether that reshapes the subtree below; where each descendant
//! goes; and whether it all fits one transaction or a move job finishes it.

use super::guards::too_deep;
use super::lock::{MoveLock, Placement, index_agrees};
use super::settings::DepartmentSettingsPatch;
use super::settings::settings_write_needed;
use super::tree::{Placed, Tree};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::department::{Department, MAX_DEPTH};
use crate::store::MAX_TRANSACTION_ACTIONS;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// What a PATCH asks for, its name already validated and its new parent read.
#[derive(Debug, Default)]
pub(super) struct Asked {
    pub name: Option<String>,
    pub parent: Option<Department>,
    pub settings: Option<DepartmentSettingsPatch>,
}

/// A department's change, decided.
#[derive(Debug)]
pub(super) struct Edit {
    pub before: Department,
    pub after: Department,
    /// The new parent of a move (a parent named but unchanged is no move).
    pub new_parent: Option<Department>,
    /// The paths below change: a move, or a rename.
    pub reshaped: bool,
}

impl Edit {
    /// Settings, name and place. A move never goes under the department itself or a descendant
    /// (as its id path shows; `place_subtree` follows the stored parent ids), never deeper than
    /// `MAX_DEPTH`, and neither moves nor renames reach into, out of or above a subtree whose
    /// move is still running.
    pub fn plan(
        before: Department,
        asked: Asked,
        may_write_settings: bool,
        lock: Option<&MoveLock>,
        now: OffsetDateTime,
    ) -> ApiResult<Self> {
        let mut after = before.clone();
        let mut checks = Checks::new();
        if let Some(settings) = asked.settings {
            settings.apply(&mut checks, &mut after.settings);
        }
        checks.finish()?;
        if after.settings.ip_allowlist != before.settings.ip_allowlist {
            settings_write_needed(may_write_settings)?;
        }
        if let Some(name) = asked.name {
            after.name = name;
        }
        let new_parent = match asked.parent {
            Some(parent) if Some(parent.id) != before.parent_id => {
                move_under(&before, &mut after, &parent)?;
                Some(parent)
            }
            _ => None,
        };
        after.path = path_of(&before, &after, new_parent.as_ref());
        if after.depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let reshaped = new_parent.is_some() || after.path != before.path;
        if reshaped && let Some(lock) = lock {
            let into = new_parent.as_ref().is_some_and(|p| lock.holds(p));
            if into || lock.touches(&before) {
                return Err(lock.refusal());
            }
        }
        after.updated_at = now;
        after.version += 1;
        Ok(Self {
            before,
            after,
            new_parent,
            reshaped,
        })
    }

    pub fn moved(&self) -> bool {
        self.new_parent.is_some()
    }

    /// Whether the subtree must be read to be rewritten. A leaf has none: its child count,
    /// conditioned in the transaction, says so (and so no cycle can form through it either).
    pub fn needs_subtree(&self) -> bool {
        self.reshaped && self.before.child_count > 0
    }

    /// The descendants' new places, along stored parent ids: refused when the new parent is
    /// among them (a cycle their id paths did not show) or when one would nest deeper than
    /// `MAX_DEPTH`.
    pub fn place_subtree(&self, tree: &Tree) -> ApiResult<Vec<Placed>> {
        if let Some(parent) = &self.new_parent
            && tree.is_within(parent.id, self.before.id)
        {
            return Err(ApiError::DepartmentCycle);
        }
        let below = tree.place_below(&self.after);
        if below.iter().any(|d| d.depth > MAX_DEPTH) {
            return Err(too_deep());
        }
        Ok(below)
    }

    /// The members whose tree keys the change rewrites: for a move, the department's and every
    /// descendant's; a rename keeps every id path.
    pub fn members_total(&self, below: &[Placed]) -> usize {
        if !self.moved() {
            return 0;
        }
        self.before.member_count as usize
            + below
                .iter()
                .map(|d| d.before.member_count as usize)
                .sum::<usize>()
    }

    /// Whether `members`, read from the tree index, are all of the subtree's: the stored member
    /// counts of the department and its descendants agree with them.
    pub fn has_every_member(&self, below: &[Placed], members: &[Placement]) -> bool {
        let mut counts: HashMap<Uuid, u32> = below
            .iter()
            .map(|d| (d.before.id, d.before.member_count))
            .collect();
        counts.insert(self.before.id, self.before.member_count);
        index_agrees(members, &counts)
    }

    /// The audit action.
    pub fn action(&self) -> &'static str {
        if self.moved() {
            "department.move"
        } else {
            "department.update"
        }
    }
}

/// Whether the descendants and the members fit in one transaction beside the `used` actions
/// (the department's own writes and the audit entry) and the move lock's check.
pub(super) fn fits_one_transaction(used: usize, below: usize, members: usize) -> bool {
    below + members <= MAX_TRANSACTION_ACTIONS.saturating_sub(used + 1)
}

/// `after` under `parent`: its parent, id path and depth. The root never moves, nor does a
/// department under itself or its descendants.
fn move_under(before: &Department, after: &mut Department, parent: &Department) -> ApiResult<()> {
    if before.parent_id.is_none() {
        return Err(ApiError::Conflict("the root department cannot move".into()));
    }
    if before.contains(parent) {
        return Err(ApiError::DepartmentCycle);
    }
    after.parent_id = Some(parent.id);
    after.id_path = format!("{}/{}", parent.id_path, before.id);
    after.depth = parent.depth + 1;
    Ok(())
}

/// The name path of `after`: below its new parent, or where `before` was.
fn path_of(before: &Department, after: &Department, new_parent: Option<&Department>) -> String {
    let parent_path = match (new_parent, before.parent_id) {
        (Some(parent), _) => Some(parent.path.clone()),
        (None, Some(_)) => before.path.rsplit_once('/').map(|(p, _)| p.to_string()),
        (None, None) => None,
    };
    match parent_path {
        Some(p) => format!("{p}/{}", after.name),
        None => after.name.clone(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::keys::Key;

    /// A department below `parent` (the root without one), as stored.
    pub(in crate::departments) fn dept(name: &str, parent: Option<&Department>) -> Department {
        let id = Uuid::now_v7();
        let now = OffsetDateTime::UNIX_EPOCH;
        Department {
            id,
            tenant_id: parent.map_or_else(Uuid::now_v7, |p| p.tenant_id),
            name: name.into(),
            parent_id: parent.map(|p| p.id),
            path: parent.map_or(name.to_string(), |p| format!("{}/{name}", p.path)),
            id_path: parent.map_or(id.to_string(), |p| format!("{}/{id}", p.id_path)),
            depth: parent.map_or(0, |p| p.depth + 1),
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: now,
            updated_at: now,
            version: 1,
            scim_external_id: None,
        }
    }

    /// The lock of a move job running on `d` (moving it to where it is now).
    pub(in crate::departments) fn lock_on(d: &Department) -> MoveLock {
        MoveLock {
            job_id: Uuid::now_v7(),
            tenant_id: d.tenant_id,
            department_id: d.id,
            old_id_path: d.id_path.clone(),
            new_id_path: d.id_path.clone(),
        }
    }

    fn later() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1)
    }

    fn move_to(d: &Department, parent: &Department) -> ApiResult<Edit> {
        let asked = Asked {
            parent: Some(parent.clone()),
            ..Asked::default()
        };
        Edit::plan(d.clone(), asked, false, None, later())
    }

    /// A new name for `d`, naming its `parent` again (the same parent is no move).
    fn rename(
        d: &Department,
        parent: Option<&Department>,
        name: &str,
        lock: Option<&MoveLock>,
    ) -> ApiResult<Edit> {
        let asked = Asked {
            name: Some(name.into()),
            parent: parent.cloned(),
            ..Asked::default()
        };
        Edit::plan(d.clone(), asked, false, lock, later())
    }

    fn code(result: ApiResult<Edit>) -> &'static str {
        result.map_or_else(|e| e.code(), |_| "planned")
    }

    #[test]
    fn a_move_rewrites_the_id_paths_of_the_department_and_its_subtree() {
        let root = dept("Root", None);
        let sales = dept("Sales", Some(&root));
        let mut emea = dept("EMEA", Some(&sales));
        emea.child_count = 1;
        emea.member_count = 2;
        let mut paris = dept("Paris", Some(&emea));
        paris.member_count = 3;
        let ops = dept("Ops", Some(&root));

        let edit = move_to(&emea, &ops).expect("a move");
        assert!(edit.moved() && edit.reshaped && edit.needs_subtree());
        assert_eq!(edit.after.parent_id, Some(ops.id));
        assert_eq!(edit.after.path, "Root/Ops/EMEA");
        assert_eq!(
            edit.after.id_path,
            format!("{}/{}/{}", root.id, ops.id, emea.id)
        );
        assert_eq!(edit.after.depth, 2);
        assert_eq!((edit.after.version, edit.after.updated_at), (2, later()));
        assert_eq!(edit.action(), "department.move");

        let tree = Tree::of(vec![
            root.clone(),
            sales.clone(),
            emea.clone(),
            paris.clone(),
            ops.clone(),
        ]);
        let below = edit.place_subtree(&tree).expect("placed");
        assert_eq!(below.len(), 1);
        assert_eq!(below[0].path, "Root/Ops/EMEA/Paris");
        assert_eq!(
            below[0].id_path,
            format!("{}/{}", edit.after.id_path, paris.id)
        );
        assert_eq!(edit.members_total(&below), 5);
    }

    #[test]
    fn a_rename_under_the_same_parent_keeps_the_id_paths() {
        let root = dept("Root", None);
        let mut sales = dept("Sales", Some(&root));
        sales.child_count = 1;
        sales.member_count = 4;
        let emea = dept("EMEA", Some(&sales));

        let edit = rename(&sales, Some(&root), "Revenue", None).expect("a rename");
        assert!(!edit.moved());
        assert!(edit.reshaped && edit.needs_subtree());
        assert_eq!(edit.after.parent_id, sales.parent_id);
        assert_eq!(edit.after.id_path, sales.id_path);
        assert_eq!(edit.after.path, "Root/Revenue");
        assert_eq!(edit.action(), "department.update");

        let below = edit
            .place_subtree(&Tree::of(vec![root.clone(), sales.clone(), emea.clone()]))
            .expect("placed");
        assert_eq!(below[0].path, "Root/Revenue/EMEA");
        assert_eq!(below[0].id_path, emea.id_path);
        // A rename rewrites no member.
        assert_eq!(edit.members_total(&below), 0);

        // The same name again reshapes nothing.
        let same = rename(&sales, Some(&root), "Sales", None).expect("no change");
        assert!(!same.reshaped && !same.needs_subtree());
        assert_eq!(same.after.version, 2);
    }

    #[test]
    fn a_rename_of_the_root_renames_the_whole_path() {
        let root = dept("Root", None);
        let edit = rename(&root, None, "Acme", None).expect("a rename");
        assert_eq!(edit.after.path, "Acme");
        assert!(edit.reshaped);
    }

    #[test]
    fn no_move_under_itself_or_a_descendant() {
        let root = dept("Root", None);
        let a = dept("A", Some(&root));
        let b = dept("B", Some(&a));
        assert_eq!(code(move_to(&a, &a)), "department_cycle");
        assert_eq!(code(move_to(&a, &b)), "department_cycle");

        // B's id path was left stale, so only the stored parent ids show it is below A.
        let mut stale = b.clone();
        stale.id_path = format!("{}/{}", root.id, b.id);
        let mut a_with_child = a.clone();
        a_with_child.child_count = 1;
        let edit = move_to(&a_with_child, &stale).expect("the id paths do not show it");
        let tree = Tree::of(vec![root, a_with_child, stale]);
        assert!(matches!(
            edit.place_subtree(&tree),
            Err(ApiError::DepartmentCycle)
        ));
    }

    #[test]
    fn the_root_never_moves() {
        let root = dept("Root", None);
        let other = dept("Other", None);
        assert_eq!(code(move_to(&root, &other)), "conflict");
    }

    #[test]
    fn nothing_nests_deeper_than_max_depth() {
        let root = dept("Root", None);
        let mut deepest = dept("Deepest", Some(&root));
        deepest.depth = MAX_DEPTH;
        let a = dept("A", Some(&root));
        assert_eq!(code(move_to(&a, &deepest)), "validation_failed");

        // A's child would land one level too deep.
        let mut almost = dept("Almost", Some(&root));
        almost.depth = MAX_DEPTH - 1;
        let mut a_with_child = a.clone();
        a_with_child.child_count = 1;
        let b = dept("B", Some(&a));
        let edit = move_to(&a_with_child, &almost).expect("A itself fits");
        assert_eq!(edit.after.depth, MAX_DEPTH);
        let tree = Tree::of(vec![root, almost, a_with_child, b]);
        let Err(ApiError::Validation(errors)) = edit.place_subtree(&tree) else {
            panic!("too deep");
        };
        assert_eq!(errors[0].field, "parent_id");
    }

    #[test]
    fn a_running_move_holds_its_subtree_and_what_is_above_it() {
        let root = dept("Root", None);
        let a = dept("A", Some(&root));
        let moving = dept("Moving", Some(&a));
        let inside = dept("Inside", Some(&moving));
        let aside = dept("Aside", Some(&root));
        let lock = lock_on(&moving);
        let with_lock = |d: &Department, parent: &Department| {
            let asked = Asked {
                parent: Some(parent.clone()),
                ..Asked::default()
            };
            Edit::plan(d.clone(), asked, false, Some(&lock), later())
        };
        // Into the moving subtree, out of it, or above it: refused.
        assert_eq!(code(with_lock(&aside, &inside)), "conflict");
        assert_eq!(code(with_lock(&inside, &aside)), "conflict");
        assert_eq!(code(rename(&a, Some(&root), "A2", Some(&lock))), "conflict");
        // Beside it: fine, and so is a change of settings only.
        assert_eq!(code(with_lock(&aside, &a)), "planned");
        let settings_only = Asked {
            settings: Some(
                serde_json::from_value(serde_json::json!({"contact_visibility": "admins"}))
                    .expect("a settings patch"),
            ),
            ..Asked::default()
        };
        assert_eq!(
            code(Edit::plan(
                moving.clone(),
                settings_only,
                false,
                Some(&lock),
                later()
            )),
            "planned"
        );
    }

    #[test]
    fn an_allowlist_change_needs_settings_write() {
        let root = dept("Root", None);
        let a = dept("A", Some(&root));
        let asked = || Asked {
            settings: Some(
                serde_json::from_value(serde_json::json!({"ip_allowlist": ["10.0.0.0/8"]}))
                    .expect("a settings patch"),
            ),
            ..Asked::default()
        };
        assert_eq!(
            code(Edit::plan(a.clone(), asked(), false, None, later())),
            "forbidden"
        );
        let edit = Edit::plan(a, asked(), true, None, later()).expect("allowed");
        assert!(!edit.reshaped);
    }

    #[test]
    fn the_tree_index_must_hold_every_member_of_the_subtree() {
        let root = dept("Root", None);
        let mut a = dept("A", Some(&root));
        a.member_count = 1;
        a.child_count = 1;
        let mut b = dept("B", Some(&a));
        b.member_count = 1;
        let edit = move_to(&a, &dept("Other", Some(&root))).expect("a move");
        let below = edit
            .place_subtree(&Tree::of(vec![a.clone(), b.clone()]))
            .expect("placed");
        let member = |department_id| Placement {
            key: Key {
                pk: "p".into(),
                sk: "s".into(),
            },
            member_id: Uuid::now_v7(),
            department_id,
            tree_key: String::new(),
        };
        assert!(edit.has_every_member(&below, &[member(a.id), member(b.id)]));
        assert!(!edit.has_every_member(&below, &[member(a.id)]));
    }

    #[test]
    fn a_subtree_fits_one_transaction_only_with_room_for_the_lock_check() {
        let room = MAX_TRANSACTION_ACTIONS - 5 - 1;
        assert!(fits_one_transaction(5, room - 10, 10));
        assert!(!fits_one_transaction(5, room - 10, 11));
        assert!(!fits_one_transaction(MAX_TRANSACTION_ACTIONS, 0, 1));
    }
}
