//! The "Try a login on your machine" walk-through of README.md, through the real `ssoctl` and
//! `sso-server` binaries: set up an org with `ssoctl admin`, make a local IdP with
//! `ssoctl dev-idp init`, begin a login by email, let `ssoctl dev-idp respond --post` answer
//! the AuthnRequest and post the signed response to the ACS, then redeem the code once.
//!
//! The server's public base URL is a small TCP relay in front of its HTTP port, as a proxy
//! would be in production: `dev-idp respond --post` posts to the ACS URL the AuthnRequest
//! names, unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use system_tests::{RunningServer, ServerOptions};

mod common;
use common::{query_param, wait_until_serving};

const AUTH_TOKEN: &str = "auth-secret-of-the-ssoctl-login-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-ssoctl-login-test";
const RETURN_URL: &str = "http://127.0.0.1:3000/signed-in";
const EMAIL: &str = "alice@acme.example";

/// `ssoctl ARGS` against the server's gRPC port, with none of the caller's `SSO_*`
/// environment; `auth_token` goes in `SSO_AUTH_TOKEN`, as a shell would set it.
fn ssoctl(grpc_port: u16, auth_token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(system_tests::binary("ssoctl"));
    for name in [
        "SSO_SERVER",
        "SSO_ADMIN_TOKEN",
        "SSO_AUTH_TOKEN",
        "SSO_ACTOR",
    ] {
        command.env_remove(name);
    }
    if let Some(token) = auth_token {
        command.env("SSO_AUTH_TOKEN", token);
    }
    command
        .env("SSO_SERVER", format!("http://127.0.0.1:{grpc_port}"))
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

/// Relays every connection to `listener` to `127.0.0.1:upstream`, until the test ends.
fn relay(listener: TcpListener, upstream: u16) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
}

fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

