//! The SCIM endpoint checked by an independent compliance checker: scim2-tester (PyPI,
//! pinned in `tests/interop/scim/requirements.txt`, installed by `cargo xtask test` into
//! `target/scim-venv`) runs every check it has against the real `sso-server`. Each check must
//! pass, or be listed below with the reason it does not; a listed check that starts passing
//! fails the test too, so the list cannot go stale. The results are kept in
//! `target/scim-compliance.jsonl`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use system_tests::{RunningServer, ServerOptions, repo_root};

mod common;
use common::ctl::{Ctl, text};
use common::wait_until_serving;

const AUTH_TOKEN: &str = "auth-secret-of-the-scim-compliance-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-scim-compliance-test";
/// The domain the checker's generated addresses are moved to (see `check.py`).
const DOMAIN: &str = "scim-tester.example";

/// Checks that do not pass, by title, with why. Empty means every check passes.
const KNOWN: &[(&str, &str)] = &[];

/// Statuses that count as passing: RFC MUSTs and SHOULDs met, or MAYs used reasonably, or a
/// check the checker itself skipped (it says why in the results file).
const PASSING: &[&str] = &["SUCCESS", "COMPLIANT", "ACCEPTABLE", "SKIPPED"];

fn results(base_url: &str, token: &str) -> Vec<Value> {
    let python = repo_root().join("target/scim-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: scim2-tester is not installed. Run `cargo xtask test`, or `python3 -m \
         venv target/scim-venv && target/scim-venv/bin/pip install -r \
         tests/interop/scim/requirements.txt`",
        python.display()
    );
    let output = Command::new(python)
        .arg("-W")
        .arg("ignore")
        .arg(repo_root().join("tests/interop/scim/check.py"))
        .args([base_url, token, DOMAIN])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check.py failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(
        repo_root().join("target/scim-compliance.jsonl"),
        stdout.as_bytes(),
    )
    .unwrap();
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_finds_the_endpoint_compliant() {
    let mut server = RunningServer::start_with(
        "scim_compliance",
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            public_base_url: Some("http://127.0.0.1:{http_port}".to_owned()),
            ..ServerOptions::default()
        },
    );
    drop(wait_until_serving(&mut server).await);
    let work = system_tests::fresh_dir("scim_compliance_work");
    let ctl = Ctl {
        port: server.grpc_port,
        work: work.clone(),
        admin_token: ADMIN_TOKEN,
        auth_token: AUTH_TOKEN,
        actor: "scim-compliance-test",
    };
    let http_port = server.http_port;
    let checked = tokio::task::spawn_blocking(move || {
        let created = ctl.admin(
            &["org", "create", "--name", "Checked", "--plan", "enterprise"],
            0,
        );
        let org = text(&created, "/org/id").to_owned();
        ctl.admin(&["domain", "add", &org, DOMAIN], 0);
        let token = ctl.admin(
            &[
                "scim",
                "token",
                "create",
                &org,
                "--description",
                "scim2-tester",
            ],
            0,
        );
        let base = format!("http://127.0.0.1:{http_port}/scim/v2/{org}");
        assert_eq!(text(&token, "/scim_base_url"), base);
        results(&base, text(&token, "/secret"))
    })
    .await
    .unwrap();

    assert!(
        checked.len() > 20,
        "only {} checks ran: {checked:?}",
        checked.len()
    );
    let mut failing = Vec::new();
    let mut passing_but_listed = Vec::new();
    for result in &checked {
        let title = result["title"].as_str().unwrap_or("?");
        let status = result["status"].as_str().unwrap_or("?");
        let listed = KNOWN.iter().any(|(t, _)| *t == title);
        let passes = PASSING.contains(&status);
        if !passes && !listed {
            failing.push(format!(
                "{status} {title} [{}]: {}",
                result["resource_type"].as_str().unwrap_or("-"),
                result["reason"].as_str().unwrap_or("")
            ));
        }
        if passes && listed && status != "SKIPPED" {
            passing_but_listed.push(title.to_owned());
        }
    }
    assert!(
        failing.is_empty(),
        "{} checks fail:\n{}",
        failing.len(),
        failing.join("\n")
    );
    assert!(
        passing_but_listed.is_empty(),
        "listed but passing: {passing_but_listed:?}"
    );

    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&work);
}
