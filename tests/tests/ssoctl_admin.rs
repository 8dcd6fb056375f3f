//! `ssoctl admin ...` against the real `sso-server` binary on free loopback ports with a
//! token per scope, then the server stopped with SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const AUTH_TOKEN: &str = "auth-secret-for-the-ssoctl-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-ssoctl-test";

/// The server process; killed if the test fails before stopping it.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ssoctl admin --server ... [--token ...] ARGS`, with no admin environment inherited.
fn ssoctl_admin(port: u16, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(system_tests::binary("ssoctl"));
    command
        .env_remove("SSO_SERVER")
        .env_remove("SSO_ADMIN_TOKEN")
        .env_remove("SSO_ACTOR")
        .args(["admin", "--server", &format!("http://127.0.0.1:{port}")])
        .args(["--actor", "ssoctl-system-test"]);
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    command
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
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn wait_until_listening(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("sso-server exited early ({status}):\n{}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "sso-server not listening in time:\n{}",
            server.log()
        );
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ssoctl_admin_drives_a_running_server() {
    let binary = system_tests::binary("sso-server");
    let dir = std::env::temp_dir().join(format!("ssoctl_admin_test_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (grpc_port, http_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("server.log")).unwrap();

    let child = Command::new(binary)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["--listen", &format!("127.0.0.1:{grpc_port}")])
        .args(["--http-listen", &format!("127.0.0.1:{http_port}")])
        .args([
            "--database-url",
            &format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()),
        ])
        .args(["--public-base-url", "https://sso.example.test"])
        .args(["--token", &format!("auth:{AUTH_TOKEN}")])
        .args(["--token", &format!("admin:{ADMIN_TOKEN}")])
        .args(["--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server { child, dir };
    wait_until_listening(&mut server, grpc_port);

    let admin = |args: &[&str]| ssoctl_admin(grpc_port, Some(ADMIN_TOKEN), args);

    // The server may listen a moment before it serves: retry the first call briefly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let created = loop {
        let output = admin(&[
            "org",
            "create",
            "--name",
            "Example Corp",
            "--plan",
            "growth",
        ]);
        if output.status.success() || Instant::now() > deadline {
            break json_of(&output, 0);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(created["ok"], true, "{created}");
    assert_eq!(created["org"]["plan"], "PLAN_GROWTH", "{created}");
    let org = created["org"]["id"].as_str().unwrap().to_owned();
    assert!(!org.is_empty(), "{created}");

    let got = json_of(&admin(&["org", "get", &org]), 0);
    assert_eq!(got["org"]["name"], "Example Corp", "{got}");

    let domain = json_of(&admin(&["domain", "add", &org, "example.com"]), 0);
    assert_eq!(
        domain["org"]["verified_domains"],
        serde_json::json!(["example.com"]),
        "{domain}"
    );

    let metadata = system_tests::corpus_dir().join("metadata/okta/crewjam_okta_idp_metadata.xml");
    let imported = json_of(
        &admin(&[
            "connection",
            "import",
            &org,
            "--metadata",
            metadata.to_str().unwrap(),
        ]),
        0,
    );
    assert_eq!(imported["connection"]["org_id"], org.as_str(), "{imported}");
    assert!(
        !imported["connection"]["idp_entity_id"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{imported}"
    );

    let enabled = json_of(&admin(&["connection", "enable", &org]), 0);
    assert_eq!(enabled["connection"]["enabled"], true, "{enabled}");

    // No successful SSO login with this configuration yet: lockout protection refuses.
    let refused = json_of(&admin(&["require-sso", &org, "on"]), 1);
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(
        refused["reason"], "REASON_NO_SSO_LOGIN_SINCE_CHANGE",
        "{refused}"
    );
    assert!(refused["code"].is_string(), "{refused}");
    assert!(refused["message"].is_string(), "{refused}");

    let traces = json_of(&admin(&["traces", &org]), 0);
    assert_eq!(traces["ok"], true, "{traces}");
    let events = traces["traces"].as_array().unwrap();
    assert!(!events.is_empty(), "{traces}");
    for event in events {
        assert!(event["id"].is_string(), "{traces}");
        assert!(event["kind"].is_string(), "{traces}");
    }

    // A wrong token: refused as unauthenticated.
    let unknown = json_of(
        &ssoctl_admin(grpc_port, Some("not-a-token"), &["org", "get", &org]),
        1,
    );
    assert_eq!(unknown["ok"], false, "{unknown}");
    assert_eq!(unknown["code"], "Unauthenticated", "{unknown}");
    assert_eq!(unknown["reason"], "REASON_UNAUTHENTICATED", "{unknown}");

    // A usage error: exit 2 without a call.
    let usage = admin(&["require-sso", &org, "maybe"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    // SIGTERM: a clean exit, soon.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "sso-server did not stop within 10 s of SIGTERM:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}:\n{}", server.log());

    // With the server gone: a connection failure, exit 1 with a message on stderr.
    let gone = admin(&["org", "get", &org]);
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("cannot connect"),
        "{gone:?}"
    );
}
