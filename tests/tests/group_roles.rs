//! Directory-driven roles through the real `sso-server` and `ssoctl` binaries, on SQLite and
//! on PostgreSQL: group rules set with `ssoctl admin connection group-rules`, groups sent as a
//! SAML attribute by `ssoctl dev-idp respond --attribute`; a first login takes its role from a
//! group; with "apply on every login" a later login promotes and demotes; with it off the
//! role stays; the last Admin is kept; the login trace names the rule that fired.
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

const AUTH_TOKEN: &str = "auth-secret-of-the-group-roles-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-group-roles-test";
const DOMAIN: &str = "acme.example";
/// Entra ID's group claim, whose values are group object ids.
const GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
const ADMINS: &str = "5d2c8a41-7f3e-4b9a-a0c1-2e6f8d9b4c7a";
const ENGINEERING: &str = "0b7e4f12-93ad-4c55-8e21-6a1f3c9d2b80";

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
        .env("SSO_ACTOR", "group-roles-system-test")
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

fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
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

    fn file(&self, name: &str, value: &Value) -> String {
        let path = self.work.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// An SP-initiated login of `email` at `org` whose assertion carries `groups`. Returns
    /// the `login` object.
    fn sign_in(&self, org: &str, email: &str, groups: &[&str]) -> Value {
        let idp = self.work.join("dev-idp");
        let begun = json_of(&ssoctl(self.port, &["login", "begin", "--org", org]), 0);
        let attributes: Vec<String> = groups.iter().map(|g| format!("{GROUPS}={g}")).collect();
        let mut args = vec![
            "dev-idp",
            "respond",
            "--dir",
            idp.to_str().unwrap(),
            "--request-url",
            text(&begun, "/redirect_url"),
            "--email",
            email,
        ];
        for attribute in &attributes {
            args.extend(["--attribute", attribute.as_str()]);
        }
        let form = json_of(&ssoctl(self.port, &args), 0);
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

    /// The `group-roles` check of the newest login trace.
    fn group_check(&self, org: &str) -> Value {
        let traces = self.admin(&["traces", org, "--page-size", "1"], 0);
        let checks = traces["traces"][0]["detail"]["checks"].as_array().unwrap();
        checks
            .iter()
            .find(|c| c["check"] == "group-roles")
            .map(|c| c["detail"].clone())
            .unwrap_or_else(|| panic!("no group-roles check in {traces}"))
    }

    fn role_of(&self, org: &str, email: &str) -> String {
        let member = self.admin(&["members", "get", org, email], 0);
        text(&member, "/member/role").to_owned()
    }

    fn set_rules(&self, org: &str, every_login: bool) -> Value {
        let admins = format!("admin={ADMINS}");
        let engineering = format!("member={ENGINEERING}");
        let mut args = vec![
            "connection",
            "group-rules",
            "set",
            org,
            "--attribute",
            GROUPS,
            "--rule",
            &engineering,
            "--rule",
            &admins,
        ];
        if every_login {
            args.push("--every-login");
        }
        self.admin(&args, 0)
    }
}

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
    // Not the server's own directory (`fresh_dir(name)`), which holds its SQLite database.
    let work = system_tests::fresh_dir(&format!("{name}_work"));
    let ctl = Ctl {
        port: server.grpc_port,
        work: work.clone(),
    };
    let org = org_with_connection(&ctl);
    rules_set_and_shown(&ctl, &org);
    first_login_role_from_group(&ctl, &org);
    every_login_promotes_and_demotes(&ctl, &org);
    off_leaves_roles_alone(&ctl, &org);

    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&work);
}

fn org_with_connection(ctl: &Ctl) -> String {
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
    ctl.admin(&["jit", "set", &org, "--role", "viewer"], 0);
    ctl.admin(
        &["projects", "upsert", &org, "--id", "wiki", "--name", "Wiki"],
        0,
    );
    org
}

