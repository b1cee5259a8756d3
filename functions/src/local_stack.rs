//! What AWS does around the functions, played against the local emulator for the local gateway
//! (never deployed): Lambda's event source mappings read the table's stream and hand each record
//! that passes a worker's filter to it, in the shape Lambda delivers; bucket notifications of
//! uploads reach import-run (through a local queue, the one notification target the emulator can
//! deliver to); a worker that keeps failing has its event sent to the dead-letter function, as
//! its on-failure destination does; and the schedules run the scheduled jobs.
//!
//! The stream is read from its oldest record (TRIM_HORIZON) when the gateway starts, as a mapping
//! that kept its position while the gateway was stopped would: the workers are idempotent, so a
//! record handed over twice changes nothing.

use crate::registry::{CONSISTENCY_CHECK, JOB_DEAD_LETTERS, JOBS, Job, Trigger};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use roster_shared::store::sdk_error;
use roster_shared::worker_events::{
    ScheduleEvent, StreamEvent, StreamRecord, UploadEvent, sqs_event, stream_record, upload_record,
};
use roster_shared::{ApiError, ApiResult, App};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Calls a worker function by its binary name with an event: [`invoke`], or a stand-in a test
/// uses to make a worker fail.
pub type Invoker =
    fn(&'static App, &'static str, Value) -> Pin<Box<dyn Future<Output = ApiResult<()>> + Send>>;

fn invoke_boxed(
    app: &'static App,
    function: &'static str,
    event: Value,
) -> Pin<Box<dyn Future<Output = ApiResult<()>> + Send>> {
    Box::pin(invoke(app, function, event))
}

/// Deliveries of one event before it is given up, as `MaximumRetryAttempts: 2` and Lambda's two
/// retries of an asynchronous invocation give.
const ATTEMPTS: u32 = 3;

/// Records of a page handed to a worker in one invocation.
const STREAM_BATCH: usize = 100;

/// What one pass delivered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Stream records read (whether or not a filter let them through).
    pub records: usize,
    /// Events handed to a worker (each counted once however many attempts it took).
    pub delivered: usize,
    /// Events given up after every attempt and sent to the dead-letter function.
    pub dead_lettered: usize,
    /// Events handed to each worker, by its name.
    pub delivered_to: std::collections::BTreeMap<&'static str, usize>,
}

impl Pass {
    /// Events handed to `worker`.
    pub fn to(&self, worker: &str) -> usize {
        self.delivered_to.get(worker).copied().unwrap_or(0)
    }

    fn handed(&mut self, worker: &'static str) {
        self.delivered += 1;
        *self.delivered_to.entry(worker).or_default() += 1;
    }
}

pub struct LocalStack {
    app: &'static App,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    stream_arn: String,
    queue_url: String,
    /// The next iterator of each shard read so far.
    positions: HashMap<String, String>,
    invoke: Invoker,
}

