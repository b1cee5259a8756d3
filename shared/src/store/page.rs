//! Queries a page at a time, with opaque cursors bound to the partition they were read from, and
//! the scan the consistency checker pages through.

use super::client::{Store, sdk_error};
use super::expression::Filter;
use super::item::{Item, from_item};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{Index, PK, SK};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};

impl Store {
    /// One page of a query. The cursor is bound to the partition being read: a cursor taken from
    /// another partition (another tenant) is refused.
    pub async fn query(&self, q: Query) -> ApiResult<Page> {
        let (pk_attr, sk_attr) = match q.index {
            Some(index) => (index.pk, index.sk),
            None => (PK, SK),
        };
        let mut names = HashMap::from([("#pk".to_string(), pk_attr.to_string())]);
        let mut values =
            HashMap::from([(":pk".to_string(), AttributeValue::S(q.partition.clone()))]);
        let mut condition = "#pk = :pk".to_string();
        match &q.range {
            SortRange::All => {}
            SortRange::Prefix(prefix) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":sk".into(), AttributeValue::S(prefix.clone()));
                condition.push_str(" AND begins_with(#sk, :sk)");
            }
            SortRange::Between(from, to) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":from".into(), AttributeValue::S(from.clone()));
                values.insert(":to".into(), AttributeValue::S(to.clone()));
                condition.push_str(" AND #sk BETWEEN :from AND :to");
            }
        }
        if let Some(filter) = &q.filter {
            names.extend(filter.names.clone());
            values.extend(filter.values.clone());
        }
        let start = match &q.cursor {
            Some(cursor) => Some(decode_cursor(cursor, &q.partition, pk_attr, q.index)?),
            None => None,
        };
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .set_index_name(q.index.map(|i| i.name.to_string()))
            .key_condition_expression(condition)
            .set_filter_expression(q.filter.as_ref().map(|f| f.expression.clone()))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .scan_index_forward(!q.newest_first)
            .limit(q.limit as i32)
            .set_consistent_read(q.index.is_none().then_some(true))
            .set_select(
                q.count_only
                    .then_some(aws_sdk_dynamodb::types::Select::Count),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        let next_cursor = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(encode_cursor(&key)?),
            _ => None,
        };
        Ok(Page {
            items: out.items.unwrap_or_default(),
            count: u64::try_from(out.count).unwrap_or(0),
            next_cursor,
        })
    }

    /// One page of a strongly consistent scan of `segment` of `segments` of the table (a parallel
    /// scan), from `start` (None: the beginning), and where the next page starts (None: the
    /// segment is done). Only the consistency checker scans: every request path reads by key.
    pub async fn scan_page(
        &self,
        (segment, segments): (i32, i32),
        start: Option<Item>,
    ) -> ApiResult<(Vec<Item>, Option<Item>)> {
        let out = self
            .client()
            .scan()
            .table_name(self.table())
            .consistent_read(true)
            .segment(segment)
            .total_segments(segments)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let next = out.last_evaluated_key.filter(|key| !key.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// Every item of a query up to `cap`, following pages; None when there are more.
    pub async fn query_up_to(&self, mut q: Query, cap: usize) -> ApiResult<Option<Vec<Item>>> {
        let mut all = Vec::new();
        loop {
            q.limit = u32::try_from(cap + 1 - all.len()).unwrap_or(u32::MAX);
            let page = self.query(q.clone()).await?;
            all.extend(page.items);
            if all.len() > cap {
                return Ok(None);
            }
            match page.next_cursor {
                Some(cursor) => q.cursor = Some(cursor),
                None => return Ok(Some(all)),
            }
        }
    }

    /// Every item of a query, following pages (for bounded sets such as a subtree to rewrite).
    pub async fn query_all(&self, mut q: Query) -> ApiResult<Vec<Item>> {
        let mut all = Vec::new();
        loop {
            let page = self.query(q.clone()).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => q.cursor = Some(cursor),
                None => return Ok(all),
            }
        }
    }

    /// The number of items a query matches, following pages (1 MB of keys per request).
    pub async fn count(&self, mut q: Query) -> ApiResult<u64> {
        q.count_only = true;
        q.limit = 1_000_000;
        let mut total = 0;
        loop {
            let page = self.query(q.clone()).await?;
            total += page.count;
            match page.next_cursor {
                Some(cursor) => q.cursor = Some(cursor),
                None => return Ok(total),
            }
        }
    }
}

