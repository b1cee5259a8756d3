//! The contract checks: the registry in `functions/src/registry.rs` is the source of truth, and
//! template.yaml, openapi.yaml, the binaries in `functions/src/bin/`, the README and the sample events in
//! `events/` must all agree with it.

use roster_functions::lambda::dispatch;
use roster_functions::local_stack::{stream_filters, upload_filter};
use roster_functions::registry::{JOBS, Job, OPENS_WEBHOOK_SECRETS, OPERATIONS, Trigger};
use roster_shared::model::keys::{INDEXES, TTL};
use roster_tests::Env;
use serde_yaml::Value as Yaml;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(file: &str) -> Yaml {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

type RouteSet = BTreeSet<(String, String, String)>;

fn table_routes() -> RouteSet {
    OPERATIONS
        .iter()
        .map(|r| (r.name.to_string(), r.method.to_string(), r.path.to_string()))
        .collect()
}

/// The names of the jobs and workers with a trigger `wanted`.
fn jobs_triggered(wanted: fn(&Trigger) -> bool) -> BTreeSet<String> {
    JOBS.iter()
        .filter(|j| j.has(wanted))
        .map(|j: &&Job| j.name.to_string())
        .collect()
}

fn text(value: &Yaml) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
        .to_string()
}

#[test]
fn template_declares_exactly_the_route_table() {
    let template = yaml("template.yaml");
    let mut declared = RouteSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda")
        );
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        // A rotation function has no event source: Secrets Manager invokes it.
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                declared.insert((
                    binary.clone(),
                    text(&event["Properties"]["Method"]).to_uppercase(),
                    text(&event["Properties"]["Path"]),
                ));
            }
        }
    }
    assert_eq!(declared, table_routes());
}

/// The sealing secret (kept answers of idempotent creates, webhook signing secrets) reaches
/// exactly the functions of the routes that create and those that use webhook secrets: each has
/// its name and may read it, no other function has either.
#[test]
fn only_the_creates_hold_the_sealing_secret() {
    let template = yaml("template.yaml");
    let creates: BTreeSet<String> = OPERATIONS
        .iter()
        .filter(|r| r.creates.is_some())
        .map(|r| r.name.to_string())
        .chain(OPENS_WEBHOOK_SECRETS.iter().map(|name| name.to_string()))
        .collect();
    let (mut named, mut readers) = (BTreeSet::new(), BTreeSet::new());
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let properties = &resource["Properties"];
        if !properties["Environment"]["Variables"]["ROSTER_SEALING_SECRET"].is_null() {
            named.insert(binary.clone());
        }
        let policies = properties["Policies"].as_sequence().cloned();
        let reads = policies
            .unwrap_or_default()
            .iter()
            .any(|p| serde_yaml::to_string(p).is_ok_and(|t| t.contains("ReadSealingSecretPolicy")));
        if reads {
            readers.insert(binary);
        }
    }
    assert_eq!(named, creates);
    assert_eq!(readers, creates);
}

#[test]
fn template_schedules_every_job() {
    let template = yaml("template.yaml");
    let mut scheduled = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        // A rotation function has no event source: Secrets Manager invokes it.
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        if events.values().any(|e| {
            e["Type"].as_str() == Some("ScheduleV2") || e["Type"].as_str() == Some("Schedule")
        }) {
            scheduled.insert(binary);
        }
    }
    assert_eq!(scheduled, jobs_triggered(|t| *t == Trigger::Schedule));
}

#[test]
fn template_triggers_every_worker_from_the_stack() {
    let template = yaml("template.yaml");
    let mut triggered = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        // A rotation function has no event source: Secrets Manager invokes it.
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        if events
            .values()
            .any(|e| matches!(e["Type"].as_str(), Some("DynamoDB" | "S3" | "SQS")))
        {
            triggered.insert(binary);
        }
    }
    let workers = jobs_triggered(|t| {
        matches!(
            t,
            Trigger::Stream(_) | Trigger::Upload { .. } | Trigger::DeadLetters
        )
    });
    assert_eq!(triggered, workers);
}

/// The local stack feeds each worker the stream records template.yaml's filters let through,
/// and the uploads its bucket notification names: the two must say the same.
#[test]
fn local_stack_filters_are_the_templates() {
    let template = yaml("template.yaml");
    let mut template_stream_filters = BTreeSet::new();
    let mut upload_filters = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            let properties = &event["Properties"];
            match event["Type"].as_str() {
                Some("DynamoDB") => {
                    for filter in properties["FilterCriteria"]["Filters"]
                        .as_sequence()
                        .expect("every stream trigger is filtered")
                    {
                        template_stream_filters.insert((binary.clone(), text(&filter["Pattern"])));
                    }
                }
                Some("S3") => {
                    let rules = properties["Filter"]["S3Key"]["Rules"]
                        .as_sequence()
                        .expect("rules");
                    let rule = |name: &str| {
                        rules
                            .iter()
                            .find(|r| r["Name"].as_str() == Some(name))
                            .map(|r| text(&r["Value"]))
                            .unwrap_or_default()
                    };
                    upload_filters.insert((binary.clone(), rule("prefix"), rule("suffix")));
                }
                _ => {}
            }
        }
    }
    let local: BTreeSet<(String, String)> = stream_filters()
        .map(|(job, p)| (job.name.to_string(), p.to_string()))
        .collect();
    assert_eq!(template_stream_filters, local);
    let (job, prefix, suffix) = upload_filter().expect("an upload worker");
    assert_eq!(
        upload_filters,
        BTreeSet::from([(job.name.to_string(), prefix.to_string(), suffix.to_string())])
    );
}

