//! `https://` and `wss://`: the same router behind rustls.
//!
//! Without TLS, anyone on the path (a café's Wi-Fi, a compromised router) reads every message
//! and every token, and can change them. A WebSocket over TLS (`wss://`) is an ordinary TLS
//! connection whose first request is the upgrade, so nothing of Socket.IO changes: only the
//! accept loop does. Each accepted TCP connection is wrapped by rustls, then served by hyper
//! with upgrades enabled (the WebSocket handshake needs them) and the peer address attached,
//! as `axum::serve` does for plain connections.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The server's TLS configuration from a PEM certificate chain and a PEM private key.
pub fn config_from_pem(cert: &[u8], key: &[u8]) -> std::io::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("the certificate is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in the --tls-cert file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| invalid(format!("the key is not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("the certificate and key do not fit: {e}")))?;
    // HTTP/1.1 only: the WebSocket upgrade of RFC 6455 (RFC 8441's HTTP/2 form is not served).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`config_from_pem`] from two files.
pub fn config_from_files(cert: &Path, key: &Path) -> std::io::Result<Arc<ServerConfig>> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    };
    config_from_pem(&read(cert)?, &read(key)?)
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves. A failed TLS handshake
/// (a plain-HTTP client, a client that refuses the certificate) ends that connection only.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(with_peer(router, peer));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// The router with the peer's address in every request, as `into_make_service_with_connect_info`
/// gives it on plain connections (chapter 2's handshake reads it).
fn with_peer(router: Router, peer: SocketAddr) -> Router {
    router.layer(axum::Extension(ConnectInfo(peer)))
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}
