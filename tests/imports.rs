//! Imports: the template, upload to the presigned URL, start, the worker fed the upload's S3
//! event or the start's stream record, every row checked and reported, a forced rerun that adds
//! nothing, invite mode, the refusals (empty, header only, wrong type, too big, another tenant's
//! department) and the free plan's daily limit.

use roster_tests::{Env, Tenant, id, unique};
use serde_json::json;

/// Creates an import job and uploads `file` with `content_type`; returns the job id.
async fn upload(env: &Env, t: &Tenant, mode: &str, file: Vec<u8>, content_type: &str) -> String {
    let created = env
        .post(
            &format!("/v1/tenants/{}/imports", t.id),
            Some(&t.owner_token),
            json!({"mode": mode, "send_email": mode == "invite"}),
        )
        .await;
    let created = created.ok(201).clone();
    assert_eq!(created["job"]["status"], "awaiting_upload");
    assert_eq!(created["upload_content_type"], "text/csv");
    let url = created["upload_url"].as_str().expect("upload_url");
    env.upload_file(url, content_type, file).await;
    id(&created["job"])
}

/// Plays the start's stream record to the import worker.
async fn work(env: &Env, t: &Tenant, job: &str) -> usize {
    env.import_as_lambda_would(t, job)
        .await
        .expect("import")
        .imported
}

/// The rows of the result file at `url` (the job's download link).
async fn result_rows(env: &Env, url: &str) -> Vec<Vec<String>> {
    let result = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    csv_rows(&result)
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text.trim_start_matches('\u{feff}');
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn a_thousand_rows_with_ten_bad_ones_make_990_members_and_a_rerun_adds_none() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Import Co").await;
    env.set_limits(&t, json!({"member_quota": 2000})).await;
    let sales = env.department_in(&t, "Sales").await;
    env.department_under(&t, "EMEA", &sales).await;

    // The template is the header plus one example row.
    let template = env
        .http
        .get(format!("{}/v1/tenants/{}/imports/template", env.base, t.id))
        .bearer_auth(&t.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(template.status().as_u16(), 200);
    assert!(
        template.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let template = template.text().await.unwrap();
    let lines: Vec<&str> = template.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("email,name,department"));

    let domain = unique("bulk");
    let mut file = String::from("\u{feff}email,name,department,position,role\r\n");
    let mut bad_rows = Vec::new();
    for i in 0..1000 {
        let row = i + 2;
        let line = match i {
            100 | 200 | 300 => {
                bad_rows.push(row);
                format!("not-an-email-{i},Bad Email,,,\r\n")
            }
            400 | 500 | 600 => {
                bad_rows.push(row);
                format!("p{i}@{domain}.test,No Dept,Nowhere/Else,,\r\n")
            }
            700 | 800 => {
                bad_rows.push(row);
                // The same email as row 2.
                format!("p0@{domain}.test,Twice,,,\r\n")
            }
            900 => {
                bad_rows.push(row);
                format!("p{i}@{domain}.test,,,,\r\n")
            }
            950 => {
                bad_rows.push(row);
                format!("p{i}@{domain}.test,Would Be Owner,,,owner\r\n")
            }
            _ => {
                let dept = ["", "Sales", "Sales/EMEA", "sales/emea"][i % 4];
                format!("P{i}@{domain}.test,Person {i},{dept},Role {i},member\r\n")
            }
        };
        file.push_str(&line);
    }
    let before = env.member_count(&t).await;
    let job_id = upload(&env, &t, "create", file.into_bytes(), "text/csv").await;
    let started = env.start_import(&t, &job_id).await;
    assert_eq!(started.ok(202)["status"], "queued");
    // Starting again changes nothing.
    assert_eq!(
        env.start_import(&t, &job_id).await.ok(202)["status"],
        "queued"
    );
    assert_eq!(work(&env, &t, &job_id).await, 1);

    let done = env.job(&t, &job_id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["counts"],
        json!({"total": 1000, "succeeded": 990, "failed": 10})
    );
    assert_eq!(env.member_count(&t).await, before + 990);
    // The result file reports each bad row with its number and reason.
    let rows = result_rows(&env, done["download_url"].as_str().expect("result link")).await;
    assert_eq!(rows.len(), 1000);
    let failed: Vec<usize> = rows
        .iter()
        .filter(|r| r[2] == "failed")
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(failed, bad_rows);
    let reason = |row: usize| rows.iter().find(|r| r[0] == row.to_string()).unwrap()[3].clone();
    assert!(reason(102).contains("email"), "{}", reason(102));
    assert!(reason(402).contains("Nowhere/Else"), "{}", reason(402));
    assert!(reason(702).contains("duplicate"), "{}", reason(702));
    assert!(reason(902).contains("name"), "{}", reason(902));
    assert!(reason(952).contains("role"), "{}", reason(952));
    // Imported members carry source import, their department and fields.
    let found = env
        .get(
            &format!("/v1/tenants/{}/members?q=p3@{domain}", t.id),
            &t.owner_token,
        )
        .await;
    let m = found.ok(200)["items"][0].clone();
    assert_eq!(m["source"], "import");
    assert_eq!(m["email"], format!("p3@{domain}.test"));
    assert_eq!(m["position"], "Role 3");

    // Forced rerun, as if the function had been stopped and started again: nothing twice.
    env.app
        .store
        .client()
        .update_item()
        .table_name(env.app.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{}", t.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{job_id}")),
        )
        .update_expression("SET #s = :q")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":q",
            aws_sdk_dynamodb::types::AttributeValue::S("queued".into()),
        )
        .send()
        .await
        .expect("requeue");
    assert_eq!(work(&env, &t, &job_id).await, 1);
    let again = env.job(&t, &job_id).await;
    assert_eq!(
        again["counts"],
        json!({"total": 1000, "succeeded": 990, "failed": 10})
    );
    assert_eq!(env.member_count(&t).await, before + 990);
    env.assert_consistent().await;
}

