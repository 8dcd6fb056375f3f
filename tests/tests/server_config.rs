//! The real `sso-server` configured by a TOML file (`--config`): the file's settings are used
//! where no flag or environment variable gives one, flags beat the environment, the environment
//! beats the file; unknown keys and bad values are refused with their name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::{self, Plan};
use system_tests::{RunningServer, free_port, fresh_dir, run_server_to_exit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const FILE_ADMIN_TOKEN: &str = "admin-secret-from-the-config-file";

async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the response ends within 10 s")?;
    Ok(response)
}

async fn wait_until_serving(server: &mut RunningServer, port: u16) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "sso-server not serving on {port} in time:\n{}",
            server.log()
        );
        if let Ok(channel) = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            let response = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if matches!(response, Ok(r) if r.get_ref().status() == ServingStatus::Serving) {
                return channel;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The human log format's text without its terminal colour codes (`ESC [ ... m`).
fn without_colours(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|&c| c != 'm').for_each(drop);
        } else {
            out.push(c);
        }
    }
    out
}

fn refused(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_fills_what_flags_and_environment_leave_open() {
    let dir = fresh_dir("sso_config_server");
    let [grpc_file, grpc_env, grpc_flag, http_file, http_env] = [(); 5].map(|()| free_port());
    let config = dir.join("sso.toml");
    std::fs::write(
        &config,
        format!(
            r#"# Every listen address is overridden below but for the file's own settings.
listen = "127.0.0.1:{grpc_file}"
http_listen = "127.0.0.1:{http_file}"
database_url = "sqlite://{db}?mode=rwc"
public_base_url = "https://file.example.test"
tokens = ["admin:{FILE_ADMIN_TOKEN}", "auth:auth-secret-from-the-config-file"]
log_format = "json"
worker_threads = 3
"#,
            db = dir.join("sso.sqlite").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    // gRPC: flag beats environment beats file. HTTP: environment beats file.
    let args = [
        "--config".to_owned(),
        config.display().to_string(),
        "--listen".to_owned(),
        format!("127.0.0.1:{grpc_flag}"),
    ];
    let env = [
        ("SSO_LISTEN", format!("127.0.0.1:{grpc_env}")),
        ("SSO_HTTP_LISTEN", format!("127.0.0.1:{http_env}")),
    ];
    let mut server = RunningServer::start_in(dir, grpc_flag, http_env, &args, &env);
    let channel = wait_until_serving(&mut server, grpc_flag).await;
    for port in [grpc_file, grpc_env, http_file] {
        assert!(
            refused(port),
            "something listens on {port}:\n{}",
            server.log()
        );
    }

    // The file's tokens guard AdminService.
    let create = |token: Option<&str>| {
        let mut request = Request::new(v1::CreateOrgRequest {
            name: "Configured Corp".to_owned(),
            plan: Plan::Growth.into(),
        });
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
    };
    let mut admin = AdminServiceClient::new(channel);
    let anonymous = admin.create_org(create(None)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    let org = admin
        .create_org(create(Some(FILE_ADMIN_TOKEN)))
        .await
        .unwrap()
        .into_inner();

    // The file's public base URL is in the SP metadata, served on the environment's port.
    let metadata = http_get(http_env, &format!("/saml/2/metadata/{}", org.id))
        .await
        .unwrap();
    assert!(metadata.starts_with("HTTP/1.1 200 "), "{metadata}");
    assert!(metadata.contains("https://file.example.test"), "{metadata}");

    // The file's log format, and a warning about the file's mode since it holds tokens.
    let log = server.log();
    let first = log.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "not JSON: {first}"
    );
    assert!(log.contains("readable by group or others"), "{log}");
    // The file's worker threads, though the database is SQLite.
    assert!(log.contains(r#""workers":3"#), "{log}");
    assert!(
        !log.contains(FILE_ADMIN_TOKEN),
        "the log shows a token:\n{log}"
    );

    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_with_tokens_readable_only_by_its_owner_draws_no_warning() {
    let dir = fresh_dir("sso_config_private");
    let (grpc_port, http_port) = (free_port(), free_port());
    let config = dir.join("sso.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{grpc_port}\"\nhttp_listen = \"127.0.0.1:{http_port}\"\n\
             database_url = \"sqlite://{}?mode=rwc\"\ntokens = [\"admin:{FILE_ADMIN_TOKEN}\"]\n",
            dir.join("sso.sqlite").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = ["--config".to_owned(), config.display().to_string()];
    let mut server = RunningServer::start_in(dir, grpc_port, http_port, &args, &[]);
    wait_until_serving(&mut server, grpc_port).await;
    let healthz = http_get(http_port, "/healthz").await.unwrap();
    assert!(healthz.starts_with("HTTP/1.1 200 "), "{healthz}");
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let log = server.log();
    assert!(log.contains("serving"), "{log}");
    assert!(!log.contains("readable by group"), "{log}");
    // On SQLite one CPU is left to the database's connection thread, never all of them.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cpus.saturating_sub(1).max(1);
    assert!(
        without_colours(&log).contains(&format!("workers={workers} cpus={cpus}")),
        "{log}"
    );
}

#[test]
fn unknown_keys_and_bad_values_in_the_config_file_are_refused_by_name() {
    let dir = fresh_dir("sso_config_refused");
    let cases: [(&str, &[&str]); 5] = [
        (
            "listen = \"127.0.0.1:1\"\nlisten_adress = \"127.0.0.1:2\"\n",
            &["listen_adress", "unknown field"],
        ),
        ("tokens = [\"root:secret\"]\n", &["tokens entry 1", "root"]),
        ("log_format = \"xml\"\n", &["log_format", "xml"]),
        ("listen = 50051\n", &["listen"]),
        ("worker_threads = 0\n", &["worker_threads", "at least 1"]),
    ];
    for (text, expected) in cases {
        let config = dir.join("sso.toml");
        std::fs::write(&config, text).unwrap();
        let args = [
            "--config".to_owned(),
            config.display().to_string(),
            "--database-url".to_owned(),
            format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()),
        ];
        let (status, stderr) = run_server_to_exit(&dir, &args, &[], Duration::from_secs(30));
        assert!(!status.success(), "{text:?} accepted:\n{stderr}");
        assert!(
            stderr.contains("sso.toml"),
            "{text:?}: no file name in:\n{stderr}"
        );
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{text:?}: no {needle:?} in:\n{stderr}"
            );
        }
    }

    let (status, stderr) = run_server_to_exit(
        &dir,
        &[
            "--config".to_owned(),
            dir.join("absent.toml").display().to_string(),
        ],
        &[],
        Duration::from_secs(30),
    );
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("absent.toml"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
