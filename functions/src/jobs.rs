//! Background jobs: Lambda functions started by EventBridge schedules rather than HTTP routes.

use lambda_http::lambda_runtime::{self, LambdaEvent};
use roster_shared::{ApiResult, App};
use serde::Serialize;
use std::future::Future;

/// The scheduled functions (binary names), as template.yaml declares them. `department-move-run`
/// is also a worker: its schedule sweeps for move jobs whose runs died.
pub const JOBS: &[&str] = &[
    "recycle-purge",
    "invitation-expiry",
    "licence-expiry",
    "department-move-run",
    "tenant-purge",
    "consistency-check",
];

/// Functions started by events of the stack itself (the table's stream, bucket notifications,
/// the dead-letter queue), as template.yaml declares them.
pub const WORKERS: &[&str] = &[
    "export-run",
    "import-run",
    "department-move-run",
    "job-dead-letters",
    "mail-outbox",
];

/// Which stream records each worker gets: template.yaml's `FilterCriteria` patterns, word for
/// word (tests/contract.rs checks), which the local stack applies as Lambda does.
pub const STREAM_FILTERS: &[(&str, &str)] = &[
    (
        "export-run",
        r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["export"]}, "status": {"S": ["queued"]}}}}"#,
    ),
    (
        "department-move-run",
        r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"kind": {"S": ["department_move"]}, "status": {"S": ["queued"]}}}}"#,
    ),
    (
        "import-run",
        r#"{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"kind": {"S": ["import"]}, "status": {"S": ["queued"]}}}}"#,
    ),
    (
        "mail-outbox",
        r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["outbox_mail"]}}}}"#,
    ),
];

/// The worker the bucket notifies of uploads, and the key prefix and suffix of its filter.
pub const UPLOAD_FILTER: (&str, &str, &str) = ("import-run", "tenants/", "/upload.csv");

/// Functions Secrets Manager invokes to rotate a secret (one rotation step per invocation), as
/// template.yaml's rotation schedules name them.
pub const ROTATIONS: &[&str] = &["rotate-signing-key"];

/// Runs `work` for every event delivered (its JSON as Lambda hands it over); its report is the
/// invocation's result. An error fails the invocation, so the event source retries it.
pub async fn run_worker<F, Fut, T>(work: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, serde_json::Value) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<T>> + Send,
    T: Serialize,
{
    roster_shared::init_tracing();
    let app: &'static App = Box::leak(Box::new(App::for_lambda().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let report = serde_json::to_value(work(app, event.payload).await?)?;
            tracing::info!(%report, "worker done");
            Ok::<_, lambda_http::Error>(report)
        },
    ))
    .await
}

/// Runs `job` for every scheduled event; its report is the invocation's result (and a log line).
pub async fn run<F, Fut, T>(job: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<T>> + Send,
    T: Serialize,
{
    roster_shared::init_tracing();
    let app: &'static App = Box::leak(Box::new(App::for_lambda().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_event: LambdaEvent<serde_json::Value>| async move {
            let report = serde_json::to_value(job(app).await?)?;
            tracing::info!(%report, "job done");
            Ok::<_, lambda_http::Error>(report)
        },
    ))
    .await
}
