//! The real `sso-server` with `--tls-cert` / `--tls-key` from a CA made at run time: gRPC and
//! HTTP (1.1 and 2) over TLS, trusted through that CA; plain TCP, an untrusting client, a wrong
//! ALPN and a silent client get nowhere and do not stop the server; bad TLS files stop it at
//! start with a message naming the file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use openssl::nid::Nid;
use openssl::x509::X509;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sso_certgen::{CertifiedKey, KeyType};
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::{self, Plan};
use system_tests::{RunningServer, ServerOptions, free_port, fresh_dir, run_server_to_exit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::Request;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const AUTH_TOKEN: &str = "auth-secret-for-the-tls-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-tls-test";

const P256: KeyType = KeyType::Ec(Nid::X9_62_PRIME256V1);

/// A test CA and a server certificate it signed for `localhost` and 127.0.0.1, written as PEM
/// into `dir`.
struct Pki {
    ca: X509,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let ca = CertifiedKey::builder("sso test CA")
            .key_type(P256)
            .valid_days(0, 1)
            .ca()
            .build()
            .unwrap();
        let leaf = CertifiedKey::builder("localhost")
            .key_type(P256)
            .valid_days(0, 1)
            .dns("localhost")
            .ip("127.0.0.1")
            .server_auth()
            .issued_by(&ca)
            .build()
            .unwrap();
        let ca = ca.certificate().clone();

        let cert = dir.join("server.crt");
        let key_path = dir.join("server.key");
        std::fs::write(&cert, leaf.certificate_pem()).unwrap();
        std::fs::write(&key_path, leaf.key_pem()).unwrap();
        Pki {
            ca,
            cert,
            key: key_path,
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".to_owned(),
            self.cert.display().to_string(),
            "--tls-key".to_owned(),
            self.key.display().to_string(),
        ]
    }

    /// A client that trusts this CA (or nothing, when `trusting` is false) and offers `alpn`.
    fn client(&self, trusting: bool, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        if trusting {
            roots
                .add(CertificateDer::from(self.ca.to_der().unwrap()))
                .unwrap();
        }
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls_openssl::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

async fn tls_connect(
    port: u16,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .unwrap_or_else(|_| panic!("TLS handshake with port {port} timed out"))
}

/// A gRPC channel over TLS through tonic's custom connector (tonic's own TLS features stay off).
async fn tls_channel(
    port: u16,
    config: Arc<ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let connector = tower::service_fn(move |_: Uri| {
        let config = Arc::clone(&config);
        async move { tls_connect(port, config).await.map(TokioIo::new) }
    });
    Endpoint::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(connector)
        .await
}

async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "sso.v1.AdminService".to_owned(),
        })
        .await?;
    Ok(response.get_ref().status())
}

