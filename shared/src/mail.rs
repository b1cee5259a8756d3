//! Outgoing mail through SES v2. Mails are sent after the change they announce has committed; a
//! failed send is logged and reported, never half-applied.

use crate::error::{ApiError, ApiResult};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

#[derive(Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

/// One mail: a plain-text body (links are easy to follow from it) and an HTML alternative.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: String) -> Self {
        Self { client, from }
    }

    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }

    pub fn from_address(&self) -> &str {
        &self.from
    }

    pub async fn send(&self, mail: Mail) -> ApiResult<()> {
        let content = |text: String| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(ApiError::internal)
        };
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(
                Body::builder()
                    .text(content(mail.text)?)
                    .html(content(mail.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        Ok(())
    }
}

/// Escapes text for the HTML part of a mail.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
