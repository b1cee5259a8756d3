//! Department moves: a move that fits one transaction is atomic (200); a larger one is a job in
//! the task centre (202) that a worker runs in chunks, stops, resumes and finishes with every
//! sub-department's path, id path and depth and every member's tree key right. Meanwhile the
//! moving subtree refuses other moves, renames, deletes and new children. Cycles are found along
//! stored parent ids, leaf moves obey the depth limit, and a member edit racing a move never
//! writes a stale tree key back.

use futures::future::join_all;
use roster_shared::departments::{Department, MAX_DEPTH, moves};
use roster_shared::members::Member;
use roster_shared::model::keys::{
    DEPARTMENT_PREFIX, GSI2, Key, MEMBER_PREFIX, subtree_prefix, tenant_partition, tree_partition,
    tree_position,
};
use roster_shared::model::member::UserInTenant;
use roster_shared::store::{
    Condition, Item, Query, SortRange, Transaction, Update, from_item, num, s, to_item,
};
use roster_shared::worker_events;
use roster_tests::{Env, Tenant, id};
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;
use uuid::Uuid;

fn uuid(v: &str) -> Uuid {
    v.parse().expect("uuid")
}

async fn move_to(env: &Env, t: &Tenant, department: &str, parent: &str) -> roster_tests::Answer {
    env.patch(
        &format!("/v1/tenants/{}/departments/{department}", t.id),
        &t.owner_token,
        json!({"parent_id": parent}),
    )
    .await
}

async fn stored_department(env: &Env, t: &Tenant, department: &str) -> Department {
    let item = env
        .app
        .store
        .get(&Key::department(uuid(&t.id), uuid(department)))
        .await
        .expect("read")
        .expect("department");
    from_item(item).expect("department")
}

async fn stored_member(env: &Env, t: &Tenant, member: &str) -> Item {
    env.app
        .store
        .get(&Key::member(uuid(&t.id), uuid(member)))
        .await
        .expect("read")
        .expect("member")
}

fn tree_key(item: &Item) -> String {
    item.get(GSI2.sk)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .expect("tree key")
}

/// Writes `n` members into `department` straight into the table (as tests/bench_search.rs
/// seeds), each a copy of `template` (a member made through the API) with its own ids, and
/// counts them on the department as the API would.
async fn seed(env: &Env, t: &Tenant, template: &Item, department: &str, n: usize) {
    let tenant_id = uuid(&t.id);
    let dept = stored_department(env, t, department).await;
    let mut items = Vec::with_capacity(n);
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let mut m: Member = from_item(template.clone()).expect("member");
        m.id = Uuid::now_v7();
        m.user_id = Uuid::now_v7();
        m.tenant_id = tenant_id;
        m.email = format!("seed{i:05}-{}@moves.test", &m.id.simple().to_string()[20..]);
        m.name = format!("Seed {i:05}");
        m.department_id = dept.id;
        items.push(m.to_item(&dept.id_path).expect("item"));
        // What a create writes with the member: its one-per-tenant guard and search terms.
        items.push(
            to_item(
                &UserInTenant { member_id: m.id },
                &Key::user_in_tenant(tenant_id, m.user_id),
                &[],
            )
            .expect("guard"),
        );
        items.extend(m.search_term_items().expect("terms"));
        members.push(m);
    }
    env.put_items(&items, 8).await;
    env.seed_events(tenant_id, &members).await;
    let mut tx = Transaction::new();
    tx.update(
        &dept.key(),
        Update::new("ADD member_count :n").value(":n", num(n)),
        None,
    )
    .expect("count");
    tx.update(
        &Key::tenant(tenant_id),
        Update::new("ADD member_count :n, quota_used :n").value(":n", num(n)),
        None,
    )
    .expect("tenant count");
    env.app.store.transact(tx).await.expect("count");
}

