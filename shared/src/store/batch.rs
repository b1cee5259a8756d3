//! Reads and deletes of many keys at once (BatchGetItem, BatchWriteItem), and the typed batch
//! whose records are taken back by slot.

use super::client::{Store, backoff, sdk_error};
use super::item::{Item, from_item, key_of};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, WriteRequest};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// BatchGetItem reads at most 100 keys per request.
const MAX_BATCH_GET: usize = 100;

impl Store {
    /// Strongly consistent reads of several items in one request (as long as DynamoDB processes
    /// them all), answered in the order of `keys`. Duplicate keys are read once.
    pub async fn get_many(&self, keys: &[Key]) -> ApiResult<Vec<Option<Item>>> {
        let mut unique: Vec<&Key> = Vec::new();
        for key in keys {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        let mut found: HashMap<Key, Item> = HashMap::new();
        for chunk in unique.chunks(MAX_BATCH_GET) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| k.to_item()).collect()))
                .consistent_read(true)
                .build()
                .map_err(ApiError::internal)?;
            for attempt in 0.. {
                let out = self
                    .client()
                    .batch_get_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(self.table()))
                    .unwrap_or_default()
                {
                    found.insert(key_of(&item)?, item);
                }
                match out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(self.table()))
                {
                    Some(rest) if !rest.keys.is_empty() && attempt < 8 => {
                        backoff(attempt).await;
                        pending = rest;
                    }
                    Some(rest) if !rest.keys.is_empty() => {
                        return Err(ApiError::internal("BatchGetItem left keys unprocessed"));
                    }
                    _ => break,
                }
            }
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    /// Deletes `keys` unconditionally, 25 to a BatchWriteItem, retrying what DynamoDB leaves
    /// unprocessed: for purges, which may repeat a delete.
    pub async fn delete_many(&self, keys: &[Key]) -> ApiResult<()> {
        for chunk in keys.chunks(25) {
            let mut pending: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
            for key in chunk {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key.to_item()))
                    .build()
                    .map_err(ApiError::internal)?;
                pending.push(WriteRequest::builder().delete_request(delete).build());
            }
            for attempt in 0.. {
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(self.table()))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                backoff(attempt).await;
            }
        }
        Ok(())
    }
}

/// Reads several records in one consistent batch, each taken back by the slot it was asked for
/// and as its own type, instead of by its position in a list.
#[derive(Default)]
pub struct Batch {
    keys: Vec<Key>,
}

/// Where one record of a [`Batch`] comes back, and as what type.
pub struct Slot<T> {
    index: usize,
    record: std::marker::PhantomData<T>,
}

/// What a [`Batch`] read: each slot taken once.
pub struct BatchRead {
    items: Vec<Option<Item>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for the record at `key`.
    pub fn read<T: DeserializeOwned>(&mut self, key: Key) -> Slot<T> {
        self.slot(key)
    }

    /// Asks for the item at `key` as it is stored, for a record read attribute by attribute.
    pub fn read_item(&mut self, key: Key) -> Slot<Item> {
        self.slot(key)
    }

    fn slot<T>(&mut self, key: Key) -> Slot<T> {
        self.keys.push(key);
        Slot {
            index: self.keys.len() - 1,
            record: std::marker::PhantomData,
        }
    }

    pub async fn run(self, store: &Store) -> ApiResult<BatchRead> {
        Ok(BatchRead {
            items: store.get_many(&self.keys).await?,
        })
    }
}

impl BatchRead {
    /// The record of `slot`, if it exists.
    pub fn take<T: DeserializeOwned>(&mut self, slot: Slot<T>) -> ApiResult<Option<T>> {
        self.items
            .get_mut(slot.index)
            .and_then(Option::take)
            .map(from_item)
            .transpose()
    }

    /// The item of `slot` as it is stored, if it exists.
    pub fn take_item(&mut self, slot: Slot<Item>) -> Option<Item> {
        self.items.get_mut(slot.index).and_then(Option::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::s;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Named {
        name: String,
    }

    fn key(sk: &str) -> Key {
        Key {
            pk: "TENANT#a".into(),
            sk: sk.into(),
        }
    }

    #[test]
    fn each_slot_takes_its_own_record_once() {
        let mut batch = Batch::new();
        let first = batch.read::<Named>(key("A"));
        let missing = batch.read::<Named>(key("B"));
        let raw = batch.read_item(key("C"));
        assert_eq!(batch.keys, [key("A"), key("B"), key("C")]);
        let item = |name: &str| Item::from([("name".to_string(), s(name))]);
        let mut read = BatchRead {
            items: vec![Some(item("a")), None, Some(item("c"))],
        };
        assert_eq!(read.take_item(raw), Some(item("c")));
        assert_eq!(read.take(missing).unwrap(), None);
        assert_eq!(read.take(first).unwrap(), Some(Named { name: "a".into() }));
    }
}
