//! A department's counters (its members, its children) move in the same transaction as what
//! they count, guarded so that none goes below zero and what lands in a department lands where
//! it was read to be.

use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::store::{Condition, Transaction, Update, num, s};

/// A counter of a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    // Members join, leave and change department in `members`, `joining` and `invitations`,
    // which still spell this change out themselves.
    #[allow(dead_code)]
    Members,
    Children,
}

impl Count {
    fn attribute(self) -> &'static str {
        match self {
            Self::Members => "member_count",
            Self::Children => "child_count",
        }
    }
}

/// What a department must still be when its count changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StillAt<'a> {
    /// Anything: a department being left may have moved meanwhile.
    Anywhere,
    /// At this id path: neither moved nor deleted since it was read (what lands in it is keyed
    /// by its id path).
    IdPath(&'a str),
    /// At these id and name paths: neither moved, renamed nor deleted (a new child's paths are
    /// built from both).
    Paths { id_path: &'a str, path: &'a str },
}

/// Adds `delta` to the department's `count` in `tx` while the department is `still_at` where
/// it was read and, for a decrement, holds what it takes; `refusal` answers otherwise.
pub(crate) fn add_to_count(
    tx: &mut Transaction,
    department: &Key,
    count: Count,
    delta: i64,
    still_at: StillAt<'_>,
    refusal: ApiError,
) -> ApiResult<()> {
    let guard = count_guard(count, delta, still_at);
    let condition = (!guard.expression.is_empty()).then_some((guard, refusal));
    tx.update(
        department,
        Update::new(format!("ADD {} :delta", count.attribute())).value(":delta", num(delta)),
        condition,
    )
}

/// The condition of a count change (empty when nothing needs checking).
fn count_guard(count: Count, delta: i64, still_at: StillAt<'_>) -> Condition {
    let place = match still_at {
        StillAt::Anywhere => Condition::default(),
        StillAt::IdPath(id_path) => {
            Condition::new("id_path = :id_path").value(":id_path", s(id_path))
        }
        StillAt::Paths { id_path, path } => Condition::new("id_path = :id_path AND #path = :path")
            .name("#path", "path")
            .value(":id_path", s(id_path))
            .value(":path", s(path)),
    };
    place.and(Condition::counters_cover(&[(count.attribute(), delta)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_increment_checks_only_the_place() {
        let guard = count_guard(Count::Members, 3, StillAt::IdPath("r/a"));
        assert_eq!(guard.expression, "id_path = :id_path");
        assert_eq!(guard.values.get(":id_path"), Some(&s("r/a")));
        assert!(
            count_guard(Count::Children, 1, StillAt::Anywhere)
                .expression
                .is_empty()
        );
    }

    #[test]
    fn a_decrement_never_goes_below_zero() {
        let guard = count_guard(Count::Children, -1, StillAt::Anywhere);
        assert_eq!(guard.expression, "child_count >= :child_count_taken");
        assert_eq!(guard.values.get(":child_count_taken"), Some(&num(1)));

        let guard = count_guard(Count::Members, -4, StillAt::IdPath("r"));
        assert_eq!(
            guard.expression,
            "(id_path = :id_path) AND (member_count >= :member_count_taken)"
        );
        assert_eq!(guard.values.get(":member_count_taken"), Some(&num(4)));
    }

    #[test]
    fn a_new_childs_parent_keeps_both_paths() {
        let guard = count_guard(
            Count::Children,
            1,
            StillAt::Paths {
                id_path: "r/a",
                path: "Root/A",
            },
        );
        assert_eq!(guard.expression, "id_path = :id_path AND #path = :path");
        assert_eq!(guard.names.get("#path").map(String::as_str), Some("path"));
        assert_eq!(guard.values.get(":path"), Some(&s("Root/A")));
    }
}
