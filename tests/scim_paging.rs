//! SCIM lists read one page of the directory per request (SPEC §9.1): a startIndex walk of a
//! large tenant reads each member about once, a jump ahead counts keys instead of reading
//! members, and filter values no key can hold answer 400 `invalidFilter`.

use aws_sdk_dynamodb::types::AttributeValue;
use roster_tests::Env;
use roster_tests::scim::{Scim, scim_error, scim_tenant};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SEEDED: usize = 5_000;

/// A tenant with `SEEDED` members written behind the API (and its member counter moved as the
/// routes would), plus its owner. No consistency checker: the seed leaves the root's own counter.
async fn large_tenant(env: &Env) -> Scim {
    let s = scim_tenant(env, "Large").await;
    env.seed_members(&s.t, SEEDED, |i| {
        (
            format!("walker{i:05}@walk.test"),
            format!("Walker {i:05}"),
            (i % 900) as u32 + 1,
        )
    })
    .await;
    env.app
        .store
        .client()
        .update_item()
        .table_name(env.app.table())
        .key("pk", AttributeValue::S(format!("TENANT#{}", s.t.id)))
        .key("sk", AttributeValue::S("TENANT".into()))
        .update_expression("ADD member_count :n")
        .expression_attribute_values(":n", AttributeValue::N(SEEDED.to_string()))
        .send()
        .await
        .expect("count the seeded members");
    s
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

/// Reproduction: each page used to read the whole directory (5,001 members per request).
#[tokio::test]
async fn a_start_index_walk_reads_each_member_about_once() {
    let env = Env::start().await;
    let s = large_tenant(&env).await;
    let total = SEEDED + 1;

    let mut walked: Vec<String> = Vec::new();
    let mut costs: Vec<u64> = Vec::new();
    let mut start = 1;
    loop {
        let (answer, n) = env
            .count(s.get(&env, &format!("/Users?startIndex={start}&count=100")))
            .await;
        let page = answer.ok(200);
        assert_eq!(page["totalResults"], total);
        assert_eq!(page["startIndex"], start);
        let got = ids(page);
        costs.push(n);
        walked.extend(got.iter().cloned());
        if got.len() < 100 {
            break;
        }
        start += 100;
    }
    let distinct: BTreeSet<&String> = walked.iter().collect();
    assert_eq!((walked.len(), distinct.len()), (total, total));
    // Each page: the entrypoint's token check (GetItem), one BatchGetItem (token, tenant and the
    // page's kept cursor), one Query of 100 members, one PutItem keeping where the next page
    // starts; the last page keeps nothing.
    let pages = costs.len();
    assert_eq!(pages, 51);
    assert!(
        costs[..pages - 1].iter().all(|n| *n == 4),
        "requests per page: {costs:?}"
    );
    assert_eq!(costs[pages - 1], 3, "requests per page: {costs:?}");

    // A jump ahead without a kept cursor counts keys from the nearest one kept below, reading no
    // member before its page, and keeps the next page's cursor as a walk does.
    let other = env
        .post(
            &format!("/v1/tenants/{}/scim-tokens", s.t.id),
            Some(&s.t.owner_token),
            json!({"label": "Entra"}),
        )
        .await;
    let other = s.with_token(other.ok(201)["token"].as_str().unwrap());
    let (jump, n) = env
        .count(other.get(&env, "/Users?startIndex=2501&count=10"))
        .await;
    assert_eq!(ids(jump.ok(200)), walked[2500..2510].to_vec());
    // The token check, the batch, the nearest kept cursor (none for this token), a few COUNT
    // queries over 2,500 keys, the page, the next page's cursor.
    assert!(n <= 8, "a jump to 2501 took {n} requests");
    let (next, n) = env
        .count(other.get(&env, "/Users?startIndex=2511&count=10"))
        .await;
    assert_eq!(ids(next.ok(200)), walked[2510..2520].to_vec());
    assert_eq!(n, 4);
    // Another count on the first token's walk goes on from its nearest kept cursor.
    let (odd, n) = env
        .count(s.get(&env, "/Users?startIndex=4950&count=3"))
        .await;
    assert_eq!(ids(odd.ok(200)), walked[4949..4952].to_vec());
    assert!(n <= 6, "startIndex 4950 took {n} requests");
    // Past the end (or no page asked for): nothing read but the caller's token and tenant.
    let (past, n) = env
        .count(s.get(&env, "/Users?startIndex=9000&count=10"))
        .await;
    assert_eq!(past.ok(200)["totalResults"], total);
    assert_eq!(past.body["Resources"], json!([]));
    assert_eq!(n, 2);
    let (none, n) = env.count(s.get(&env, "/Users?count=0")).await;
    assert_eq!(none.ok(200)["totalResults"], total);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn filters_on_a_large_directory_read_through_keys_or_are_refused() {
    let env = Env::start().await;
    let s = large_tenant(&env).await;
    let created = s
        .post(
            &env,
            "/Users",
            json!({"userName": "pinned@walk.test", "externalId": "ext-1"}),
        )
        .await;
    let id = created.ok(201)["id"].as_str().unwrap().to_string();
    for filter in [
        "userName%20eq%20%22PINNED%40walk.test%22",
        "externalId%20eq%20%22ext-1%22",
        "emails.value%20eq%20%22pinned%40walk.test%22",
    ] {
        let (found, n) = env
            .count(s.get(&env, &format!("/Users?filter={filter}")))
            .await;
        assert_eq!(ids(found.ok(200)), vec![id.clone()], "{filter}");
        assert!(n <= 5, "{filter} took {n} requests");
    }
    // Anything else would read the whole directory to count it.
    let scan = s.get(&env, "/Users?filter=active%20eq%20false").await;
    scim_error(&scan, 400, Some("tooMany"));

    // Values no member's userName, externalId or address can be: refused before any read but
    // the entrypoint's token check.
    let long = "a".repeat(300);
    for filter in [
        format!("userName%20eq%20%22{long}%40walk.test%22"),
        format!("externalId%20eq%20%22{long}%22"),
        format!("emails%5Bvalue%20eq%20%22{long}%40walk.test%22%5D"),
    ] {
        let (refused, n) = env
            .count(s.get(&env, &format!("/Users?filter={filter}")))
            .await;
        scim_error(&refused, 400, Some("invalidFilter"));
        assert_eq!(n, 1, "{filter}");
    }
}

/// On a small directory every filter still works, and `/.search` pages Users then Groups.
#[tokio::test]
async fn small_directories_filter_anything_and_search_pages_across_types() {
    let env = Env::start().await;
    let s = scim_tenant(&env, "Small").await;
    env.add_members(&s.t, 4).await;
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team"});
    s.post(&env, "/Groups", group).await.ok(201);
    let active = s.get(&env, "/Users?filter=active%20eq%20true").await;
    assert_eq!(active.ok(200)["totalResults"], 5);
    let search = |start: usize| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": start, "count": 2
        })
    };
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let page = s.post(&env, "/.search", search(start)).await;
        let page = page.ok(200).clone();
        assert_eq!(page["totalResults"], 6, "{page}");
        seen.extend(ids(&page));
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 6);
}