impl LocalStack {
    /// Finds the table's stream and routes the bucket's upload notifications to a local queue.
    pub async fn connect(app: &'static App) -> ApiResult<Self> {
        let table = app
            .store
            .client()
            .describe_table()
            .table_name(app.table())
            .send()
            .await
            .map_err(sdk_error)?;
        let stream_arn = table
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| ApiError::internal("the table has no stream"))?;
        let sqs = aws_sdk_sqs::Client::new(app.sdk());
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{}-uploads", app.config.bucket))
            .send()
            .await
            .map_err(sdk_error)?
            .queue_url
            .ok_or_else(|| ApiError::internal("the upload queue has no URL"))?;
        notify_uploads(app, &sqs, &queue_url).await?;
        Ok(Self {
            app,
            streams: aws_sdk_dynamodbstreams::Client::new(app.sdk()),
            sqs,
            stream_arn,
            queue_url,
            positions: HashMap::new(),
            invoke: invoke_boxed,
        })
    }

    /// The same stack calling its workers through `invoke` instead.
    pub fn with_invoker(self, invoke: Invoker) -> Self {
        Self { invoke, ..self }
    }

    /// Hands every stream record and upload notification there is now to its worker.
    pub async fn pass(&mut self) -> ApiResult<Pass> {
        let mut pass = Pass::default();
        self.drain_stream(&mut pass).await?;
        self.drain_uploads(&mut pass).await?;
        Ok(pass)
    }

    /// Runs until the task is dropped: the stream and uploads every half second, the scheduled
    /// jobs every three seconds (the consistency check, which scans the whole table, every
    /// minute).
    pub async fn run(mut self) {
        let mut ticks = 0u32;
        loop {
            if let Err(err) = self.pass().await {
                tracing::error!(error = %err, "the local stack could not read its sources");
            }
            for job in JOBS.iter().filter(|j| j.has(|t| *t == Trigger::Schedule)) {
                let every = if std::ptr::eq(*job, &CONSISTENCY_CHECK) {
                    120
                } else {
                    6
                };
                if ticks.is_multiple_of(every) {
                    run_scheduled(self.app, job).await;
                }
            }
            ticks = ticks.wrapping_add(1);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn drain_stream(&mut self, pass: &mut Pass) -> ApiResult<()> {
        let stream = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(sdk_error)?;
        let shards = stream
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        for shard in shards {
            let Some(shard_id) = shard.shard_id else {
                continue;
            };
            let mut iterator = match self.positions.get(&shard_id) {
                Some(iterator) => iterator.clone(),
                None => self.first_iterator(&shard_id).await?,
            };
            loop {
                let page = self
                    .streams
                    .get_records()
                    .shard_iterator(&iterator)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                let records = page.records.unwrap_or_default();
                pass.records += records.len();
                self.deliver_page(&shard_id, &records, pass).await;
                let Some(next) = page.next_shard_iterator else {
                    self.positions.remove(&shard_id);
                    break;
                };
                iterator = next;
                if records.is_empty() {
                    break;
                }
            }
            self.positions.insert(shard_id, iterator);
        }
        Ok(())
    }

    async fn first_iterator(&self, shard_id: &str) -> ApiResult<String> {
        self.streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(sdk_error)?
            .shard_iterator
            .ok_or_else(|| ApiError::internal("no shard iterator"))
    }

    /// Each worker gets the records of a page its filter passes, up to [`STREAM_BATCH`] per
    /// invocation, as Lambda batches them (every stream worker handles each record of its event);
    /// a batch that fails every attempt is handed over again one record at a time, each dead-
    /// lettered alone if it fails too (Lambda's BisectBatchOnFunctionError). Batching keeps the
    /// one-at-a-time emulator from queueing a job's record behind every event worker's.
    async fn deliver_page(&self, shard_id: &str, records: &[Record], pass: &mut Pass) {
        let region = region(self.app);
        let lambda_records: Vec<StreamRecord> = records
            .iter()
            .map(|r| lambda_stream_record(r, &self.stream_arn, region))
            .collect();
        // Lambda's filters match the record as JSON.
        let as_json: Vec<Value> = lambda_records
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect();
        for (job, pattern) in stream_filters() {
            let Ok(pattern) = serde_json::from_str::<Value>(pattern) else {
                continue;
            };
            let matching: Vec<usize> = (0..records.len())
                .filter(|&i| matches_filter(&pattern, &as_json[i]))
                .collect();
            for batch in matching.chunks(STREAM_BATCH) {
                batch.iter().for_each(|_| pass.handed(job.name));
                let mut event = StreamEvent::default();
                event.records = batch.iter().map(|&i| lambda_records[i].clone()).collect();
                if self
                    .invoke_with_retries(job.name, to_json(&event))
                    .await
                    .is_ok()
                {
                    continue;
                }
                for &i in batch {
                    self.deliver_alone(shard_id, job.name, &records[i], &lambda_records[i], pass)
                        .await;
                }
            }
        }
    }

    /// One record to one worker, alone; dead-lettered when every attempt fails.
    async fn deliver_alone(
        &self,
        shard_id: &str,
        worker: &'static str,
        record: &Record,
        lambda_record: &StreamRecord,
        pass: &mut Pass,
    ) {
        let mut event = StreamEvent::default();
        event.records = vec![lambda_record.clone()];
        let Err(err) = self.invoke_with_retries(worker, to_json(&event)).await else {
            return;
        };
        pass.dead_lettered += 1;
        let sequence = record
            .dynamodb
            .as_ref()
            .and_then(|d| d.sequence_number.clone())
            .unwrap_or_default();
        // Lambda's on-failure record, which no event library types.
        let letter = json!({
            "version": "1.0",
            "timestamp": roster_shared::model::time::rfc3339(self.app.now()),
            "requestContext": request_context(self.app, worker, "RetryAttemptsExhausted"),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": sequence,
                "endSequenceNumber": sequence,
                "batchSize": 1,
                "streamArn": self.stream_arn,
            },
        });
        self.dead_letter(worker, &err, letter).await;
    }

    async fn drain_uploads(&self, pass: &mut Pass) -> ApiResult<()> {
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(sdk_error)?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(());
            }
            for message in messages {
                // S3 confirms a new notification target with a test event (no records): Lambda
                // never sees it.
                let uploads = message.body.as_deref().and_then(upload_event);
                if let (Some(event), Some((worker, _, _))) = (uploads, upload_filter()) {
                    let event = to_json(&event);
                    pass.handed(worker.name);
                    if let Err(err) = self.invoke_with_retries(worker.name, event.clone()).await {
                        pass.dead_lettered += 1;
                        let letter = json!({
                            "version": "1.0",
                            "timestamp": roster_shared::model::time::rfc3339(self.app.now()),
                            "requestContext": request_context(self.app, worker.name, "RetriesExhausted"),
                            "requestPayload": event,
                            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                            "responsePayload": {"errorMessage": err.to_string(), "errorType": "ApiError"},
                        });
                        self.dead_letter(worker.name, &err, letter).await;
                    }
                }
                if let Some(handle) = message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                }
            }
        }
    }

    async fn invoke_with_retries(&self, function: &'static str, event: Value) -> ApiResult<()> {
        let mut attempt = 1;
        loop {
            match (self.invoke)(self.app, function, event.clone()).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt >= ATTEMPTS => return Err(err),
                Err(err) => {
                    tracing::warn!(function, attempt, error = %err, "worker failed; retrying");
                    attempt += 1;
                }
            }
        }
    }

    /// The on-failure destination: the letter reaches the dead-letter function as an SQS
    /// message.
    async fn dead_letter(&self, function: &str, err: &ApiError, letter: Value) {
        tracing::error!(function, error = %err, "worker gave up; event sent to the dead-letter queue");
        let queue = format!(
            "arn:aws:sqs:{}:000000000000:roster-dead-letters",
            region(self.app)
        );
        let event = sqs_event(
            &roster_shared::crypto::new_token(),
            letter.to_string(),
            Some(queue),
        );
        let event = to_json(&event);
        if let Err(err) = self.invoke_with_retries(JOB_DEAD_LETTERS.name, event).await {
            tracing::error!(error = %err, "the dead-letter function failed; the letter stays in the archive");
        }
    }
}

