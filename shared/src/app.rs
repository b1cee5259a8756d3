//! The context every handler gets: SDK clients (created once per Lambda container, with no network
//! call and no file read), configuration and the clock.

pub use crate::config::Config;
pub use crate::config::Limits;
use crate::error::{ApiError, ApiResult};
use crate::mail::Mailer;
use crate::sealing::SealingSecret;
use crate::store::{RequestCounter, Store};
use crate::tokens::TokenKeys;
pub use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;

/// Wall clock, or a clock tests move by hand.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start: OffsetDateTime) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(start.unix_timestamp())))
    }

    pub fn now(&self) -> OffsetDateTime {
        let now = match self {
            Self::System => OffsetDateTime::now_utc(),
            Self::Manual(secs) => OffsetDateTime::from_unix_timestamp(secs.load(Ordering::SeqCst))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        // Whole seconds: RFC 3339 timestamps in answers and epoch seconds in TTLs then agree.
        now.replace_nanosecond(0).unwrap_or(now)
    }

    pub fn advance(&self, seconds: i64) {
        if let Self::Manual(secs) = self {
            secs.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

pub struct App {
    pub store: Store,
    pub config: Config,
    pub keys: TokenKeys,
    /// The deployment secret kept answers are sealed under (read on first use).
    pub sealing: SealingSecret,
    pub clock: Clock,
    sdk: aws_config::SdkConfig,
    // Built on first use: a function that never sends mail or touches files does not even link
    // those clients (smaller binaries, faster cold starts).
    s3: OnceLock<aws_sdk_s3::Client>,
    mail: OnceLock<Mailer>,
    sms: OnceLock<crate::sms::Texter>,
    streams: OnceLock<aws_sdk_dynamodbstreams::Client>,
    event_bus: OnceLock<aws_sdk_eventbridge::Client>,
}

/// What differs between Lambda, the local gateway and tests.
#[derive(Default)]
pub struct AppOptions {
    pub counter: Option<RequestCounter>,
    pub clock: Clock,
}

impl App {
    /// Builds the context from the environment: on Lambda from the function's configuration,
    /// locally from the variables the scripts set (AWS_ENDPOINT_URL points the SDK at the emulator).
    pub async fn from_env() -> ApiResult<Self> {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client()?)
            .load()
            .await;
        Self::from_sdk(&sdk)
    }

    /// [`App::from_env`] for a Lambda function, whose region (AWS_REGION) and execution-role
    /// credentials always come as environment variables. Naming those two providers skips what the
    /// default chains build at init and a Lambda never uses: the profile, web-identity, ECS and IMDS
    /// providers. Everything else (AWS_ENDPOINT_URL and the other AWS_* settings) is read as before.
    pub async fn for_lambda() -> ApiResult<Self> {
        use aws_config::environment::{
            EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
        };
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(EnvironmentVariableRegionProvider::new())
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .http_client(https_client()?)
            .load()
            .await;
        Self::from_sdk(&sdk)
    }

    fn from_sdk(sdk: &aws_config::SdkConfig) -> ApiResult<Self> {
        Self::new(
            sdk,
            Config::from_env()?,
            TokenKeys::from_env(sdk)?,
            AppOptions::default(),
        )
    }

    /// Every SDK client built from the App's `sdk` goes through the HTTP client `sdk` names, else
    /// through a new [`crate::https::client`] (one connection pool for all of them).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        config: Config,
        keys: TokenKeys,
        options: AppOptions,
    ) -> ApiResult<Self> {
        let sdk = match sdk.http_client() {
            Some(_) => sdk.clone(),
            None => sdk.to_builder().http_client(https_client()?).build(),
        };
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(config.dynamodb_attempt_timeout)
                .build(),
        );
        if let Some(counter) = options.counter {
            dynamo = dynamo.interceptor(counter);
        }
        let store = Store::new(
            aws_sdk_dynamodb::Client::from_conf(dynamo.build()),
            config.table.clone(),
        );
        Ok(Self {
            store,
            sealing: SealingSecret::new(&sdk, config.sealing_secret.clone()),
            config,
            keys,
            clock: options.clock,
            sdk,
            s3: OnceLock::new(),
            mail: OnceLock::new(),
            sms: OnceLock::new(),
            streams: OnceLock::new(),
            event_bus: OnceLock::new(),
        })
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| {
            // Path-style addressing keeps bucket names out of hostnames, which the emulator needs
            // and AWS accepts.
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&self.sdk)
                    .force_path_style(true)
                    .build(),
            )
        })
    }

    pub fn mail(&self) -> &Mailer {
        self.mail.get_or_init(|| {
            Mailer::new(
                aws_sdk_sesv2::Client::new(&self.sdk),
                self.config.mail_from.clone(),
            )
        })
    }

    /// Text messages (SNS Publish to a phone number).
    pub fn sms(&self) -> &crate::sms::Texter {
        self.sms
            .get_or_init(|| crate::sms::Texter::new(aws_sdk_sns::Client::new(&self.sdk)))
    }

    /// The table's stream, read back only by the dead-letter function.
    pub fn streams(&self) -> &aws_sdk_dynamodbstreams::Client {
        self.streams
            .get_or_init(|| aws_sdk_dynamodbstreams::Client::new(&self.sdk))
    }

    /// EventBridge, used only by the function that puts events on the bus.
    pub fn event_bus(&self) -> &aws_sdk_eventbridge::Client {
        self.event_bus
            .get_or_init(|| aws_sdk_eventbridge::Client::new(&self.sdk))
    }

    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn table(&self) -> &str {
        self.store.table()
    }
}

/// Roster's HTTP client for the SDK: compiled-in trust anchors, so building a client reads no file.
fn https_client() -> ApiResult<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    crate::https::client().map_err(ApiError::internal)
}
