//! Optional TLS on both listeners: rustls with OpenSSL as its crypto provider (the workspace's
//! one crypto library). An accept loop per listener takes TCP connections, runs each handshake in
//! its own task under a timeout, and hands finished streams to tonic (as its incoming stream) or
//! to axum (as a [`Listener`]). A failed or slow handshake costs only its own connection.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress per listener; connections beyond it are closed at once, so a flood of
/// idle connections cannot hold unbounded memory.
const MAX_PENDING_HANDSHAKES: usize = 512;
/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;
/// A PEM file larger than this is not a certificate chain or a key.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// The rustls configuration of each listener: one certificate and key, different ALPN.
#[derive(Debug)]
pub struct TlsConfigs {
    /// gRPC: HTTP/2 only.
    pub grpc: Arc<ServerConfig>,
    /// The HTTP listener: HTTP/2 or HTTP/1.1.
    pub http: Arc<ServerConfig>,
}

impl TlsConfigs {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1,
    /// unencrypted), checks that the key belongs to the leaf certificate, and builds both
    /// configurations, so that any problem stops the start before the database is touched.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, String> {
        let cert_pem = read_pem(cert).map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        let key_pem = read_pem(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
        let certs = X509::stack_from_pem(&cert_pem).map_err(|e| {
            format!(
                "--tls-cert {}: not a PEM certificate chain: {e}",
                cert.display()
            )
        })?;
        let leaf = certs
            .first()
            .ok_or_else(|| format!("--tls-cert {}: no certificate in the file", cert.display()))?;
        let key_pair: PKey<Private> = PKey::private_key_from_pem(&key_pem).map_err(|e| {
            format!(
                "--tls-key {}: not an unencrypted PEM private key: {e}",
                key.display()
            )
        })?;
        let leaf_key = leaf
            .public_key()
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        if !leaf_key.public_eq(&key_pair) {
            return Err(format!(
                "--tls-key {} does not belong to the certificate in --tls-cert {}",
                key.display(),
                cert.display()
            ));
        }
        let chain = certs
            .iter()
            .map(|c| c.to_der().map(CertificateDer::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        let key_der = key_pair
            .private_key_to_pkcs8()
            .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
        let key = PrivatePkcs8KeyDer::from(key_der);
        Ok(TlsConfigs {
            grpc: server_config(&chain, &key, &[b"h2"])?,
            http: server_config(&chain, &key, &[b"h2", b"http/1.1"])?,
        })
    }
}

/// A rustls server configuration with OpenSSL as its crypto provider.
fn server_config(
    chain: &[CertificateDer<'static>],
    key: &PrivatePkcs8KeyDer<'static>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls_openssl::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain.to_vec(), PrivateKeyDer::Pkcs8(key.clone_key()))
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Reads a file of bounded size.
fn read_pem(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut pem = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut pem)?;
    if pem.len() as u64 > MAX_PEM_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_PEM_BYTES} bytes"),
        ));
    }
    Ok(pem)
}

/// One accepted connection after its handshake.
#[derive(Debug)]
pub struct TlsConn {
    stream: TlsStream<TcpStream>,
    peer: SocketAddr,
}

impl Connected for TlsConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.get_ref().0.connect_info()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Starts the accept loop on `listener`; it runs until `stop` turns true (or its sender is
/// gone) and yields connections whose handshake succeeded.
pub fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
) -> mpsc::Receiver<TlsConn> {
    let (ready_tx, ready_rx) = mpsc::channel(READY_QUEUE);
    let acceptor = TlsAcceptor::from(config);
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: the error is the listener's, not
                    // one client's; pause so that the loop does not spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
                tracing::debug!(%peer, "too many TLS handshakes in progress: connection closed");
                continue;
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%peer, "TCP_NODELAY: {e}");
            }
            let acceptor = acceptor.clone();
            let ready_tx = ready_tx.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                drop(permit);
                match handshake {
                    Ok(Ok(stream)) => {
                        // An error means the server has stopped taking connections.
                        let _ = ready_tx.send(TlsConn { stream, peer }).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ready_rx
}

/// The finished connections as tonic's incoming stream.
pub fn incoming(ready: mpsc::Receiver<TlsConn>) -> impl Stream<Item = io::Result<TlsConn>> {
    use tokio_stream::StreamExt;
    ReceiverStream::new(ready).map(Ok)
}

/// The finished connections as an axum listener.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<TlsConn>,
    local_addr: SocketAddr,
}

impl TlsListener {
    pub fn new(ready: mpsc::Receiver<TlsConn>, local_addr: SocketAddr) -> Self {
        TlsListener { ready, local_addr }
    }
}

impl Listener for TlsListener {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TlsConn, SocketAddr) {
        match self.ready.recv().await {
            Some(conn) => {
                let peer = conn.peer;
                (conn, peer)
            }
            // The accept loop has stopped, so does the server (graceful shutdown): no more
            // connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}
