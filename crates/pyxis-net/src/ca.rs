//! A local certificate authority for networks on one machine or a LAN
//! (`pyxis up`, tests): a CA made once and kept in a directory, which issues
//! the server's and remotes' certificates. Clients are given the CA's
//! certificate (`PYXIS_CA`) and trust nothing else for this network.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use thiserror::Error;

use crate::fsutil::write_private;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("making a certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

/// A CA whose key lives in `DIR/ca.key` (0600) and certificate in `DIR/ca.pem`.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalCa({})", self.dir.display())
    }
}

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued(<certificate and key>)")
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io { path: path.to_owned(), source }
}

impl LocalCa {
    /// Loads the CA in `dir`, or makes one (`name` is its common name; give
    /// the same one every time).
    pub fn load_or_create(dir: &Path, name: &str) -> Result<LocalCa, CaError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        let params = ca_params(name)?;
        if cert_path.exists() && key_path.exists() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path).map_err(io(&key_path))?)?;
            // The issuer needs the CA's name, key usages and key: the same
            // parameters it was made with, so its certificate need not be parsed.
            return Ok(LocalCa { dir: dir.to_owned(), cert_pem, issuer: Issuer::new(params, key) });
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        write_private(&key_path, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
        std::fs::write(&cert_path, cert.pem()).map_err(io(&cert_path))?;
        Ok(LocalCa { dir: dir.to_owned(), issuer: Issuer::new(params, key), cert_pem: cert.pem() })
    }

    /// The CA's certificate, PEM: what clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for these names (host names or IP addresses).
    pub fn issue(&self, names: &[String]) -> Result<Issued, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.distinguished_name = dn;
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Issues a certificate and writes it as `DIR/NAME.pem` and `DIR/NAME.key`
    /// (0600); returns their paths.
    pub fn issue_files(&self, file_name: &str, names: &[String]) -> Result<(PathBuf, PathBuf), CaError> {
        let issued = self.issue(names)?;
        let (cert, key) = (self.dir.join(format!("{file_name}.pem")), self.dir.join(format!("{file_name}.key")));
        std::fs::write(&cert, issued.cert_pem).map_err(io(&cert))?;
        write_private(&key, issued.key_pem.as_bytes()).map_err(io(&key))?;
        Ok((cert, key))
    }
}

fn ca_params(name: &str) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    Ok(params)
}

/// The names a certificate for a listener on `ip` should carry: the loopback
/// names, and the address itself when it is a specific one.
pub fn local_names(ip: std::net::IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}
