//! Transactions: their actions, each with the error a failed condition answers, and how they run
//! (retried under contention, undone persistently).

use super::client::{Store, backoff, sdk_error};
use super::expression::{Condition, Update};
use super::item::Item;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, TransactWriteItem, Update as UpdateItem,
};
use std::collections::HashMap;

/// DynamoDB allows at most 100 actions in one transaction.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

/// One action of a transaction and the error to answer when its condition fails.
pub struct Action {
    write: Write,
    on_fail: Option<ApiError>,
}

/// The actions of one TransactWriteItems call.
#[derive(Default)]
pub struct Transaction {
    actions: Vec<Action>,
}

impl Store {
    /// Runs a transaction. A failed condition answers the error its action was given; concurrent
    /// transactions on the same items are retried, which is safe because a cancelled transaction
    /// changed nothing.
    pub async fn transact(&self, tx: Transaction) -> ApiResult<()> {
        if tx.actions.is_empty() {
            return Ok(());
        }
        if tx.actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(ApiError::internal(format!(
                "transaction of {} actions exceeds DynamoDB's limit",
                tx.actions.len()
            )));
        }
        let Transaction { actions } = tx;
        let mut items = Vec::with_capacity(actions.len());
        let mut on_fail = Vec::with_capacity(actions.len());
        for action in actions {
            items.push(action.write.on_table(self.table())?);
            on_fail.push(action.on_fail);
        }
        for attempt in 0.. {
            let result = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e)) => {
                    e.cancellation_reasons().to_vec()
                }
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                _ => return Err(sdk_error(err)),
            };
            if let Some(i) = reasons
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Err(on_fail[i].take().unwrap_or_else(|| {
                    ApiError::Conflict("the change conflicts with the current state".into())
                }));
            }
            // Only contention is worth retrying; anything else is a bug in the request.
            let contended = reasons.iter().all(|r| {
                matches!(
                    r.code(),
                    None | Some("None") | Some("TransactionConflict") | Some("ThrottlingError")
                )
            });
            if !contended {
                let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("-")).collect();
                return Err(ApiError::internal(format!(
                    "transaction cancelled: {codes:?}"
                )));
            }
            if attempt >= 6 {
                // Throttled items are a dependency out of capacity; only conflicting transactions
                // are other clients' changes.
                if reasons.iter().any(|r| r.code() == Some("ThrottlingError")) {
                    return Err(ApiError::unavailable(
                        "transaction throttled through every retry",
                    ));
                }
                return Err(ApiError::Conflict(
                    "too many concurrent changes; retry the request".into(),
                ));
            }
            backoff(attempt).await;
        }
        unreachable!("the retry loop returns")
    }

    /// Runs a transaction that puts back what a failed request had written. Unlike a request, an
    /// undo does not give up at the first passing failure (DynamoDB unavailable through the SDK's
    /// retries, contention through [`Store::transact`]'s): giving up would leave the request
    /// half-written, so it is tried again, with backoff, for several seconds more.
    pub async fn transact_undo(&self, build: impl Fn() -> ApiResult<Transaction>) -> ApiResult<()> {
        let mut attempt = 0;
        loop {
            match self.transact(build()?).await {
                Err(ApiError::Unavailable { .. } | ApiError::Conflict(_)) if attempt < 8 => {
                    backoff(attempt + 3).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Moves `other`'s actions into this transaction.
    pub fn append(&mut self, other: Transaction) {
        self.actions.extend(other.actions);
    }

    fn push(&mut self, write: Write, on_fail: Option<ApiError>) {
        self.actions.push(Action { write, on_fail });
    }

    pub fn put(&mut self, item: Item, condition: Option<(Condition, ApiError)>) -> ApiResult<()> {
        let (condition, on_fail) = split(condition);
        self.push(Write::Put { item, condition }, on_fail);
        Ok(())
    }

    /// Applies `update` to the item at `key` if `condition` holds; the placeholders of both
    /// travel together.
    pub fn update(
        &mut self,
        key: &Key,
        update: Update,
        condition: Option<(Condition, ApiError)>,
    ) -> ApiResult<()> {
        let (condition, on_fail) = split(condition);
        let key = key.clone();
        self.push(
            Write::Update {
                key,
                update,
                condition,
            },
            on_fail,
        );
        Ok(())
    }

    pub fn delete(&mut self, key: &Key, condition: Option<(Condition, ApiError)>) -> ApiResult<()> {
        let (condition, on_fail) = split(condition);
        let key = key.clone();
        self.push(Write::Delete { key, condition }, on_fail);
        Ok(())
    }

    pub fn check(&mut self, key: &Key, condition: Condition, on_fail: ApiError) -> ApiResult<()> {
        let key = key.clone();
        self.push(Write::Check { key, condition }, Some(on_fail));
        Ok(())
    }
}

/// One write of a transaction, bound to the store's table when the transaction runs.
enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Update {
        key: Key,
        update: Update,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

impl Write {
    fn on_table(self, table: &str) -> ApiResult<TransactWriteItem> {
        let item = match self {
            Self::Put { item, condition } => {
                let (expression, names, values) = condition.parts();
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(ApiError::internal)?;
                TransactWriteItem::builder().put(put).build()
            }
            Self::Update {
                key,
                update,
                condition,
            } => {
                let (expression, mut names, mut values) = condition.parts();
                let names = merge(names.take(), update.names);
                let values = merge(values.take(), update.values);
                let op = UpdateItem::builder()
                    .table_name(table)
                    .set_key(Some(key.to_item()))
                    .update_expression(update.expression)
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(ApiError::internal)?;
                TransactWriteItem::builder().update(op).build()
            }
            Self::Delete { key, condition } => {
                let (expression, names, values) = condition.parts();
                let op = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key.to_item()))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(ApiError::internal)?;
                TransactWriteItem::builder().delete(op).build()
            }
            Self::Check { key, condition } => {
                let (expression, names, values) = condition.parts();
                let op = ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key.to_item()))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(ApiError::internal)?;
                TransactWriteItem::builder().condition_check(op).build()
            }
        };
        Ok(item)
    }
}

fn split(condition: Option<(Condition, ApiError)>) -> (Condition, Option<ApiError>) {
    match condition {
        Some((c, e)) => (c, Some(e)),
        None => (Condition::default(), None),
    }
}

fn merge<V>(a: Option<HashMap<String, V>>, b: HashMap<String, V>) -> Option<HashMap<String, V>> {
    let mut all = a.unwrap_or_default();
    all.extend(b);
    (!all.is_empty()).then_some(all)
}
