//! Serving a router over TLS, and what routes that need a client certificate check.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use axum_server::tls::TlsInfo;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

use crate::{pem, provider, TlsError};

/// A listener's TLS: its certificate chain and key, and for mutual TLS the CA whose certificates
/// clients may present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the leaf.
    pub key: PathBuf,
    /// PEM CA bundle for clients' certificates: with it, the handshake asks every client for a
    /// certificate and verifies one that is given (a client without one still connects: routes
    /// that need one check with [`require_client_certificate`]).
    pub client_ca: Option<PathBuf>,
}

impl ServerTls {
    /// The rustls configuration (TLS 1.2 and 1.3, HTTP/1.1).
    ///
    /// # Errors
    /// [`TlsError`] naming the file that cannot be read, or rustls' refusal (e.g. a key that
    /// does not match the certificate).
    pub fn config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let chain = pem::certificates(&self.cert)?;
        let key = pem::private_key(&self.key)?;
        let refused = |e: rustls::Error| TlsError::Config(e.to_string());
        let builder =
            ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(refused)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(pem::roots(ca)?), provider())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(refused)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish:
/// over TLS with `tls`, plain HTTP without.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    };
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.graceful_shutdown(None);
    });
    let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(tls));
    axum_server::from_tcp(listener.into_std()?)?.acceptor(acceptor).handle(handle).serve(app.into_make_service()).await
}

/// Whether the request came over a TLS connection whose client presented a certificate the
/// listener verified against its client CA.
pub fn has_client_certificate(request: &Request) -> bool {
    request.extensions().get::<Arc<TlsInfo>>().is_some_and(|info| !info.peer_certificates.is_empty())
}

/// Middleware for routes that require mutual TLS: refuses a request without a verified client
/// certificate with `401` and a JSON error (`client_certificate_required`).
pub async fn require_client_certificate(request: Request, next: Next) -> Response {
    if has_client_certificate(&request) {
        return next.run(request).await;
    }
    let body = r#"{"error":{"code":"client_certificate_required","message":"this route requires a client certificate signed by the cluster's CA (mutual TLS)"}}"#;
    (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
