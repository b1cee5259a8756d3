//! The store itself: one table behind one client, single-item reads and writes, and how AWS
//! failures and throttling are answered.

use super::expression::Condition;
use super::item::Item;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::sync::Arc;

/// The table and the client that reaches it. Its operations live beside what they work with:
/// batches, transactions and queries each in their own file of this module.
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
}

pub(super) async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = u64::from(crate::crypto::random_u32()) % base;
    tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
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
