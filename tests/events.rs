//! The event log (SPEC.md §9.2): every change writes its event with it; a client that keeps its
//! cursor reads every event once, in order, even while changes are made and numbered at once.

use futures::future::join_all;
use roster_tests::{Env, Tenant, unique};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn read_all(env: &Env, t: &Tenant) -> Vec<Value> {
    env.deliver_events().await;
    env.events_after(t, "").await.0
}

#[tokio::test]
async fn member_and_department_changes_are_read_in_order_with_the_resource_as_the_api_shows_it() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Events Co").await;
    env.deliver_events().await;
    let (_, cursor) = env.events_after(&t, "").await;

    let dept = env.department_in(&t, "Sales").await;
    let other = env.department_in(&t, "Support").await;
    let member = env.member_under(&t, "Eve", &dept, json!({})).await;
    let path = format!("/v1/tenants/{}/members/{member}", t.id);
    env.patch(&path, &t.owner_token, json!({"status": "disabled"}))
        .await
        .ok(200);
    env.patch(&path, &t.owner_token, json!({"status": "active"}))
        .await
        .ok(200);
    let shown = env
        .patch(&path, &t.owner_token, json!({"position": "Lead"}))
        .await
        .ok(200)
        .clone();
    let dept_path = format!("/v1/tenants/{}/departments/{dept}", t.id);
    env.patch(&dept_path, &t.owner_token, json!({"name": "Sales EU"}))
        .await
        .ok(200);
    env.patch(&dept_path, &t.owner_token, json!({"parent_id": other}))
        .await
        .ok(200);
    env.delete(&path, &t.owner_token).await.ok(204);
    env.post(
        &format!("/v1/tenants/{}/recycle-bin/{member}/restore", t.id),
        Some(&t.owner_token),
        json!({"department_id": other}),
    )
    .await
    .ok(200);
    env.delete(&path, &t.owner_token).await.ok(204);
    let empty = env.department_in(&t, "Empty").await;
    env.delete(
        &format!("/v1/tenants/{}/departments/{empty}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);

    env.deliver_events().await;
    let (events, next) = env.events_after(&t, &cursor).await;
    assert_eq!(
        types(&events),
        [
            "department.created",
            "department.created",
            "member.created",
            "member.disabled",
            "member.enabled",
            "member.updated",
            "department.updated",
            "department.moved",
            "member.deleted",
            "member.restored",
            "member.deleted",
            "department.created",
            "department.deleted",
        ]
    );
    // The resource as the API answered it, the owner as the actor, the tenant named.
    let updated = &events[5];
    assert_eq!(updated["data"], shown);
    assert_eq!(updated["tenant_id"], t.id.as_str());
    assert_eq!(updated["actor"]["type"], "user");
    let me = env.get("/v1/me", &t.owner_token).await.ok(200).clone();
    assert_eq!(updated["actor"]["id"], me["user"]["id"]);
    assert_eq!(events[7]["data"]["parent_id"], other.as_str());
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");

    // Read from its cursor, the log has nothing new; a later change comes next.
    let (again, same) = env.events_after(&t, &next).await;
    assert!(again.is_empty());
    assert_eq!(same, next);
    env.department_in(&t, "Later").await;
    env.deliver_events().await;
    let (later, _) = env.events_after(&t, &next).await;
    assert_eq!(types(&later), ["department.created"]);
    assert_eq!(later[0]["data"]["name"], "Later");
}

#[tokio::test]
async fn a_type_filter_and_a_small_limit_still_move_the_cursor_past_everything_read() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Filter Co").await;
    env.deliver_events().await;
    let (_, start) = env.events_after(&t, "").await;
    for name in ["A", "B", "C"] {
        let dept = env.department_in(&t, name).await;
        env.member_under(&t, name, &dept, json!({})).await;
    }
    env.deliver_events().await;
    let base = format!("/v1/tenants/{}/events", t.id);
    let page = env
        .get(
            &format!("{base}?types=member.created&limit=2&after={start}"),
            &t.owner_token,
        )
        .await;
    let body = page.ok(200);
    assert_eq!(
        types(body["items"].as_array().unwrap()),
        ["member.created"; 2]
    );
    assert_eq!(body["has_more"], true);
    let cursor = body["next_cursor"].as_str().unwrap();
    let rest = env
        .get(
            &format!("{base}?types=member.created&after={cursor}"),
            &t.owner_token,
        )
        .await;
    let rest = rest.ok(200);
    assert_eq!(types(rest["items"].as_array().unwrap()), ["member.created"]);
    assert_eq!(rest["has_more"], false);
    // Nothing of another type is left before the end of the log.
    let tail = env
        .get(
            &format!("{base}?after={}", rest["next_cursor"].as_str().unwrap()),
            &t.owner_token,
        )
        .await;
    assert!(tail.ok(200)["items"].as_array().unwrap().is_empty());

    // Bad input is refused, field by field.
    for (query, field) in [
        ("types=member.exploded", "types"),
        ("after=abc", "after"),
        ("after=", "after"),
        ("after=+1", "after"),
        ("after=12345678901234567", "after"),
        ("limit=0", "limit"),
    ] {
        let refused = env.get(&format!("{base}?{query}"), &t.owner_token).await;
        refused.problem(400, "validation_failed");
        assert!(
            refused.body["errors"].to_string().contains(field),
            "{query}: {:?}",
            refused.body
        );
    }
}