/// One page of items and the cursor of the next.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Item>,
    /// Matching items on this page (what a `count_only` query answers).
    pub count: u64,
    pub next_cursor: Option<String>,
}

impl Page {
    /// The page as a list answer: each item read as `R` and shown as `V`.
    pub fn into_list<R: DeserializeOwned, V>(
        self,
        view: impl Fn(R) -> V,
    ) -> ApiResult<crate::model::List<V>> {
        Ok(crate::model::List {
            items: self
                .items
                .into_iter()
                .map(|item| from_item::<R>(item).map(&view))
                .collect::<ApiResult<_>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

#[derive(Debug, Clone)]
pub enum SortRange {
    All,
    Prefix(String),
    Between(String, String),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<Index>,
    pub partition: String,
    pub range: SortRange,
    pub filter: Option<Filter>,
    pub limit: u32,
    pub cursor: Option<String>,
    pub newest_first: bool,
    /// Ask only for the number of matching items (Select COUNT).
    pub count_only: bool,
}

impl Query {
    pub fn new(index: Option<Index>, partition: String, range: SortRange) -> Self {
        Self {
            index,
            partition,
            range,
            filter: None,
            limit: 1000,
            cursor: None,
            newest_first: false,
            count_only: false,
        }
    }

    pub fn page(mut self, page: &crate::model::PageParams) -> Self {
        self.limit = page.limit;
        self.cursor = page.cursor.clone();
        self
    }
}

fn encode_cursor(key: &Item) -> ApiResult<String> {
    let mut plain = BTreeMap::new();
    for (name, value) in key {
        match value {
            AttributeValue::S(s) => {
                plain.insert(name.clone(), s.clone());
            }
            _ => return Err(ApiError::internal("non-string key attribute in a cursor")),
        }
    }
    let json = serde_json::to_vec(&plain).map_err(ApiError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The cursor a list read from `index` (the table when None) continues after `item` with,
/// whether the page came from that index or was sorted in memory in its order.
pub fn cursor_after(item: &Item, index: Option<Index>) -> ApiResult<String> {
    let mut names = vec![PK, SK];
    if let Some(index) = index {
        names.extend([index.pk, index.sk]);
    }
    let key: Item = names
        .into_iter()
        .filter_map(|name| item.get(name).map(|v| (name.to_string(), v.clone())))
        .collect();
    encode_cursor(&key)
}

/// The key a cursor of a list read from `index` in `partition` points after (see
/// [`cursor_after`]); refused when it is not such a cursor.
pub fn cursor_position(cursor: &str, partition: &str, index: Option<Index>) -> ApiResult<Item> {
    let pk_attr = index.map_or(PK, |i| i.pk);
    decode_cursor(cursor, partition, pk_attr, index)
}

/// A cursor is the last key of the previous page. It is only accepted for the same partition and
/// only with the key attributes of the table and the queried index.
fn decode_cursor(
    cursor: &str,
    partition: &str,
    pk_attr: &str,
    index: Option<Index>,
) -> ApiResult<Item> {
    let invalid = || ApiError::invalid("cursor", "is not a cursor of this list");
    if cursor.len() > 2048 {
        return Err(invalid());
    }
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| invalid())?;
    let mut allowed = vec![PK, SK];
    if let Some(index) = index {
        allowed.extend([index.pk, index.sk]);
    }
    if plain.len() != allowed.len()
        || !plain.keys().all(|k| allowed.contains(&k.as_str()))
        || plain.get(pk_attr).map(String::as_str) != Some(partition)
    {
        return Err(invalid());
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::s;

    #[test]
    fn cursor_round_trips_within_its_partition() {
        let key = HashMap::from([
            ("pk".to_string(), s("TENANT#a")),
            ("sk".to_string(), s("DEPT#1")),
        ]);
        let cursor = encode_cursor(&key).unwrap();
        assert_eq!(decode_cursor(&cursor, "TENANT#a", PK, None).unwrap(), key);
        assert!(decode_cursor(&cursor, "TENANT#b", PK, None).is_err());
        assert!(decode_cursor("not base64!", "TENANT#a", PK, None).is_err());
    }

    #[test]
    fn cursor_with_foreign_attributes_is_refused() {
        let key = HashMap::from([
            ("pk".to_string(), s("TENANT#a")),
            ("sk".to_string(), s("DEPT#1")),
            ("other".to_string(), s("x")),
        ]);
        let cursor = encode_cursor(&key).unwrap();
        assert!(decode_cursor(&cursor, "TENANT#a", PK, None).is_err());
    }
}
