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

use std::time::Duration;

use serde_json::{Value, json};
use system_tests::{RunningServer, ServerOptions};

mod common;
use common::ctl::{Ctl, text};
use common::wait_until_serving;

const AUTH_TOKEN: &str = "auth-secret-of-the-group-roles-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-group-roles-test";
const DOMAIN: &str = "acme.example";
/// Entra ID's group claim, whose values are group object ids.
const GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
const ADMINS: &str = "5d2c8a41-7f3e-4b9a-a0c1-2e6f8d9b4c7a";
const ENGINEERING: &str = "0b7e4f12-93ad-4c55-8e21-6a1f3c9d2b80";

/// A login of `email` at `org` whose assertion carries `groups`; the `login` object.
fn sign_in(ctl: &Ctl, org: &str, email: &str, groups: &[&str]) -> Value {
    let attributes: Vec<String> = groups.iter().map(|g| format!("{GROUPS}={g}")).collect();
    ctl.sign_in_with(org, email, &attributes, 0)["login"].clone()
}

/// The `group-roles` check of the newest login trace.
fn group_check(ctl: &Ctl, org: &str) -> Value {
    let traces = ctl.admin(&["traces", org, "--page-size", "1"], 0);
    let checks = traces["traces"][0]["detail"]["checks"].as_array().unwrap();
    checks
        .iter()
        .find(|c| c["check"] == "group-roles")
        .map(|c| c["detail"].clone())
        .unwrap_or_else(|| panic!("no group-roles check in {traces}"))
}

fn role_of(ctl: &Ctl, org: &str, email: &str) -> String {
    let member = ctl.admin(&["members", "get", org, email], 0);
    text(&member, "/member/role").to_owned()
}

fn set_rules(ctl: &Ctl, org: &str, every_login: bool) -> Value {
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
    ctl.admin(&args, 0)
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
        admin_token: ADMIN_TOKEN,
        auth_token: AUTH_TOKEN,
        actor: "group-roles-system-test",
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
    let org = ctl.org_with_connection("enterprise", DOMAIN, "viewer");
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
    let ann = sign_in(ctl, org, "ann@acme.example", &[ENGINEERING, ADMINS]);
    assert_eq!(ann["membership_created"], true, "{ann}");
    assert_eq!(ann["role"], "ROLE_ADMIN", "{ann}");
    assert_eq!(ann["project_ids"], json!(["wiki"]), "{ann}");
    let check = group_check(ctl, org);
    assert_eq!(check["decision"], "role-from-group-rule", "{check}");
    assert_eq!(check["fired"]["rule"], 2, "{check}");
    assert_eq!(check["fired"]["group"], ADMINS, "{check}");

    let bob = sign_in(ctl, org, "bob@acme.example", &["some-other-group"]);
    assert_eq!(bob["role"], "ROLE_VIEWER", "{bob}");
    assert_eq!(group_check(ctl, org)["decision"], "jit-default-role");
}

fn every_login_promotes_and_demotes(ctl: &Ctl, org: &str) {
    let set = set_rules(ctl, org, true);
    assert_eq!(
        set["connection"]["group_role_rules"]["apply_on_every_login"], true,
        "{set}"
    );
    let bob = sign_in(ctl, org, "bob@acme.example", &[ADMINS]);
    assert_eq!(bob["role"], "ROLE_ADMIN", "{bob}");
    assert_eq!(role_of(ctl, org, "bob@acme.example"), "ROLE_ADMIN");
    let check = group_check(ctl, org);
    assert_eq!(check["decision"], "promoted", "{check}");
    assert_eq!(check["fired"]["rule"], 2, "{check}");

    let bob = sign_in(ctl, org, "bob@acme.example", &[ENGINEERING]);
    assert_eq!(bob["role"], "ROLE_MEMBER", "{bob}");
    assert_eq!(role_of(ctl, org, "bob@acme.example"), "ROLE_MEMBER");
    let check = group_check(ctl, org);
    assert_eq!(check["decision"], "demoted", "{check}");
    assert_eq!(check["fired"]["group"], ENGINEERING, "{check}");

    // Ann is now the only Admin: leaving the admins group does not take it from her.
    let ann = sign_in(ctl, org, "ann@acme.example", &[ENGINEERING]);
    assert_eq!(ann["role"], "ROLE_ADMIN", "{ann}");
    assert_eq!(group_check(ctl, org)["decision"], "last-admin-kept");
}

fn off_leaves_roles_alone(ctl: &Ctl, org: &str) {
    set_rules(ctl, org, false);
    let bob = sign_in(ctl, org, "bob@acme.example", &[ADMINS]);
    assert_eq!(bob["role"], "ROLE_MEMBER", "{bob}");
    assert_eq!(role_of(ctl, org, "bob@acme.example"), "ROLE_MEMBER");
    assert_eq!(group_check(ctl, org)["decision"], "existing-member-kept");
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
