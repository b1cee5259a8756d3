//! The events that start the workers, as Lambda hands them over: `aws_lambda_events`' types for
//! the table's stream, the bucket's upload notifications, SQS and EventBridge. The registry
//! deserializes each worker's event into the type its entry takes, on Lambda and from the local
//! stack alike (which builds the same types), so no worker picks JSON apart by hand.

use crate::error::{ApiError, ApiResult};
pub use aws_lambda_events::dynamodb::{
    Event as StreamEvent, EventRecord as StreamRecord, StreamViewType,
};
pub use aws_lambda_events::eventbridge::EventBridgeEvent as ScheduleEvent;
pub use aws_lambda_events::s3::{S3Event as UploadEvent, S3EventRecord as UploadRecord};
pub use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a worker started both by the table's stream and by something else gets: told apart by
/// its records' `eventSource`, as Lambda writes it (`aws:dynamodb`).
#[derive(Debug)]
pub enum StreamOr<T> {
    Stream(StreamEvent),
    Other(T),
}

/// What a schedule hands a worker that it also starts: nothing the worker reads.
pub type Scheduled = IgnoredAny;

impl<'de, T: DeserializeOwned> Deserialize<'de> for StreamOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let from_stream = value["Records"][0]["eventSource"].as_str() == Some("aws:dynamodb");
        let parsed = if from_stream {
            serde_json::from_value(value).map(Self::Stream)
        } else {
            serde_json::from_value(value).map(Self::Other)
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The fields of a record's new image that say which worker's it is and what it names: the
/// item's `kind`, its tenant and its id.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
    #[serde(default)]
    pub id: Option<Uuid>,
}

impl Named {
    /// What a stream record's new image names (a record without one, or not an item of ours,
    /// names nothing).
    pub fn of(record: &StreamRecord) -> Self {
        serde_dynamo::from_item(record.change.new_image.clone()).unwrap_or_default()
    }

    /// The tenant and id of an item of `kind`.
    pub fn job(&self, kind: &str) -> Option<(Uuid, Uuid)> {
        (self.kind == kind)
            .then_some(self.tenant_id.zip(self.id))
            .flatten()
    }
}

/// A stream record as Lambda hands it over: `event_name` (`INSERT`, `MODIFY`, `REMOVE`) of an
/// item whose new image is `image`.
pub fn stream_record(event_name: &str, image: serde_dynamo::Item) -> StreamRecord {
    let mut record = StreamRecord::default();
    record.event_name = event_name.into();
    record.event_source = Some("aws:dynamodb".into());
    record.change.new_image = image;
    record.change.stream_view_type = Some(StreamViewType::NewAndOldImages);
    record
}

/// A stream event of one record: `event_name` of an item whose new image holds `fields`.
pub fn stream_event<T: Serialize>(event_name: &str, fields: &T) -> ApiResult<StreamEvent> {
    let image = serde_dynamo::to_item(fields).map_err(ApiError::internal)?;
    let mut event = StreamEvent::default();
    event.records = vec![stream_record(event_name, image)];
    Ok(event)
}

/// An upload notification: the object at `key` (as S3 writes it, slashes possibly escaped) was
/// created in `bucket`.
pub fn upload_record(bucket: &str, key: &str) -> UploadRecord {
    let mut record = UploadRecord::default();
    record.event_source = Some("aws:s3".into());
    record.event_name = Some("ObjectCreated:Put".into());
    record.s3.bucket.name = Some(bucket.into());
    record.s3.object.key = Some(key.into());
    record
}

/// An upload event of the objects at `keys` in `bucket`.
pub fn upload_event(bucket: &str, keys: &[&str]) -> UploadEvent {
    let mut event = UploadEvent::default();
    event.records = keys.iter().map(|key| upload_record(bucket, key)).collect();
    event
}

/// An SQS event of one message whose body is `body`.
pub fn sqs_event(message_id: &str, body: String, queue_arn: Option<String>) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.into());
    message.body = Some(body);
    message.event_source = Some("aws:sqs".into());
    message.event_source_arn = queue_arn;
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream_event(image: serde_json::Value) -> serde_json::Value {
        json!({"Records": [{
            "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1", "dynamodb": {"NewImage": image, "SequenceNumber": "1",
            "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }]})
    }

    #[test]
    fn a_stream_record_names_its_kind_tenant_and_id() {
        let (t, j) = (Uuid::now_v7(), Uuid::now_v7());
        let event = stream_event(
            json!({"kind": {"S": "export"}, "tenant_id": {"S": t.to_string()},
            "id": {"S": j.to_string()}, "status": {"S": "queued"}}),
        );
        let StreamOr::<Scheduled>::Stream(event) = serde_json::from_value(event).expect("event")
        else {
            panic!("not a stream event");
        };
        let named = Named::of(&event.records[0]);
        assert_eq!(named.job("export"), Some((t, j)));
        assert_eq!(named.job("import"), None);
    }

    #[test]
    fn anything_not_from_the_stream_is_the_other_trigger() {
        let scheduled: StreamOr<Scheduled> =
            serde_json::from_value(json!({"detail-type": "Scheduled Event", "detail": {}}))
                .expect("event");
        assert!(matches!(scheduled, StreamOr::Other(_)));
        // As S3 writes it (every field S3 sends, as Lambda hands it over).
        let upload = serde_json::to_value(upload_event("b", &["tenants/x/jobs/y/upload.csv"]))
            .expect("JSON");
        let StreamOr::<UploadEvent>::Other(upload) = serde_json::from_value(upload).expect("event")
        else {
            panic!("an upload read as a stream event");
        };
        assert_eq!(
            upload.records[0].s3.object.key.as_deref(),
            Some("tenants/x/jobs/y/upload.csv")
        );
    }
}
