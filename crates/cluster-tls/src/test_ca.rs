//! A certificate authority made at test time (rcgen), writing PEM files the way an operator's CA
//! would hand them out (feature `test-ca`; tests only).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// A CA whose certificate is `ca.pem` in its directory.
pub struct TestCa {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and key issued by a [`TestCa`], as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name`, writing its files into `dir`.
    ///
    /// # Panics
    /// When a key cannot be made or a file written (tests only).
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::new()).expect("no names: valid");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("a CA key");
        let certificate = params.self_signed(&key).expect("a CA certificate");
        std::fs::write(dir.join(format!("{name}.pem")), certificate.pem()).expect("write the CA certificate");
        TestCa { dir: dir.to_owned(), issuer: Issuer::new(params, key) }
    }

    /// The CA's certificate file.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// Issues `name` a certificate for the host names and IP addresses in `names`, usable by a
    /// server and as a client certificate (mutual TLS), written to `name.pem` and `name-key.pem`.
    ///
    /// # Panics
    /// When a key cannot be made or a file written (tests only).
    pub fn issue(&self, name: &str, names: &[&str]) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("valid names");
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("a key");
        let certificate = params.signed_by(&key, &self.issuer).expect("a certificate");
        let issued =
            Issued { cert: self.dir.join(format!("{name}.pem")), key: self.dir.join(format!("{name}-key.pem")) };
        std::fs::write(&issued.cert, certificate.pem()).expect("write the certificate");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write the key");
        issued
    }
}
