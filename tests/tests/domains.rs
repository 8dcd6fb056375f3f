//! Domain claims through the real `sso-server` and `ssoctl`, on SQLite and PostgreSQL, with a
//! real DNS server on loopback (dnsmasq) as the server's `--dns-server`: a claim routes
//! `BeginSsoLogin` by email only once its TXT record proved it, only the org that proves a
//! domain gets it, the refusals say why, and a record removed later takes the domain back to
//! pending (on demand and on the server's own schedule), with audit events.
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
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{BeginSsoLoginRequest, begin_sso_login_request::Target};
use sso_grpc::{reason_of, v1::Reason};
use sso_testkit::dns::TestDns;
use system_tests::{RunningServer, ServerOptions};

use common::{wait_until_serving, with_token};

const AUTH_TOKEN: &str = "auth-secret-for-the-domains-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-domains-test";

/// `ssoctl admin --server ... --token ... ARGS`: its exit code and the one JSON object it
/// printed. The process is waited for off the runtime's workers, which keep driving the
/// test's own gRPC connection meanwhile.
fn ssoctl(server: &RunningServer, args: &[&str]) -> (i32, Value) {
    tokio::task::block_in_place(|| run_ssoctl(server, args))
}

fn run_ssoctl(server: &RunningServer, args: &[&str]) -> (i32, Value) {
    let output: Output = Command::new(system_tests::binary("ssoctl"))
        .env_remove("SSO_SERVER")
        .env_remove("SSO_ADMIN_TOKEN")
        .env_remove("SSO_ACTOR")
        .args([
            "admin",
            "--server",
            &format!("http://127.0.0.1:{}", server.grpc_port),
        ])
        .args(["--token", ADMIN_TOKEN, "--actor", "domains-system-test"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ssoctl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}

/// A command that must succeed.
fn ok(server: &RunningServer, args: &[&str]) -> Value {
    let (code, json) = ssoctl(server, args);
    assert_eq!(
        (code, &json["ok"]),
        (0, &Value::Bool(true)),
        "{args:?}: {json}"
    );
    json
}

/// A command the server must refuse with `reason`; returns the refusal.
fn refused(server: &RunningServer, args: &[&str], reason: &str) -> Value {
    let (code, json) = ssoctl(server, args);
    assert_eq!(code, 1, "{args:?}: {json}");
    assert_eq!(json["reason"], reason, "{args:?}: {json}");
    json
}

fn create_org(server: &RunningServer, name: &str) -> String {
    let created = ok(
        server,
        &["org", "create", "--name", name, "--plan", "growth"],
    );
    created["org"]["id"].as_str().unwrap().to_owned()
}

/// The TXT record a claim's JSON tells the admin to publish.
fn record(claim: &Value) -> (String, String) {
    let record = &claim["domain"]["record"];
    assert_eq!(record["type"], "TXT", "{claim}");
    (
        record["name"].as_str().unwrap().to_owned(),
        record["value"].as_str().unwrap().to_owned(),
    )
}

fn publish(dns: &mut TestDns, records: &[&(String, String)]) {
    let records: Vec<(&str, &str)> = records
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    dns.set_records(&records);
}

/// The one listed domain of an org.
fn listed(server: &RunningServer, org: &str) -> Value {
    let list = ok(server, &["domains", "list", org]);
    let domains = list["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1, "{list}");
    domains[0].clone()
}

/// The (kind, outcome, reason code) of an org's domain events, newest first.
fn domain_events(server: &RunningServer, org: &str) -> Vec<(String, String, String)> {
    ok(server, &["traces", org])["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_str().unwrap().starts_with("domain-"))
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_owned(),
                t["outcome"].as_str().unwrap().to_owned(),
                t["reason_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn start(name: &str, database_url: Option<String>, dns: &TestDns, extra: &[&str]) -> RunningServer {
    let mut args = vec!["--dns-server".to_owned(), dns.addr().to_string()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    RunningServer::start_with(
        name,
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url,
            args,
            ..ServerOptions::default()
        },
    )
}

/// Where `BeginSsoLogin` by email routes: the org id, or the refusal's reason.
async fn route(
    auth: &mut AuthServiceClient<tonic::transport::Channel>,
    email: &str,
) -> Result<String, Reason> {
    let request = BeginSsoLoginRequest {
        target: Some(Target::Email(email.to_owned())),
        return_target: "/home".to_owned(),
    };
    auth.begin_sso_login(with_token(request, Some(AUTH_TOKEN)))
        .await
        .map(|r| r.into_inner().org_id)
        .map_err(|status| reason_of(&status).unwrap_or(Reason::Unspecified))
}

/// Claims, proofs, refusals and a removed record, every check asked for with `verify`.
async fn claims(name: &str, database_url: Option<String>) {
    let mut dns = TestDns::start(&[]);
    // The name server and the failure count from a config file, the way an operator sets them.
    let config_dir = system_tests::fresh_dir(&format!("{name}_config"));
    let config = config_dir.join("sso.toml");
    std::fs::write(
        &config,
        format!(
            "dns_server = \"{}\"\ndomain_recheck_failures = 2\n",
            dns.addr()
        ),
    )
    .unwrap();
    let mut server = RunningServer::start_with(
        name,
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url,
            args: vec!["--config".to_owned(), config.display().to_string()],
            ..ServerOptions::default()
        },
    );
    let channel = wait_until_serving(&mut server).await;
    let mut auth = AuthServiceClient::new(channel);

    let squatter = create_org(&server, "Squatter");
    let owner = create_org(&server, "BigCorp");
    // The owner's IdP, so that a login routed to it starts.
    let metadata = system_tests::corpus_dir().join("metadata/okta/crewjam_okta_idp_metadata.xml");
    ok(
        &server,
        &[
            "connection",
            "import",
            &owner,
            "--metadata",
            metadata.to_str().unwrap(),
        ],
    );
    ok(&server, &["connection", "enable", &owner]);

    // Both claim bigcorp.example; each gets its own record to publish.
    let first = ok(&server, &["domains", "claim", &squatter, "BigCorp.example"]);
    assert_eq!(first["domain"]["domain"], "bigcorp.example", "{first}");
    assert_eq!(first["domain"]["state"], "pending", "{first}");
    let (name_1, value_1) = record(&first);
    assert_eq!(name_1, "_sso-verification.bigcorp.example");
    assert!(value_1.starts_with("sso-verification="), "{value_1}");
    let second = ok(&server, &["domains", "claim", &owner, "bigcorp.example"]);
    assert_ne!(record(&second).1, value_1);

    // A pending claim routes nothing.
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Err(Reason::OrgNotFound)
    );

    // No record, then the wrong token.
    refused(
        &server,
        &["domains", "verify", &squatter, "bigcorp.example"],
        "REASON_DOMAIN_RECORD_MISSING",
    );
    publish(&mut dns, &[&record(&second)]);
    refused(
        &server,
        &["domains", "verify", &squatter, "bigcorp.example"],
        "REASON_DOMAIN_TOKEN_MISMATCH",
    );
    // The owner's record proves the owner's claim.
    let verified = ok(&server, &["domains", "verify", &owner, "bigcorp.example"]);
    assert_eq!(verified["domain"]["state"], "verified", "{verified}");
    assert_eq!(verified["domain"]["verified_by"], "dns", "{verified}");
    assert!(
        verified["domain"]["next_check_at"].is_string(),
        "{verified}"
    );
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Ok(owner.clone())
    );
    let org = ok(&server, &["org", "get", &owner]);
    assert_eq!(
        org["org"]["verified_domains"],
        serde_json::json!(["bigcorp.example"])
    );

    // The squatter's own token published beside it changes nothing now.
    publish(&mut dns, &[&record(&second), &record(&first)]);
    refused(
        &server,
        &["domains", "verify", &squatter, "bigcorp.example"],
        "REASON_DOMAIN_VERIFIED_ELSEWHERE",
    );
    assert_eq!(listed(&server, &squatter)["state"], "pending");
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Ok(owner.clone())
    );

    // Domains nobody owns, on the claim and on the operator's path.
    refused(
        &server,
        &["domains", "claim", &squatter, "gmail.com"],
        "REASON_DOMAIN_FREE_MAIL",
    );
    refused(
        &server,
        &["domains", "claim", &squatter, "co.uk"],
        "REASON_DOMAIN_PUBLIC_SUFFIX",
    );
    refused(
        &server,
        &["domain", "add", &squatter, "gmail.com"],
        "REASON_DOMAIN_FREE_MAIL",
    );
    refused(
        &server,
        &["domain", "add", &squatter, "co.uk"],
        "REASON_DOMAIN_PUBLIC_SUFFIX",
    );
    // The operator's path cannot take a domain another org verified...
    refused(
        &server,
        &["domain", "add", &squatter, "bigcorp.example"],
        "REASON_CONFLICT",
    );
    // ... and still vouches for one nobody holds, at once.
    let added = ok(&server, &["domain", "add", &squatter, "squatter.example"]);
    assert_eq!(
        added["org"]["verified_domains"],
        serde_json::json!(["squatter.example"])
    );
    // Routed to the squatter, which has no IdP: refused there, not for want of an org.
    assert_eq!(
        route(&mut auth, "x@squatter.example").await,
        Err(Reason::NoConnection)
    );
    let operator = ok(&server, &["domains", "list", &squatter])["domains"][1].clone();
    assert_eq!(
        (&operator["domain"], &operator["verified_by"]),
        (&Value::from("squatter.example"), &Value::from("operator"))
    );

    // The record is removed: the first check counts one failure, the domain stays...
    publish(&mut dns, &[&record(&first)]);
    let once = refused(
        &server,
        &["domains", "verify", &owner, "bigcorp.example"],
        "REASON_DOMAIN_TOKEN_MISMATCH",
    );
    assert!(
        once["message"].as_str().unwrap().contains("1 of 2"),
        "{once}"
    );
    let still = listed(&server, &owner);
    assert_eq!(
        (&still["state"], &still["failures_in_a_row"]),
        (&Value::from("verified"), &Value::from(1))
    );
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Ok(owner.clone())
    );
    // ... the second in a row takes it back to pending: it routes nothing any more.
    publish(&mut dns, &[]);
    let twice = refused(
        &server,
        &["domains", "verify", &owner, "bigcorp.example"],
        "REASON_DOMAIN_RECORD_MISSING",
    );
    assert!(
        twice["message"].as_str().unwrap().contains("pending again"),
        "{twice}"
    );
    let dropped = listed(&server, &owner);
    assert_eq!(dropped["state"], "pending", "{dropped}");
    assert_eq!(dropped["verified_by"], Value::Null, "{dropped}");
    assert_eq!(
        dropped["record"]["value"],
        record(&second).1.as_str(),
        "the claim keeps its record"
    );
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Err(Reason::OrgNotFound)
    );
    let events = domain_events(&server, &owner);
    let expect = |kind: &str, outcome: &str, reason: &str| {
        (kind.to_owned(), outcome.to_owned(), reason.to_owned())
    };
    assert_eq!(
        events[..3],
        [
            expect("domain-unverified", "success", "dropped-to-pending"),
            expect("domain-rechecked", "refused", "domain-record-missing"),
            expect("domain-rechecked", "refused", "domain-token-mismatch"),
        ],
        "{events:?}"
    );
    assert!(
        events.contains(&expect("domain-verified", "success", "verified")),
        "{events:?}"
    );

    // Freed: the squatter may now prove its own claim, if it controls the DNS (here, it does).
    publish(&mut dns, &[&record(&first)]);
    ok(
        &server,
        &["domains", "verify", &squatter, "bigcorp.example"],
    );
    assert_eq!(
        route(&mut auth, "ceo@bigcorp.example").await,
        Err(Reason::NoConnection)
    );

    // The server finishes open connections on SIGTERM: close the test's first.
    drop(auth);
    let exit = tokio::task::block_in_place(|| server.stop(Duration::from_secs(20)));
    assert!(exit.success(), "{exit:?}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(config_dir);
}