/// Every department's path, id path and depth follow from its parent's; every member's tree key
/// is its department's id path; every department counts its members.
async fn assert_consistent(env: &Env, t: &Tenant) {
    let tenant_id = uuid(&t.id);
    let departments: HashMap<Uuid, Department> = env
        .app
        .store
        .query_all(Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Prefix(DEPARTMENT_PREFIX.into()),
        ))
        .await
        .expect("tree")
        .into_iter()
        .map(|item| {
            let d: Department = from_item(item).expect("department");
            (d.id, d)
        })
        .collect();
    for d in departments.values() {
        let Some(parent_id) = d.parent_id else {
            assert_eq!(d.id_path, d.id.to_string());
            assert_eq!(d.depth, 0);
            continue;
        };
        let parent = &departments[&parent_id];
        assert_eq!(
            d.path,
            format!("{}/{}", parent.path, d.name),
            "path of {}",
            d.name
        );
        assert_eq!(
            d.id_path,
            format!("{}/{}", parent.id_path, d.id),
            "id path of {}",
            d.name
        );
        assert_eq!(d.depth, parent.depth + 1, "depth of {}", d.name);
    }
    let members = env
        .app
        .store
        .query_all(Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Prefix(MEMBER_PREFIX.into()),
        ))
        .await
        .expect("members");
    let mut counted: HashMap<Uuid, u32> = HashMap::new();
    let mut stale = 0;
    for item in members {
        let key = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
        let m: Member = from_item(item).expect("member");
        if !m.status.in_directory() {
            continue;
        }
        *counted.entry(m.department_id).or_default() += 1;
        let expected = tree_position(&departments[&m.department_id].id_path, m.id);
        if key.as_deref() != Some(expected.as_str()) {
            stale += 1;
        }
    }
    assert_eq!(stale, 0, "members with a stale tree key");
    for d in departments.values() {
        assert_eq!(
            d.member_count,
            counted.get(&d.id).copied().unwrap_or(0),
            "member count of {}",
            d.name
        );
    }
    // And every other invariant of the table (counters, guards, search terms).
    env.assert_consistent().await;
}

/// How many members `GET .../members?department_id=&include_descendants=true` lists.
async fn listed_in_subtree(env: &Env, t: &Tenant, department: &str) -> usize {
    let base = format!(
        "/v1/tenants/{}/members?department_id={department}&include_descendants=true&limit=200",
        t.id
    );
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let page = env.get(&path, &t.owner_token).await;
        seen += page.ok(200)["items"].as_array().expect("items").len();
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return seen,
        }
    }
}

/// Members still indexed under a (former) id path.
async fn indexed_under(env: &Env, t: &Tenant, id_path: &str) -> usize {
    env.app
        .store
        .query_all(Query::new(
            Some(GSI2),
            tree_partition(uuid(&t.id)),
            SortRange::Prefix(subtree_prefix(id_path)),
        ))
        .await
        .expect("tree index")
        .len()
}

