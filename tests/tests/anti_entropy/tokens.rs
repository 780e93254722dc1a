//! Tokens on data nodes: with `--token` (the cluster's node token) every internal route refuses a
//! request without it, and the nodes' own appends, copies and comparisons carry it; with
//! `--write-token`, `POST /write` refuses a write without it, in each form InfluxDB 1.x clients
//! send credentials, and stores nothing.

use std::time::Duration;

use cluster_harness::{wait_for, Cluster};

use crate::support::{add_data_node, cluster_with_data_nodes, create_database, metactl, node_id, owners, FIRST_HOUR};

const NODE_TOKEN: &str = "n0de-t0ken";
const WRITE_TOKEN: &str = "wr1te-t0ken";
const TOKENS: [&str; 4] = ["--token", NODE_TOKEN, "--write-token", WRITE_TOKEN];

/// `POST /write?db=db{query}` to the data node in `slot` with `authorization`, if any.
async fn write(cluster: &Cluster, slot: usize, query: &str, authorization: Option<&str>, line: &str) -> (u16, String) {
    let url = format!("http://{}/write?db=db{query}", cluster.data_addr(slot));
    let mut request = cluster.http.post(&url).body(line.to_owned());
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.expect("datad answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn assert_unauthorized((status, body): (u16, String), what: &str) {
    assert_eq!(status, 401, "{what}: {body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: JSON error: {body}"));
    assert_eq!(error["error"]["code"], "unauthorized", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nodes_refuse_writes_and_internal_calls_without_their_tokens() {
    let mut cluster = cluster_with_data_nodes(2, "", &TOKENS).await;
    create_database(&cluster, 2).await;
    let line = format!("cpu,host=a usage=1 {FIRST_HOUR}");

    eprintln!("--- writes without the write token, or with another, are refused and store nothing");
    assert_unauthorized(write(&cluster, 0, "", None, &line).await, "no credential");
    assert_unauthorized(write(&cluster, 0, "", Some("Bearer wrong"), &line).await, "a wrong bearer token");
    assert_unauthorized(write(&cluster, 0, "", Some(&format!("Bearer {NODE_TOKEN}")), &line).await, "the node token");
    assert_unauthorized(write(&cluster, 0, "&u=admin&p=wrong", None, &line).await, "a wrong p");
    assert!(owners(&cluster).await.is_empty(), "a refused write creates no shard group");

    eprintln!("--- each form of the write token is accepted; both owners get the point");
    let basic = format!("Basic {}", base64_of(&format!("admin:{WRITE_TOKEN}")));
    for (i, (query, authorization)) in [
        (String::new(), Some(format!("Bearer {WRITE_TOKEN}"))),
        (String::new(), Some(format!("Token {WRITE_TOKEN}"))),
        (String::new(), Some(basic)),
        (format!("&u=admin&p={WRITE_TOKEN}"), None),
    ]
    .into_iter()
    .enumerate()
    {
        let line = format!("cpu,host=a usage={i} {}", FIRST_HOUR + i as i64);
        let (status, body) = write(&cluster, 0, &query, authorization.as_deref(), &line).await;
        assert_eq!(status, 204, "form {i}: {body}");
    }
    let shards = owners(&cluster).await;
    let (&shard, owners_of) = shards.iter().next().expect("the write created a shard");
    assert_eq!(owners_of.len(), 2, "RF 2: {shards:?}");
    // The other owner got its copy through an internal append, which carried the node token.
    wait_for(Duration::from_secs(10), "both owners hold the shard", || async {
        let mut held = 0;
        for slot in 0..2 {
            held += usize::from(cluster.data_status(slot).await.is_some_and(|s| s.holds(shard)));
        }
        (held == 2).then_some(())
    })
    .await;

    eprintln!("--- every internal route refuses a call without the node token");
    let base = format!("http://{}", cluster.data_addr(0));
    let peer = cluster.data_addr(1).to_owned();
    let routes = [
        ("POST", format!("{base}/internal/shards/{shard}/append")),
        ("GET", format!("{base}/shards/{shard}")),
        ("GET", format!("{base}/shards/{shard}/digest?len=0")),
        ("POST", format!("{base}/shards/{shard}/content")),
        ("POST", format!("{base}/shards/{shard}/points")),
        ("GET", format!("{base}/shards/{shard}/compare?peer={peer}")),
    ];
    // The route's request, a POST with an empty JSON object.
    let request = |method: &str, url: &str| match method {
        "GET" => cluster.http.get(url),
        _ => cluster.http.post(url).header("Content-Type", "application/json").body("{}"),
    };
    for (method, url) in &routes {
        for authorization in [None, Some("Bearer wrong".to_owned()), Some(format!("Bearer {WRITE_TOKEN}"))] {
            let mut request = request(method, url);
            if let Some(value) = &authorization {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.expect("datad answers");
            let status = response.status().as_u16();
            let what = format!("{method} {url} with {authorization:?}");
            assert_unauthorized((status, response.text().await.unwrap_or_default()), &what);
        }
        // With the node token the route is served (whatever it then says of an empty body).
        let response = request(method, url).bearer_auth(NODE_TOKEN).send().await.expect("datad answers");
        assert_ne!(response.status().as_u16(), 401, "{method} {url} with the node token");
    }
    // The shard read with the token is the shard.
    let response = cluster.http.get(&routes[1].1).bearer_auth(NODE_TOKEN).send().await.expect("read");
    assert_eq!(response.status().as_u16(), 200);

    eprintln!("--- probes and scrapes stay open");
    for path in ["/health", "/ping", "/status", "/metrics"] {
        let response = cluster.http.get(format!("{base}{path}")).send().await.expect("datad answers");
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }

    eprintln!("--- a copy between data nodes carries the node token");
    let third = add_data_node(&mut cluster, &TOKENS).await;
    let (source, target) = (node_id(&cluster, 0).await, node_id(&cluster, third).await);
    let out =
        metactl(&cluster, &["copy-shard", &source.to_string(), &target.to_string(), &shard.to_string(), "--wait"])
            .await;
    assert!(out.starts_with(&format!("Copied shard {shard}")), "{out}");
    let holds = cluster.data_status(third).await.is_some_and(|s| s.holds(shard));
    assert!(holds, "the copy reached the new node");
}

/// Standard base64 of `text` (Basic authentication's encoding).
fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
