//! A node's TLS options as its flags give them (metad, datad), checked into what its listener
//! serves with and what its connections to other nodes use.

use std::path::PathBuf;

use crate::client::{ClientTls, Identity};
use crate::server::ServerTls;

/// The TLS options of a node, as given (each `None`/`false` when not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTlsOptions {
    /// `--tls-cert`: the node's PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// `--tls-key`: its private key.
    pub key: Option<PathBuf>,
    /// `--tls-ca-cert`: the cluster's CA, for the certificates of the nodes it connects to and,
    /// with `client_auth`, of its clients.
    pub ca_cert: Option<PathBuf>,
    /// `--tls-client-auth`: mutual TLS (clients are asked for a certificate; internal routes
    /// require one).
    pub client_auth: bool,
    /// `--tls-insecure-skip-verify`: connect without verifying other nodes' certificates.
    pub skip_verify: bool,
}

/// What a node's TLS options come to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTls {
    /// The listener's TLS.
    pub server: ServerTls,
    /// Its connections to other nodes (HTTPS); it presents its own certificate when asked.
    pub client: ClientTls,
    /// Internal routes require a client certificate.
    pub client_auth: bool,
}

/// A TLS option that is missing or contradicts another, naming the option.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {reason}")]
pub struct TlsOptionError {
    /// The option, e.g. `--tls-key`.
    pub option: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl NodeTlsOptions {
    /// Checks the options: `None` when no TLS option is given (plain HTTP everywhere).
    ///
    /// # Errors
    /// [`TlsOptionError`] for a certificate without its key (or the reverse), any TLS option
    /// without the node's own certificate (TLS is cluster-wide: a node that dials HTTPS serves
    /// it), mutual TLS without a CA, or skipped verification with a CA given.
    pub fn resolve(self) -> Result<Option<NodeTls>, TlsOptionError> {
        let NodeTlsOptions { cert, key, ca_cert, client_auth, skip_verify } = self;
        let (cert, key) = match (cert, key) {
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => return Err(TlsOptionError { option: "--tls-key", reason: "--tls-cert needs its key" }),
            (None, Some(_)) => {
                return Err(TlsOptionError { option: "--tls-cert", reason: "--tls-key needs its certificate" })
            }
            (None, None) if ca_cert.is_none() && !skip_verify && !client_auth => return Ok(None),
            (None, None) => {
                return Err(TlsOptionError {
                    option: "--tls-cert",
                    reason: "TLS is cluster-wide: a node that reaches its peers over HTTPS serves HTTPS too; give \
                             its certificate and key",
                })
            }
        };
        if client_auth && ca_cert.is_none() {
            return Err(TlsOptionError {
                option: "--tls-ca-cert",
                reason: "mutual TLS (--tls-client-auth) verifies clients against the cluster's CA",
            });
        }
        if skip_verify && ca_cert.is_some() {
            return Err(TlsOptionError {
                option: "--tls-insecure-skip-verify",
                reason: "would ignore --tls-ca-cert: give one or the other",
            });
        }
        let server = ServerTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: if client_auth { ca_cert.clone() } else { None },
        };
        let client = ClientTls { ca_cert, identity: Some(Identity { cert, key }), skip_verify };
        Ok(Some(NodeTls { server, client, client_auth }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(cert: bool, key: bool, ca: bool, client_auth: bool, skip_verify: bool) -> NodeTlsOptions {
        NodeTlsOptions {
            cert: cert.then(|| "n.pem".into()),
            key: key.then(|| "n-key.pem".into()),
            ca_cert: ca.then(|| "ca.pem".into()),
            client_auth,
            skip_verify,
        }
    }

    #[test]
    fn options_resolve_or_name_what_is_wrong() {
        assert_eq!(options(false, false, false, false, false).resolve(), Ok(None), "plain HTTP");
        let mutual = options(true, true, true, true, false).resolve().expect("valid").expect("TLS");
        assert_eq!(mutual.server.client_ca, Some("ca.pem".into()));
        assert!(mutual.client.identity.is_some() && mutual.client_auth);
        let server_only = options(true, true, true, false, false).resolve().expect("valid").expect("TLS");
        assert_eq!(server_only.server.client_ca, None, "no client certificates asked");
        for (given, option) in [
            (options(true, false, true, false, false), "--tls-key"),
            (options(false, true, true, false, false), "--tls-cert"),
            (options(true, true, false, true, false), "--tls-ca-cert"),
            (options(false, false, true, true, false), "--tls-cert"),
            (options(true, true, true, false, true), "--tls-insecure-skip-verify"),
            (options(false, false, true, false, false), "--tls-cert"),
            (options(false, false, false, false, true), "--tls-cert"),
            (options(false, false, false, true, false), "--tls-cert"),
        ] {
            assert_eq!(given.clone().resolve().map(drop).map_err(|e| e.option), Err(option), "{given:?}");
        }
    }
}
