//! Jobs whose events Lambda gave up on. The workers' on-failure destination is an SQS queue
//! (template.yaml); the `job-dead-letters` function reads it and ends every job those events
//! named `failed`, with the reason, so no import or export stays `queued` forever.
//!
//! What a dead letter holds depends on its source:
//! - an event from the table's stream (export-run, import-run): only where the batch was in the
//!   stream (`DDBStreamBatchInfo`), so the records are read back from the stream, which keeps
//!   them 24 hours;
//! - an S3 upload notification (import-run, invoked asynchronously): the event itself
//!   (`requestPayload`) and the worker's last error (`responsePayload`);
//! - anything else (a scheduled job's event) names no job: it is logged, and the alarm on the
//!   queue tells the operator.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, JobKind, JobStatus};
use crate::model::keys::Key;
use crate::store::{Transaction, from_item, sdk_error};
use crate::worker_events::SqsEvent;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct DeadLetterReport {
    /// Jobs ended `failed` by this run.
    pub failed: usize,
    /// Jobs named that had already finished (or were not found): left as they are.
    pub untouched: usize,
    /// Dead letters that name no job (a scheduled job's event): logged for the operator.
    pub unmatched: usize,
}

/// A dead letter, decoded from the queue message's body.
#[derive(Debug, PartialEq, Eq)]
pub enum DeadLetter {
    /// A batch of the table's stream, by position.
    StreamBatch {
        stream_arn: String,
        shard_id: String,
        start_sequence: String,
        batch_size: i32,
        function: String,
    },
    /// An asynchronous invocation's event and its last error.
    Invocation {
        payload: Value,
        error: String,
        function: String,
    },
    Unknown,
}

impl DeadLetter {
    /// Reads a message body as Lambda's on-failure destinations write it.
    pub fn parse(body: &Value) -> Self {
        let function = body["requestContext"]["functionArn"]
            .as_str()
            .and_then(|arn| arn.split(':').nth(6))
            .unwrap_or("a worker")
            .to_string();
        let batch = &body["DDBStreamBatchInfo"];
        if let (Some(stream_arn), Some(shard_id), Some(start_sequence)) = (
            batch["streamArn"].as_str(),
            batch["shardId"].as_str(),
            batch["startSequenceNumber"].as_str(),
        ) {
            return Self::StreamBatch {
                stream_arn: stream_arn.into(),
                shard_id: shard_id.into(),
                start_sequence: start_sequence.into(),
                batch_size: batch["batchSize"]
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .unwrap_or(1)
                    .clamp(1, 1000),
                function,
            };
        }
        if body["requestPayload"]["Records"].is_array() {
            let error = body["responsePayload"]["errorMessage"]
                .as_str()
                .or(body["requestContext"]["condition"].as_str())
                .unwrap_or("unknown error")
                .to_string();
            return Self::Invocation {
                payload: body["requestPayload"].clone(),
                error,
                function,
            };
        }
        Self::Unknown
    }
}

/// The dead-letter function's entry: an SQS event whose messages are on-failure records. A
/// message that cannot be handled now (the table or the stream failing) fails the invocation, so
/// SQS delivers it again and, after its redrive limit, keeps it in the archive queue.
pub async fn handle_event(app: &App, event: SqsEvent) -> ApiResult<DeadLetterReport> {
    let mut report = DeadLetterReport::default();
    for message in &event.records {
        // Lambda's on-failure record, which no event library types.
        let body = message
            .body
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .unwrap_or(Value::Null);
        let (jobs, reason) = match DeadLetter::parse(&body) {
            DeadLetter::StreamBatch {
                stream_arn,
                shard_id,
                start_sequence,
                batch_size,
                function,
            } => {
                let records =
                    read_back(app, &stream_arn, &shard_id, &start_sequence, batch_size).await?;
                (
                    records.iter().filter_map(stream_job).collect::<Vec<_>>(),
                    format!("{function} gave up on this job after its retries"),
                )
            }
            DeadLetter::Invocation {
                payload,
                error,
                function,
            } => (
                upload_jobs(&payload),
                format!("{function} gave up on this job after its retries: {error}"),
            ),
            DeadLetter::Unknown => {
                tracing::error!(message = %body, "a dead letter that names no job");
                report.unmatched += 1;
                continue;
            }
        };
        if jobs.is_empty() {
            tracing::error!(message = %body, "a dead letter whose events name no job");
            report.unmatched += 1;
        }
        for (tenant_id, job_id) in jobs {
            if fail(app, tenant_id, job_id, &reason).await? {
                report.failed += 1;
            } else {
                report.untouched += 1;
            }
        }
    }
    Ok(report)
}

