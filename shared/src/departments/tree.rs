//! A tenant's department tree as stored, walked along parent ids. Ancestry and the places of a
//! subtree follow the stored `parent_id`s, never the id path strings: an id path is what the
//! members' tree keys are built from, and is rewritten from the parent ids when it disagrees.

use crate::app::App;
use crate::error::ApiResult;
use crate::model::department::Department;
use crate::model::keys::{DEPARTMENT_PREFIX, tenant_partition};
use crate::store::{Query, SortRange, from_item};
use std::collections::{HashMap, HashSet, VecDeque};
use uuid::Uuid;

pub(crate) struct Tree {
    departments: HashMap<Uuid, Department>,
    children: HashMap<Uuid, Vec<Uuid>>,
}

/// A descendant as read, and where it belongs below its (moved or renamed) ancestor.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub before: Department,
    pub path: String,
    pub id_path: String,
    pub depth: u32,
}

impl Placed {
    /// Whether the stored department is not where it belongs yet.
    pub fn changed(&self) -> bool {
        self.before.path != self.path
            || self.before.id_path != self.id_path
            || self.before.depth != self.depth
    }
}

impl Tree {
    /// Every department of the tenant (one strongly consistent query).
    pub async fn read(app: &App, tenant_id: Uuid) -> ApiResult<Self> {
        let items = app
            .store
            .query_all(Query::new(
                None,
                tenant_partition(tenant_id),
                SortRange::Prefix(DEPARTMENT_PREFIX.into()),
            ))
            .await?;
        let mut departments = Vec::with_capacity(items.len());
        for item in items {
            departments.push(from_item::<Department>(item)?);
        }
        Ok(Self::of(departments))
    }

    pub fn of(departments: Vec<Department>) -> Self {
        let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for d in &departments {
            if let Some(parent) = d.parent_id {
                children.entry(parent).or_default().push(d.id);
            }
        }
        for list in children.values_mut() {
            list.sort();
        }
        Self {
            departments: departments.into_iter().map(|d| (d.id, d)).collect(),
            children,
        }
    }

    pub fn get(&self, id: Uuid) -> Option<&Department> {
        self.departments.get(&id)
    }

    /// Whether `ancestor` is `id` itself or on its chain of stored parent ids. A chain that
    /// loops (it never should) counts as inside: nothing is moved into it.
    pub fn is_within(&self, id: Uuid, ancestor: Uuid) -> bool {
        let mut current = Some(id);
        let mut steps = 0;
        while let Some(at) = current {
            if at == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.departments.len() {
                return true;
            }
            current = self.departments.get(&at).and_then(|d| d.parent_id);
        }
        false
    }

    /// Every descendant of `top` (without it), parents before children, placed below `top` as
    /// given: its name path, id path and depth are the ones it has (or gets).
    pub fn place_below(&self, top: &Department) -> Vec<Placed> {
        let mut placed = Vec::new();
        let mut seen = HashSet::from([top.id]);
        let mut queue =
            VecDeque::from([(top.id, top.path.clone(), top.id_path.clone(), top.depth)]);
        while let Some((id, path, id_path, depth)) = queue.pop_front() {
            for child in self.children.get(&id).into_iter().flatten() {
                let Some(d) = self.departments.get(child) else {
                    continue;
                };
                if !seen.insert(d.id) {
                    continue;
                }
                let at = Placed {
                    before: d.clone(),
                    path: format!("{path}/{}", d.name),
                    id_path: format!("{id_path}/{}", d.id),
                    depth: depth + 1,
                };
                queue.push_back((d.id, at.path.clone(), at.id_path.clone(), at.depth));
                placed.push(at);
            }
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn dept(id: Uuid, name: &str, parent: Option<&Department>) -> Department {
        let now = OffsetDateTime::UNIX_EPOCH;
        Department {
            id,
            tenant_id: Uuid::nil(),
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

    #[test]
    fn ancestry_and_places_follow_parent_ids_not_id_paths() {
        let root = dept(Uuid::now_v7(), "Root", None);
        let a = dept(Uuid::now_v7(), "A", Some(&root));
        let b = dept(Uuid::now_v7(), "B", Some(&a));
        let mut c = dept(Uuid::now_v7(), "C", Some(&b));
        // C's id path was left stale: it no longer names A or B.
        c.id_path = format!("{}/{}", root.id, c.id);
        c.depth = 1;
        let tree = Tree::of(vec![root.clone(), a.clone(), b.clone(), c.clone()]);
        assert!(tree.is_within(c.id, a.id));
        assert!(tree.is_within(a.id, a.id));
        assert!(!tree.is_within(a.id, c.id));

        let mut moved = a.clone();
        moved.path = "Root/X/A".into();
        moved.id_path = format!("{}/x/{}", root.id, a.id);
        moved.depth = 2;
        let placed = tree.place_below(&moved);
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].before.id, b.id);
        assert_eq!(placed[1].path, "Root/X/A/B/C");
        assert_eq!(
            placed[1].id_path,
            format!("{}/{}/{}", moved.id_path, b.id, c.id)
        );
        assert_eq!(placed[1].depth, 4);
        assert!(placed.iter().all(Placed::changed));
    }

    #[test]
    fn a_loop_in_stored_parents_counts_as_inside() {
        let mut a = dept(Uuid::now_v7(), "A", None);
        let b = dept(Uuid::now_v7(), "B", Some(&a));
        a.parent_id = Some(b.id);
        let tree = Tree::of(vec![a.clone(), b.clone()]);
        assert!(tree.is_within(a.id, Uuid::now_v7()));
        assert_eq!(tree.place_below(&a).len(), 1);
    }
}
