//! An S3 multipart upload fed a slice at a time.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

/// S3 parts are at least 5 MiB (but the last); 8 MiB keeps a handful in flight at most.
pub(super) const PART_BYTES: usize = 8 * 1024 * 1024;

/// An S3 multipart upload fed a slice at a time; a part goes out whenever 8 MiB are buffered.
pub(super) struct Multipart<'a> {
    app: &'a App,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    buffer: Vec<u8>,
}

impl<'a> Multipart<'a> {
    pub(super) async fn start(app: &'a App, key: &str, content_type: &str) -> ApiResult<Self> {
        let out = app
            .s3()
            .create_multipart_upload()
            .bucket(&app.config.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        Ok(Self {
            app,
            key: key.to_string(),
            upload_id: out
                .upload_id()
                .ok_or_else(|| ApiError::internal("no upload id"))?
                .to_string(),
            parts: Vec::new(),
            buffer: Vec::with_capacity(PART_BYTES),
        })
    }

    pub(super) async fn write(&mut self, bytes: &[u8]) -> ApiResult<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            self.send_part().await?;
        }
        Ok(())
    }

    pub(super) async fn send_part(&mut self) -> ApiResult<()> {
        let number = i32::try_from(self.parts.len() + 1).map_err(ApiError::internal)?;
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        let out = self
            .app
            .s3()
            .upload_part()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    pub(super) async fn finish(mut self) -> ApiResult<()> {
        if !self.buffer.is_empty() || self.parts.is_empty() {
            self.send_part().await?;
        }
        self.app
            .s3()
            .complete_multipart_upload()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        Ok(())
    }

    pub(super) async fn abort(&self) {
        let aborted = self
            .app
            .s3()
            .abort_multipart_upload()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::error!(error = %err, "aborting the export upload failed");
        }
    }
}