/// The batch's records, read again from the stream by their position.
async fn read_back(
    app: &App,
    stream_arn: &str,
    shard_id: &str,
    start_sequence: &str,
    batch_size: i32,
) -> ApiResult<Vec<aws_sdk_dynamodbstreams::types::Record>> {
    let iterator = app
        .streams()
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(start_sequence)
        .send()
        .await
        .map_err(sdk_error)?;
    let Some(iterator) = iterator.shard_iterator else {
        return Ok(Vec::new());
    };
    let records = app
        .streams()
        .get_records()
        .shard_iterator(iterator)
        .limit(batch_size)
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(records.records.unwrap_or_default())
}

/// The job a stream record's new image is, if it is one.
fn stream_job(record: &aws_sdk_dynamodbstreams::types::Record) -> Option<(Uuid, Uuid)> {
    let image = record.dynamodb.as_ref()?.new_image.as_ref()?;
    let text = |name: &str| match image.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    matches!(text("kind"), Some("export" | "import")).then_some(())?;
    let id = |name: &str| text(name).and_then(|v| Uuid::parse_str(v).ok());
    id("tenant_id").zip(id("id"))
}

/// The import jobs an S3 notification's uploads (`tenants/<t>/jobs/<j>/upload.csv`) belong to.
pub fn upload_jobs(payload: &Value) -> Vec<(Uuid, Uuid)> {
    payload["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| {
            crate::jobs::import::upload_job(record["s3"]["object"]["key"].as_str()?)
        })
        .collect()
}

/// Ends an unfinished import or export `failed` with `reason`; false when it had finished or is
/// gone. Department moves are not failed here: their schedule's sweep takes over any move left
/// queued, so a dropped event only delays one.
async fn fail(app: &App, tenant_id: Uuid, job_id: Uuid, reason: &str) -> ApiResult<bool> {
    let Some(item) = app.store.get(&Key::job(tenant_id, job_id)).await? else {
        return Ok(false);
    };
    let mut job: Job = from_item(item)?;
    let unfinished = matches!(
        job.status,
        JobStatus::AwaitingUpload | JobStatus::Queued | JobStatus::Running
    );
    if !unfinished || job.kind == JobKind::DepartmentMove {
        return Ok(false);
    }
    let read = job.clone();
    let now = app.now();
    job.status = JobStatus::Failed;
    job.error = Some(reason.to_string());
    job.updated_at = now;
    job.finished_at = Some(now);
    let mut tx = Transaction::new();
    tx.put(
        job.to_item()?,
        Some((
            crate::jobs::still_as_read(&read)?,
            ApiError::Conflict("the job changed".into()),
        )),
    )?;
    crate::jobs::record_outcome(app, &mut tx, &job)?;
    match app.store.transact(tx).await {
        Ok(()) => {
            crate::jobs::record_failure(&job);
            Ok(true)
        }
        // A run took it meanwhile (or finished it): that run's outcome stands.
        Err(ApiError::Conflict(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_batch_is_read_by_its_position() {
        let body = json!({
            "requestContext": {
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:roster-ExportRunFunction-x",
                "condition": "RetryAttemptsExhausted",
            },
            "DDBStreamBatchInfo": {
                "shardId": "shardId-1", "startSequenceNumber": "100", "endSequenceNumber": "100",
                "batchSize": 1, "streamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/roster/stream/x",
            },
        });
        assert_eq!(
            DeadLetter::parse(&body),
            DeadLetter::StreamBatch {
                stream_arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/roster/stream/x".into(),
                shard_id: "shardId-1".into(),
                start_sequence: "100".into(),
                batch_size: 1,
                function: "roster-ExportRunFunction-x".into(),
            }
        );
    }

    #[test]
    fn an_upload_notification_names_its_import_and_the_error() {
        let (t, j) = (Uuid::now_v7(), Uuid::now_v7());
        let body = json!({
            "requestContext": {"functionArn": "arn:aws:lambda:eu-west-1:1:function:import-run:$LATEST"},
            "requestPayload": {"Records": [
                {"s3": {"object": {"key": format!("tenants%2F{t}%2Fjobs%2F{j}%2Fupload.csv")}}},
                {"s3": {"object": {"key": format!("tenants/{t}/jobs/{j}/result.csv")}}},
            ]},
            "responsePayload": {"errorMessage": "the store is unavailable", "errorType": "X"},
        });
        let DeadLetter::Invocation {
            payload,
            error,
            function,
        } = DeadLetter::parse(&body)
        else {
            panic!("an invocation");
        };
        assert_eq!(upload_jobs(&payload), vec![(t, j)]);
        assert_eq!(error, "the store is unavailable");
        assert_eq!(function, "import-run");
    }

    #[test]
    fn a_schedule_event_names_nothing() {
        let body =
            json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler"});
        assert_eq!(DeadLetter::parse(&body), DeadLetter::Unknown);
        assert_eq!(DeadLetter::parse(&Value::Null), DeadLetter::Unknown);
    }
}
