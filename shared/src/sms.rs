//! Outgoing text messages through SNS Publish to a phone number. Like mail, a message is sent
//! after the change it announces has committed; a failed send is logged and reported. What
//! texting may cost is counted first (`limits::count_text`, `limits::may_text_again`).

use crate::error::ApiResult;

#[derive(Clone)]
pub struct Texter {
    client: aws_sdk_sns::Client,
}

/// One text message to an E.164 number.
pub struct Sms {
    pub to: String,
    pub body: String,
}

impl Texter {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }

    pub async fn send(&self, sms: Sms) -> ApiResult<()> {
        self.client
            .publish()
            .phone_number(sms.to)
            .message(sms.body)
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        Ok(())
    }
}
