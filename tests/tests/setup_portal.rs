//! The setup portal through a real browser: headless Chromium (Playwright, in
//! `tests/interop/browser/setup-portal.js`) goes from an empty org and a fresh setup link
//! through every step against a samlify IdP (`tests/interop/samlify/idp-server.js`), with a
//! domain proven through dnsmasq as the server's `--dns-server`, to a successful test sign-in,
//! SSO required and a real sign-in through `examples/sso-app`. Each page is checked with
//! axe-core (no serious or critical finding) and screenshotted under
//! `target/browser-artifacts/setup-portal/` (the test prints the path). Then, without a
//! browser: a link refused after expiry, after revocation and on another org, and a form post
//! without its CSRF token.
//!
//! `cargo xtask test` installs Chromium, dnsmasq and the npm packages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::node::NodeServer;
use common::{http_get, key_pair, wait_until_serving, with_token};
use serde_json::Value;
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan};
use sso_testkit::dns::TestDns;
use system_tests::{RunningServer, ServerOptions, free_port, fresh_dir, repo_root};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

const AUTH_TOKEN: &str = "auth-secret-for-the-portal-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-portal-test";
const CHROMIUM: &str = "/usr/bin/chromium";

fn require_tools() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run `cargo xtask test`, or `apt-get install chromium`"
    );
    for dir in [
        "examples/sso-app",
        "tests/interop/browser",
        "tests/interop/samlify",
    ] {
        assert!(
            repo_root().join(dir).join("node_modules").is_dir(),
            "{dir}/node_modules is missing: run `cargo xtask test`, or `npm ci` in {dir}"
        );
    }
}

