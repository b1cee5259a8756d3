//! The local stack plays AWS around the functions: workers fed from the table's DynamoDB stream
//! (with template.yaml's filters, in Lambda's event shape) and from bucket notifications, on a
//! table far past one scan page; the dead-letter path that ends a job its worker gave up on
//! `failed`, with the reason; and the HTTP API's CORS answers for the web app's origin.

use aws_sdk_dynamodb::types::AttributeValue;
use roster_functions::local_stack::{LocalStack, invoke};
use roster_shared::worker_events;
use roster_shared::{ApiError, ApiResult, App};
use roster_tests::Env;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// About 1.25 MB of items no worker cares about: more than one Scan page (1 MB).
async fn fill_past_one_scan_page(env: &Env) {
    let filler = "x".repeat(480);
    let items: Vec<HashMap<String, AttributeValue>> = (0..2_600)
        .map(|n| {
            HashMap::from([
                ("pk".to_string(), AttributeValue::S(format!("FILLER#{n}"))),
                ("sk".to_string(), AttributeValue::S("FILLER".into())),
                ("data".to_string(), AttributeValue::S(filler.clone())),
            ])
        })
        .collect();
    env.put_items(&items, 4).await;
}

#[tokio::test]
async fn queued_exports_run_from_the_stream_on_a_table_past_one_scan_page() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Streamed").await;
    fill_past_one_scan_page(&env).await;
    let mut stack = LocalStack::connect(env.app).await.expect("stack");
    let job = env.queue_export(&t).await;

    let pass = stack.pass().await.expect("pass");
    assert!(pass.records > 2_600, "{pass:?}");
    // The export worker got its job once (the event workers get the tenant's events too).
    assert_eq!(
        (pass.to("export-run"), pass.dead_lettered),
        (1, 0),
        "{pass:?}"
    );
    assert_eq!(env.job(&t, &job).await["status"], "completed");

    // The stream is read on from where the last pass stopped: nothing is handed over twice.
    let again = stack.pass().await.expect("pass");
    assert_eq!(again.to("export-run"), 0, "{again:?}");
    // A gateway started again reads the stream from its start: the workers see the old records
    // again and change nothing.
    let mut restarted = LocalStack::connect(env.app).await.expect("stack");
    let replay = restarted.pass().await.expect("pass");
    assert_eq!(replay.dead_lettered, 0);
    assert_eq!(env.job(&t, &job).await["status"], "completed");
}

#[tokio::test]
async fn an_upload_reaches_the_import_worker_as_a_bucket_notification() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Uploads").await;
    let mut stack = LocalStack::connect(env.app).await.expect("stack");
    let (job, _) = env
        .uploaded_import(
            &t,
            "email,name\nada@uploads.test,Ada\nbob@uploads.test,Bob\n",
            false,
        )
        .await;
    let pass = stack.pass().await.expect("pass");
    assert_eq!(pass.dead_lettered, 0, "{pass:?}");
    let done = env.job(&t, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["succeeded"], 2, "{done}");
}

/// Export-run fails every time; every other function is the real one.
fn failing_exports(
    app: &'static App,
    function: &'static str,
    event: Value,
) -> Pin<Box<dyn Future<Output = ApiResult<()>> + Send>> {
    if function == "export-run" {
        return Box::pin(async { Err(ApiError::internal("the export worker crashed")) });
    }
    Box::pin(invoke(app, function, event))
}

#[tokio::test]
async fn an_export_whose_worker_gives_up_ends_failed_with_the_reason() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Dropped").await;
    let mut stack = LocalStack::connect(env.app)
        .await
        .expect("stack")
        .with_invoker(failing_exports);
    let job = env.queue_export(&t).await;

    let pass = stack.pass().await.expect("pass");
    assert_eq!(
        (pass.to("export-run"), pass.dead_lettered),
        (1, 1),
        "{pass:?}"
    );
    let failed = env.job(&t, &job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = failed["error"].as_str().expect("a reason");
    assert!(reason.contains("export-run gave up"), "{reason}");
}

