//! Exports and the task centre: every scope, CSV parsed back to the same members, XLSX, formula
//! escaping, the worker fed a stream record (and fed it twice), download links, deletion with
//! the files, permissions and tenant isolation.

use roster_tests::{Env, Tenant, id, unique};
use serde_json::{Value, json};

/// Queues an export, plays the table's stream record to the worker, and returns the finished
/// job as the task centre shows it.
async fn export(env: &Env, t: &Tenant, body: Value) -> Value {
    let queued = env
        .post(
            &format!("/v1/tenants/{}/exports", t.id),
            Some(&t.owner_token),
            body,
        )
        .await;
    let job = queued.ok(202).clone();
    assert_eq!(job["status"], "queued");
    let fields = json!({"kind": "export", "status": "queued", "tenant_id": t.id, "id": job["id"]});
    let record = roster_shared::worker_events::stream_event("INSERT", &fields).expect("event");
    let report = roster_shared::jobs::export::handle_stream(env.app, record.clone())
        .await
        .expect("export");
    assert_eq!(report.exported, 1);
    // A redelivered record finds the job done and changes nothing.
    let again = roster_shared::jobs::export::handle_stream(env.app, record)
        .await
        .expect("redelivery");
    assert_eq!((again.exported, again.skipped), (0, 1));
    let done = env
        .get(
            &format!("/v1/tenants/{}/jobs/{}", t.id, id(&job)),
            &t.owner_token,
        )
        .await;
    done.ok(200).clone()
}