#[tokio::test]
async fn only_events_readers_of_the_tenant_read_its_events_and_only_platform_admins_read_all() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Own Events").await;
    let other = env.tenant_with_owner("Other Events").await;
    env.department_in(&t, "Mine").await;
    env.department_in(&other, "Theirs").await;
    env.deliver_events().await;

    let path = format!("/v1/tenants/{}/events", t.id);
    let plain = env.member_in(&t, "Pat", json!({})).await;
    env.get(&path, &plain.token).await.problem(403, "forbidden");
    let reader = env
        .member_in(
            &t,
            "Rea",
            json!({"role": "admin", "permissions": ["events.read"]}),
        )
        .await;
    let read = env.get(&path, &reader.token).await;
    assert!(types(read.ok(200)["items"].as_array().unwrap()).contains(&"department.created"));
    let refused = env.get(&path, &other.owner_token).await;
    assert!(
        matches!(refused.status.as_u16(), 403 | 404),
        "{:?}",
        refused.body
    );
    env.get("/v1/events", &t.owner_token)
        .await
        .problem(403, "forbidden");

    // The platform's log holds both tenants' events, numbered on their own.
    let admin = env.admin_token().await;
    let mut all = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let page = env
            .get(&format!("/v1/events?after={cursor}&limit=200"), &admin)
            .await;
        let body = page.ok(200);
        all.extend(body["items"].as_array().unwrap().iter().cloned());
        cursor = body["next_cursor"].as_str().unwrap().to_string();
        if body["has_more"] != true {
            break;
        }
    }
    let names: BTreeSet<&str> = all
        .iter()
        .filter(|e| e["type"] == "department.created")
        .filter_map(|e| e["data"]["name"].as_str())
        .collect();
    assert!(
        names.contains("Mine") && names.contains("Theirs"),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Refused Co").await;
    let email = format!("{}@people.test", unique("dup"));
    let body = json!({"email": email, "name": "Dup", "department_id": t.root});
    let path = format!("/v1/tenants/{}/members", t.id);
    env.post(&path, Some(&t.owner_token), body.clone())
        .await
        .ok(201);
    env.post(&path, Some(&t.owner_token), body)
        .await
        .problem(409, "conflict");
    let events = read_all(&env, &t).await;
    let created = events
        .iter()
        .filter(|e| e["type"] == "member.created" && e["data"]["email"] == email.as_str());
    assert_eq!(created.count(), 1);
}

/// Writers, sequencers and a reader all at once: the reader, keeping its cursor, sees every
/// event once and in order, with no number skipped.
#[tokio::test]
async fn a_reader_keeping_its_cursor_sees_every_event_once_while_writers_and_sequencers_race() {
    const WRITERS: usize = 6;
    const EACH: usize = 5;
    let env = Env::start().await;
    let t = env.tenant_with_owner("Race Co").await;
    env.deliver_events().await;
    let (_, start) = env.events_after(&t, "").await;
    let env = &env;
    let start = &start;
    let t = &t;
    let writers = join_all((0..WRITERS).map(|w| async move {
        for i in 0..EACH {
            env.department_in(t, &format!("W{w} D{i}")).await;
        }
    }));
    let sequencers = join_all((0..3).map(|_| async move {
        for _ in 0..(WRITERS * EACH) {
            env.deliver_events().await;
        }
    }));
    let reader = async move {
        let mut seen = Vec::new();
        let mut cursor = start.clone();
        while seen.len() < WRITERS * EACH {
            let (events, next) = env.events_after(t, &cursor).await;
            seen.extend(events);
            cursor = next;
        }
        seen
    };
    let ((), _, seen) = futures::join!(
        async {
            writers.await;
        },
        sequencers,
        reader
    );
    let names: Vec<&str> = seen
        .iter()
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), WRITERS * EACH, "{names:?}");
    assert_eq!(distinct.len(), WRITERS * EACH, "each event once");
    // Each writer's own changes come in the order it made them.
    for w in 0..WRITERS {
        let mine: Vec<&&str> = names
            .iter()
            .filter(|n| n.starts_with(&format!("W{w} ")))
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted);
    }
    env.deliver_events().await;
    let (rest, _) = env.events_after(t, start).await;
    assert_eq!(rest.len(), WRITERS * EACH, "the log holds each event once");
}

