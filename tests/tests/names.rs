//! Every name the service accepts can be addressed afterwards: databases and retention policies
//! with spaces, `%`, `?`, `#`, `&`, `+`, quotes, dots and any Unicode are created, listed, written
//! to through a data node, backed up, dropped and restored over HTTP, by the same client every
//! tool uses. Names that a URL path cannot address (`.`, `..`, anything with `/`) are refused at
//! creation, never left undroppable. The fixed names are the hard cases; proptest adds more.

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_harness::{sibling_binary, Cluster};
use meta_client::ClientError;
use meta_wire::RetentionPolicyRequest;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use scenarios::cluster_with_one_data_node;

const FIXED: &[&str] = &[
    "my db",
    "50%",
    "a?b",
    "c#d",
    "e&f=g",
    "h+i",
    "quote\"s",
    "semi;colon",
    "...",
    ".x",
    "x.",
    "%2e%2e",
    "%",
    "ü ñ 漢字",
    "crab 🦀",
    "a\u{a0}b",
    "[brackets]",
    "{braces}",
    "back`tick",
    "~tilde",
    "-",
];

/// Names proptest makes: printable characters (no control characters, `/` or `\`), trimmed;
/// those the rule still refuses (`.`, `..`) are left out.
fn generated(count: usize) -> Vec<String> {
    let strategy = proptest::collection::vec("[^/\\\\\\p{Cc}]{1,24}", count);
    let mut runner = TestRunner::deterministic();
    let names = strategy.new_tree(&mut runner).expect("names").current();
    names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| meta_model::validate_name("database", n).is_ok())
        .collect()
}

fn policy(name: &str) -> RetentionPolicyRequest {
    RetentionPolicyRequest {
        name: name.to_owned(),
        duration: "0".to_owned(),
        shard_duration: Some("1h".to_owned()),
        replication: 1,
        default: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_name_round_trips_over_http() {
    let (cluster, slot) = cluster_with_one_data_node(&[]).await;
    let client = cluster.client();

    for unaddressable in [".", "..", "a/b"] {
        match client.create_database(unaddressable, None).await {
            Err(ClientError::Api { status: 400, code, .. }) => assert_eq!(code, "invalid_name", "{unaddressable:?}"),
            other => panic!("{unaddressable:?} must be refused at creation: {other:?}"),
        }
    }

    let mut names: Vec<String> = FIXED.iter().map(|n| (*n).to_owned()).collect();
    names.extend(generated(30));
    let names: Vec<String> = names.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    eprintln!("--- {} names: {names:?}", names.len());
    let write_url = format!("http://{}/write", cluster.data_addr(slot));
    for name in &names {
        client.create_database(name, Some(policy(name))).await.unwrap_or_else(|e| panic!("create {name:?}: {e}"));
        let response = cluster
            .http
            .post(&write_url)
            .query(&[("db", name.as_str()), ("rp", name.as_str())])
            .body("m,t=1 v=1 1704067200000000000")
            .send()
            .await
            .expect("write reaches datad");
        let status = response.status().as_u16();
        assert_eq!(status, 204, "write into {name:?}: {}", response.text().await.unwrap_or_default());
    }
    let listed: BTreeSet<String> =
        client.databases().await.expect("list").databases.into_iter().map(|d| d.name).collect();
    assert_eq!(listed, names.iter().cloned().collect(), "every name is listed as written");
    let backup = client.metadata(None, Duration::ZERO).await.expect("backup");

    for name in &names {
        client.drop_retention_policy(name, name).await.unwrap_or_else(|e| panic!("drop policy {name:?}: {e}"));
        client.drop_database(name).await.unwrap_or_else(|e| panic!("drop {name:?}: {e}"));
    }
    assert!(client.databases().await.expect("list").databases.is_empty(), "every name could be dropped");

    let fresh = Cluster::start(&sibling_binary("metad"), 1).await;
    fresh.client().restore(&backup).await.expect("restore into an empty cluster");
    let restored: BTreeSet<String> =
        fresh.client().databases().await.expect("list").databases.into_iter().map(|d| d.name).collect();
    assert_eq!(restored, names.iter().cloned().collect(), "every name restored");
}