async fn create_org(admin: &mut AdminServiceClient<Channel>, name: &str) -> String {
    admin
        .create_org(with_token(
            v1::CreateOrgRequest {
                name: name.to_owned(),
                plan: Plan::Growth.into(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn setup_link(
    admin: &mut AdminServiceClient<Channel>,
    org: &str,
    ttl: u32,
) -> (String, String) {
    let created = admin
        .create_setup_link(with_token(
            v1::CreateSetupLinkRequest {
                org_id: org.to_owned(),
                ttl_seconds: ttl,
                abilities: Vec::new(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner();
    (created.link.unwrap().id, created.url)
}

/// One request with the session cookie of `token` (when given); status and body.
async fn with_cookie(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    form: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Cookie: sso_setup={token}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", form.len()));
    }
    head.push_str("\r\n");
    head.push_str(form);
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw)
}

/// The path and token of a setup link URL.
fn link_parts(url: &str, http_port: u16) -> (String, String) {
    let path = url
        .strip_prefix(&format!("http://127.0.0.1:{http_port}"))
        .unwrap()
        .to_owned();
    let token = path.rsplit_once("/link/").unwrap().1.to_owned();
    (path, token)
}

/// Runs the browser through the portal, publishing the DNS record it asks for; its report.
fn run_browser(args: &[String], mut dns: TestDns) -> (Value, TestDns) {
    let script = repo_root().join("tests/interop/browser/setup-portal.js");
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut report = Value::Null;
    for line in stdout.lines() {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("setup-portal.js printed no JSON ({e}): {line}"));
        if let Some(record) = message.get("publish") {
            let name = record["name"].as_str().unwrap();
            let value = record["value"].as_str().unwrap();
            dns.set_records(&[(name, value)]);
            writeln!(stdin, "published").unwrap();
        } else {
            report = message;
        }
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && report["done"] == true,
        "the browser run failed ({}):\n{}\nlast report: {report}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    (report, dns)
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_it_admin_sets_sso_up_alone_with_a_setup_link() {
    require_tools();
    let dir = fresh_dir("setup_portal_test");
    let artifacts: PathBuf = repo_root().join("target/browser-artifacts/setup-portal");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    eprintln!("setup portal screenshots: {}", artifacts.display());

    let dns = TestDns::start(&[]);
    let options = ServerOptions {
        public_base_url: Some("http://127.0.0.1:{http_port}".to_owned()),
        args: vec!["--dns-server".to_owned(), dns.addr().to_string()],
        ..ServerOptions::default()
    };
    let mut server = RunningServer::start_with("setup_portal", AUTH_TOKEN, ADMIN_TOKEN, options);
    let channel = wait_until_serving(&mut server).await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let mut auth = AuthServiceClient::new(channel);
    let http_port = server.http_port;

    // An empty org and a fresh link.
    let org = create_org(&mut admin, "Portal Co").await;
    let (link_id, url) = setup_link(&mut admin, &org, 0).await;
    assert!(
        url.starts_with(&format!(
            "http://127.0.0.1:{http_port}/setup/{org}/link/sso_setup_"
        )),
        "{url}"
    );

    // The IdP knows the org's SP metadata; its own metadata is the file the admin uploads.
    let (key, cert) = key_pair("portal test idp");
    std::fs::write(dir.join("idp-key.pem"), key).unwrap();
    std::fs::write(dir.join("idp-cert.pem"), cert).unwrap();
    let sp_file = dir.join("sp-metadata.xml");
    std::fs::write(
        &sp_file,
        http_get(http_port, &format!("/saml/2/metadata/{org}"))
            .await
            .body,
    )
    .unwrap();
    let idp_port = free_port();
    let (idp_port_arg, key_arg, cert_arg, sp_arg) = (
        idp_port.to_string(),
        dir.join("idp-key.pem").display().to_string(),
        dir.join("idp-cert.pem").display().to_string(),
        sp_file.display().to_string(),
    );
    let idp = NodeServer::start(
        "idp",
        &dir,
        &repo_root().join("tests/interop/samlify/idp-server.js"),
        &[
            "--key",
            &key_arg,
            "--cert",
            &cert_arg,
            "--port",
            &idp_port_arg,
            "--sp-metadata",
            &sp_arg,
        ],
        &[],
        idp_port,
        "/metadata",
    )
    .await;
    let idp_metadata = dir.join("idp-metadata.xml");
    std::fs::write(&idp_metadata, http_get(idp.port, "/metadata").await.body).unwrap();
    let app_port = free_port();
    let app = NodeServer::start(
        "app",
        &dir,
        &repo_root().join("examples/sso-app/app.js"),
        &[],
        &[
            ("SSO_GRPC_ADDR", format!("127.0.0.1:{}", server.grpc_port)),
            ("SSO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
            ("APP_LISTEN", format!("127.0.0.1:{app_port}")),
        ],
        app_port,
        "/",
    )
    .await;

    let domain = "portal-co.example.com";
    let email = format!("ada@{domain}");
    let args: Vec<String> = [
        "--link",
        &url,
        "--app",
        &format!("http://127.0.0.1:{app_port}/"),
        "--idp-metadata",
        &idp_metadata.display().to_string(),
        "--domain",
        domain,
        "--email",
        &email,
        "--screenshots",
        &artifacts.display().to_string(),
        "--chromium",
        CHROMIUM,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let (report, _dns) = tokio::task::spawn_blocking(move || run_browser(&args, dns))
        .await
        .unwrap();
    eprintln!("portal report: {report}");

    assert_eq!(
        report["acsUrl"],
        format!("http://127.0.0.1:{http_port}/saml/2/acs/{org}")
    );
    assert!(
        report["testChecks"].as_str().unwrap().contains("Passed"),
        "{report}"
    );
    assert!(
        report["testState"].as_str().unwrap().contains("Succeeded"),
        "{report}"
    );
    assert!(
        report["signedIn"]
            .as_str()
            .unwrap()
            .contains(&format!("Signed in as {email}")),
        "{report}"
    );
    let sign_ins = report["signIns"].as_str().unwrap();
    assert!(
        sign_ins.contains(&email) && sign_ins.contains("Signed in"),
        "{sign_ins}"
    );
    assert_eq!(report["requireState"], "SSO is required now.");
    assert_eq!(report["csrf"]["missing"]["status"], 403);
    for page in report["pages"].as_array().unwrap() {
        assert_png(&artifacts.join(format!("{}.png", page.as_str().unwrap())));
    }
    assert!(report["pages"].as_array().unwrap().len() >= 10, "{report}");

    // What the portal did is real, and audited under the link.
    let got = admin
        .get_org(with_token(
            v1::GetOrgRequest {
                org_id: org.clone(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(got.require_sso_in_effect, "{got:?}");
    let password = auth
        .check_password_login(with_token(
            v1::CheckPasswordLoginRequest {
                email: email.clone(),
                org_id: org.clone(),
            },
            Some(AUTH_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!password.allowed, "{password:?}");
    let traces = admin
        .list_login_traces(with_token(
            v1::ListLoginTracesRequest {
                org_id: org.clone(),
                page_size: 100,
                page_token: String::new(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner()
        .traces;
    let actor = format!("setup-link:{link_id}");
    let by_link: Vec<&str> = traces
        .iter()
        .filter(|t| t.actor == actor)
        .map(|t| t.kind.as_str())
        .collect();
    for kind in [
        "idp-metadata-imported",
        "sso-test-login-start",
        "domain-claimed",
        "domain-verified",
        "jit-changed",
        "connection-enabled-changed",
        "require-sso-changed",
    ] {
        assert!(
            by_link.contains(&kind),
            "{kind} not by {actor}: {by_link:?}"
        );
    }

    // Refusals without a browser. Another org's pages refuse the link, by URL and by cookie.
    let (path, token) = link_parts(&url, http_port);
    let other = create_org(&mut admin, "Other Co").await;
    let (status, body) = with_cookie(
        http_port,
        "GET",
        &path.replace(&format!("/setup/{org}/"), &format!("/setup/{other}/")),
        None,
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("setup-link-wrong-org"), "{body}");
    let (status, body) = with_cookie(
        http_port,
        "GET",
        &format!("/setup/{other}/domains"),
        Some(&token),
        "",
    )
    .await;
    assert!(
        status == 403 && body.contains("setup-link-wrong-org"),
        "{body}"
    );
    // Its own pages accept it; a post without the CSRF token is refused and changes nothing.
    let (status, body) = with_cookie(
        http_port,
        "GET",
        &format!("/setup/{org}/domains"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("content-security-policy: default-src 'none'"),
        "{body}"
    );
    assert!(body.contains("cache-control: no-store"), "{body}");
    let (status, body) = with_cookie(
        http_port,
        "POST",
        &format!("/setup/{org}/domains"),
        Some(&token),
        "domain=forged.example.org",
    )
    .await;
    assert!(
        status == 403 && body.contains("setup-csrf-mismatch"),
        "{body}"
    );
    let (_, listing) = with_cookie(
        http_port,
        "GET",
        &format!("/setup/{org}/domains"),
        Some(&token),
        "",
    )
    .await;
    assert!(!listing.contains("forged.example.org"));
    // No cookie: told to open the link.
    let (status, _) =
        with_cookie(http_port, "GET", &format!("/setup/{org}/domains"), None, "").await;
    assert_eq!(status, 401);

    // Revoked: refused at once, session included.
    admin
        .revoke_setup_link(with_token(
            v1::RevokeSetupLinkRequest {
                org_id: org.clone(),
                link_id: link_id.clone(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap();
    let (status, body) = with_cookie(http_port, "GET", &path, None, "").await;
    assert!(
        status == 403 && body.contains("setup-link-revoked"),
        "{body}"
    );
    let (status, body) = with_cookie(
        http_port,
        "GET",
        &format!("/setup/{org}/"),
        Some(&token),
        "",
    )
    .await;
    assert!(
        status == 403 && body.contains("setup-link-revoked"),
        "{body}"
    );

    // Expired: a one-second link, opened once in time and then too late.
    let (_, short_url) = setup_link(&mut admin, &org, 1).await;
    let (short_path, _) = link_parts(&short_url, http_port);
    let (status, body) = with_cookie(http_port, "GET", &short_path, None, "").await;
    assert_eq!(status, 303, "{body}");
    assert!(
        body.contains("set-cookie: sso_setup=") && body.contains("HttpOnly"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = with_cookie(http_port, "GET", &short_path, None, "").await;
    assert!(
        status == 403 && body.contains("setup-link-expired"),
        "{body}"
    );

    drop(app);
    drop(idp);
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&dir);
}
