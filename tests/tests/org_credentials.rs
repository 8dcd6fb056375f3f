//! Org-scoped admin credentials through the real `sso-server` and `ssoctl`, on SQLite and on
//! PostgreSQL: the operator creates one, it administers its org (audited under its name), is
//! refused on another org, for the operator's calls and on AuthService, and stops working
//! once revoked or expired.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sso_store::{EventQuery, OrgId, Store};
use system_tests::{RunningServer, ServerOptions};

const AUTH_TOKEN: &str = "auth-secret-for-the-credentials-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-credentials-test";
const ACTOR: &str = "credentials-system-test";

/// Runs `ssoctl FAMILY --server ... --token TOKEN ARGS` off the async workers.
async fn ssoctl(port: u16, family: &str, token: &str, args: &[&str]) -> Output {
    let mut command = Command::new(system_tests::binary("ssoctl"));
    command
        .env_remove("SSO_SERVER")
        .env_remove("SSO_ADMIN_TOKEN")
        .env_remove("SSO_AUTH_TOKEN")
        .env_remove("SSO_ACTOR")
        .args([family, "--server", &format!("http://127.0.0.1:{port}")])
        .args(["--token", token]);
    if family == "admin" {
        command.args(["--actor", ACTOR]);
    }
    command.args(args).stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("ssoctl runs"))
        .await
        .unwrap()
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

/// Asserts a refusal with this gRPC code and reason.
fn assert_refused(output: &Output, code: &str, reason: &str) {
    let json = json_of(output, 1);
    assert_eq!(json["ok"], false, "{json}");
    assert_eq!(json["code"], code, "{json}");
    assert_eq!(json["reason"], reason, "{json}");
}

