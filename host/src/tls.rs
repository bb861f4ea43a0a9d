//! TLS for the protocol services (STARTTLS and the implicit-TLS ports):
//! rustls with the `ring` provider. The certificate and key come from
//! `TLSCertificate`/`TLSKey`; without them a self-signed certificate for
//! `ServerName` (and localhost) is generated once into `DataFolder/tls/`,
//! so a fresh install still offers TLS and never has to send AUTH in clear.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate a self-signed certificate for {name:?}: {source}")]
    Generate { name: String, source: rcgen::Error },
}

/// Where the certificate in use came from (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    Configured { cert: PathBuf },
    SelfSigned { cert: PathBuf, created: bool },
}

pub struct TlsSetup {
    pub config: Arc<ServerConfig>,
    pub source: CertSource,
}

/// The server's TLS configuration: the configured pair, or the self-signed
/// one in `data_folder/tls/` (made on first use).
pub fn load(cert: Option<&Path>, key: Option<&Path>, data_folder: &Path, server_name: &str) -> Result<TlsSetup, TlsError> {
    if let (Some(cert), Some(key)) = (cert, key) {
        let config = config_from_files(cert, key)?;
        return Ok(TlsSetup { config, source: CertSource::Configured { cert: cert.to_path_buf() } });
    }
    let dir = data_folder.join("tls");
    let (cert, key) = (dir.join("selfsigned.crt"), dir.join("selfsigned.key"));
    let created = !(cert.exists() && key.exists());
    if created {
        generate_self_signed(&dir, &cert, &key, server_name)?;
    }
    let config = config_from_files(&cert, &key)?;
    Ok(TlsSetup { config, source: CertSource::SelfSigned { cert, created } })
}

/// A rustls server config from a PEM certificate chain and private key.
pub fn config_from_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error = |path: &Path, message: String| TlsError::File { path: path.to_path_buf(), message };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, format!("cannot read certificates: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, format!("bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, format!("no usable private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(Arc::new(config))
}

fn generate_self_signed(dir: &Path, cert: &Path, key: &Path, server_name: &str) -> Result<(), TlsError> {
    let mut names = vec![server_name.to_ascii_lowercase()];
    if !names.iter().any(|n| n == "localhost") {
        names.push("localhost".into());
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|source| TlsError::Generate { name: server_name.into(), source })?;
    let io_error = |path: &Path, e: std::io::Error| TlsError::File { path: path.to_path_buf(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    write_private(key, generated.signing_key.serialize_pem().as_bytes()).map_err(|e| io_error(key, e))?;
    std::fs::write(cert, generated.cert.pem()).map_err(|e| io_error(cert, e))?;
    Ok(())
}

/// Write a file only its owner can read (the private key).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn self_signed_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(None, None, dir.path(), "Mail.Example.Test").unwrap();
        let CertSource::SelfSigned { cert, created: true } = &first.source else {
            panic!("{:?}", first.source)
        };
        let pem = std::fs::read(cert).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls/selfsigned.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = load(None, None, dir.path(), "mail.example.test").unwrap();
        assert!(matches!(second.source, CertSource::SelfSigned { created: false, .. }));
        assert_eq!(std::fs::read(cert).unwrap(), pem, "the certificate was regenerated");
    }

    #[test]
    fn bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = config_from_files(&missing, &missing).err().unwrap().to_string();
        assert!(e.starts_with(&missing.display().to_string()), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let e = config_from_files(&empty, &empty).err().unwrap().to_string();
        assert!(e.contains("no certificate in the file"), "{e}");
    }

    /// A real handshake against the generated certificate, trusted as a root.
    #[tokio::test]
    async fn handshake_with_the_self_signed_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let setup = load(None, None, dir.path(), "mail.example.test").unwrap();
        let CertSource::SelfSigned { cert, .. } = &setup.source else { panic!() };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (c, s) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(setup.config.clone());
        let server = tokio::spawn(async move {
            let mut tls = acceptor.accept(s).await.unwrap();
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).await.unwrap();
            tls.write_all(&buf).await.unwrap();
            tls.flush().await.unwrap();
        });
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let name = rustls::pki_types::ServerName::try_from("mail.example.test").unwrap();
        let mut tls = connector.connect(name, c).await.unwrap();
        tls.write_all(b"hello").await.unwrap();
        let mut echo = [0u8; 5];
        tls.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"hello");
        server.await.unwrap();
    }
}