#[tokio::test]
async fn invite_mode_sends_invitations_and_reports_members() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Invite Import").await;
    let domain = unique("inv");
    let file = format!(
        "email,name\n a@{domain}.test ,Ann\nb@{domain}.test,Ben\n{},Owner Again\n",
        t.owner_email
    );
    let job_id = upload(&env, &t, "invite", file.into_bytes(), "text/csv").await;
    // The upload's S3 event starts it without a start request.
    let key = format!("tenants/{}/jobs/{job_id}/upload.csv", t.id);
    let event = roster_shared::worker_events::StreamOr::Other(
        roster_shared::worker_events::upload_event("roster-files", &[&key]),
    );
    let report = roster_shared::jobs::import::handle_event(env.app, event)
        .await
        .unwrap();
    assert_eq!(report.imported, 1);
    let done = env.job(&t, &job_id).await;
    assert_eq!(
        done["counts"],
        json!({"total": 3, "succeeded": 2, "failed": 1})
    );
    let pending = env
        .get(&format!("/v1/tenants/{}/invitations", t.id), &t.owner_token)
        .await;
    assert_eq!(pending.ok(200)["items"].as_array().unwrap().len(), 2);
    assert_eq!(env.mails_to(&format!("a@{domain}.test")).await.len(), 1);
    let rows = result_rows(&env, done["download_url"].as_str().unwrap()).await;
    assert_eq!(rows[2][2], "failed");
    assert!(rows[2][3].contains("already_member"), "{:?}", rows[2]);
    env.assert_consistent().await;
}

