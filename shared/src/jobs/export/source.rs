//! The members an export reads, a page at a time: an index range (all, a department), chosen
//! ids, or a search's terms.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::job::{ExportScope, ExportSpec};
use crate::model::keys::{
    GSI2, GSI3, Key, directory_partition, search_partition, subtree_prefix, tree_partition,
};
use crate::model::member::{Member, fold};
use crate::store::{Query, SortRange, from_item};
use std::collections::HashSet;
use uuid::Uuid;

/// DynamoDB returns at most 1 MB per page anyway; members are well under 1 KB.
const PAGE: u32 = 1000;

/// Reads the export's members a page at a time.
pub(super) struct Source {
    tenant_id: Uuid,
    kind: SourceKind,
    cursor: Option<String>,
    done: bool,
    seen: HashSet<Uuid>,
}

enum SourceKind {
    Index(Query),
    Selected(Vec<Uuid>),
    Terms(Query),
}

impl Source {
    pub(super) async fn new(app: &App, tenant_id: Uuid, spec: &ExportSpec) -> ApiResult<Self> {
        let kind = match spec.scope {
            ExportScope::All => SourceKind::Index(Query::new(
                Some(GSI3),
                directory_partition(tenant_id),
                SortRange::All,
            )),
            ExportScope::Department => {
                let department: Department = from_item(
                    app.store
                        .get(&Key::department(
                            tenant_id,
                            spec.department_id.unwrap_or_default(),
                        ))
                        .await?
                        .ok_or_else(|| ApiError::invalid("department_id", "no longer exists"))?,
                )?;
                let prefix = if spec.include_descendants {
                    subtree_prefix(&department.id_path)
                } else {
                    format!("{}/#", department.id_path)
                };
                SourceKind::Index(Query::new(
                    Some(GSI2),
                    tree_partition(tenant_id),
                    SortRange::Prefix(prefix),
                ))
            }
            ExportScope::Selected => {
                SourceKind::Selected(spec.member_ids.clone().unwrap_or_default())
            }
            ExportScope::Query => {
                let q = fold(spec.query.as_deref().unwrap_or_default().trim());
                SourceKind::Terms(Query::new(
                    None,
                    search_partition(tenant_id, &q),
                    SortRange::Prefix(q),
                ))
            }
        };
        Ok(Self {
            tenant_id,
            kind,
            cursor: None,
            done: false,
            seen: HashSet::new(),
        })
    }

    /// The next page of members (active and disabled only), or None at the end.
    pub(super) async fn next(&mut self, app: &App) -> ApiResult<Option<Vec<Member>>> {
        if self.done {
            return Ok(None);
        }
        let items = match &mut self.kind {
            SourceKind::Index(query) => {
                let mut q = query.clone();
                q.limit = PAGE;
                q.cursor = self.cursor.take();
                let page = app.store.query(q).await?;
                self.cursor = page.next_cursor;
                self.done = self.cursor.is_none();
                page.items
            }
            SourceKind::Selected(ids) => {
                let chunk: Vec<Uuid> = ids.drain(..ids.len().min(100)).collect();
                self.done = ids.is_empty();
                let keys: Vec<Key> = chunk
                    .iter()
                    .map(|m| Key::member(self.tenant_id, *m))
                    .collect();
                app.store
                    .get_many(&keys)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect()
            }
            SourceKind::Terms(query) => {
                let mut q = query.clone();
                q.limit = PAGE;
                q.cursor = self.cursor.take();
                let page = app.store.query(q).await?;
                self.cursor = page.next_cursor;
                self.done = self.cursor.is_none();
                let mut keys = Vec::new();
                for item in page.items {
                    if let Some(id) = item
                        .get("member_id")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|v| Uuid::parse_str(v).ok())
                    {
                        keys.push(Key::member(self.tenant_id, id));
                    }
                }
                app.store
                    .get_many(&keys)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect()
            }
        };
        let mut members = Vec::with_capacity(items.len());
        for item in items {
            let member: Member = from_item(item)?;
            // Only a search can name a member twice (its email and a name word both match);
            // the other sources list each once, so memory stays flat for them.
            let first = match self.kind {
                SourceKind::Terms(_) => self.seen.insert(member.id),
                _ => true,
            };
            if member.status.in_directory() && first {
                members.push(member);
            }
        }
        Ok(Some(members))
    }
}