#[tokio::test]
async fn a_large_move_is_a_job_that_stops_resumes_and_leaves_nothing_stale() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Moves").await;
    let tenant_id = uuid(&t.id);
    let depts = format!("/v1/tenants/{}/departments", t.id);
    let sales = env.department_in(&t, "Sales").await;
    let emea = env.department_under(&t, "EMEA", &sales).await;
    let berlin = env.department_under(&t, "Berlin", &emea).await;
    let empty = env.department_under(&t, "Empty", &sales).await;
    let group = env.department_in(&t, "Group").await;
    let other = env.department_in(&t, "Other").await;
    let busy = env.department_under(&t, "Busy", &other).await;
    // Real members (through the API) in the moving subtree, and 2,000 seeded ones.
    let ada = env.member_under(&t, "Ada", &berlin, json!({})).await;
    let bruno = env.member_under(&t, "Bruno", &sales, json!({})).await;
    let template = stored_member(&env, &t, &ada).await;
    let started = Instant::now();
    seed(&env, &t, &template, &sales, 500).await;
    seed(&env, &t, &template, &emea, 700).await;
    seed(&env, &t, &template, &berlin, 798).await;
    seed(&env, &t, &template, &busy, 150).await;
    println!("seeded 2,148 members in {:.1?}", started.elapsed());
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &sales).await, 2000);
    let old_sales_path = stored_department(&env, &t, &sales).await.id_path;

    // Too large for one transaction: the move is accepted as a job.
    let (answer, requests) = env.count(move_to(&env, &t, &sales, &group)).await;
    let queued = answer.ok(202).clone();
    println!("PATCH of the 2,000-member move: {requests} DynamoDB requests");
    assert!(
        requests <= 4,
        "the accepting PATCH took {requests} requests"
    );
    assert_eq!(queued["kind"], "department_move");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["department_move"]["department_id"], json!(sales));
    assert_eq!(queued["department_move"]["from_parent_id"], json!(t.root));
    assert_eq!(queued["department_move"]["to_parent_id"], json!(group));
    let job_id = id(&queued);
    // The task centre shows it; the department already answers its new place.
    let listed = env
        .get(&format!("/v1/tenants/{}/jobs", t.id), &t.owner_token)
        .await;
    assert!(
        listed.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == json!(job_id))
    );
    let moved = env.get(&format!("{depts}/{sales}"), &t.owner_token).await;
    assert_eq!(moved.ok(200)["parent_id"], json!(group));

    // The worker stops after a few chunks (as a timeout would stop it).
    let started = Instant::now();
    env.counter.reset();
    let report = moves::run(env.app, tenant_id, uuid(&job_id), moves::Budget::chunks(5))
        .await
        .expect("run");
    let mut job_requests = env.counter.total();
    let mut job_time = started.elapsed();
    println!(
        "first run (stopped after 5 chunks): {report:?}, {job_requests} DynamoDB requests \
         {:?}, {job_time:.1?}",
        env.counter.by_operation()
    );
    assert!(report.ran && !report.finished, "{report:?}");
    let midway = env.job(&t, &job_id).await;
    assert_eq!(midway["status"], "queued", "released for the next run");
    let done = midway["counts"]["succeeded"].as_u64().unwrap();
    assert!(done > 0 && done < 2000, "{midway}");
    let left = indexed_under(&env, &t, &old_sales_path).await;
    assert!(
        left > 0 && left < 2000,
        "{left} members still under the old path"
    );

    // Meanwhile the moving subtree refuses what would conflict with the move.
    move_to(&env, &t, &other, &emea)
        .await
        .problem(409, "conflict");
    move_to(&env, &t, &emea, &other)
        .await
        .problem(409, "conflict");
    move_to(&env, &t, &sales, &other)
        .await
        .problem(409, "conflict");
    move_to(&env, &t, &group, &other)
        .await
        .problem(409, "conflict");
    env.patch(
        &format!("{depts}/{berlin}"),
        &t.owner_token,
        json!({"name": "Munich"}),
    )
    .await
    .problem(409, "conflict");
    env.post(
        &depts,
        Some(&t.owner_token),
        json!({"name": "New", "parent_id": emea}),
    )
    .await
    .problem(409, "conflict");
    env.delete(&format!("{depts}/{empty}"), &t.owner_token)
        .await
        .problem(409, "conflict");
    // A second large move waits for the first.
    move_to(&env, &t, &busy, &t.root)
        .await
        .problem(409, "conflict");
    // Elsewhere the tree changes as usual, and settings of the moving department too.
    let elsewhere = env.department_under(&t, "Elsewhere", &other).await;
    move_to(&env, &t, &elsewhere, &t.root).await.ok(200);
    env.patch(
        &format!("{depts}/{emea}"),
        &t.owner_token,
        json!({"settings": {"contact_visibility": "department"}}),
    )
    .await
    .ok(200);
    // Members of the subtree are edited meanwhile, rewritten or not yet.
    for m in [&ada, &bruno] {
        env.patch(
            &format!("/v1/tenants/{}/members/{m}", t.id),
            &t.owner_token,
            json!({"position": "Midway"}),
        )
        .await
        .ok(200);
    }
    // A member edit that read a member before the worker rewrote its tree key and writes after
    // (what PATCH .../members/{m} does: its stored item, on the version it read) is refused.
    let unmoved = env
        .app
        .store
        .query(Query::new(
            Some(GSI2),
            tree_partition(tenant_id),
            SortRange::Prefix(subtree_prefix(&old_sales_path)),
        ))
        .await
        .expect("index")
        .items
        .into_iter()
        .next()
        .expect("a member not yet rewritten");
    let stale_read: Member = from_item(
        stored_member(
            &env,
            &t,
            &from_item::<Member>(unmoved).unwrap().id.to_string(),
        )
        .await,
    )
    .unwrap();
    let stale_key_path = tree_key(&stored_member(&env, &t, &stale_read.id.to_string()).await)
        .strip_suffix(&format!("/#{}", stale_read.id))
        .unwrap()
        .to_string();
    assert!(stale_key_path.starts_with(&old_sales_path));

    // A run that died holding the job (its lease ran out) is taken over.
    let mut tx = Transaction::new();
    tx.update(&Key::job(tenant_id, uuid(&job_id)),
        Update::new("SET #status = :running, department_move.run_id = :run, department_move.lease_until = :past")
            .name("#status", "status")
            .value(":running", s("running"))
            .value(":run", s(Uuid::now_v7().to_string()))
            .value(":past", num(time::OffsetDateTime::now_utc().unix_timestamp() - 1)),
        None,
    )
    .unwrap();
    env.app.store.transact(tx).await.unwrap();

    // The rerun, with members edited at the same time, finishes the move.
    let started = Instant::now();
    env.counter.reset();
    let edits = async {
        let mut statuses = Vec::new();
        for round in 0..20 {
            let m = if round % 2 == 0 { &ada } else { &bruno };
            let answer = env
                .patch(
                    &format!("/v1/tenants/{}/members/{m}", t.id),
                    &t.owner_token,
                    json!({"position": format!("Round {round}")}),
                )
                .await;
            statuses.push(answer.status.as_u16());
        }
        statuses
    };
    let (report, statuses) = tokio::join!(
        moves::run(
            env.app,
            tenant_id,
            uuid(&job_id),
            moves::Budget::unlimited()
        ),
        edits
    );
    // Each member edit is one BatchGetItem and one TransactWriteItems of its own.
    let edit_requests = 2 * statuses.len() as u64;
    job_requests += env.counter.total() - edit_requests;
    job_time += started.elapsed();
    let report = report.expect("rerun");
    println!(
        "second run (to the end, beside {} member edits): {report:?}, {} DynamoDB requests \
         of its own, {:.1?}; {:?} with the edits'",
        statuses.len(),
        env.counter.total() - edit_requests,
        started.elapsed(),
        env.counter.by_operation()
    );
    assert!(report.ran && report.finished, "{report:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    println!(
        "the 2,000-member move's job: {job_requests} DynamoDB requests, {job_time:.1?} \
         (two runs)"
    );

    // The stale write now fails instead of restoring the old tree key.
    let mut tx = Transaction::new();
    tx.put(
        stale_read.to_item(&stale_key_path).unwrap(),
        Some((
            Condition::version_is(stale_read.version),
            roster_shared::ApiError::Conflict("stale".into()),
        )),
    )
    .unwrap();
    assert!(env.app.store.transact(tx).await.is_err());

    let finished = env.job(&t, &job_id).await;
    assert_eq!(finished["status"], "completed");
    assert!(finished["finished_at"].is_string());
    assert_eq!(finished["counts"]["succeeded"], finished["counts"]["total"]);
    assert!(finished["counts"]["succeeded"].as_u64().unwrap() >= 2002);
    assert_consistent(&env, &t).await;
    assert_eq!(indexed_under(&env, &t, &old_sales_path).await, 0);
    assert_eq!(listed_in_subtree(&env, &t, &sales).await, 2000);
    assert_eq!(listed_in_subtree(&env, &t, &group).await, 2000);
    assert_eq!(listed_in_subtree(&env, &t, &berlin).await, 799);
    let berlin_now = env.get(&format!("{depts}/{berlin}"), &t.owner_token).await;
    assert_eq!(
        berlin_now.ok(200)["path"],
        json!(format!(
            "{}/Group/Sales/EMEA/Berlin",
            t.body["name"].as_str().unwrap()
        ))
    );
    assert_eq!(berlin_now.body["depth"], 4);

    // Another run finds nothing to do; the subtree is free again.
    let again = moves::run(
        env.app,
        tenant_id,
        uuid(&job_id),
        moves::Budget::unlimited(),
    )
    .await
    .expect("again");
    assert!(!again.ran);
    move_to(&env, &t, &empty, &other).await.ok(200);
    env.post(
        &depts,
        Some(&t.owner_token),
        json!({"name": "New", "parent_id": emea}),
    )
    .await
    .ok(201);
    // A finished move leaves the way open for the next large one; a running one stays in the
    // task centre until it has finished.
    let next = move_to(&env, &t, &busy, &t.root).await;
    assert_eq!(next.ok(202)["kind"], "department_move");
    env.delete(
        &format!("/v1/tenants/{}/jobs/{}", t.id, id(&next.body)),
        &t.owner_token,
    )
    .await
    .problem(409, "conflict");
    env.delete(
        &format!("/v1/tenants/{}/jobs/{job_id}", t.id),
        &t.owner_token,
    )
    .await
    .ok(204);
}

