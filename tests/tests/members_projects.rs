//! Members and projects through the real `sso-server` and `ssoctl` binaries, on SQLite and on
//! PostgreSQL: an Enterprise org's projects created under the host product's ids and made the
//! JIT default projects; a JIT member signing in through `ssoctl dev-idp` and `ssoctl login`
//! gets them; members added (idempotently, all or nothing), listed with filters and pages,
//! re-roled and removed; the last Admin kept; removing a JIT default project refused; a
//! Growth org refused default projects.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::{RunningServer, ServerOptions};

mod common;
use common::wait_until_serving;

const AUTH_TOKEN: &str = "auth-secret-of-the-members-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-members-test";
const DOMAIN: &str = "acme.example";
/// Project ids are the host product's opaque text: spaces, slashes and non-ASCII included.
const HANDBOOK: &str = "proj handbook/1";
const WIKI: &str = "proj-wiki-ü";

/// `ssoctl ARGS` against the server, with none of the caller's `SSO_*` environment.
fn ssoctl(grpc_port: u16, args: &[&str]) -> Output {
    let mut command = Command::new(system_tests::binary("ssoctl"));
    for name in [
        "SSO_SERVER",
        "SSO_ADMIN_TOKEN",
        "SSO_AUTH_TOKEN",
        "SSO_ACTOR",
    ] {
        command.env_remove(name);
    }
    command
        .env("SSO_SERVER", format!("http://127.0.0.1:{grpc_port}"))
        .env("SSO_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SSO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SSO_ACTOR", "members-system-test")
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

fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

/// The emails of a member listing.
fn emails(listing: &Value) -> Vec<String> {
    listing["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {listing}"))
        .iter()
        .map(|m| text(m, "/email").to_owned())
        .collect()
}

struct Ctl {
    port: u16,
    work: PathBuf,
}

impl Ctl {
    fn admin(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        json_of(&ssoctl(self.port, &all), code)
    }

    fn refused(&self, args: &[&str], reason: &str) -> Value {
        let answer = self.admin(args, 1);
        assert_eq!(answer["ok"], false, "{answer}");
        assert_eq!(answer["reason"], reason, "{answer}");
        answer
    }

    /// Writes `value` to a file of the work directory and returns its path.
    fn file(&self, name: &str, value: &Value) -> String {
        let path = self.work.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// An SP-initiated login of `email` at `org`: begin, the dev IdP's signed answer,
    /// complete. Returns the `login` object.
    fn sign_in(&self, org: &str, email: &str) -> Value {
        let idp = self.work.join("dev-idp");
        let idp = idp.to_str().unwrap();
        let begun = json_of(&ssoctl(self.port, &["login", "begin", "--org", org]), 0);
        let form = json_of(
            &ssoctl(
                self.port,
                &[
                    "dev-idp",
                    "respond",
                    "--dir",
                    idp,
                    "--request-url",
                    text(&begun, "/redirect_url"),
                    "--email",
                    email,
                ],
            ),
            0,
        );
        let response = self.work.join("response.b64");
        std::fs::write(&response, text(&form, "/SAMLResponse")).unwrap();
        let completed = json_of(
            &ssoctl(
                self.port,
                &[
                    "login",
                    "complete",
                    "--org",
                    org,
                    "--response",
                    response.to_str().unwrap(),
                    "--relay-state",
                    text(&form, "/RelayState"),
                ],
            ),
            0,
        );
        completed["login"].clone()
    }
}

/// Starts the server, waits until it serves, then runs the scenario through `ssoctl` on a
/// blocking thread.
async fn run(name: &'static str, database_url: Option<String>) {
    let mut server = RunningServer::start_with(
        name,
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url,
            ..ServerOptions::default()
        },
    );
    drop(wait_until_serving(&mut server).await);
    tokio::task::spawn_blocking(move || scenario(name, server))
        .await
        .unwrap();
}