#[tokio::test]
async fn bad_files_are_refused_with_their_reason() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Strict Co").await;
    let other = env.tenant_with_owner("Other Co").await;
    env.department_in(&other, "Secret").await;

    for (file, content_type, status, code) in [
        (Vec::new(), "text/csv", 400, "validation_failed"),
        (
            b"email,name\r\n".to_vec(),
            "text/csv",
            400,
            "validation_failed",
        ),
        (
            b"email,salary\na@b.test,1\n".to_vec(),
            "text/csv",
            400,
            "validation_failed",
        ),
        (
            b"email,name\na@b.test,A\n".to_vec(),
            "application/json",
            400,
            "validation_failed",
        ),
        (vec![0xff, 0xfe, b'a'], "text/csv", 400, "validation_failed"),
        (
            {
                let mut big = b"email,name\n".to_vec();
                big.resize(20 * 1024 * 1024 + 10, b'x');
                big
            },
            "text/csv",
            413,
            "payload_too_large",
        ),
    ] {
        let job_id = upload(&env, &t, "create", file, content_type).await;
        env.start_import(&t, &job_id).await.problem(status, code);
        // Nothing was started: the job still waits for a proper file.
        assert_eq!(env.job(&t, &job_id).await["status"], "awaiting_upload");
    }

    // Not uploaded yet.
    let created = env
        .post(
            &format!("/v1/tenants/{}/imports", t.id),
            Some(&t.owner_token),
            json!({"mode": "create"}),
        )
        .await;
    let pending = id(&created.ok(201)["job"]);
    env.start_import(&t, &pending)
        .await
        .problem(400, "validation_failed");
    // Another tenant's job: 404.
    env.post(
        &format!("/v1/tenants/{}/imports/{pending}/start", other.id),
        Some(&other.owner_token),
        json!({}),
    )
    .await
    .problem(404, "not_found");

    // Another tenant's department path is not a department here.
    let file = format!(
        "email,name,department\n{}@x.test,Spy,Secret\n",
        unique("spy")
    );
    let job_id = upload(&env, &t, "create", file.into_bytes(), "text/csv").await;
    env.start_import(&t, &job_id).await.ok(202);
    work(&env, &t, &job_id).await;
    let done = env.job(&t, &job_id).await;
    assert_eq!(
        done["counts"],
        json!({"total": 1, "succeeded": 0, "failed": 1})
    );
    let members = env
        .get(
            &format!("/v1/tenants/{}/members?q=spy", other.id),
            &other.owner_token,
        )
        .await;
    assert!(members.ok(200)["items"].as_array().unwrap().is_empty());
    env.assert_consistent().await;
}

#[tokio::test]
async fn free_plan_tenants_import_at_most_100_rows_a_day() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Free Co").await;
    env.set_limits(&t, json!({"plan": "free", "member_quota": 500}))
        .await;
    let file = |n: usize| {
        let domain = unique("free");
        let mut f = String::from("email,name\n");
        for i in 0..n {
            f.push_str(&format!("f{i}@{domain}.test,Free {i}\n"));
        }
        f.into_bytes()
    };
    let first = upload(&env, &t, "create", file(60), "text/csv").await;
    env.start_import(&t, &first).await.ok(202);
    let second = upload(&env, &t, "create", file(60), "text/csv").await;
    env.start_import(&t, &second)
        .await
        .problem(429, "rate_limited");
    assert_eq!(env.job(&t, &second).await["status"], "awaiting_upload");
    // Within what is left: fine.
    let third = upload(&env, &t, "create", file(40), "text/csv").await;
    env.start_import(&t, &third).await.ok(202);
    // The upload event path counts too: the job fails with the reason.
    let fourth = upload(&env, &t, "create", file(1), "text/csv").await;
    let key = format!("tenants/{}/jobs/{fourth}/upload.csv", t.id);
    let event = roster_shared::worker_events::StreamOr::Other(
        roster_shared::worker_events::upload_event("roster-files", &[&key]),
    );
    roster_shared::jobs::import::handle_event(env.app, event)
        .await
        .unwrap();
    let failed = env.job(&t, &fourth).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("rate_limited"));
    env.assert_consistent().await;
}