#[tokio::test]
async fn the_worker_takes_queued_moves_from_the_stream() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Stream").await;
    let sales = env.department_in(&t, "Sales").await;
    let group = env.department_in(&t, "Group").await;
    let ada = env.member_under(&t, "Ada", &sales, json!({})).await;
    let template = stored_member(&env, &t, &ada).await;
    seed(&env, &t, &template, &sales, 150).await;
    let queued = move_to(&env, &t, &sales, &group).await;
    let job_id = id(queued.ok(202));
    let fields =
        json!({"kind": "department_move", "status": "queued", "tenant_id": t.id, "id": job_id});
    let record = || {
        let event = worker_events::stream_event("INSERT", &fields).expect("event");
        worker_events::StreamOr::Stream(event)
    };
    moves::handle_event(env.app, record())
        .await
        .expect("worker");
    assert_eq!(env.job(&t, &job_id).await["status"], "completed");
    // A redelivered record finds the job done.
    let again = moves::handle_event(env.app, record()).await.expect("again");
    assert_eq!((again.runs, again.skipped), (0, 1));
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &group).await, 151);

    // A move whose runs all died (its lease ran out, the event source gave up) is found by the
    // scheduled sweep and finished.
    let queued = move_to(&env, &t, &sales, &t.root).await;
    let job_id = id(queued.ok(202));
    let mut tx = Transaction::new();
    tx.update(
        &Key::job(uuid(&t.id), uuid(&job_id)),
        Update::new(
            "SET #status = :running, department_move.run_id = :run, \
             department_move.lease_until = :past",
        )
        .name("#status", "status")
        .value(":running", s("running"))
        .value(":run", s(Uuid::now_v7().to_string()))
        .value(
            ":past",
            num(time::OffsetDateTime::now_utc().unix_timestamp() - 1),
        ),
        None,
    )
    .unwrap();
    env.app.store.transact(tx).await.unwrap();
    let swept = moves::handle_event(env.app, worker_events::StreamOr::Other(Default::default()))
        .await
        .expect("sweep");
    assert_eq!((swept.runs, swept.finished), (1, 1));
    assert_eq!(env.job(&t, &job_id).await["status"], "completed");
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &group).await, 0);
    assert_eq!(listed_in_subtree(&env, &t, &sales).await, 151);
}