/// The bucket sends its upload notifications (template.yaml's prefix and suffix) to the queue.
async fn notify_uploads(app: &App, sqs: &aws_sdk_sqs::Client, queue_url: &str) -> ApiResult<()> {
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sdk_error)?
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .ok_or_else(|| ApiError::internal("the upload queue has no ARN"))?;
    let Some((_, prefix, suffix)) = upload_filter() else {
        return Ok(());
    };
    let rule =
        |name: FilterRuleName, value: &str| FilterRule::builder().name(name).value(value).build();
    let queue = QueueConfiguration::builder()
        .queue_arn(queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(rule(FilterRuleName::Prefix, prefix))
                        .filter_rules(rule(FilterRuleName::Suffix, suffix))
                        .build(),
                )
                .build(),
        )
        .build()
        .map_err(ApiError::internal)?;
    app.s3()
        .put_bucket_notification_configuration()
        .bucket(&app.config.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

/// The stream filters of the workers on the table's stream (a worker may have several).
pub fn stream_filters() -> impl Iterator<Item = (&'static Job, &'static str)> {
    JOBS.iter().flat_map(|job| {
        job.triggers.iter().filter_map(move |t| match t {
            Trigger::Stream(pattern) => Some((*job, *pattern)),
            _ => None,
        })
    })
}

/// The worker the bucket notifies of uploads, and the key prefix and suffix of its filter.
pub fn upload_filter() -> Option<(&'static Job, &'static str, &'static str)> {
    JOBS.iter().find_map(|job| {
        job.triggers.iter().find_map(|t| match t {
            Trigger::Upload { prefix, suffix } => Some((*job, *prefix, *suffix)),
            _ => None,
        })
    })
}

/// A scheduled job run as its schedule starts it (an EventBridge event); a failure is logged.
async fn run_scheduled(app: &'static App, job: &Job) {
    let mut event = ScheduleEvent::<Value>::default();
    event.detail_type = "Scheduled Event".into();
    event.source = "aws.scheduler".into();
    event.region = Some(region(app).into());
    event.detail = json!({});
    let event = to_json(&event);
    if let Err(err) = (job.entry)(app, event).await {
        tracing::error!(job = job.name, error = %err, "a scheduled job failed");
    }
}

/// Calls a worker by its function name, as Lambda would: its registry entry.
pub async fn invoke(app: &'static App, function: &str, event: Value) -> ApiResult<()> {
    match crate::registry::job(function) {
        Some(job) => (job.entry)(app, event).await.map(drop),
        None => Err(ApiError::internal(format!("no worker named {function}"))),
    }
}

fn request_context(app: &App, function: &str, condition: &str) -> Value {
    json!({
        "requestId": roster_shared::crypto::new_token(),
        "functionArn": format!("arn:aws:lambda:{}:000000000000:function:{function}", region(app)),
        "condition": condition,
        "approximateInvokeCount": ATTEMPTS,
    })
}

fn region(app: &App) -> &str {
    app.sdk()
        .region()
        .map(|r| r.as_ref())
        .unwrap_or("us-east-1")
}

/// A stream record as Lambda hands it to a function.
pub fn lambda_stream_record(record: &Record, stream_arn: &str, region: &str) -> StreamRecord {
    let image = |map: Option<&HashMap<String, AttributeValue>>| {
        serde_dynamo::Item::from(map.cloned().unwrap_or_default())
    };
    let name = record.event_name.as_ref().map(|e| e.as_str()).unwrap_or("");
    let mut lambda = stream_record(name, image(None));
    if let Some(d) = &record.dynamodb {
        let change = &mut lambda.change;
        change.keys = image(d.keys.as_ref());
        change.new_image = image(d.new_image.as_ref());
        change.old_image = image(d.old_image.as_ref());
        change.sequence_number = d.sequence_number.clone();
        change.size_bytes = d.size_bytes.unwrap_or_default();
    }
    lambda.event_id = record.event_id.clone().unwrap_or_default();
    lambda.event_version = Some(record.event_version.clone().unwrap_or("1.1".into()));
    lambda.aws_region = record.aws_region.clone().unwrap_or(region.into());
    lambda.event_source_arn = Some(stream_arn.into());
    lambda
}

/// The upload notification in an SQS message's body, as the typed event Lambda would get from
/// the bucket; none for anything else (S3's test event).
fn upload_event(body: &str) -> Option<UploadEvent> {
    // The emulator writes fewer fields than S3 does: the worker reads the bucket and key.
    #[derive(serde::Deserialize)]
    struct Notification {
        #[serde(rename = "Records")]
        records: Vec<Value>,
    }
    let notification: Notification = serde_json::from_str(body).ok()?;
    let mut event = UploadEvent::default();
    for record in notification.records {
        let bucket = record["s3"]["bucket"]["name"].as_str().unwrap_or_default();
        let key = record["s3"]["object"]["key"].as_str()?;
        event.records.push(upload_record(bucket, key));
    }
    Some(event)
}

/// An event as Lambda serializes it for a function.
fn to_json<T: serde::Serialize>(event: &T) -> Value {
    serde_json::to_value(event).unwrap_or(Value::Null)
}

/// Lambda's event filtering for the patterns template.yaml uses: an object matches when each of
/// its keys matches, a list when the event's value is one of its values.
pub fn matches_filter(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(key, wanted)| {
            let got = event.get(key).unwrap_or(&Value::Null);
            match wanted {
                Value::Array(allowed) => allowed.iter().any(|a| a == got),
                Value::Object(_) => matches_filter(wanted, got),
                _ => false,
            }
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, kind: &str, status: &str) -> Value {
        json!({"eventName": event_name, "dynamodb": {"NewImage": {
            "kind": {"S": kind}, "status": {"S": status}, "id": {"S": "x"}
        }}})
    }

    fn filter(function: &str) -> Value {
        let (_, pattern) = stream_filters()
            .find(|(job, _)| job.name == function)
            .expect("a filter");
        serde_json::from_str(pattern).expect("JSON")
    }

    #[test]
    fn each_worker_gets_only_its_records() {
        let export = filter("export-run");
        assert!(matches_filter(
            &export,
            &record("INSERT", "export", "queued")
        ));
        assert!(!matches_filter(
            &export,
            &record("MODIFY", "export", "queued")
        ));
        assert!(!matches_filter(
            &export,
            &record("INSERT", "export", "running")
        ));
        assert!(!matches_filter(
            &export,
            &record("INSERT", "import", "queued")
        ));
        let import = filter("import-run");
        assert!(matches_filter(
            &import,
            &record("MODIFY", "import", "queued")
        ));
        assert!(!matches_filter(
            &import,
            &record("INSERT", "import", "awaiting_upload")
        ));
        let moves = filter("department-move-run");
        assert!(matches_filter(
            &moves,
            &record("INSERT", "department_move", "queued")
        ));
        assert!(matches_filter(
            &moves,
            &record("MODIFY", "department_move", "queued")
        ));
        assert!(!matches_filter(
            &moves,
            &record("REMOVE", "department_move", "queued")
        ));
        assert!(!matches_filter(
            &moves,
            &json!({"eventName": "INSERT", "dynamodb": {}})
        ));
    }
}
