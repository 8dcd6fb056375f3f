//! Signed IdP metadata by URL through the real `sso-server` and `ssoctl`, on SQLite and on
//! PostgreSQL: the metadata is served over HTTPS by a local server whose certificate the
//! service trusts through `SSL_CERT_FILE` (a CA made at run time), and signed with xmlsec1.
//! With a pinned signing certificate the import is accepted, a tampered document is refused on
//! import, and a refresh after the served file is tampered keeps the configuration while the
//! trace says why.
//!
//! Runs on PostgreSQL when `SSO_TEST_DATABASE_URL` is set (it fails when that database is
//! unreachable) and says NOT RUN otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpStream as StdTcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use sso_certgen::CertifiedKey;
use sso_testkit::idp::{IDP_SSO_URL, Idp};
use system_tests::{RunningServer, ServerOptions, fresh_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const AUTH_TOKEN: &str = "auth-secret-for-the-signed-metadata-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-signed-metadata-test";

/// What the HTTPS metadata server answers, changed by the test.
#[derive(Clone)]
struct Served(Arc<Mutex<Vec<u8>>>);

impl Served {
    fn set(&self, body: &[u8]) {
        *self.0.lock().unwrap() = body.to_vec();
    }
}

/// An HTTPS server on 127.0.0.1 for `localhost`, with a certificate issued by a CA written
/// as PEM to `ca_file`; returns its metadata URL. It runs on a thread and runtime of its own,
/// so that the test blocking on `ssoctl` never starves it.
fn https_metadata_server(ca_file: &Path, served: Served) -> String {
    let ca = CertifiedKey::builder("signed metadata test CA")
        .valid_days(0, 1)
        .ca()
        .build()
        .unwrap();
    let leaf = CertifiedKey::builder("localhost")
        .valid_days(0, 1)
        .dns("localhost")
        .ip("127.0.0.1")
        .server_auth()
        .issued_by(&ca)
        .build()
        .unwrap();
    std::fs::write(ca_file, ca.certificate_pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        leaf.key().private_key_to_pkcs8().unwrap(),
    ));
    let chain = vec![CertificateDer::from(leaf.certificate_der().to_vec())];
    let config = ServerConfig::builder_with_provider(Arc::new(rustls_openssl::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    std::thread::spawn(move || runtime.block_on(serve(listener, acceptor, served)));
    format!("https://localhost:{port}/federation/metadata.xml")
}

/// Answers every request on `listener` with what `served` holds, until the process ends.
async fn serve(listener: std::net::TcpListener, acceptor: TlsAcceptor, served: Served) {
    let listener = TcpListener::from_std(listener).unwrap();
    while let Ok((tcp, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        let body = served.0.lock().unwrap().clone();
        tokio::spawn(async move {
            let Ok(mut stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let mut raw = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(&body);
            let _ = stream.write_all(&raw).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// `ssoctl admin --server ... --token ... ARGS`, with no admin environment inherited.
fn ssoctl_admin(port: u16, args: &[&str]) -> Output {
    Command::new(system_tests::binary("ssoctl"))
        .env_remove("SSO_SERVER")
        .env_remove("SSO_ADMIN_TOKEN")
        .env_remove("SSO_ACTOR")
        .args(["admin", "--server", &format!("http://127.0.0.1:{port}")])
        .args(["--actor", "signed-metadata-test", "--token", ADMIN_TOKEN])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ssoctl runs")
}

/// The one JSON object on stdout, after checking the exit code.
fn json_of(output: &Output, code: i32) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn wait_until_listening(server: &mut RunningServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "sso-server not listening in time:\n{}",
            server.log()
        );
        if StdTcpStream::connect(("127.0.0.1", server.grpc_port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The org's newest trace, through `ssoctl admin traces`.
fn newest_trace(port: u16, org: &str) -> Value {
    let traces = json_of(&ssoctl_admin(port, &["traces", org]), 0);
    traces["traces"][0].clone()
}

/// A connection's JSON without its metadata source, which records refreshes: what a failed
/// refresh must leave as it was.
fn configuration(connection: &Value) -> Value {
    let mut connection = connection.clone();
    if let Some(fields) = connection.as_object_mut() {
        fields.remove("metadata_source");
    }
    connection
}

async fn signed_metadata_by_url(name: &str, database_url: Option<String>) {
    let idp = Idp::generate("signed metadata idp");
    let publisher = Idp::generate("signed metadata publisher");
    let stranger = Idp::generate("signed metadata stranger");
    let signed = publisher.sign_metadata_with_xmlsec1(
        &idp.metadata_with_id().replacen(
            "ID=\"_metadata\"",
            "ID=\"_metadata\" validUntil=\"2099-01-01T00:00:00Z\" cacheDuration=\"PT6H\"",
            1,
        ),
        "_metadata",
    );
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace(IDP_SSO_URL, "https://evil.example/sso")
        .into_bytes();
    assert_ne!(tampered, signed);

    let files = fresh_dir(&format!("{name}_files"));
    let ca_file = files.join("ca.pem");
    let pin_file = files.join("publisher.pem");
    std::fs::write(&pin_file, publisher.certificate_pem()).unwrap();
    let served = Served(Arc::new(Mutex::new(signed.clone())));
    let url = https_metadata_server(&ca_file, served.clone());

    let mut server = RunningServer::start_with(
        name,
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url,
            args: vec!["--allow-http-metadata-loopback".into()],
            env: vec![("SSL_CERT_FILE".into(), ca_file.display().to_string())],
            ..ServerOptions::default()
        },
    );
    wait_until_listening(&mut server);
    let port = server.grpc_port;
    let admin = |args: &[&str]| ssoctl_admin(port, args);

    // The server may listen a moment before it serves: retry the first call briefly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let created = loop {
        let output = admin(&["org", "create", "--name", "Signed", "--plan", "enterprise"]);
        if output.status.success() || Instant::now() > deadline {
            break json_of(&output, 0);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let org = created["org"]["id"].as_str().unwrap().to_owned();
    let pin = pin_file.to_str().unwrap();
    let import_url = |refresh: &str| {
        admin(&[
            "connection",
            "import-url",
            &org,
            "--url",
            &url,
            "--refresh-every",
            refresh,
            "--signing-cert",
            pin,
        ])
    };

    // Tampered on import: refused with the reason, nothing stored.
    served.set(&tampered);
    let refused = json_of(&import_url("3600"), 1);
    assert_eq!(
        refused["reason"], "REASON_METADATA_SIGNATURE_INVALID",
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("digest-mismatch"),
        "{refused}"
    );
    // Signed by someone else: refused too.
    served.set(&stranger.sign_metadata_with_xmlsec1(&idp.metadata_with_id(), "_metadata"));
    let refused = json_of(&import_url("3600"), 1);
    assert_eq!(
        refused["reason"], "REASON_METADATA_UNTRUSTED_KEY",
        "{refused}"
    );
    let trace = newest_trace(port, &org);
    assert_eq!(trace["kind"], "idp-metadata-imported", "{trace}");
    assert_eq!(trace["reason_code"], "metadata-untrusted-key", "{trace}");

    // Signed by the pinned key: imported over HTTPS; the pin and lifetime are shown.
    served.set(&signed);
    let imported = json_of(&import_url("3600"), 0);
    let connection = imported["connection"].clone();
    assert_eq!(connection["config_version"], 1, "{imported}");
    let source = &imported["source"];
    let pinned_fingerprint = sso_grpc_fingerprint(&publisher.certificate_pem());
    assert_eq!(
        source["signing_certificate_fingerprint"], pinned_fingerprint,
        "{imported}"
    );
    assert_eq!(source["valid_until"], "2099-01-01T00:00:00Z", "{imported}");
    assert_eq!(source["cache_duration_seconds"], 6 * 3600, "{imported}");
    assert_eq!(source["refresh_interval_seconds"], 3600, "{imported}");
    // The cache duration (6 h) is longer than the interval (1 h): the interval schedules.
    assert!(source["next_refresh_at"].is_string(), "{imported}");

    // The served file is tampered: a refresh keeps the configuration and the trace says why.
    served.set(&tampered);
    let refreshed = json_of(&admin(&["connection", "refresh", &org]), 0);
    assert_eq!(refreshed["refresh"]["result"], "failed", "{refreshed}");
    assert_eq!(
        refreshed["refresh"]["reason"], "REASON_METADATA_SIGNATURE_INVALID",
        "{refreshed}"
    );
    assert_eq!(
        configuration(&refreshed["connection"]),
        configuration(&connection),
        "{refreshed}"
    );
    assert_eq!(
        refreshed["source"]["last_refresh_result"], "metadata-signature-invalid",
        "{refreshed}"
    );
    let trace = newest_trace(port, &org);
    assert_eq!(trace["kind"], "idp-metadata-refreshed", "{trace}");
    assert_eq!(trace["outcome"], "refused", "{trace}");
    assert_eq!(
        trace["reason"], "REASON_METADATA_SIGNATURE_INVALID",
        "{trace}"
    );
    assert!(
        trace["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("digest-mismatch"),
        "{trace}"
    );
    assert_eq!(trace["detail"]["kept"]["config_version"], 1, "{trace}");

    // Unsigned now: refused the same way, with its own reason.
    served.set(&idp.metadata());
    let refreshed = json_of(&admin(&["connection", "refresh", &org]), 0);
    assert_eq!(
        refreshed["refresh"]["reason_code"], "metadata-unsigned",
        "{refreshed}"
    );
    assert_eq!(
        configuration(&refreshed["connection"]),
        configuration(&connection),
        "{refreshed}"
    );

    // Signed again: the refresh goes through, nothing changed.
    served.set(&signed);
    let refreshed = json_of(&admin(&["connection", "refresh", &org]), 0);
    assert_eq!(refreshed["refresh"]["result"], "unchanged", "{refreshed}");

    server.stop(Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&files);
}

/// The SHA-256 fingerprint of a PEM certificate, as the service prints it.
fn sso_grpc_fingerprint(pem: &str) -> String {
    let der = openssl::x509::X509::from_pem(pem.as_bytes())
        .unwrap()
        .digest(openssl::hash::MessageDigest::sha256())
        .unwrap();
    der.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_metadata_by_url_on_sqlite() {
    signed_metadata_by_url("signed_metadata_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_metadata_by_url_on_postgres() {
    sso_testkit::on_postgres("system", "signed_metadata", |db| async move {
        signed_metadata_by_url("signed_metadata_postgres", Some(db.url)).await;
    })
    .await;
}