async fn download(env: &Env, job: &Value) -> Vec<u8> {
    let url = job["download_url"].as_str().expect("download_url");
    let response = env.http.get(url).send().await.expect("download");
    assert_eq!(response.status().as_u16(), 200, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

/// The CSV as header-keyed rows (the BOM removed).
fn rows(bytes: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn emails(rows: &[std::collections::HashMap<String, String>]) -> Vec<String> {
    let mut e: Vec<String> = rows.iter().map(|r| r["email"].clone()).collect();
    e.sort();
    e
}

#[tokio::test]
async fn exports_of_every_scope_parse_back_to_the_same_members() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Export Co").await;
    let sales = env.department_in(&t, "Sales").await;
    let emea = env.department_under(&t, "EMEA", &sales).await;
    let ada = env
        .member_under(&t, "Ada Zed", &sales, json!({"position": "Lead"}))
        .await;
    let bob = env
        .member_under(&t, "Bob Zed", &emea, json!({"phone": "+44 20 1234"}))
        .await;
    let evil = env
        .member_under(
            &t,
            "=HYPERLINK(\"http://x\")",
            &t.root,
            json!({"position": "+1 boss", "location": "@home"}),
        )
        .await;
    let base = format!("/v1/tenants/{}", t.id);
    // A licence shows in the file.
    env.post(
        &format!("{base}/licences/assign"),
        Some(&t.owner_token),
        json!({"member_ids": [ada], "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await
    .ok(200);

    // All: every member of the directory, as the API lists them.
    let job = export(&env, &t, json!({"scope": "all", "format": "csv"})).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["counts"]["total"], 4);
    let all = rows(&download(&env, &job).await);
    let listed = env.get(&format!("{base}/members"), &t.owner_token).await;
    let mut expected: Vec<String> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(emails(&all), expected);
    let by_id = |id: &str| all.iter().find(|r| r["id"] == id).expect("row").clone();
    let a = by_id(&ada);
    assert_eq!(a["department"], "Sales");
    assert_eq!(a["position"], "Lead");
    assert_eq!(a["role"], "member");
    assert_eq!(a["status"], "active");
    assert_eq!(a["source"], "console");
    assert_eq!(a["licence"], "active");
    assert_eq!(a["licence_expires_at"], "2099-01-01T00:00:00Z");
    assert!(!a["created_at"].is_empty());
    assert_eq!(by_id(&bob)["department"], "Sales/EMEA");
    assert_eq!(by_id(&evil)["department"], "");
    assert_eq!(by_id(&bob)["licence"], "none");
    // Formula cells are escaped.
    let e = by_id(&evil);
    assert_eq!(e["name"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(e["position"], "'+1 boss");
    assert_eq!(e["location"], "'@home");

    // A department with and without its descendants.
    let subtree = export(
        &env,
        &t,
        json!({"scope": "department", "department_id": sales, "include_descendants": true, "format": "csv"}),
    )
    .await;
    let subtree = rows(&download(&env, &subtree).await);
    assert_eq!(subtree.len(), 2);
    let own = export(
        &env,
        &t,
        json!({"scope": "department", "department_id": sales, "format": "csv"}),
    )
    .await;
    let own = rows(&download(&env, &own).await);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], ada);

    // Chosen ids (an unknown one is simply not there) and a search.
    let selected = export(
        &env,
        &t,
        json!({"scope": "selected", "member_ids": [bob, evil, uuid::Uuid::now_v7()], "format": "csv"}),
    )
    .await;
    assert_eq!(selected["counts"]["total"], 2);
    let searched = export(
        &env,
        &t,
        json!({"scope": "query", "query": "ZED", "format": "csv"}),
    )
    .await;
    let searched = rows(&download(&env, &searched).await);
    let mut ids: Vec<String> = searched.iter().map(|r| r["id"].clone()).collect();
    ids.sort();
    let mut want = vec![ada.clone(), bob.clone()];
    want.sort();
    assert_eq!(ids, want);

    // XLSX: a zip container holding the sheet.
    let xlsx = export(&env, &t, json!({"scope": "all", "format": "xlsx"})).await;
    assert_eq!(xlsx["counts"]["total"], 4);
    let bytes = download(&env, &xlsx).await;
    assert_eq!(&bytes[..2], b"PK");
    assert!(bytes.len() > 1000);
    env.assert_consistent().await;
}

#[tokio::test]
async fn the_task_centre_lists_shows_and_deletes_jobs_with_their_files() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Tasks Co").await;
    let other = env.tenant_with_owner("Elsewhere Co").await;
    let base = format!("/v1/tenants/{}", t.id);
    let first = export(&env, &t, json!({"scope": "all", "format": "csv"})).await;
    let url = first["download_url"].as_str().unwrap().to_string();
    // Queued: listed, not deletable.
    let queued = env
        .post(
            &format!("{base}/exports"),
            Some(&t.owner_token),
            json!({"scope": "all", "format": "xlsx"}),
        )
        .await;
    let queued = id(queued.ok(202));
    let list = env.get(&format!("{base}/jobs"), &t.owner_token).await;
    let list = list.ok(200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![queued.as_str(), first["id"].as_str().unwrap()]);
    assert!(list["items"][0].get("download_url").is_none());
    env.delete(&format!("{base}/jobs/{queued}"), &t.owner_token)
        .await
        .problem(409, "conflict");

    // Another tenant sees none of it.
    for tenant in [&t.id, &other.id] {
        env.get(
            &format!("/v1/tenants/{tenant}/jobs/{}", id(&first)),
            &other.owner_token,
        )
        .await
        .problem(404, "not_found");
        env.delete(
            &format!("/v1/tenants/{tenant}/jobs/{}", id(&first)),
            &other.owner_token,
        )
        .await
        .problem(404, "not_found");
    }
    env.get(&format!("{base}/jobs"), &other.owner_token)
        .await
        .problem(404, "not_found");

    // Delete removes the record and the file.
    env.delete(&format!("{base}/jobs/{}", id(&first)), &t.owner_token)
        .await
        .ok(204);
    env.get(&format!("{base}/jobs/{}", id(&first)), &t.owner_token)
        .await
        .problem(404, "not_found");
    let gone = env.http.get(&url).send().await.expect("download");
    assert_eq!(gone.status().as_u16(), 404);

    // A plain member cannot export or see the task centre; bad input is refused.
    let email = format!("{}@export.test", unique("plain"));
    env.post(
        &format!("{base}/members"),
        Some(&t.owner_token),
        json!({"email": email, "name": "Plain", "department_id": t.root, "password": "plain-password-1"}),
    )
    .await
    .ok(201);
    let plain = env
        .prove_and_sign_in(&email, "plain-password-1", Some(&t.id))
        .await;
    env.post(
        &format!("{base}/exports"),
        Some(&plain),
        json!({"scope": "all", "format": "csv"}),
    )
    .await
    .problem(403, "forbidden");
    env.get(&format!("{base}/jobs"), &plain)
        .await
        .problem(403, "forbidden");
    for bad in [
        json!({"scope": "department", "format": "csv"}),
        json!({"scope": "selected", "member_ids": [], "format": "csv"}),
        json!({"scope": "query", "query": "  ", "format": "csv"}),
        json!({"scope": "all", "format": "pdf"}),
        json!({"scope": "department", "department_id": uuid::Uuid::now_v7(), "format": "csv"}),
    ] {
        env.post(&format!("{base}/exports"), Some(&t.owner_token), bad)
            .await
            .problem(400, "validation_failed");
    }
    env.assert_consistent().await;
}
