//! Items as the store reads them: their key, and a queue's items read leniently.

use crate::error::{ApiError, ApiResult};
pub use crate::model::item::{Item, counter, from_item, num, s, to_item};
use crate::model::keys::{Key, PK, SK};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

/// The primary key of a stored item.
pub fn key_of(item: &Item) -> ApiResult<Key> {
    let get = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(ApiError::internal(format!("item without a string {name}"))),
    };
    Ok(Key {
        pk: get(PK)?,
        sk: get(SK)?,
    })
}

/// An item of a queue that a job works through (every tenant's), read as `T`; one that cannot be
/// read is logged with its key and the decoding error (never the item) and passed over, so it
/// holds up nobody else.
pub fn readable<T: DeserializeOwned>(item: Item, job: &str) -> Option<T> {
    let key = key_of(&item);
    match serde_dynamo::from_item(item) {
        Ok(record) => Some(record),
        Err(err) => {
            let (pk, sk) = key.map_or_else(|_| (String::new(), String::new()), |k| (k.pk, k.sk));
            tracing::error!(job, pk, sk, error = %err, "unreadable item passed over");
            None
        }
    }
}
