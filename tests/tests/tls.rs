//! TLS on every connection, with real processes: three meta nodes and two data nodes serving
//! HTTPS with certificates of a CA made at test time, mutual TLS on (every listener asks for a
//! client certificate; internal routes require one). Raft, forwarding, registration, heartbeats
//! and the appends between a shard's owners all run over it; `metactl` verifies the meta nodes
//! against the CA, or fails, unless told explicitly not to verify.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use cluster_harness::{sibling_binary, wait_for, Cluster};
use cluster_tls::client::{ClientTls, Identity};
use cluster_tls::test_ca::{Issued, TestCa};

/// `metactl --url <every meta node> TLS_FLAGS ARGS`.
async fn metactl(cluster: &Cluster, tls_flags: &[&str], args: &[&str]) -> Output {
    metactl_at(&cluster.meta_urls(), tls_flags, args).await
}

/// `metactl --url URLS TLS_FLAGS ARGS`.
async fn metactl_at(urls: &str, tls_flags: &[&str], args: &[&str]) -> Output {
    tokio::process::Command::new(sibling_binary("metactl"))
        .arg("--url")
        .arg(urls)
        .args(tls_flags)
        .args(args)
        .output()
        .await
        .expect("metactl runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// A client trusting `ca`, presenting `identity` if given.
fn client(ca: &Path, identity: Option<&Issued>) -> reqwest::Client {
    let tls = ClientTls {
        ca_cert: Some(ca.to_owned()),
        identity: identity.map(|i| Identity { cert: i.cert.clone(), key: i.key.clone() }),
        skip_verify: false,
    };
    tls.apply(reqwest::Client::builder()).expect("TLS files").build().expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_mutual_tls_serves_verified_clients_and_refuses_the_rest() {
    let certs = tempfile::tempdir().expect("a temp dir");
    let ca = TestCa::new(certs.path(), "cluster-ca");
    let ca_cert = ca.cert("cluster-ca");
    // One certificate for every node here (all on 127.0.0.1); the README issues one per node.
    let node = ca.issue("node", &["localhost", "127.0.0.1"]);
    let stranger = TestCa::new(certs.path(), "other-ca").issue("stranger", &["localhost"]);
    let toml = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\nca-cert = {:?}\nclient-auth = true\n",
        path(&node.cert),
        path(&node.key),
        path(&ca_cert)
    );
    let harness_tls = ClientTls { ca_cert: Some(ca_cert.clone()), ..ClientTls::default() };
    eprintln!("--- three meta nodes elect a leader over mutual TLS");
    let mut cluster = Cluster::start_with_tls(&sibling_binary("metad"), 3, &toml, Some(harness_tls)).await;
    let leader = cluster.leader(Duration::from_secs(20)).await;

    let ca_flags = ["--ca-cert", path(&ca_cert)];
    let shown = metactl(&cluster, &ca_flags, &["show"]).await;
    assert!(shown.status.success(), "metactl --ca-cert: {}", text(&shown));
    assert!(text(&shown).contains("Meta Nodes"), "{}", text(&shown));

    eprintln!("--- without the CA, metactl refuses the meta nodes' certificates");
    let unverified = metactl_at(&format!("https://{}", cluster.addr(leader)), &[], &["show"]).await;
    assert!(!unverified.status.success(), "{}", text(&unverified));
    assert!(text(&unverified).contains("UnknownIssuer"), "names the cause: {}", text(&unverified));
    assert!(text(&unverified).contains("hint: the meta node's certificate"), "{}", text(&unverified));
    let skipping = metactl(&cluster, &["--insecure-skip-verify"], &["show"]).await;
    assert!(skipping.status.success(), "only with the explicit flag: {}", text(&skipping));
    let plain = metactl_at(&format!("http://{}", cluster.addr(leader)), &[], &["show"]).await;
    assert!(!plain.status.success(), "plain HTTP to a TLS listener: {}", text(&plain));
    assert!(text(&plain).contains("if it serves HTTPS, pass --ca-cert"), "{}", text(&plain));

    eprintln!("--- internal routes require a client certificate of the cluster's CA; public ones do not");
    let anonymous = client(&ca_cert, None);
    let internal = cluster.url(leader, "/internal/status");
    let refused = anonymous.post(&internal).send().await.expect("the handshake succeeds without a certificate");
    assert_eq!(refused.status().as_u16(), 401);
    let body = refused.text().await.unwrap_or_default();
    assert!(body.contains("client_certificate_required"), "{body}");
    let status = anonymous.get(cluster.url(leader, "/v1/status")).send().await.expect("public route");
    assert_eq!(status.status().as_u16(), 200);
    // A certificate of the cluster's CA (here a data node's) passes the handshake but not the
    // cluster secret the internal routes also require.
    let data_node = client(&ca_cert, Some(&node));
    let refused = data_node.post(&internal).send().await.expect("the handshake succeeds");
    assert_eq!(refused.status().as_u16(), 401, "{}", refused.text().await.unwrap_or_default());
    let foreign = client(&ca_cert, Some(&stranger));
    assert!(foreign.get(cluster.url(leader, "/v1/status")).send().await.is_err(), "another CA's certificate");

    eprintln!("--- two data nodes with mutual TLS register, and a write reaches both owners");
    let datad_tls = [
        "--tls-cert",
        path(&node.cert),
        "--tls-key",
        path(&node.key),
        "--tls-ca-cert",
        path(&ca_cert),
        "--tls-client-auth",
    ];
    for _ in 0..2 {
        let slot = cluster.start_data_node(&datad_tls);
        let added = metactl(&cluster, &ca_flags, &["add-data", cluster.data_addr(slot)]).await;
        assert!(added.status.success(), "add-data: {}", text(&added));
        wait_for(Duration::from_secs(20), &format!("data node {slot} registered"), || async {
            cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
        })
        .await;
    }
    let created = metactl(&cluster, &ca_flags, &["create-database", "db", "--replication", "2"]).await;
    assert!(created.status.success(), "{}", text(&created));
    let write = format!("https://{}/write?db=db", cluster.data_addr(0));
    let line = "cpu,host=a usage=1 1704067200000000000";
    let written = anonymous.post(&write).body(line).send().await.expect("a write over TLS");
    assert_eq!(written.status().as_u16(), 204, "{}", written.text().await.unwrap_or_default());
    let shard = wait_for(Duration::from_secs(20), "the shard on both owners", || async {
        let first = cluster.data_status(0).await?.shards.first()?.shard_id;
        cluster.data_status(1).await.filter(|s| s.holds(first)).map(|_| first)
    })
    .await;

    eprintln!("--- a data node's internal routes refuse a caller without a client certificate");
    let append = format!("https://{}/internal/shards/{shard}/append", cluster.data_addr(1));
    let refused = anonymous.post(&append).body(line).send().await.expect("the handshake succeeds");
    assert_eq!(refused.status().as_u16(), 401, "{}", refused.text().await.unwrap_or_default());
    let read = format!("https://{}/shards/{shard}/digest", cluster.data_addr(1));
    assert_eq!(anonymous.get(&read).send().await.expect("answers").status().as_u16(), 401);
    let member = client(&ca_cert, Some(&node));
    assert_eq!(
        member.get(&read).send().await.expect("answers").status().as_u16(),
        200,
        "with the cluster's certificate"
    );
}