#[tokio::test]
async fn imported_passwords_work_once_to_set_ones_own_and_leave_the_bucket() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Password Import").await;
    let domain = unique("pw");
    let (zoe, yan) = (format!("zoe@{domain}.test"), format!("yan@{domain}.test"));
    let file = format!(
        "email,name,language,password\n\
         {zoe},Zoe,pt-BR,given-password-1\n\
         {yan},Yan,,\n\
         short@{domain}.test,Shorty,,tiny-pw\n\
         lang@{domain}.test,Lang,english please,another-password-1\n"
    );
    // With mails: Yan, who has no password, gets the set-password link.
    let (job, _) = env.uploaded_import(&t, &file, true).await;
    env.start_import(&t, &job).await.ok(202);
    assert_eq!(work(&env, &t, &job).await, 1);
    let done = env.job(&t, &job).await;
    assert_eq!(
        done["counts"],
        json!({"total": 4, "succeeded": 2, "failed": 2})
    );
    let url = done["download_url"].as_str().unwrap();
    let rows = result_rows(&env, url).await;
    assert!(rows[2][3].starts_with("password must be"), "{:?}", rows[2]);
    assert!(rows[3][3].starts_with("language "), "{:?}", rows[3]);
    let result = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in ["given-password-1", "tiny-pw", "another-password-1"] {
        assert!(!result.contains(secret), "the result file shows {secret}");
    }
    // The file with the passwords is gone from the bucket once imported.
    let upload = env
        .app
        .s3()
        .head_object()
        .bucket(&env.app.config.bucket)
        .key(format!("tenants/{}/jobs/{job}/upload.csv", t.id))
        .send()
        .await;
    assert!(upload.is_err(), "the upload is still there");

    // Zoe proves her address with the password she was given, and must then change it.
    env.try_login(&zoe, "given-password-1", Some(&t.id))
        .await
        .problem(403, "email_unverified");
    let proof = env.link_token_for(&zoe, "verify-email").await;
    env.post(
        "/v1/auth/verify-email",
        None,
        json!({"token": proof, "password": "given-password-1"}),
    )
    .await
    .ok(200);
    let expired = env.try_login(&zoe, "given-password-1", Some(&t.id)).await;
    expired.problem(403, "password_expired");
    let change = expired.body["access_token"].as_str().unwrap().to_string();
    env.get("/v1/me", &change)
        .await
        .problem(401, "unauthorized");
    env.post(
        "/v1/auth/password",
        Some(&change),
        json!({"current_password": "given-password-1", "new_password": "zoes-own-password-1"}),
    )
    .await
    .ok(200);
    let token = env.login(&zoe, "zoes-own-password-1", Some(&t.id)).await;
    let me = env.get("/v1/me", &token).await;
    assert_eq!(me.ok(200)["user"]["language"], "pt-BR");
    // Once is enough: the next sign-in is a plain one.
    env.login(&zoe, "zoes-own-password-1", Some(&t.id)).await;

    // Yan had no password: the tenant's set-password link and language, no change forced.
    let link = env.link_token_for(&yan, "set-password").await;
    env.post(
        "/v1/auth/password-reset",
        None,
        json!({"token": link, "new_password": "yans-own-password-1"}),
    )
    .await
    .ok(204);
    let token = env.login(&yan, "yans-own-password-1", Some(&t.id)).await;
    assert_eq!(
        env.get("/v1/me", &token).await.ok(200)["user"]["language"],
        "en"
    );
    env.assert_consistent().await;
}

#[tokio::test]
async fn a_password_proven_anew_by_a_new_one_needs_no_change() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Proof Import").await;
    let ada = format!("ada@{}.test", unique("pw"));
    let file = format!("email,name,password\n{ada},Ada,given-password-1\n");
    let job = upload(&env, &t, "create", file.into_bytes(), "text/csv").await;
    env.start_import(&t, &job).await.ok(202);
    work(&env, &t, &job).await;
    env.try_login(&ada, "given-password-1", Some(&t.id))
        .await
        .problem(403, "email_unverified");
    // Proving the address sets the password typed there: one of her own ends the obligation.
    let proof = env.link_token_for(&ada, "verify-email").await;
    env.post(
        "/v1/auth/verify-email",
        None,
        json!({"token": proof, "password": "adas-own-password-1"}),
    )
    .await
    .ok(200);
    env.login(&ada, "adas-own-password-1", Some(&t.id)).await;
    env.assert_consistent().await;
}
