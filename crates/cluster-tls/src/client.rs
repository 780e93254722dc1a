//! Connecting over TLS: whom to trust, which certificate to present.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::{pem, provider, TlsError};

/// A certificate and key a client presents for mutual TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the leaf.
    pub key: PathBuf,
}

/// How a client checks the servers it connects to, and what it presents to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM CA bundle that servers' certificates must chain to; without it, the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The certificate to present when a server asks for one (mutual TLS).
    pub identity: Option<Identity>,
    /// Accept any server certificate: encrypted, but not authenticated. Only for a first look
    /// at a cluster whose CA is not at hand; never the default.
    pub skip_verify: bool,
}

impl ClientTls {
    /// The rustls configuration (TLS 1.2 and 1.3, HTTP/1.1).
    ///
    /// # Errors
    /// [`TlsError`] naming a file that cannot be read, or rustls' refusal (e.g. a key that does
    /// not match its certificate).
    pub fn config(&self) -> Result<ClientConfig, TlsError> {
        self.build(|| self.roots())
    }

    /// The configuration, trusting what `roots` gives unless verification is skipped.
    fn build(&self, roots: impl FnOnce() -> Result<RootCertStore, TlsError>) -> Result<ClientConfig, TlsError> {
        let refused = |e: rustls::Error| TlsError::Config(e.to_string());
        let builder =
            ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(refused)?;
        let builder = if self.skip_verify {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider())))
        } else {
            builder.with_root_certificates(roots()?)
        };
        let mut config = match &self.identity {
            Some(identity) => builder
                .with_client_auth_cert(pem::certificates(&identity.cert)?, pem::private_key(&identity.key)?)
                .map_err(refused)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// `builder` set to connect with this configuration (`https://` URLs; `http://` ones stay
    /// plain).
    ///
    /// # Errors
    /// As [`ClientTls::config`].
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, TlsError> {
        Ok(builder.tls_backend_preconfigured(self.config()?))
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        if let Some(ca) = &self.ca_cert {
            return pem::roots(ca);
        }
        let roots = system_roots();
        if roots.is_empty() {
            return Err(TlsError::Config("no CA certificate given (--ca-cert) and no system roots".to_owned()));
        }
        Ok(roots)
    }
}

/// `builder` set up as `tls` says; without TLS, with a configuration that builds on any machine
/// (an `https://` URL is then verified against the system's roots, and refused when it has
/// none): `reqwest`'s own default fails to build a client where the system has no roots, as in
/// a `FROM scratch` image.
///
/// # Errors
/// As [`ClientTls::config`], with `tls` only.
pub fn configure(builder: reqwest::ClientBuilder, tls: Option<&ClientTls>) -> Result<reqwest::ClientBuilder, TlsError> {
    if let Some(tls) = tls {
        return tls.apply(builder);
    }
    // Without TLS, an empty root store where the system has none, rather than an error.
    let config = ClientTls::default().build(|| Ok(system_roots()))?;
    Ok(builder.tls_backend_preconfigured(config))
}

/// The system's CA certificates (none when it has none).
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

/// A `reqwest` error with the chain of its causes: `reqwest` keeps why a connection failed
/// (e.g. `invalid peer certificate: UnknownIssuer`) in its sources, not in its message.
pub fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Accepts every server certificate, still checking the handshake's signatures (what
/// `--insecure-skip-verify` asks for).
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