fn scenario(name: &str, mut server: RunningServer) {
    // Not the server's own directory (`fresh_dir(name)`), which holds its SQLite database:
    // emptying it under the running server failed the SQLite run now and then.
    let work = system_tests::fresh_dir(&format!("{name}_work"));
    let ctl = Ctl {
        port: server.grpc_port,
        work: work.clone(),
    };

    let org = enterprise_org_with_projects(&ctl);
    jit_member_gets_the_default_projects(&ctl, &org);
    members_added_listed_and_changed(&ctl, &org);
    the_last_admin_stays(&ctl, &org);
    growth_org_refused_default_projects(&ctl);

    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&work);
}

/// An Enterprise org with its domain, the dev IdP's connection, and two projects created
/// (then one renamed) through the API and set as JIT default projects.
fn enterprise_org_with_projects(ctl: &Ctl) -> String {
    let created = ctl.admin(
        &["org", "create", "--name", "Acme", "--plan", "enterprise"],
        0,
    );
    let org = text(&created, "/org/id").to_owned();
    ctl.admin(&["domain", "add", &org, DOMAIN], 0);
    let idp_dir = ctl.work.join("dev-idp");
    json_of(
        &ssoctl(
            ctl.port,
            &["dev-idp", "init", "--dir", idp_dir.to_str().unwrap()],
        ),
        0,
    );
    let metadata = idp_dir.join("metadata.xml");
    ctl.admin(
        &[
            "connection",
            "import",
            &org,
            "--metadata",
            metadata.to_str().unwrap(),
        ],
        0,
    );
    ctl.admin(&["connection", "enable", &org], 0);

    let projects = ctl.file(
        "projects.json",
        &json!([{ "id": HANDBOOK, "name": "Handbook" }, { "id": WIKI, "name": "Wiki" }]),
    );
    let upserted = ctl.admin(&["projects", "upsert", &org, "--file", &projects], 0);
    let changes: Vec<&str> = upserted["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| text(p, "/change"))
        .collect();
    assert_eq!(
        changes,
        ["PROJECT_CHANGE_CREATED", "PROJECT_CHANGE_CREATED"],
        "{upserted}"
    );
    let renamed = ctl.admin(
        &[
            "projects",
            "upsert",
            &org,
            "--id",
            WIKI,
            "--name",
            "Team wiki",
        ],
        0,
    );
    assert_eq!(
        renamed["projects"][0]["change"], "PROJECT_CHANGE_RENAMED",
        "{renamed}"
    );
    assert_eq!(renamed["projects"][0]["previous_name"], "Wiki", "{renamed}");
    // A bad id is refused by its place in the request.
    let bad = ctl.file(
        "bad_projects.json",
        &json!([{ "id": "ok", "name": "Ok" }, { "id": " padded", "name": "P" }]),
    );
    let refused = ctl.refused(
        &["projects", "upsert", &org, "--file", &bad],
        "REASON_INVALID_INPUT",
    );
    assert!(
        text(&refused, "/message").contains("projects[1].id"),
        "{refused}"
    );

    // Listed by id, one per page.
    let first = ctl.admin(&["projects", "list", &org, "--page-size", "1"], 0);
    assert_eq!(first["projects"][0]["id"], HANDBOOK, "{first}");
    let token = text(&first, "/next_page_token").to_owned();
    let second = ctl.admin(
        &[
            "projects",
            "list",
            &org,
            "--page-size",
            "1",
            "--page-token",
            &token,
        ],
        0,
    );
    assert_eq!(second["projects"][0]["id"], WIKI, "{second}");
    assert_eq!(second["projects"][0]["name"], "Team wiki", "{second}");
    assert!(second["next_page_token"].is_null(), "{second}");

    let jit = ctl.admin(
        &[
            "jit",
            "set",
            &org,
            "--role",
            "member",
            "--project",
            WIKI,
            "--project",
            HANDBOOK,
        ],
        0,
    );
    assert_eq!(
        jit["connection"]["jit_default_project_ids"],
        json!([HANDBOOK, WIKI]),
        "{jit}"
    );
    org
}

/// A JIT member signing in gets the default projects; a default project cannot be removed
/// until it is out of the JIT settings.
fn jit_member_gets_the_default_projects(ctl: &Ctl, org: &str) {
    let alice = format!("alice@{DOMAIN}");
    let login = ctl.sign_in(org, &alice);
    assert_eq!(login["membership_created"], true, "{login}");
    assert_eq!(login["role"], "ROLE_MEMBER", "{login}");
    assert_eq!(login["project_ids"], json!([HANDBOOK, WIKI]), "{login}");

    let refused = ctl.refused(
        &["projects", "remove", org, WIKI],
        "REASON_PROJECT_IS_JIT_DEFAULT",
    );
    assert_eq!(refused["code"], "FailedPrecondition", "{refused}");
    let alice_now = ctl.admin(&["members", "get", org, &alice], 0);
    assert_eq!(
        alice_now["member"]["project_ids"],
        json!([HANDBOOK, WIKI]),
        "{alice_now}"
    );

    ctl.admin(
        &["jit", "set", org, "--role", "member", "--project", HANDBOOK],
        0,
    );
    let removed = ctl.admin(&["projects", "remove", org, WIKI], 0);
    assert_eq!(removed["removed"], true, "{removed}");
    let again = ctl.admin(&["projects", "remove", org, WIKI], 0);
    assert_eq!(again["removed"], false, "{again}");
    let alice_now = ctl.admin(&["members", "get", org, &alice], 0);
    assert_eq!(
        alice_now["member"]["project_ids"],
        json!([HANDBOOK]),
        "{alice_now}"
    );
    assert_eq!(
        alice_now["member"]["created_by"], "CREATED_BY_JIT",
        "{alice_now}"
    );
}

/// Bulk adds (idempotent, all or nothing), listing with filters and pages, a role change and
/// a removal.
fn members_added_listed_and_changed(ctl: &Ctl, org: &str) {
    let batch = ctl.file(
        "members.json",
        &json!([
            { "email": "Bob@ACME.example", "role": "admin" },
            { "email": "carol@acme.example", "role": "viewer", "project_ids": [HANDBOOK] },
            // Alice is a member already: reported as existing, her role kept.
            { "email": "alice@acme.example", "role": "admin" },
        ]),
    );
    let added = ctl.admin(&["members", "add", org, "--file", &batch], 0);
    let created: Vec<bool> = added["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["created"].as_bool().unwrap())
        .collect();
    assert_eq!(created, [true, true, false], "{added}");
    assert_eq!(added["members"][0]["member"]["email"], "bob@acme.example");
    assert_eq!(added["members"][2]["member"]["role"], "ROLE_MEMBER");
    let again = ctl.admin(&["members", "add", org, "--file", &batch], 0);
    assert!(
        again["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["created"] == false),
        "{again}"
    );

    // An invalid item refuses the whole batch, naming it.
    let bad = ctl.file(
        "bad_members.json",
        &json!([
            { "email": "dave@acme.example", "role": "member" },
            { "email": "not-an-email", "role": "member" },
        ]),
    );
    let refused = ctl.refused(
        &["members", "add", org, "--file", &bad],
        "REASON_INVALID_INPUT",
    );
    assert!(
        text(&refused, "/message").contains("members[1].email"),
        "{refused}"
    );
    let unknown = ctl.refused(
        &[
            "members",
            "add",
            org,
            "--email",
            "dave@acme.example",
            "--role",
            "member",
            "--project",
            "gone",
        ],
        "REASON_NOT_FOUND",
    );
    assert!(text(&unknown, "/message").contains("gone"), "{unknown}");

    let all = ctl.admin(&["members", "list", org], 0);
    assert_eq!(
        emails(&all),
        [
            "alice@acme.example",
            "bob@acme.example",
            "carol@acme.example"
        ],
        "dave was never added: {all}"
    );
    let admins = ctl.admin(&["members", "list", org, "--role", "admin"], 0);
    assert_eq!(emails(&admins), ["bob@acme.example"], "{admins}");
    let c = ctl.admin(&["members", "list", org, "--email-prefix", "CA"], 0);
    assert_eq!(emails(&c), ["carol@acme.example"], "{c}");
    assert_eq!(c["members"][0]["project_ids"], json!([HANDBOOK]), "{c}");
    let first = ctl.admin(&["members", "list", org, "--page-size", "2"], 0);
    assert_eq!(emails(&first).len(), 2, "{first}");
    let token = text(&first, "/next_page_token").to_owned();
    let rest = ctl.admin(
        &[
            "members",
            "list",
            org,
            "--page-size",
            "2",
            "--page-token",
            &token,
        ],
        0,
    );
    assert_eq!(emails(&rest), ["carol@acme.example"], "{rest}");
    assert!(rest["next_page_token"].is_null(), "{rest}");

    let carol = ctl.admin(
        &["members", "set-role", org, "carol@acme.example", "manager"],
        0,
    );
    assert_eq!(carol["member"]["role"], "ROLE_MANAGER", "{carol}");
    let removed = ctl.admin(&["members", "remove", org, "carol@acme.example"], 0);
    assert_eq!(removed["removed"], true, "{removed}");
    ctl.refused(
        &["members", "get", org, "carol@acme.example"],
        "REASON_NOT_FOUND",
    );
}

/// Bob is the only Admin: neither demoted nor removed until Alice is Admin too. SSO never
/// changes a role: Alice signing in again stays Admin.
fn the_last_admin_stays(ctl: &Ctl, org: &str) {
    for args in [
        &["members", "set-role", org, "bob@acme.example", "member"][..],
        &["members", "remove", org, "bob@acme.example"][..],
    ] {
        let refused = ctl.refused(args, "REASON_LAST_ADMIN");
        assert_eq!(refused["code"], "FailedPrecondition", "{refused}");
    }
    ctl.admin(
        &["members", "set-role", org, "alice@acme.example", "admin"],
        0,
    );
    let bob = ctl.admin(
        &["members", "set-role", org, "bob@acme.example", "viewer"],
        0,
    );
    assert_eq!(bob["member"]["role"], "ROLE_VIEWER", "{bob}");
    ctl.refused(
        &["members", "remove", org, "alice@acme.example"],
        "REASON_LAST_ADMIN",
    );

    let login = ctl.sign_in(org, "alice@acme.example");
    assert_eq!(login["membership_created"], false, "{login}");
    assert_eq!(login["role"], "ROLE_ADMIN", "{login}");

    let traces = ctl.admin(&["traces", org, "--page-size", "200"], 0);
    let seen: Vec<(String, String)> = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                text(t, "/kind").to_owned(),
                text(t, "/reason_code").to_owned(),
            )
        })
        .collect();
    for (kind, reason) in [
        ("projects-upserted", "upserted"),
        ("project-removed", "project-is-jit-default"),
        ("project-removed", "removed"),
        ("members-added", "added"),
        ("members-added", "all-existing"),
        ("member-role-changed", "last-admin"),
        ("member-removed", "removed"),
    ] {
        assert!(
            seen.contains(&(kind.to_owned(), reason.to_owned())),
            "{kind} {reason} not in {seen:?}"
        );
    }
}

/// Default projects need Enterprise.
fn growth_org_refused_default_projects(ctl: &Ctl) {
    let created = ctl.admin(
        &["org", "create", "--name", "Growing", "--plan", "growth"],
        0,
    );
    let org = text(&created, "/org/id").to_owned();
    let metadata = ctl.work.join("dev-idp").join("metadata.xml");
    ctl.admin(
        &[
            "connection",
            "import",
            &org,
            "--metadata",
            metadata.to_str().unwrap(),
        ],
        0,
    );
    ctl.admin(
        &["projects", "upsert", &org, "--id", "wiki", "--name", "Wiki"],
        0,
    );
    ctl.refused(
        &["jit", "set", &org, "--role", "member", "--project", "wiki"],
        "REASON_PLAN_WITHOUT_DEFAULT_PROJECTS",
    );
    let jit = ctl.admin(&["jit", "set", &org, "--role", "member"], 0);
    assert_eq!(
        jit["connection"]["jit_default_project_ids"],
        json!([]),
        "{jit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_projects_on_sqlite() {
    run("members_projects_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_projects_on_postgres() {
    sso_testkit::on_postgres("system", "members_projects", |db| async move {
        run("members_projects_postgres", Some(db.url)).await;
    })
    .await;
}