#[tokio::test]
async fn a_move_that_fits_one_transaction_is_atomic() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Small").await;
    let sales = env.department_in(&t, "Sales").await;
    let emea = env.department_under(&t, "EMEA", &sales).await;
    let group = env.department_in(&t, "Group").await;
    for (name, d) in [("Ada", &sales), ("Bruno", &emea), ("Chloé", &emea)] {
        env.member_under(&t, name, d, json!({})).await;
    }
    let (answer, requests) = env.count(move_to(&env, &t, &sales, &group)).await;
    let moved = answer.ok(200);
    assert_eq!(moved["parent_id"], json!(group));
    assert_eq!(moved["depth"], 2);
    // The batch read, the tree, the subtree's members, one transaction.
    assert_eq!(requests, 4);
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &group).await, 3);
    let jobs = env
        .get(&format!("/v1/tenants/{}/jobs", t.id), &t.owner_token)
        .await;
    assert_eq!(jobs.ok(200)["items"], json!([]));
}

#[tokio::test]
async fn cycles_are_found_along_stored_parent_ids() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Cycles").await;
    let a = env.department_in(&t, "A").await;
    let b = env.department_under(&t, "B", &a).await;
    let c = env.department_under(&t, "C", &b).await;
    move_to(&env, &t, &a, &a)
        .await
        .problem(409, "department_cycle");
    move_to(&env, &t, &a, &c)
        .await
        .problem(409, "department_cycle");
    // C's stored id path no longer names A (a rewrite that never finished, as moves left them):
    // its parent ids still do.
    let root_path = stored_department(&env, &t, &t.root).await.id_path;
    let mut tx = Transaction::new();
    tx.update(
        &Key::department(uuid(&t.id), uuid(&c)),
        Update::new("SET id_path = :stale").value(":stale", s(format!("{root_path}/{c}"))),
        None,
    )
    .unwrap();
    env.app.store.transact(tx).await.unwrap();
    move_to(&env, &t, &a, &c)
        .await
        .problem(409, "department_cycle");
    move_to(&env, &t, &b, &c)
        .await
        .problem(409, "department_cycle");
    let a_now = stored_department(&env, &t, &a).await;
    assert_eq!(a_now.parent_id, Some(uuid(&t.root)));

    // The next move of the subtree puts the stale id path right, and the tree key of the
    // member that was indexed under it (the index disagreeing with the counts, the move is
    // left to a job even though it is small).
    let ada = env.member_under(&t, "Ada", &c, json!({})).await;
    assert!(
        tree_key(&stored_member(&env, &t, &ada).await).starts_with(&format!("{root_path}/{c}/#"))
    );
    let group = env.department_in(&t, "Group").await;
    let queued = move_to(&env, &t, &a, &group).await;
    let job_id = id(queued.ok(202));
    let report = moves::run(
        env.app,
        uuid(&t.id),
        uuid(&job_id),
        moves::Budget::unlimited(),
    )
    .await
    .expect("run");
    assert!(report.finished, "{report:?}");
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &a).await, 1);
}