/// The local gateway answers CORS as the HTTP API is configured to.
#[test]
fn local_gateway_cors_is_the_templates() {
    use roster_functions::gateway::{CORS_EXPOSED, CORS_HEADERS, CORS_MAX_AGE, CORS_METHODS};
    let template = yaml("template.yaml");
    let cors = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let list = |name: &str| -> Vec<String> {
        cors[name]
            .as_sequence()
            .unwrap_or_else(|| panic!("CorsConfiguration.{name}"))
            .iter()
            .map(text)
            .collect()
    };
    assert_eq!(list("AllowMethods"), CORS_METHODS);
    assert_eq!(list("AllowHeaders"), CORS_HEADERS);
    assert_eq!(list("ExposeHeaders"), CORS_EXPOSED);
    assert_eq!(cors["MaxAge"].as_u64(), Some(u64::from(CORS_MAX_AGE)));
    assert_eq!(cors["AllowOrigins"].as_sequence().map(Vec::len), Some(1));
}

#[test]
fn template_table_matches_the_key_layout() {
    let template = yaml("template.yaml");
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(
        text(&table["TimeToLiveSpecification"]["AttributeName"]),
        TTL
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    let declared: BTreeSet<(String, String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GSIs")
        .iter()
        .map(|gsi| {
            let keys = gsi["KeySchema"].as_sequence().expect("KeySchema");
            (
                text(&gsi["IndexName"]),
                text(&keys[0]["AttributeName"]),
                text(&keys[1]["AttributeName"]),
            )
        })
        .collect();
    let expected: BTreeSet<_> = INDEXES
        .iter()
        .map(|i| (i.name.to_string(), i.pk.to_string(), i.sk.to_string()))
        .collect();
    assert_eq!(declared, expected);
}

#[test]
fn openapi_documents_exactly_the_route_table() {
    let doc = yaml("openapi.yaml");
    assert!(text(&doc["openapi"]).starts_with("3.1"));
    let mut documented = RouteSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().expect("path item") {
            let method = text(method);
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            documented.insert((
                text(&operation["operationId"]),
                method.to_uppercase(),
                text(path),
            ));
        }
    }
    assert_eq!(documented, table_routes());
}

#[test]
fn every_function_has_a_binary_and_a_sample_event() {
    let bins: BTreeSet<String> = std::fs::read_dir(root().join("functions/src/bin"))
        .expect("bin dir")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
        .filter(|name| name != "local-gateway")
        .collect();
    let mut functions: BTreeSet<String> = OPERATIONS.iter().map(|r| r.name.to_string()).collect();
    functions.extend(JOBS.iter().map(|j| j.name.to_string()));
    assert_eq!(bins, functions);
    assert_eq!(functions.len(), OPERATIONS.len() + JOBS.len());
    // Each binary serves its own registry entry, and nothing else.
    for function in &functions {
        let source =
            std::fs::read_to_string(root().join(format!("functions/src/bin/{function}.rs")))
                .expect("binary source");
        let entry = format!("registry::{}", function.to_uppercase().replace('-', "_"));
        assert!(source.contains(&entry), "{function}.rs serves {entry}");
        assert!(
            source.lines().count() <= 8,
            "{function}.rs is more than a thin binary"
        );
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let count = format!("All {} functions", functions.len());
    assert!(readme.contains(&count), "the README says \"{count}\"");
    for function in &functions {
        assert!(
            root().join(format!("events/{function}.json")).exists(),
            "events/{function}.json"
        );
    }
}

/// Each sample event deserialises as API Gateway would deliver it, names its route, and runs
/// through its handler to a client error or success (its token is a placeholder), never a 5xx.
#[tokio::test]
async fn sample_events_reach_their_handlers() {
    let env = Env::start().await;
    for route in OPERATIONS.iter().copied() {
        let text = std::fs::read_to_string(root().join(format!("events/{}.json", route.name)))
            .expect("event");
        let event: serde_json::Value = serde_json::from_str(&text).expect("event JSON");
        assert_eq!(
            event["routeKey"].as_str(),
            Some(route.route_key().as_str()),
            "routeKey of events/{}.json",
            route.name
        );
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{}.json: {e}", route.name));
        let response = dispatch(env.app, request, route).await;
        let status = response.status().as_u16();
        assert!(
            (200..500).contains(&status),
            "events/{}.json answered {status}",
            route.name
        );
    }
}

/// Each job's and worker's sample event is one its entry takes (the typed event it asks for
/// decodes from it), as Lambda would hand it over. What the run then finds (the sample names
/// nothing in this table) may fail it, never the event's shape.
#[tokio::test]
async fn sample_events_reach_their_workers() {
    let env = Env::start().await;
    for job in JOBS.iter().copied() {
        let text = std::fs::read_to_string(root().join(format!("events/{}.json", job.name)))
            .expect("event");
        let event: serde_json::Value = serde_json::from_str(&text).expect("event JSON");
        if let Err(err) = (job.entry)(env.app, event).await {
            assert!(
                !format!("{err:?}").contains("does not take"),
                "events/{}.json: {err}",
                job.name
            );
        }
    }
}
