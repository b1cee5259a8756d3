//! Running a job or worker of the registry under the Lambda runtime.

use crate::registry::Job;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use roster_shared::App;

/// Runs `job`'s entry for every event delivered; its report is the invocation's result (and a
/// log line). An error fails the invocation, so the event source retries it.
pub async fn serve(job: &'static Job) -> Result<(), lambda_http::Error> {
    roster_shared::init_tracing();
    let app: &'static App = Box::leak(Box::new(App::for_lambda().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            match (job.entry)(app, event.payload).await {
                Ok(report) => {
                    tracing::info!(job = job.name, %report, "done");
                    Ok(report)
                }
                Err(err) => {
                    // The cause, which the error's message hides from callers, for the logs.
                    tracing::error!(job = job.name, error = ?err, "failed");
                    Err(lambda_http::Error::from(err))
                }
            }
        },
    ))
    .await
}
