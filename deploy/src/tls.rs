//! https for the endpoint: a certificate chain and key read from PEM files (a file that cannot be read, holds
//! no certificate, or a key that does not match is an error at start), and a listener that completes each TLS
//! handshake on its own task, so a slow or broken client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::server::TlsFiles;

/// How long a client has to complete its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The TLS acceptor for `files`, or why they cannot serve, naming the file.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let cert_file = files.cert.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("cannot read the certificate {cert_file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate {cert_file} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{cert_file} holds no certificate (a PEM block \"BEGIN CERTIFICATE\")"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!("cannot read a private key from {} (PEM: PKCS#8, PKCS#1 or SEC1): {e}", files.key.display())
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!("the certificate {cert_file} and the key {} cannot serve together: {e}", files.key.display())
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Connections whose handshake completed, ready for HTTP.
pub(crate) struct TlsListener {
    incoming: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener`, shaking hands on a task per connection. Called inside the server's runtime.
    pub(crate) fn new(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (ready, incoming) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            while !ready.is_closed() {
                let Ok((stream, addr)) = listener.accept().await else {
                    // Out of file descriptors, most likely: let connections close before accepting more.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let (acceptor, ready) = (acceptor.clone(), ready.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        let _ = ready.send((tls, addr)).await;
                    }
                });
            }
        });
        Self { incoming, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
