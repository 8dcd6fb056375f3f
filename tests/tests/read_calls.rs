//! The admin's read calls through the real `sso-server` and `ssoctl` binaries, on SQLite and on
//! PostgreSQL: `connection get` before and after a login, `org list` paging, and `org get`
//! saying whether "require SSO" is in effect through a plan downgrade and upgrade, identical
//! metadata re-imported, and a wrong certificate imported while it is on. Logins and password
//! checks go through AuthService as a product service would call it.
//!
//! PostgreSQL runs when `SSO_TEST_DATABASE_URL` is set (it fails when that is set and the
//! server is down; without it, it says NOT RUN).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Reason};
use sso_store::OrgId;
use sso_testkit::idp::{BASE_URL, Idp, Response};
use system_tests::{RunningServer, ServerOptions};
use time::OffsetDateTime;
use tonic::transport::Channel;

mod common;
use common::{wait_until_serving, with_token};

const AUTH: &str = "auth-token-of-the-read-calls-test";
const ADMIN: &str = "admin-token-of-the-read-calls-test";
const ALICE: &str = "alice@reads.example";

/// `ssoctl admin --server ... --token ADMIN ARGS`: (exit code, the one JSON object printed).
fn ssoctl(port: u16, args: &[&str]) -> (i32, Value) {
    let output = tokio::task::block_in_place(|| {
        Command::new(system_tests::binary("ssoctl"))
            .env_remove("SSO_SERVER")
            .env_remove("SSO_ADMIN_TOKEN")
            .env_remove("SSO_ACTOR")
            .args(["admin", "--server", &format!("http://127.0.0.1:{port}")])
            .args(["--token", ADMIN, "--actor", "read-calls-test"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ssoctl runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stdout.lines().count(), 1, "{args:?}\n{stdout}\n{stderr}");
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (output.status.code().unwrap_or(-1), json)
}

/// [`ssoctl`] that must succeed.
fn ok(port: u16, args: &[&str]) -> Value {
    let (code, json) = ssoctl(port, args);
    assert_eq!(code, 0, "{args:?}: {json}");
    assert_eq!(json["ok"], true, "{json}");
    json
}

/// The require-SSO fields `org get` prints: (setting, in effect, status).
fn require(port: u16, org: &str) -> (bool, bool, String) {
    let json = ok(port, &["org", "get", org]);
    let org = &json["org"];
    let explanation = org["require_sso_explanation"].as_str().unwrap();
    assert!(explanation.ends_with('.'), "{json}");
    (
        org["require_sso"].as_bool().unwrap(),
        org["require_sso_in_effect"].as_bool().unwrap(),
        org["require_sso_status"].as_str().unwrap().to_owned(),
    )
}

fn status(setting: bool, in_effect: bool, code: &str) -> (bool, bool, String) {
    (setting, in_effect, code.to_owned())
}

fn write_metadata(dir: &Path, name: &str, idp: &Idp) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, idp.metadata()).unwrap();
    path
}

/// An SP-initiated login of `email` answered by `idp`: `Ok` when it signed in.
async fn login(
    auth: &mut AuthServiceClient<Channel>,
    idp: &Idp,
    org: &str,
    email: &str,
    n: u32,
) -> Result<(), tonic::Status> {
    let start = auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::OrgId(org.to_owned())),
                return_target: String::new(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    let response = idp.response(
        &Response::new(
            OrgId::new(org.parse().unwrap()),
            &format!("_read{n}"),
            email,
            OffsetDateTime::now_utc(),
        )
        .answering(&start.request_id),
    );
    auth.complete_sso_login(with_token(
        v1::CompleteSsoLoginRequest {
            org_id: org.to_owned(),
            saml_response: String::from_utf8(response).unwrap(),
            relay_state: start.relay_state,
        },
        Some(AUTH),
    ))
    .await
    .map(|_| ())
}

/// Whether the password check allows `email` at `org`, and its reason.
async fn password(auth: &mut AuthServiceClient<Channel>, org: &str, email: &str) -> (bool, Reason) {
    let answer = auth
        .check_password_login(with_token(
            v1::CheckPasswordLoginRequest {
                email: email.to_owned(),
                org_id: org.to_owned(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    (answer.allowed, answer.reason())
}

async fn read_calls(name: &str, database_url: Option<String>) {
    let idp = Idp::generate("read-calls IdP");
    let wrong = Idp::generate("read-calls IdP, a key it does not use");
    let options = ServerOptions {
        database_url,
        public_base_url: Some(BASE_URL.to_owned()),
        ..ServerOptions::default()
    };
    let mut server = RunningServer::start_with(name, AUTH, ADMIN, options);
    let channel = wait_until_serving(&mut server).await;
    let mut auth = AuthServiceClient::new(channel);
    let port = server.grpc_port;
    let good_xml = write_metadata(server.dir(), "idp.xml", &idp);
    let wrong_xml = write_metadata(server.dir(), "wrong.xml", &wrong);

    let created = ok(
        port,
        &["org", "create", "--name", "Reads Inc", "--plan", "growth"],
    );
    let org = created["org"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["org"]["require_sso_status"], "off", "{created}");
    ok(port, &["domain", "add", &org, "reads.example"]);

    // No connection yet: NOT_FOUND, REASON_NO_CONNECTION, exit 1.
    let (code, none) = ssoctl(port, &["connection", "get", &org]);
    assert_eq!(code, 1, "{none}");
    assert_eq!(none["code"], "NotFound", "{none}");
    assert_eq!(none["reason"], "REASON_NO_CONNECTION", "{none}");
    assert_eq!(require(port, &org), status(false, false, "off"));

    // Imported inline, with the default options; then options set and shown.
    let good = good_xml.to_str().unwrap();
    ok(port, &["connection", "import", &org, "--metadata", good]);
    let got = ok(port, &["connection", "get", &org]);
    let c = &got["connection"];
    assert_eq!(c["metadata_origin"], "inline", "{got}");
    assert_eq!(c["metadata_source"], Value::Null, "{got}");
    assert_eq!(c["allow_unsolicited"], false, "{got}");
    assert_eq!(c["allow_sha1"], false, "{got}");
    assert_eq!(c["clock_skew_seconds"], 180, "{got}");
    assert_eq!(c["proven"], false, "{got}");
    assert_eq!(c["last_successful_login_at"], Value::Null, "{got}");
    assert!(c["configuration_changed_at"].is_string(), "{got}");
    ok(port, &["connection", "enable", &org]);
    ok(port, &["jit", "set", &org, "--role", "member"]);
    let set = ok(
        port,
        &[
            "connection",
            "options",
            &org,
            "--allow-unsolicited",
            "--clock-skew",
            "300",
        ],
    );
    assert_eq!(set["connection"]["allow_unsolicited"], true, "{set}");
    let got = ok(port, &["connection", "get", &org]);
    let c = &got["connection"];
    assert_eq!(
        (
            &c["allow_unsolicited"],
            &c["allow_sha1"],
            &c["clock_skew_seconds"]
        ),
        (&Value::from(true), &Value::from(false), &Value::from(300)),
        "{got}"
    );
    assert_eq!(c["proven"], false, "{got}");
    let version = c["config_version"].as_u64().unwrap();

    // A login proves the configuration.
    login(&mut auth, &idp, &org, ALICE, 1).await.unwrap();
    let got = ok(port, &["connection", "get", &org]);
    assert_eq!(got["connection"]["proven"], true, "{got}");
    assert!(
        got["connection"]["last_successful_login_at"].is_string(),
        "{got}"
    );
    assert_eq!(got["connection"]["config_version"], version, "{got}");

    // Require SSO: enforced; a member's password login is refused.
    ok(port, &["require-sso", &org, "on"]);
    assert_eq!(require(port, &org), status(true, true, "enforced"));
    assert_eq!(
        password(&mut auth, &org, ALICE).await,
        (false, Reason::SsoRequired)
    );

    // The same metadata again: no change; still proven, still enforced.
    let again = ok(port, &["connection", "import", &org, "--metadata", good]);
    assert_eq!(again["connection"]["config_version"], version, "{again}");
    assert_eq!(again["connection"]["proven"], true, "{again}");
    assert_eq!(require(port, &org), status(true, true, "enforced"));
    let traces = ok(port, &["traces", &org, "--page-size", "100"]);
    let last_import = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "idp-metadata-imported")
        .unwrap();
    assert_eq!(last_import["reason_code"], "unchanged", "{traces}");

    // A downgrade suspends it, the setting kept; the upgrade brings it back.
    let down = ok(port, &["org", "set-plan", &org, "plus"]);
    assert_eq!(down["org"]["require_sso"], true, "{down}");
    assert_eq!(down["org"]["require_sso_in_effect"], false, "{down}");
    assert_eq!(
        down["org"]["require_sso_status"], "plan-without-sso",
        "{down}"
    );
    assert!(password(&mut auth, &org, ALICE).await.0);
    ok(port, &["org", "set-plan", &org, "growth"]);
    assert_eq!(require(port, &org), status(true, true, "enforced"));

    // A wrong certificate imported while it is on: a change nobody has proven, so it is not
    // in effect and the member may use a password; the IdP's real key no longer signs in.
    let wrong_path = wrong_xml.to_str().unwrap();
    let changed = ok(
        port,
        &["connection", "import", &org, "--metadata", wrong_path],
    );
    assert_eq!(
        changed["connection"]["config_version"],
        version + 1,
        "{changed}"
    );
    assert_eq!(changed["connection"]["proven"], false, "{changed}");
    assert_eq!(
        require(port, &org),
        status(true, false, "no-sso-login-since-change")
    );
    assert_eq!(
        password(&mut auth, &org, ALICE).await,
        (true, Reason::Unspecified)
    );
    let refused = login(&mut auth, &idp, &org, ALICE, 2).await.unwrap_err();
    assert_eq!(
        sso_grpc::reason_of(&refused),
        Some(Reason::SignatureInvalid)
    );
    let got = ok(port, &["connection", "get", &org]);
    assert_eq!(got["connection"]["proven"], false, "{got}");

    // The right metadata back: a change again, proven by the next login, enforced again.
    ok(port, &["connection", "import", &org, "--metadata", good]);
    login(&mut auth, &idp, &org, ALICE, 3).await.unwrap();
    assert_eq!(require(port, &org), status(true, true, "enforced"));

    org_list_pages(port, &org);

    drop(auth);
    let exit = tokio::task::block_in_place(|| server.stop(Duration::from_secs(10)));
    assert!(exit.success(), "{exit}:\n{}", server.log());
}

/// `org list` (and its `orgs` alias): oldest first, a page at a time, within a prefix.
fn org_list_pages(port: u16, first: &str) {
    let mut made = Vec::new();
    for n in 1..=5 {
        let name = format!("Paging {n}");
        let created = ok(
            port,
            &["org", "create", "--name", &name, "--plan", "starter"],
        );
        made.push(created["org"]["id"].as_str().unwrap().to_owned());
    }
    ok(
        port,
        &["org", "create", "--name", "paging lower", "--plan", "plus"],
    );

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec![
            "orgs",
            "list",
            "--page-size",
            "2",
            "--name-prefix",
            "Paging",
        ];
        if let Some(token) = &token {
            args.extend(["--page-token", token]);
        }
        let page = ok(port, &args);
        pages += 1;
        let orgs = page["orgs"].as_array().unwrap();
        assert!(orgs.len() <= 2, "{page}");
        for org in orgs {
            assert_eq!(org["require_sso_status"], "off", "{page}");
            seen.push(org["id"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, made);
    assert_eq!(pages, 3);

    // Without a prefix the first org leads, with its status.
    let all = ok(port, &["org", "list", "--page-size", "1"]);
    assert_eq!(all["orgs"][0]["id"], first, "{all}");
    assert_eq!(all["orgs"][0]["require_sso_status"], "enforced", "{all}");
    assert!(all["next_page_token"].is_string(), "{all}");

    let (code, refused) = ssoctl(port, &["org", "list", "--page-size", "1001"]);
    assert_eq!(code, 1, "{refused}");
    assert_eq!(refused["reason"], "REASON_INVALID_INPUT", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_calls_on_sqlite() {
    read_calls("read_calls_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_calls_on_postgres() {
    sso_testkit::on_postgres("system", "read_calls", |db| async move {
        read_calls("read_calls_postgres", Some(db.url)).await;
    })
    .await;
}
