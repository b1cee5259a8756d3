//! Creating the resources template.yaml declares, for the local emulator and tests, and the
//! bootstrap platform admin. On AWS the table and bucket come from template.yaml; the bootstrap
//! admin can be created against it with the same code (`local-gateway bootstrap-admin`).

use crate::app::App;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{INDEXES, Index, Key, PK, SK, TTL};
use crate::model::user::{EmailGuard, PlatformAdmin, User};
use crate::store::{Transaction, from_item, sdk_error, to_item};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

/// Creates the table with its indexes, TTL attribute and stream (new images: what the workers
/// are fed), as template.yaml declares it. Does nothing when the table exists.
pub async fn create_table(app: &App) -> ApiResult<()> {
    let client = app.store.client();
    if client
        .describe_table()
        .table_name(app.table())
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    let mut request = client
        .create_table()
        .table_name(app.table())
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(ApiError::internal)?,
        )
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?);
    for index in INDEXES {
        request = request
            .attribute_definitions(string_attribute(index.pk)?)
            .attribute_definitions(string_attribute(index.sk)?)
            .global_secondary_indexes(global_index(&index)?);
    }
    match request.send().await {
        Ok(_) => {}
        // Created meanwhile, or by an attempt of this very call whose answer the SDK gave up on.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(sdk_error(err)),
    }
    client
        .update_time_to_live()
        .table_name(app.table())
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build()
                .map_err(ApiError::internal)?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

fn key_element(name: &str, kind: KeyType) -> ApiResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(ApiError::internal)
}

fn string_attribute(name: &str) -> ApiResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(ApiError::internal)
}

/// An index as keys.rs lays it out, projecting every attribute.
fn global_index(index: &Index) -> ApiResult<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key_element(index.pk, KeyType::Hash)?)
        .key_schema(key_element(index.sk, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(ApiError::internal)
}

/// Creates the bucket and the verified sender identity (local emulator only).
pub async fn create_bucket_and_sender(app: &App) -> ApiResult<()> {
    let exists = app
        .s3()
        .head_bucket()
        .bucket(&app.config.bucket)
        .send()
        .await
        .is_ok();
    if !exists {
        app.s3()
            .create_bucket()
            .bucket(&app.config.bucket)
            .send()
            .await
            .map_err(sdk_error)?;
    }
    let _ = app
        .mail()
        .client()
        .create_email_identity()
        .email_identity(app.mail().from_address())
        .send()
        .await;
    create_event_bus(app).await
}

/// Creates the event bus the deployment names (local emulator only; template.yaml's
/// `RosterEventsBus` on AWS). One that exists already is kept.
pub async fn create_event_bus(app: &App) -> ApiResult<()> {
    let bus = &app.config.event_bus;
    let exists = || async { app.event_bus().describe_event_bus().name(bus).send().await };
    if exists().await.is_ok() {
        return Ok(());
    }
    let created = app.event_bus().create_event_bus().name(bus).send().await;
    match created {
        // Another process of the test suite created it meanwhile.
        Err(_) if exists().await.is_ok() => Ok(()),
        other => other.map(|_| ()).map_err(sdk_error),
    }
}

/// Makes `email` a platform admin with `password`, creating the user if needed. Idempotent: run
/// at every start of the local stack. The operator's own command vouches for the address: it
/// counts as proven.
pub async fn bootstrap_admin(app: &App, email: &str, password: &str) -> ApiResult<User> {
    let email = email.trim().to_lowercase();
    let now = app.now();
    let hash = crypto::hash_password(password)?;
    let existing = match app.store.get(&Key::email(&email)).await? {
        Some(item) => {
            let guard: EmailGuard = from_item(item)?;
            app.store
                .get(&Key::user(guard.user_id))
                .await?
                .map(from_item::<User>)
                .transpose()?
        }
        None => None,
    };
    let mut tx = Transaction::new();
    let user = match existing {
        Some(mut user) => {
            user.password_hash = Some(hash);
            user.password_changed_at = Some(now);
            user.email_verified = true;
            user.version += 1;
            tx.put(to_item(&user, &Key::user(user.id), &[])?, None)?;
            tx.put(
                to_item(
                    &EmailGuard {
                        user_id: user.id,
                        verified: true,
                    },
                    &Key::email(&email),
                    &[],
                )?,
                None,
            )?;
            user
        }
        None => {
            let mut user = User::new(now, email.clone(), "Platform admin".into(), "en".into());
            user.password_hash = Some(hash);
            user.password_changed_at = Some(now);
            user.email_verified = true;
            user.add_new(&mut tx)?;
            user
        }
    };
    tx.put(
        to_item(
            &PlatformAdmin {
                user_id: user.id,
                email: user.email.clone(),
                created_at: now,
            },
            &Key::platform_admin(user.id),
            &[],
        )?,
        None,
    )?;
    app.store.transact(tx).await?;
    Ok(user)
}