/// The server's own schedule: a record removed after verification takes the domain back to
/// pending without anyone asking, with audit events.
async fn scheduled_rechecks(name: &str, database_url: Option<String>) {
    let mut dns = TestDns::start(&[]);
    let mut server = start(
        name,
        database_url,
        &dns,
        &[
            "--domain-recheck-interval",
            "1",
            "--domain-recheck-failures",
            "1",
        ],
    );
    drop(wait_until_serving(&mut server).await);
    let org = create_org(&server, "Acme");
    let claim = ok(&server, &["domains", "claim", &org, "acme.example"]);
    publish(&mut dns, &[&record(&claim)]);
    ok(&server, &["domains", "verify", &org, "acme.example"]);

    // While the record is there, the re-checks keep it verified.
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed(&server, &org)["last_check_result"] != "still-verified" {
        assert!(
            Instant::now() < deadline,
            "no re-check ran:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(listed(&server, &org)["state"], "verified");

    publish(&mut dns, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed(&server, &org)["state"] != "pending" {
        assert!(
            Instant::now() < deadline,
            "not dropped in time:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = domain_events(&server, &org);
    assert_eq!(
        events[..2],
        [
            (
                "domain-unverified".to_owned(),
                "success".to_owned(),
                "dropped-to-pending".to_owned()
            ),
            (
                "domain-rechecked".to_owned(),
                "refused".to_owned(),
                "domain-record-missing".to_owned()
            ),
        ],
        "{events:?}"
    );
    assert!(
        ok(&server, &["org", "get", &org])["org"]["verified_domains"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let exit = tokio::task::block_in_place(|| server.stop(Duration::from_secs(20)));
    assert!(exit.success(), "{exit:?}:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_claims_on_sqlite() {
    claims("domains_claims_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_claims_on_postgres() {
    sso_testkit::on_postgres("system", "domain_claims", |db| async move {
        claims("domains_claims_postgres", Some(db.url)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rechecks_on_sqlite() {
    scheduled_rechecks("domains_rechecks_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rechecks_on_postgres() {
    sso_testkit::on_postgres("system", "domain_rechecks", |db| async move {
        scheduled_rechecks("domains_rechecks_postgres", Some(db.url)).await;
    })
    .await;
}