async fn wait_until_serving_tls(server: &mut RunningServer, pki: &Pki) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "sso-server not serving over TLS in time:\n{}",
            server.log()
        );
        if let Ok(channel) = tls_channel(server.grpc_port, pki.client(true, &[b"h2"])).await {
            if matches!(health(channel.clone()).await, Ok(ServingStatus::Serving)) {
                return channel;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET path` over HTTP/1.1 on `stream`; the whole response as text.
async fn http1_get<S>(mut stream: S, path: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the response ends within 10 s");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_grpc_and_http_and_turns_away_what_does_not_speak_it() {
    let pki_dir = fresh_dir("sso_tls_pki");
    let pki = Pki::new(&pki_dir);
    let mut server = RunningServer::start_with(
        "sso_tls_server",
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            args: pki.args(),
            ..ServerOptions::default()
        },
    );
    let (grpc_port, http_port) = (server.grpc_port, server.http_port);
    let channel = wait_until_serving_tls(&mut server, &pki).await;

    // gRPC over TLS with a token.
    let mut request = Request::new(v1::CreateOrgRequest {
        name: "Secure Corp".to_owned(),
        plan: Plan::Growth.into(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let org = AdminServiceClient::new(channel)
        .create_org(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.name, "Secure Corp");

    // HTTP/1.1 over TLS.
    let stream = tls_connect(http_port, pki.client(true, &[b"http/1.1"]))
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let healthz = http1_get(stream, "/healthz").await;
    assert!(healthz.starts_with("HTTP/1.1 200 "), "{healthz}");
    assert!(healthz.ends_with("\r\n\r\nok"), "{healthz}");

    // HTTP/2 over TLS on the HTTP listener, chosen by ALPN.
    let stream = tls_connect(http_port, pki.client(true, &[b"h2", b"http/1.1"]))
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(format!("https://localhost:{http_port}/healthz"))
        .body(Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok");
    drop(sender);
    driver.abort();

    // The gRPC listener offers HTTP/2 only.
    let wrong_alpn = tls_connect(grpc_port, pki.client(true, &[b"http/1.1"])).await;
    assert!(wrong_alpn.is_err(), "HTTP/1.1-only ALPN accepted on gRPC");

    // A client that does not trust the CA refuses the server.
    let untrusted = tls_connect(http_port, pki.client(false, &[b"http/1.1"])).await;
    let error = untrusted.expect_err("a client without the CA accepted the certificate");
    assert!(
        error.to_string().to_lowercase().contains("unknown"),
        "{error}"
    );

    // Plain gRPC and plain HTTP on the TLS ports get no answer.
    let plain = async {
        let channel = Endpoint::from_shared(format!("http://127.0.0.1:{grpc_port}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        health(channel).await.map_err(|e| e.to_string())
    };
    let plain = plain.await;
    assert!(
        plain.is_err(),
        "plain gRPC answered over the TLS port: {plain:?}"
    );
    let tcp = TcpStream::connect(("127.0.0.1", http_port)).await.unwrap();
    let plain_http = http1_get(tcp, "/healthz").await;
    assert!(!plain_http.contains("HTTP/1.1 200"), "{plain_http}");

    // None of that stopped the accept loops.
    server.assert_running();
    let stream = tls_connect(http_port, pki.client(true, &[b"http/1.1"]))
        .await
        .unwrap();
    let healthz = http1_get(stream, "/healthz").await;
    assert!(healthz.starts_with("HTTP/1.1 200 "), "{healthz}");
    let channel = tls_channel(grpc_port, pki.client(true, &[b"h2"]))
        .await
        .unwrap();
    assert_eq!(health(channel).await.unwrap(), ServingStatus::Serving);

    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let log = server.log();
    assert!(log.contains(r#""tls":true"#), "{log}");
    let _ = std::fs::remove_dir_all(&pki_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_handshake_is_closed_after_the_timeout() {
    let pki_dir = fresh_dir("sso_tls_silent_pki");
    let pki = Pki::new(&pki_dir);
    let mut server = RunningServer::start_with(
        "sso_tls_silent",
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            args: pki.args(),
            ..ServerOptions::default()
        },
    );
    wait_until_serving_tls(&mut server, &pki).await;

    let mut silent = TcpStream::connect(("127.0.0.1", server.http_port))
        .await
        .unwrap();
    let connected = Instant::now();
    let mut buf = [0_u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(30), silent.read(&mut buf))
        .await
        .expect("the server closes a silent connection within 30 s");
    let waited = connected.elapsed();
    // Closed (end of stream or reset) without a byte of TLS from us.
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        waited >= Duration::from_secs(9) && waited <= Duration::from_secs(20),
        "closed after {waited:?}, expected about 10 s"
    );
    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&pki_dir);
}

#[test]
fn bad_tls_files_stop_the_server_at_start_with_a_message_naming_them() {
    let dir = fresh_dir("sso_tls_bad_files");
    let pki = Pki::new(&dir);
    let other_key = dir.join("other.key");
    let other = CertifiedKey::builder("other")
        .key_type(P256)
        .build()
        .unwrap();
    std::fs::write(&other_key, other.key_pem()).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let cert = pki.cert.display().to_string();
    let key = pki.key.display().to_string();

    let cases: [(Vec<String>, &[&str]); 5] = [
        (
            vec![
                "--tls-cert".into(),
                missing.display().to_string(),
                "--tls-key".into(),
                key.clone(),
            ],
            &["--tls-cert", "missing.pem", "No such file"],
        ),
        (
            vec![
                "--tls-cert".into(),
                cert.clone(),
                "--tls-key".into(),
                missing.display().to_string(),
            ],
            &["--tls-key", "missing.pem", "No such file"],
        ),
        (
            vec![
                "--tls-cert".into(),
                garbage.display().to_string(),
                "--tls-key".into(),
                key,
            ],
            &["--tls-cert", "garbage.pem", "certificate"],
        ),
        (
            vec![
                "--tls-cert".into(),
                cert.clone(),
                "--tls-key".into(),
                other_key.display().to_string(),
            ],
            &["other.key", "does not belong to the certificate"],
        ),
        (
            vec!["--tls-cert".into(), cert],
            &["--tls-cert needs --tls-key"],
        ),
    ];
    for (tls_args, expected) in cases {
        let mut args = vec![
            "--listen".to_owned(),
            format!("127.0.0.1:{}", free_port()),
            "--http-listen".to_owned(),
            format!("127.0.0.1:{}", free_port()),
            "--database-url".to_owned(),
            format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()),
            "--token".to_owned(),
            format!("admin:{ADMIN_TOKEN}"),
        ];
        args.extend(tls_args);
        let (status, stderr) = run_server_to_exit(&dir, &args, &[], Duration::from_secs(30));
        assert!(!status.success(), "{args:?} started:\n{stderr}");
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{args:?}: no {needle:?} in:\n{stderr}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
