//! DynamoDB plumbing: consistent reads, transactions whose failed conditions map to client errors,
//! paged queries with opaque cursors, and a request counter for tests. Keys come from [`crate::keys`].

use crate::error::{ApiError, ApiResult};
pub use crate::model::item::{Item, counter, from_item, num, s, to_item};
use crate::model::keys::{Index, Key, PK, SK};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put,
    TransactWriteItem, Update as UpdateItem, WriteRequest,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// DynamoDB allows at most 100 actions in one transaction.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// BatchGetItem reads at most 100 keys per request.
const MAX_BATCH_GET: usize = 100;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One strongly consistent read.
    pub async fn get(&self, key: &Key) -> ApiResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

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
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&*self.table))
                    .unwrap_or_default()
                {
                    found.insert(key_of(&item)?, item);
                }
                match out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
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
            items.push(action.write.on_table(&self.table)?);
            on_fail.push(action.on_fail);
        }
        for attempt in 0.. {
            let result = self
                .client
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

    /// Puts one item if `condition` holds; false when it does not.
    pub async fn put_if(&self, item: Item, condition: Condition) -> ApiResult<bool> {
        let (expression, names, values) = condition.parts();
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .set_condition_expression(expression)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

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
            .client
            .query()
            .table_name(&*self.table)
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
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&*self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                backoff(attempt).await;
            }
        }
        Ok(())
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
            .client
            .scan()
            .table_name(&*self.table)
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

async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = u64::from(crate::crypto::random_u32()) % base;
    tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
}

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

/// An AWS call's failure as Roster answers it. By the time it gets here the SDK has already retried
/// what is retryable; what still failed for a transient reason (throttling, a 5xx, a timeout, a
/// connection that could not be made) is 503 `unavailable`, anything else is a bug: 500.
pub fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> ApiError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.err().code().is_some_and(is_throttling)
        }
        _ => false,
    };
    let cause = aws_smithy_types::error::display::DisplayErrorContext(&err);
    if transient {
        ApiError::unavailable(cause)
    } else {
        ApiError::internal(cause)
    }
}

/// The error codes AWS services answer when a caller exceeds a rate (DynamoDB, S3, SES, SNS).
pub fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "Throttling"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "SlowDown"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "InternalServerError"
    )
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
pub struct Filter {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
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

/// A condition split into the three optional fields the SDK builders take.
type ConditionParts = (
    Option<String>,
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

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

/// The builder both expression types share: the expression and its placeholders.
macro_rules! with_placeholders {
    ($kind:ident) => {
        impl $kind {
            pub fn new(expression: impl Into<String>) -> Self {
                Self {
                    expression: expression.into(),
                    ..Self::default()
                }
            }

            pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
                self.names.insert(placeholder.into(), attr.into());
                self
            }

            pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
                self.values.insert(placeholder.into(), value);
                self
            }
        }
    };
}

with_placeholders!(Condition);
with_placeholders!(Update);

/// A condition with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Condition {
    /// The item exists.
    pub fn exists() -> Self {
        Self::new("attribute_exists(pk)")
    }

    /// No item has this key yet.
    pub fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// The item exists and its `version` is still the one read.
    pub fn version_is(version: u64) -> Self {
        Self::new("attribute_exists(pk) AND #version = :version")
            .name("#version", "version")
            .value(":version", num(version))
    }

    /// Both conditions.
    pub fn and(mut self, other: Condition) -> Self {
        self.expression = match (self.expression.is_empty(), other.expression.is_empty()) {
            (_, true) => self.expression,
            (true, false) => other.expression,
            (false, false) => format!("({}) AND ({})", self.expression, other.expression),
        };
        self.names.extend(other.names);
        self.values.extend(other.values);
        self
    }

    /// Each counter holds at least what a decrement takes from it, so none goes below zero
    /// (`(attribute, delta)`; positive deltas add nothing to the condition).
    pub fn counters_cover(deltas: &[(&str, i64)]) -> Self {
        let mut condition = Self::default();
        let mut parts = Vec::new();
        for (attribute, delta) in deltas.iter().filter(|(_, d)| *d < 0) {
            let placeholder = format!(":{attribute}_taken");
            parts.push(format!("{attribute} >= {placeholder}"));
            condition.values.insert(placeholder, num(-delta));
        }
        condition.expression = parts.join(" AND ");
        condition
    }

    fn parts(self) -> ConditionParts {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        let expression = (!self.expression.is_empty()).then_some(self.expression);
        (expression, names, values)
    }
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
}

/// An UpdateExpression (`SET …`, `ADD …`, `REMOVE …`) and its placeholders: a type of its own,
/// so an update cannot be passed where a condition belongs, nor the other way round.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Update {
    /// Adds `attribute = :attribute` to the SET clause for each pair, e.g. an entity's index
    /// attributes (see [`crate::model::keys`]), so no update spells them by hand.
    pub fn set_all(mut self, attributes: &[(&str, String)]) -> Self {
        let clauses: Vec<String> = attributes
            .iter()
            .map(|(attribute, _)| format!("{attribute} = :{attribute}"))
            .collect();
        if clauses.is_empty() {
            return self;
        }
        // The SET clause ends where the next clause (ADD, REMOVE, DELETE) begins.
        let (set, rest) = match self.expression.strip_prefix("SET ") {
            Some(body) => {
                let end = [" ADD ", " REMOVE ", " DELETE "]
                    .iter()
                    .filter_map(|k| body.find(k))
                    .min()
                    .unwrap_or(body.len());
                (Some(body[..end].to_string()), body[end..].to_string())
            }
            None => (None, format!(" {}", self.expression)),
        };
        let set = match set {
            Some(existing) => format!("{existing}, {}", clauses.join(", ")),
            None => clauses.join(", "),
        };
        self.expression = format!("SET {set}{}", rest.trim_end());
        for (attribute, value) in attributes {
            self.values
                .insert(format!(":{attribute}"), AttributeValue::S(value.clone()));
        }
        self
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

/// Counts the DynamoDB requests a client sends, per operation name. Attached in tests (and
/// benchmarks) to pin how many round trips each API operation costs.
#[derive(Debug, Default, Clone)]
pub struct RequestCounter {
    total: Arc<AtomicU64>,
    by_operation: Arc<std::sync::Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.by_operation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::SeqCst);
        if let Ok(mut m) = self.by_operation.lock() {
            m.clear();
        }
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.total.fetch_add(1, Ordering::SeqCst);
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "unknown".into());
        if let Ok(mut m) = self.by_operation.lock() {
            *m.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
