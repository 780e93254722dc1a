//! TLS on every connection of the cluster, with rustls (aws-lc-rs provider):
//!
//! - [`pem`]: certificates, keys and CA bundles read from PEM files, each error naming the file;
//! - `server` (feature `server`): a rustls server configuration from a certificate, its key and,
//!   for mutual TLS, the CA that signs clients' certificates (requested, not required, at the
//!   handshake); `server::serve` runs a router over it, and
//!   `server::require_client_certificate` is what routes that need a client certificate check;
//! - `client` (feature `client`): a rustls client configuration that trusts a CA bundle (or the
//!   system's roots), presents a certificate for mutual TLS, or — only when asked explicitly —
//!   verifies nothing, and a `reqwest` client built on it;
//! - `node` (features `server` and `client`): a node's TLS flags checked into both;
//! - `test_ca` (feature `test-ca`, tests only): a CA made at test time, issuing PEM files.

pub mod pem;

#[cfg(feature = "client")]
pub mod client;
#[cfg(all(feature = "server", feature = "client"))]
pub mod node;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "test-ca")]
pub mod test_ca;

use std::path::PathBuf;
use std::sync::Arc;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match its certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The cryptography every configuration uses: rustls' aws-lc-rs provider (the one `reqwest`
/// brings, so a binary carries one).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