#[tokio::test]
async fn leaf_moves_obey_the_depth_limit() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Deep").await;
    let mut chain = vec![t.root.clone()];
    for level in 1..=MAX_DEPTH {
        let parent = chain.last().unwrap().clone();
        chain.push(
            env.department_under(&t, &format!("L{level}"), &parent)
                .await,
        );
    }
    let leaf = env.department_in(&t, "Leaf").await;
    env.member_under(&t, "Ada", &leaf, json!({})).await;
    let deepest = &chain[MAX_DEPTH as usize];
    move_to(&env, &t, &leaf, deepest)
        .await
        .problem(400, "validation_failed");
    let empty_leaf = env.department_in(&t, "Empty").await;
    move_to(&env, &t, &empty_leaf, deepest)
        .await
        .problem(400, "validation_failed");
    let moved = move_to(&env, &t, &leaf, &chain[MAX_DEPTH as usize - 1]).await;
    assert_eq!(moved.ok(200)["depth"], MAX_DEPTH);
    // A subtree whose deepest department would pass the limit stays too.
    let top = env.department_in(&t, "Top").await;
    env.department_under(&t, "Below", &top).await;
    move_to(&env, &t, &top, &chain[MAX_DEPTH as usize - 1])
        .await
        .problem(400, "validation_failed");
    assert_consistent(&env, &t).await;
}

#[tokio::test]
async fn a_member_edit_racing_a_move_keeps_the_right_tree_key() {
    let env = Env::start().await;
    let t = env.tenant_with_owner("Race").await;
    let left = env.department_in(&t, "Left").await;
    let right = env.department_in(&t, "Right").await;
    let team = env.department_under(&t, "Team", &left).await;
    let ada = env.member_under(&t, "Ada", &team, json!({})).await;
    let bruno = env.member_under(&t, "Bruno", &team, json!({})).await;

    // What PATCH .../members/{m} writes: the item it read, with the tree key it read, on the
    // version it read. Read before the move, written after: refused.
    let read: Member = from_item(stored_member(&env, &t, &ada).await).unwrap();
    let read_path = stored_department(&env, &t, &team).await.id_path;
    move_to(&env, &t, &team, &right).await.ok(200);
    let mut tx = Transaction::new();
    tx.put(
        read.to_item(&read_path).unwrap(),
        Some((
            Condition::version_is(read.version),
            roster_shared::ApiError::Conflict("stale".into()),
        )),
    )
    .unwrap();
    assert!(env.app.store.transact(tx).await.is_err());
    assert_consistent(&env, &t).await;

    // Moves and member edits at the same time, over and over: nothing stale at the end.
    for round in 0..12 {
        let to = if round % 2 == 0 { &left } else { &right };
        let (moved, edits) = tokio::join!(
            move_to(&env, &t, &team, to),
            join_all([&ada, &bruno].map(|m| {
                let (env, token) = (&env, &t.owner_token);
                let path = format!("/v1/tenants/{}/members/{m}", t.id);
                let body = json!({"position": format!("Round {round}")});
                async move { env.patch(&path, token, body).await }
            }))
        );
        assert!(
            [200, 409].contains(&moved.status.as_u16()),
            "{:?}",
            moved.body
        );
        for e in edits {
            assert!([200, 409].contains(&e.status.as_u16()), "{:?}", e.body);
        }
    }
    assert_consistent(&env, &t).await;
    assert_eq!(listed_in_subtree(&env, &t, &team).await, 2);
}