#[test]
fn the_readme_login_walk_through_through_ssoctl() {
    let public = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", public.local_addr().unwrap());
    let mut server = RunningServer::start_with(
        "ssoctl_login_test",
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url: None,
            public_base_url: Some(base_url.clone()),
            args: vec!["--default-return-url".into(), RETURN_URL.into()],
            ..ServerOptions::default()
        },
    );
    relay(public, server.http_port);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    drop(runtime.block_on(wait_until_serving(&mut server)));
    let port = server.grpc_port;
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "--token", ADMIN_TOKEN];
        all.extend_from_slice(args);
        ssoctl(port, None, &all)
    };
    let login = |args: &[&str]| {
        let mut all = vec!["login"];
        all.extend_from_slice(args);
        ssoctl(port, Some(AUTH_TOKEN), &all)
    };
    let work = std::env::temp_dir().join(format!("ssoctl_login_idp_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let idp_dir = work.join("dev-idp");
    let idp_dir = idp_dir.to_str().unwrap();

    // The org, its domain, the local IdP and the connection, as README.md does them.
    let org = json_of(
        &admin(&["org", "create", "--name", "Acme", "--plan", "growth"]),
        0,
    );
    let org = text(&org, "/org/id").to_owned();
    json_of(&admin(&["domain", "add", &org, "acme.example"]), 0);
    let idp = json_of(
        &ssoctl(port, None, &["dev-idp", "init", "--dir", idp_dir]),
        0,
    );
    for file in ["key.pem", "cert.pem", "metadata.xml"] {
        assert!(Path::new(idp_dir).join(file).is_file(), "{file}: {idp}");
    }
    // A second init would replace the IdP the connection trusts: refused without --force.
    let again = ssoctl(port, None, &["dev-idp", "init", "--dir", idp_dir]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let metadata = format!("{idp_dir}/metadata.xml");
    let imported = json_of(
        &admin(&["connection", "import", &org, "--metadata", &metadata]),
        0,
    );
    assert_eq!(
        text(&imported, "/connection/idp_entity_id"),
        text(&idp, "/entity_id")
    );
    let acs_url = format!("{base_url}/saml/2/acs/{org}");
    assert_eq!(text(&imported, "/connection/acs_url"), acs_url);
    json_of(&admin(&["connection", "enable", &org]), 0);
    json_of(&admin(&["jit", "set", &org, "--role", "member"]), 0);

    // Without the auth token the login does not start.
    let refused = json_of(
        &ssoctl(port, None, &["login", "begin", "--email", EMAIL]),
        1,
    );
    assert_eq!(refused["reason"], "REASON_UNAUTHENTICATED", "{refused}");

    // Begin by email, let the local IdP answer and post to the ACS, redeem the code.
    let begun = json_of(&login(&["begin", "--email", EMAIL]), 0);
    assert_eq!(text(&begun, "/org_id"), org);
    let redirect_url = text(&begun, "/redirect_url");
    assert!(
        redirect_url.starts_with(text(&idp, "/sso_url")),
        "{redirect_url}"
    );
    let posted = json_of(
        &ssoctl(
            port,
            None,
            &[
                "dev-idp",
                "respond",
                "--dir",
                idp_dir,
                "--request-url",
                redirect_url,
                "--email",
                EMAIL,
                "--post",
            ],
        ),
        0,
    );
    assert_eq!(posted["status"], 303, "{posted}");
    assert_eq!(text(&posted, "/acs_url"), acs_url);
    let location = text(&posted, "/location");
    assert!(
        location.starts_with(&format!("{RETURN_URL}?code=")),
        "{location}"
    );
    let code = text(&posted, "/code").to_owned();
    assert_eq!(
        query_param(location, "code").as_deref(),
        Some(code.as_str())
    );

    let redeemed = json_of(&login(&["redeem", &code]), 0);
    assert_eq!(text(&redeemed, "/login/user/email"), EMAIL, "{redeemed}");
    assert_eq!(text(&redeemed, "/login/org_id"), org, "{redeemed}");
    assert_eq!(text(&redeemed, "/login/role"), "ROLE_MEMBER", "{redeemed}");
    assert_eq!(redeemed["login"]["membership_created"], true, "{redeemed}");
    assert!(redeemed["login"]["return_target"].is_null(), "{redeemed}");

    // The code is single-use.
    let reused = json_of(&login(&["redeem", &code]), 1);
    assert_eq!(reused["ok"], false, "{reused}");
    assert_eq!(reused["reason"], "REASON_LOGIN_CODE_USED", "{reused}");
    assert_eq!(reused["reason_code"], "login-code-used", "{reused}");

    // A second login the way a service with its own ACS route does it: the form fields
    // printed, then `login complete`. The member exists now.
    let begun = json_of(&login(&["begin", "--org", &org]), 0);
    let form = json_of(
        &ssoctl(
            port,
            None,
            &[
                "dev-idp",
                "respond",
                "--dir",
                idp_dir,
                "--request-url",
                text(&begun, "/redirect_url"),
                "--email",
                EMAIL,
            ],
        ),
        0,
    );
    assert_eq!(text(&form, "/in_response_to"), text(&begun, "/request_id"));
    assert_eq!(text(&form, "/RelayState"), text(&begun, "/relay_state"));
    let response_file = work.join("response.b64");
    std::fs::write(&response_file, text(&form, "/SAMLResponse")).unwrap();
    let completed = json_of(
        &login(&[
            "complete",
            "--org",
            &org,
            "--response",
            response_file.to_str().unwrap(),
            "--relay-state",
            text(&form, "/RelayState"),
        ]),
        0,
    );
    assert_eq!(text(&completed, "/login/user/email"), EMAIL, "{completed}");
    assert_eq!(
        completed["login"]["membership_created"], false,
        "{completed}"
    );

    // The SSO logins count: requiring SSO is allowed now.
    let required = json_of(&admin(&["require-sso", &org, "on"]), 0);
    assert_eq!(required["org"]["require_sso"], true, "{required}");

    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&work);
}