fn rules_set_and_shown(ctl: &Ctl, org: &str) {
    // From a file, with projects; then what `get` shows.
    let file = ctl.file(
        "rules.json",
        &json!([
            { "group": ENGINEERING, "role": "member", "project_ids": ["wiki"] },
            { "group": ADMINS, "role": "admin" },
        ]),
    );
    let set = ctl.admin(
        &[
            "connection",
            "group-rules",
            "set",
            org,
            "--attribute",
            GROUPS,
            "--file",
            &file,
        ],
        0,
    );
    let rules = &set["connection"]["group_role_rules"];
    assert_eq!(rules["groups_attribute"], GROUPS, "{set}");
    assert_eq!(rules["rules"][0]["project_ids"], json!(["wiki"]), "{set}");
    assert_eq!(rules["rules"][1]["id"], 2, "{set}");
    let shown = ctl.admin(&["connection", "group-rules", "get", org], 0);
    assert_eq!(shown["group_role_rules"], *rules, "{shown}");

    // Refusals reach the admin with their reasons.
    let unknown = ctl.file(
        "unknown.json",
        &json!([{ "group": "x", "role": "member", "project_ids": ["nope"] }]),
    );
    let refused = ctl.admin(
        &["connection", "group-rules", "set", org, "--file", &unknown],
        1,
    );
    assert_eq!(refused["reason"], "REASON_NOT_FOUND", "{refused}");
    let refused = ctl.admin(
        &[
            "connection",
            "group-rules",
            "set",
            org,
            "--rule",
            "admin=Ops",
            "--rule",
            "member=ops",
        ],
        1,
    );
    assert_eq!(refused["reason"], "REASON_INVALID_INPUT", "{refused}");
    // The refused calls left the rules as they were.
    let shown = ctl.admin(&["connection", "group-rules", "get", org], 0);
    assert_eq!(shown["group_role_rules"], *rules, "{shown}");
}

fn first_login_role_from_group(ctl: &Ctl, org: &str) {
    let ann = ctl.sign_in(org, "ann@acme.example", &[ENGINEERING, ADMINS]);
    assert_eq!(ann["membership_created"], true, "{ann}");
    assert_eq!(ann["role"], "ROLE_ADMIN", "{ann}");
    assert_eq!(ann["project_ids"], json!(["wiki"]), "{ann}");
    let check = ctl.group_check(org);
    assert_eq!(check["decision"], "role-from-group-rule", "{check}");
    assert_eq!(check["fired"]["rule"], 2, "{check}");
    assert_eq!(check["fired"]["group"], ADMINS, "{check}");

    let bob = ctl.sign_in(org, "bob@acme.example", &["some-other-group"]);
    assert_eq!(bob["role"], "ROLE_VIEWER", "{bob}");
    assert_eq!(ctl.group_check(org)["decision"], "jit-default-role");
}

fn every_login_promotes_and_demotes(ctl: &Ctl, org: &str) {
    let set = ctl.set_rules(org, true);
    assert_eq!(
        set["connection"]["group_role_rules"]["apply_on_every_login"], true,
        "{set}"
    );
    let bob = ctl.sign_in(org, "bob@acme.example", &[ADMINS]);
    assert_eq!(bob["role"], "ROLE_ADMIN", "{bob}");
    assert_eq!(ctl.role_of(org, "bob@acme.example"), "ROLE_ADMIN");
    let check = ctl.group_check(org);
    assert_eq!(check["decision"], "promoted", "{check}");
    assert_eq!(check["fired"]["rule"], 2, "{check}");

    let bob = ctl.sign_in(org, "bob@acme.example", &[ENGINEERING]);
    assert_eq!(bob["role"], "ROLE_MEMBER", "{bob}");
    assert_eq!(ctl.role_of(org, "bob@acme.example"), "ROLE_MEMBER");
    let check = ctl.group_check(org);
    assert_eq!(check["decision"], "demoted", "{check}");
    assert_eq!(check["fired"]["group"], ENGINEERING, "{check}");

    // Ann is now the only Admin: leaving the admins group does not take it from her.
    let ann = ctl.sign_in(org, "ann@acme.example", &[ENGINEERING]);
    assert_eq!(ann["role"], "ROLE_ADMIN", "{ann}");
    assert_eq!(ctl.group_check(org)["decision"], "last-admin-kept");
}

fn off_leaves_roles_alone(ctl: &Ctl, org: &str) {
    ctl.set_rules(org, false);
    let bob = ctl.sign_in(org, "bob@acme.example", &[ADMINS]);
    assert_eq!(bob["role"], "ROLE_MEMBER", "{bob}");
    assert_eq!(ctl.role_of(org, "bob@acme.example"), "ROLE_MEMBER");
    assert_eq!(ctl.group_check(org)["decision"], "existing-member-kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_roles_on_sqlite() {
    run("group_roles_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_roles_on_postgres() {
    sso_testkit::on_postgres("system", "group_roles", |db| async move {
        run("group_roles_postgres", Some(db.url)).await;
    })
    .await;
}
