//! An in-process server with both services over a SQLite temp-file store, a settable clock,
//! and generated clients talking to it over TCP. AdminService is served as `sso-server` serves
//! it, behind the check of org credentials; no service-wide tokens (the caller is the
//! operator unless it presents an org credential).
#![allow(dead_code)]

pub use sso_testkit::idp;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::auth_service_server::AuthServiceServer;
use sso_grpc::{AdminServiceImpl, AuthServiceImpl, Clock};
use sso_provisioning::Provisioner;
use sso_store::Store;
use time::OffsetDateTime;
use tonic::transport::{Channel, Endpoint, Server};

/// 2025-03-01 09:00:00 UTC, the start of every test's clock.
pub const EPOCH: i64 = 1_740_819_600;

/// `EPOCH + seconds`.
pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(EPOCH + seconds).unwrap()
}

pub struct TestServer {
    pub auth: AuthServiceClient<Channel>,
    /// The channel both clients use, for calls made without them.
    pub channel: Channel,
    pub admin: AdminServiceClient<Channel>,
    /// The store the server uses (a clone: closing it closes the server's pool).
    pub store: Store,
    /// Seconds after `EPOCH` the server's clock reads.
    now: Arc<AtomicI64>,
    path: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(test: &str) -> TestServer {
        Self::start_with_dns(test, sso_domains::TxtLookup::default()).await
    }

    /// The server looking domain claims up with `lookup`.
    pub async fn start_with_dns(test: &str, lookup: sso_domains::TxtLookup) -> TestServer {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sso_grpc_{test}_{}_{n}.sqlite", std::process::id()));
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let provisioner = Provisioner::new(store.clone(), idp::BASE_URL);
        let now = Arc::new(AtomicI64::new(0));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || at(now.load(Ordering::SeqCst)))
        };

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let router = Server::builder()
            .add_service(AuthServiceServer::new(AuthServiceImpl::new(
                provisioner.clone(),
                clock.clone(),
            )))
            .add_service(
                AdminServiceImpl::new(provisioner, clock)
                    .with_dns_lookup(lookup)
                    .into_server(),
            );
        let server = tokio::spawn(async move {
            router.serve_with_incoming(incoming).await.unwrap();
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        TestServer {
            auth: AuthServiceClient::new(channel.clone()),
            admin: AdminServiceClient::new(channel.clone()),
            channel,
            store,
            now,
            path,
            server,
        }
    }

    /// Sets the server's clock to `EPOCH + seconds`.
    pub fn set_time(&self, seconds: i64) {
        self.now.store(seconds, Ordering::SeqCst);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}