async fn org_credentials(name: &str, database_url: Option<String>) {
    let options = ServerOptions {
        database_url: database_url.clone(),
        ..ServerOptions::default()
    };
    let mut server = RunningServer::start_with(name, AUTH_TOKEN, ADMIN_TOKEN, options);
    common::wait_until_serving(&mut server).await;
    let port = server.grpc_port;
    let operator =
        async |args: &[&str]| json_of(&ssoctl(port, "admin", ADMIN_TOKEN, args).await, 0);

    let a = operator(&["org", "create", "--name", "A", "--plan", "growth"]).await["org"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = operator(&["org", "create", "--name", "B", "--plan", "growth"]).await["org"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Created by the operator; the secret is printed once.
    let created = operator(&["credentials", "create", &a, "--description", "terraform"]).await;
    assert_eq!(created["ok"], true, "{created}");
    let id = created["credential"]["id"].as_str().unwrap().to_owned();
    let credential = created["secret"].as_str().unwrap().to_owned();
    assert!(
        credential.starts_with(&format!("sso_org_{id}_")),
        "{created}"
    );
    assert_eq!(created["credential"]["org_id"], a.as_str(), "{created}");
    assert_eq!(created["credential"]["created_by"], ACTOR, "{created}");
    assert_eq!(
        created["credential"]["revoked_at"],
        Value::Null,
        "{created}"
    );
    let short_created = Instant::now();
    let short = operator(&[
        "credentials",
        "create",
        &a,
        "--description",
        "short-lived",
        "--ttl",
        "10",
    ])
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let with = async |token: &str, args: &[&str]| ssoctl(port, "admin", token, args).await;

    // It administers its own org.
    let got = json_of(&with(&credential, &["org", "get", &a]).await, 0);
    assert_eq!(got["org"]["name"], "A", "{got}");
    let got = json_of(&with(&short, &["org", "get", &a]).await, 0);
    assert_eq!(got["org"]["id"], a.as_str(), "{got}");
    let metadata = system_tests::corpus_dir().join("metadata/okta/crewjam_okta_idp_metadata.xml");
    let metadata = metadata.to_str().unwrap();
    let imported = json_of(
        &with(
            &credential,
            &["connection", "import", &a, "--metadata", metadata],
        )
        .await,
        0,
    );
    assert_eq!(imported["connection"]["org_id"], a.as_str(), "{imported}");
    let jit = json_of(
        &with(&credential, &["jit", "set", &a, "--role", "member"]).await,
        0,
    );
    assert_eq!(jit["connection"]["jit_role"], "ROLE_MEMBER", "{jit}");

    // Not another org's.
    for args in [
        vec!["org", "get", b.as_str()],
        vec!["jit", "set", b.as_str(), "--role", "member"],
        vec!["traces", b.as_str()],
        vec!["credentials", "list", b.as_str()],
    ] {
        assert_refused(
            &with(&credential, &args).await,
            "PermissionDenied",
            "REASON_CREDENTIAL_WRONG_ORG",
        );
    }
    // Not the operator's calls, even on its own org.
    for args in [
        vec!["org", "create", "--name", "C", "--plan", "growth"],
        vec!["break-glass", a.as_str(), "--justification", "no"],
        vec!["domain", "add", a.as_str(), "example.com"],
        vec!["org", "set-plan", a.as_str(), "enterprise"],
        vec!["credentials", "create", a.as_str(), "--description", "more"],
    ] {
        assert_refused(
            &with(&credential, &args).await,
            "PermissionDenied",
            "REASON_CREDENTIAL_OPERATOR_ONLY",
        );
    }
    // Not AuthService.
    assert_refused(
        &ssoctl(port, "login", &credential, &["begin", "--org", &a]).await,
        "PermissionDenied",
        "REASON_PERMISSION_DENIED",
    );

    // Its changes name it; nothing happened to org B.
    let url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            server.dir().join("sso.sqlite").display()
        )
    });
    let store = Store::connect(&url).await.unwrap();
    let actor_of = async |org: &str, kind: &str| {
        let org = OrgId::new(org.parse().unwrap());
        let events = store
            .list_events(org, &EventQuery::new(100))
            .await
            .unwrap()
            .events;
        events
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.actor.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let named = format!("org-credential:{id}");
    assert_eq!(actor_of(&a, "jit-changed").await, [named.as_str()]);
    assert_eq!(
        actor_of(&a, "idp-metadata-imported").await,
        [named.as_str()]
    );
    assert_eq!(actor_of(&a, "org-credential-created").await, [ACTOR, ACTOR]);
    let b_kinds: Vec<String> = store
        .list_events(OrgId::new(b.parse().unwrap()), &EventQuery::new(100))
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(b_kinds, ["org-created"]);

    // Listed without secrets.
    let listed = ssoctl(port, "admin", ADMIN_TOKEN, &["credentials", "list", &a]).await;
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let listed = json_of(&listed, 0);
    assert_eq!(
        listed["credentials"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    assert_eq!(listed["credentials"][1]["id"], id.as_str(), "{listed}");
    assert!(
        !text.contains(&credential) && !text.contains(&short),
        "{text}"
    );

    // Revoked: refused from then on.
    let revoked = operator(&["credentials", "revoke", &a, &id]).await;
    assert!(revoked["credential"]["revoked_at"].is_string(), "{revoked}");
    assert_refused(
        &with(&credential, &["org", "get", &a]).await,
        "Unauthenticated",
        "REASON_CREDENTIAL_REVOKED",
    );

    // Expired: refused once its 10 seconds are over (waiting at most 40).
    loop {
        let output = with(&short, &["org", "get", &a]).await;
        if output.status.success() {
            assert!(
                short_created.elapsed() < Duration::from_secs(40),
                "still accepted after 40 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        assert_refused(&output, "Unauthenticated", "REASON_CREDENTIAL_EXPIRED");
        assert!(
            short_created.elapsed() >= Duration::from_secs(9),
            "expired early: {:?}",
            short_created.elapsed()
        );
        break;
    }

    // A wrong secret under a real id: unauthenticated, saying nothing about the credential.
    assert_refused(
        &with(&format!("sso_org_{id}_guess"), &["org", "get", &a]).await,
        "Unauthenticated",
        "REASON_UNAUTHENTICATED",
    );

    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_credentials_on_sqlite() {
    org_credentials("org_credentials_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_credentials_on_postgres() {
    sso_testkit::on_postgres("system", "org_credentials", |db| async move {
        org_credentials("org_credentials_postgres", Some(db.url)).await;
    })
    .await;
}
