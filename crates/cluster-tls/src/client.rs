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
        let refused = |e: rustls::Error| TlsError::Config(e.to_string());
        let builder =
            ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(refused)?;
        let builder = if self.skip_verify {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider())))
        } else {
            builder.with_root_certificates(self.roots()?)
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
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found.errors.first().map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(TlsError::Config(format!("no CA certificate given and no system roots ({why})")));
        }
        Ok(roots)
    }
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
