//! PEM files: a certificate chain, its private key, a CA bundle.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::TlsError;

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.to_owned(), reason: reason.to_string() }
}

/// Every certificate in `path`, in order (a leaf first, then its intermediates).
///
/// # Errors
/// [`TlsError::File`] when the file cannot be read, is not PEM, or holds no certificate.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, e))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no certificate (PEM `BEGIN CERTIFICATE`) in the file"));
    }
    Ok(certificates)
}

/// The private key in `path` (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// [`TlsError::File`] when the file cannot be read or holds no private key.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, e))
}

/// The CA certificates in `path`, as trust anchors.
///
/// # Errors
/// [`TlsError::File`] when the file holds no certificate, or one that is not a valid CA.
pub fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate).map_err(|e| file_error(path, e))?;
    }
    Ok(roots)
}