#[tokio::test]
async fn dead_letters_fail_only_unfinished_jobs_they_name() {
    use roster_shared::jobs::dead_letters::{DeadLetterReport, handle_event};
    let env = Env::start().await;
    let t = env.tenant_with_owner("Letters").await;
    let (queued, _) = env
        .uploaded_import(&t, "email,name\na@l.test,A\n", false)
        .await;
    let (done, _) = env
        .uploaded_import(&t, "email,name\nb@l.test,B\n", false)
        .await;
    env.start_import(&t, &done).await.ok(202);
    env.play_import_record(&t, &done).await.expect("import");
    assert_eq!(env.job(&t, &done).await["status"], "completed");

    let upload = |job: &str| {
        let key = format!("tenants%2F{}%2Fjobs%2F{job}%2Fupload.csv", t.id);
        serde_json::to_value(worker_events::upload_record("roster-files", &key)).expect("record")
    };
    let letter = json!({
        "requestContext": {"functionArn": "arn:aws:lambda:us-east-1:1:function:import-run", "condition": "RetriesExhausted"},
        "requestPayload": {"Records": [upload(&queued), upload(&done)]},
        "responsePayload": {"errorMessage": "the bucket is unavailable"},
    });
    let sqs = |body: Value| worker_events::sqs_event("1", body.to_string(), None);
    let report = handle_event(env.app, sqs(letter.clone()))
        .await
        .expect("dead letters");
    assert_eq!(
        report,
        DeadLetterReport {
            failed: 1,
            untouched: 1,
            unmatched: 0
        }
    );
    let failed = env.job(&t, &queued).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("the bucket is unavailable")),
        "{failed}"
    );
    assert_eq!(env.job(&t, &done).await["status"], "completed");

    // The same letter again (SQS delivers at least once) changes nothing.
    let again = handle_event(env.app, sqs(letter)).await.expect("again");
    assert_eq!(again.failed, 0);
    // A scheduled job's dead letter names no job: counted, nothing written.
    let schedule =
        json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event"});
    let report = handle_event(env.app, sqs(schedule))
        .await
        .expect("schedule");
    assert_eq!(report.unmatched, 1);
    // Another tenant's job in a forged key is not found under that tenant.
    let other = env.tenant_with_owner("Other").await;
    let forged = json!({
        "requestPayload": worker_events::upload_event(
            "roster-files",
            &[&format!("tenants/{}/jobs/{queued}/upload.csv", other.id)],
        ),
    });
    let report = handle_event(env.app, sqs(forged)).await.expect("forged");
    assert_eq!((report.failed, report.untouched), (0, 1));
}

#[tokio::test]
async fn the_web_apps_origin_may_call_the_api_and_no_other() {
    let env = Env::start().await;
    let preflight = |origin: &'static str| {
        env.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/auth/login", env.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.roster.test")
        .await
        .expect("preflight");
    assert_eq!(allowed.status().as_u16(), 204);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.roster.test")
    );
    assert!(
        header(&allowed, "access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization") && h.contains("content-type"))
    );
    assert!(header(&allowed, "access-control-allow-methods").is_some_and(|m| m.contains("PATCH")));

    let foreign = preflight("https://evil.example").await.expect("preflight");
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);

    // An actual call from the app's pages carries the header (and exposes Retry-After and
    // Location); one from elsewhere does not.
    let call = |origin: &'static str| {
        env.http
            .get(format!("{}/.well-known/jwks.json", env.base))
            .header("origin", origin)
            .send()
    };
    let ok = call("https://app.roster.test").await.expect("call");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        header(&ok, "access-control-allow-origin").as_deref(),
        Some("https://app.roster.test")
    );
    assert!(
        header(&ok, "access-control-expose-headers").is_some_and(|h| h.contains("retry-after"))
    );
    let other = call("https://evil.example").await.expect("call");
    assert_eq!(header(&other, "access-control-allow-origin"), None);
}