/// The events of one tenant after `cursor`, numbered first.
async fn since(env: &Env, t: &Tenant, cursor: &str) -> (Vec<Value>, String) {
    env.deliver_events().await;
    env.events_after(t, cursor).await
}

#[tokio::test]
async fn invitations_joins_licences_bulk_edits_clients_tokens_jobs_and_the_tenant_emit() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Everything Co").await;
    let (first, mut cursor) = since(&env, &t, "").await;
    assert_eq!(
        types(&first),
        [
            "tenant.created",
            "department.created",
            "member.created",
            "member.updated"
        ]
    );
    assert_eq!(first[2]["data"]["email"], t.owner_email.as_str());
    // The owner set a password by the mailed link, which proved the address.
    assert_eq!(first[2]["data"]["email_verified"], false);
    assert_eq!(first[3]["data"]["email_verified"], true);
    let base = format!("/v1/tenants/{}", t.id);

    // An invitation accepted: the invitation, then the member it made.
    let email = format!("{}@people.test", unique("inv"));
    let token = env.invite(&t, &email).await;
    env.accept(
        &token,
        None,
        json!({"name": "Ina", "password": "ina-password-1"}),
    )
    .await
    .ok(201);
    let (got, next) = since(&env, &t, &cursor).await;
    assert_eq!(
        types(&got),
        [
            "invitation.created",
            "invitation.accepted",
            "member.created"
        ]
    );
    assert_eq!(got[1]["data"]["status"], "accepted");
    assert_eq!(got[2]["data"]["email"], email.as_str());
    cursor = next;

    // A cancelled invitation; a join request approved, another rejected.
    let other = format!("{}@people.test", unique("can"));
    env.invite(&t, &other).await;
    let invitations = env
        .get(&format!("{base}/invitations"), &t.owner_token)
        .await;
    let pending = invitations.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == other.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.delete(&format!("{base}/invitations/{pending}"), &t.owner_token)
        .await
        .ok(204);
    let code = env.join_code(&t).await;
    for who in ["jo", "rex"] {
        env.join(
            &code,
            None,
            json!({"email": format!("{}@people.test", unique(who)), "name": who,
                   "password": "joiner-password-1"}),
        )
        .await
        .ok(202);
    }
    env.deliver_outbox().await;
    let requests = env
        .get(&format!("{base}/join-requests"), &t.owner_token)
        .await;
    let ids: Vec<String> = requests.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    env.post(
        &format!("{base}/join-requests/{}/approve", ids[0]),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{base}/join-requests/{}/reject", ids[1]),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    let (got, next) = since(&env, &t, &cursor).await;
    let got_types = types(&got);
    assert_eq!(
        got_types
            .iter()
            .filter(|t| !t.starts_with("join_request") && !t.starts_with("member"))
            .copied()
            .collect::<Vec<_>>(),
        ["invitation.created", "invitation.cancelled"]
    );
    assert_eq!(
        got_types
            .iter()
            .filter(|t| t.starts_with("join_request") || t.starts_with("member"))
            .copied()
            .collect::<Vec<_>>(),
        [
            "join_request.created",
            "join_request.created",
            "join_request.approved",
            "member.created",
            "join_request.rejected"
        ]
    );
    cursor = next;

    // Licences and bulk edits: one event per member, in one item per chunk.
    let members = env.add_members(&t, 3).await;
    let (_, next) = since(&env, &t, &cursor).await;
    cursor = next;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(60);
    let expires = expires
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    env.post(
        &format!("{base}/licences/assign"),
        Some(&t.owner_token),
        json!({"member_ids": &members, "expires_at": expires}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{base}/licences/revoke"),
        Some(&t.owner_token),
        json!({"member_ids": &members[0..1]}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{base}/members/bulk-status"),
        Some(&t.owner_token),
        json!({"member_ids": &members, "status": "disabled"}),
    )
    .await
    .ok(200);
    env.post(
        &format!("{base}/members/bulk-update"),
        Some(&t.owner_token),
        json!({"member_ids": &members, "set": {"position": "Crew"}}),
    )
    .await
    .ok(200);
    let (got, next) = since(&env, &t, &cursor).await;
    assert_eq!(
        types(&got),
        [
            "member.licence.assigned",
            "member.licence.assigned",
            "member.licence.assigned",
            "member.licence.revoked",
            "member.disabled",
            "member.disabled",
            "member.disabled",
            "member.updated",
            "member.updated",
            "member.updated",
        ]
    );
    assert!(got[0]["data"]["licence"].is_object());
    assert!(got[3]["data"]["licence"].is_null());
    assert_eq!(got[9]["data"]["position"], "Crew");
    assert_eq!(got[9]["data"]["status"], "disabled");
    let shown = env
        .get(&format!("{base}/members/{}", members[2]), &t.owner_token)
        .await;
    assert_eq!(
        got[9]["data"],
        *shown.ok(200),
        "the member as the API shows it"
    );
    cursor = next;

    // API clients and SCIM tokens (never their secrets), an export, the tenant itself.
    env.enable_api_access(&t).await;
    let client = env
        .post(
            &format!("{base}/api-clients"),
            Some(&t.owner_token),
            json!({"name": "HR sync", "permissions": ["members.read"]}),
        )
        .await;
    let client = client.ok(201).clone();
    env.delete(
        &format!("{base}/api-clients/{}", client["id"].as_str().unwrap()),
        &t.owner_token,
    )
    .await
    .ok(204);
    let scim = env
        .post(
            &format!("{base}/scim-tokens"),
            Some(&t.owner_token),
            json!({"label": "Okta"}),
        )
        .await;
    let scim = scim.ok(201).clone();
    env.delete(
        &format!("{base}/scim-tokens/{}", scim["id"].as_str().unwrap()),
        &t.owner_token,
    )
    .await
    .ok(204);
    env.patch(&base, &t.owner_token, json!({"name": "Everything Ltd"}))
        .await
        .ok(200);
    let (got, _) = since(&env, &t, &cursor).await;
    let got_types = types(&got);
    assert_eq!(
        got_types,
        [
            "tenant.updated",
            "api_client.created",
            "api_client.deleted",
            "scim_token.created",
            "scim_token.deleted",
            "tenant.updated"
        ]
    );
    let text = serde_json::to_string(&got).unwrap();
    assert!(!text.contains(client["client_secret"].as_str().unwrap()));
    assert!(!text.contains(scim["token"].as_str().unwrap()));
    assert_eq!(got[5]["data"]["name"], "Everything Ltd");
}

/// Only the event workers run: replaying the whole stream must not redo other tests' jobs.
fn event_workers_only(
    app: &'static roster_shared::App,
    function: &'static str,
    event: Value,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = roster_shared::ApiResult<()>> + Send>> {
    Box::pin(async move {
        match function {
            "event-sequencer" | "event-bus" => {
                roster_functions::local_stack::invoke(app, function, event).await
            }
            _ => Ok(()),
        }
    })
}

/// A consumer's queue, and a rule on the bus sending it `t`'s events of `types`.
async fn queue_for(env: &Env, t: &Tenant, types: &[&str]) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(env.app.sdk());
    let name = unique("bus");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue arn")
        .clone();
    let bus = env.app.event_bus();
    let pattern =
        json!({"source": ["roster"], "detail-type": types, "detail": {"tenant_id": [t.id]}});
    bus.put_rule()
        .name(&name)
        .event_bus_name(&env.app.config.event_bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(arn)
        .build()
        .expect("target");
    bus.put_targets()
        .rule(&name)
        .event_bus_name(&env.app.config.event_bus)
        .targets(target)
        .send()
        .await
        .expect("targets");
    (sqs, url)
}

/// Every message the queue has (EventBridge's envelopes, parsed).
async fn received(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        if got.messages().is_empty() {
            return all;
        }
        for message in got.messages() {
            all.push(serde_json::from_str(message.body().expect("body")).expect("json"));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().expect("handle"))
                .send()
                .await
                .expect("delete");
        }
    }
}

#[tokio::test]
async fn events_reach_the_event_bus_where_a_consumers_rule_routes_them() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Bus Co").await;
    let (sqs, queue) = queue_for(&env, &t, &["member.created", "member.disabled"]).await;
    let mut stack = roster_functions::local_stack::LocalStack::connect(env.app)
        .await
        .expect("stack")
        .with_invoker(event_workers_only);
    stack.pass().await.expect("pass");

    let member = env.member_under(&t, "Bea", &t.root, json!({})).await;
    let path = format!("/v1/tenants/{}/members/{member}", t.id);
    for change in [json!({"position": "Lead"}), json!({"status": "disabled"})] {
        env.patch(&path, &t.owner_token, change).await.ok(200);
    }
    // The stream brings the pending events to the sequencer, then the new log items to the bus.
    let mut published = 0;
    for _ in 0..10 {
        published += stack.pass().await.expect("pass").to("event-bus");
        if published > 0 && env.events_after(&t, "").await.0.len() >= 5 {
            stack.pass().await.expect("pass");
            break;
        }
    }
    let messages = received(&sqs, &queue).await;
    // The rule routed the creations (the owner's, with the tenant, and Bea's) and Bea's
    // disabling, not her update.
    let mut routed: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["detail-type"].as_str().unwrap(),
                m["detail"]["data"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    routed.sort_unstable();
    let of_bea: Vec<&str> = routed
        .iter()
        .filter(|(_, id)| *id == member)
        .map(|(kind, _)| *kind)
        .collect();
    assert_eq!(
        of_bea,
        ["member.created", "member.disabled"],
        "{messages:#?}"
    );
    assert_eq!(routed.len(), 3, "{routed:?}");
    assert!(routed.iter().all(|(kind, _)| *kind != "member.updated"));
    let (logged, _) = env.events_after(&t, "").await;
    for message in &messages {
        assert_eq!(message["source"], "roster");
        let same = logged.iter().find(|e| e["id"] == message["detail"]["id"]);
        assert_eq!(
            same,
            Some(&message["detail"]),
            "the bus carries the event as the API shows it"
        );
    }
}

#[tokio::test]
async fn an_invitation_that_expires_is_told_once_whether_the_job_or_a_later_change_meets_it_first()
{
    let clock = roster_shared::app::Clock::manual(time::OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let mut t = env.tenant_with_owner("Expiring Co").await;
    env.set_settings(&t, json!({"invitation_expiry_days": 1}))
        .await;
    let emails: Vec<String> = ["job", "cancelled", "resent", "replaced"]
        .iter()
        .map(|who| format!("{}@expiring.test", unique(who)))
        .collect();
    let base = format!("/v1/tenants/{}/invitations", t.id);
    let mut ids = Vec::new();
    for to in &emails {
        let body = json!({"email": to, "department_id": t.root});
        let sent = env.post(&base, Some(&t.owner_token), body).await;
        ids.push(sent.ok(201)["id"].as_str().unwrap().to_string());
    }
    clock.advance(2 * 24 * 3600);
    t.owner_token = env.owner_login(&t).await;

    // Met before the expiry job by a cancel, a resend and a new invitation to the same address.
    env.delete(&format!("{base}/{}", ids[1]), &t.owner_token)
        .await
        .ok(204);
    env.post(
        &format!("{base}/{}/resend", ids[2]),
        Some(&t.owner_token),
        json!({}),
    )
    .await
    .ok(200);
    let body = json!({"email": emails[3], "department_id": t.root});
    env.post(&base, Some(&t.owner_token), body).await.ok(201);
    // The job meets the one left, and nothing the others told.
    let ran = roster_shared::invitations::expiry::run(env.app)
        .await
        .unwrap();
    assert_eq!(ran.released, 1);
    roster_shared::invitations::expiry::run(env.app)
        .await
        .unwrap();

    let events = read_all(&env, &t).await;
    let expired: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "invitation.expired")
        .map(|e| e["data"]["id"].as_str().unwrap())
        .collect();
    let mut told: Vec<&str> = expired.clone();
    told.sort_unstable();
    let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
    all.sort_unstable();
    assert_eq!(told, all, "each expired invitation once: {expired:?}");
    for e in events.iter().filter(|e| e["type"] == "invitation.expired") {
        assert_eq!(e["data"]["status"], "expired", "{e}");
    }
    // Told before what met it: expired, then cancelled.
    let of_cancelled: Vec<&str> = events
        .iter()
        .filter(|e| e["data"]["id"] == ids[1].as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        of_cancelled,
        [
            "invitation.created",
            "invitation.expired",
            "invitation.cancelled"
        ]
    );
    env.assert_consistent().await;
}
