//! Real TLS handshakes on loopback: a server asking for client certificates, routes that require
//! one, clients that trust the CA, the system's roots, or nothing at all.

use axum::routing::get;
use axum::Router;
use cluster_tls::client::{ClientTls, Identity};
use cluster_tls::server::{require_client_certificate, serve, ServerTls};
use cluster_tls::test_ca::{Issued, TestCa};
use cluster_tls::TlsError;

/// Serves `/public` (open) and `/internal` (client certificate required) over TLS on loopback;
/// returns the base URL.
async fn server(tls: &ServerTls) -> String {
    let config = tls.config().expect("a server configuration");
    let app = Router::new()
        .route("/internal", get(|| async { "internal" }))
        .layer(axum::middleware::from_fn(require_client_certificate))
        .route("/public", get(|| async { "public" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(serve(listener, app, Some(config), std::future::pending()));
    format!("https://localhost:{port}")
}

fn client(tls: &ClientTls) -> reqwest::Client {
    tls.apply(reqwest::Client::builder()).expect("a client configuration").build().expect("a client")
}

/// The status of `GET url`, or the transport error's full chain.
async fn get_status(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    match client.get(url).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => {
            let mut chain = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                chain.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Err(chain)
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    server: Issued,
    client: Issued,
    stranger: Issued,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca = TestCa::new(dir.path(), "cluster-ca");
    let other = TestCa::new(dir.path(), "other-ca");
    Setup {
        ca: ca.cert("cluster-ca"),
        server: ca.issue("meta-1", &["localhost", "127.0.0.1"]),
        client: ca.issue("data-1", &["localhost"]),
        stranger: other.issue("stranger", &["localhost"]),
        _dir: dir,
    }
}

#[tokio::test]
async fn client_certificates_are_requested_by_the_listener_and_required_per_route() {
    let s = setup();
    let base =
        server(&ServerTls { cert: s.server.cert.clone(), key: s.server.key.clone(), client_ca: Some(s.ca.clone()) })
            .await;
    let trusted = ClientTls { ca_cert: Some(s.ca.clone()), ..ClientTls::default() };
    let with_identity = ClientTls {
        identity: Some(Identity { cert: s.client.cert.clone(), key: s.client.key.clone() }),
        ..trusted.clone()
    };
    let anonymous = client(&trusted);
    assert_eq!(get_status(&anonymous, &format!("{base}/public")).await, Ok(200), "optional on public routes");
    assert_eq!(get_status(&anonymous, &format!("{base}/internal")).await, Ok(401), "required on internal ones");
    let member = client(&with_identity);
    assert_eq!(get_status(&member, &format!("{base}/public")).await, Ok(200));
    assert_eq!(get_status(&member, &format!("{base}/internal")).await, Ok(200));

    // A certificate from another CA fails the handshake itself.
    let stranger = ClientTls {
        identity: Some(Identity { cert: s.stranger.cert.clone(), key: s.stranger.key.clone() }),
        ..trusted
    };
    let refused = get_status(&client(&stranger), &format!("{base}/public")).await;
    assert!(refused.is_err(), "a certificate from another CA: {refused:?}");
}

#[tokio::test]
async fn servers_are_verified_unless_verification_is_skipped_explicitly() {
    let s = setup();
    let base = server(&ServerTls { cert: s.server.cert.clone(), key: s.server.key.clone(), client_ca: None }).await;
    let url = format!("{base}/public");

    let system_roots = get_status(&client(&ClientTls::default()), &url).await;
    let error = system_roots.expect_err("a private CA is not among the system's roots");
    assert!(error.contains("certificate"), "{error}");

    let other_ca = ClientTls { ca_cert: Some(s.stranger.cert.clone()), ..ClientTls::default() };
    assert!(get_status(&client(&other_ca), &url).await.is_err(), "the wrong CA");

    let skipping = ClientTls { skip_verify: true, ..ClientTls::default() };
    assert_eq!(get_status(&client(&skipping), &url).await, Ok(200), "encrypted, unauthenticated: only on request");
    let trusted = ClientTls { ca_cert: Some(s.ca.clone()), ..ClientTls::default() };
    assert_eq!(get_status(&client(&trusted), &url).await, Ok(200));

    // Plain HTTP without a client certificate reaches no internal route either.
    let plain = Router::new()
        .route("/internal", get(|| async { "internal" }))
        .layer(axum::middleware::from_fn(require_client_certificate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(serve(listener, plain, None, std::future::pending()));
    assert_eq!(get_status(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}/internal")).await, Ok(401));
}

#[test]
fn bad_files_are_named_in_the_error() {
    let s = setup();
    let missing =
        ServerTls { cert: s.server.cert.with_file_name("nope.pem"), key: s.server.key.clone(), client_ca: None };
    match missing.config() {
        Err(TlsError::File { path, .. }) => assert!(path.ends_with("nope.pem"), "{path:?}"),
        other => panic!("expected a file error, got {other:?}"),
    }
    let key_as_cert = ServerTls { cert: s.server.key.clone(), key: s.server.key.clone(), client_ca: None };
    let error = key_as_cert.config().map(drop).expect_err("a key is no certificate");
    assert!(error.to_string().contains("meta-1-key.pem"), "{error}");
    let mismatched = ServerTls { cert: s.server.cert.clone(), key: s.client.key.clone(), client_ca: None };
    assert!(matches!(mismatched.config(), Err(TlsError::Config(_))), "a key that is not the certificate's");
    let no_ca = ClientTls { ca_cert: Some(s.ca.with_file_name("missing-ca.pem")), ..ClientTls::default() };
    assert!(no_ca.config().map(drop).expect_err("no CA file").to_string().contains("missing-ca.pem"));
}
