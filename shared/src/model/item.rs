//! Records as DynamoDB items: serialised with their key and index attributes, read back, and the
//! attribute values update expressions carry.

use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// Reads a stored counter. Counters are conditioned never to go below zero; one that did anyway
/// (data written before that rule) reads as 0 instead of failing every read of its item.
pub fn counter<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u32, D::Error> {
    let n = i64::deserialize(de)?;
    if n < 0 {
        tracing::warn!(value = n, "a counter below zero read as 0");
    }
    Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
}

pub fn num(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Serialises a record and adds its key and index attributes.
pub fn to_item<T: Serialize>(record: &T, key: &Key, extra: &[(&str, String)]) -> ApiResult<Item> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(ApiError::internal)?;
    item.extend(key.to_item());
    for (name, value) in extra {
        item.insert((*name).to_string(), AttributeValue::S(value.clone()));
    }
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> ApiResult<T> {
    serde_dynamo::from_item(item).map_err(ApiError::internal)
}
