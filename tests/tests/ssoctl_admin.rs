//! `ssoctl admin ...` against the real `sso-server` binary on free loopback ports with a
//! token per scope, then the server stopped with SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use system_tests::RunningServer;

const AUTH_TOKEN: &str = "auth-secret-for-the-ssoctl-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-ssoctl-test";

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

fn wait_until_listening(server: &mut RunningServer, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.assert_running();
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
    let mut server = RunningServer::start("ssoctl_admin_test", AUTH_TOKEN, ADMIN_TOKEN);
    let grpc_port = server.grpc_port;
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
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());

    // With the server gone: a connection failure, exit 1 with a message on stderr.
    let gone = admin(&["org", "get", &org]);
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("cannot connect"),
        "{gone:?}"
    );
}
