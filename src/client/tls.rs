//! HTTPS for the deploy client: rustls with the Mozilla roots compiled in (`webpki-roots`),
//! so it works on any machine; `--insecure` swaps in a verifier that accepts any certificate
//! (for a server with a self-signed or private-CA certificate), only when asked.

use std::net::TcpStream;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::kernel::http_client::{ClientError, Stream};
use crate::kernel::tls::client::client_tls_config;

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub fn wrap(sock: TcpStream, host: &str, insecure: bool) -> Result<Box<dyn Stream>, ClientError> {
    let config = if insecure {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Transport(format!("TLS set-up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        client_tls_config(&[]).map_err(|e| ClientError::Transport(e.to_string()))?
    };
    crate::kernel::tls::client::wrap(sock, host, Arc::new(config))
}

/// A verifying TLS session trusting the compiled-in roots plus the PEM roots in `extra`
/// (a private release server's CA).
pub fn wrap_with_root(
    sock: TcpStream,
    host: &str,
    extra: Option<&std::path::Path>,
) -> Result<Box<dyn Stream>, ClientError> {
    let roots = match extra {
        Some(p) => crate::kernel::tls::client::load_root_pem(p)
            .map_err(|e| ClientError::Invalid(e.to_string()))?,
        None => Vec::new(),
    };
    let config = client_tls_config(&roots).map_err(|e| ClientError::Transport(e.to_string()))?;
    crate::kernel::tls::client::wrap(sock, host, Arc::new(config))
}
