//! A real browser through the whole sign-in: headless Chromium (driven by Playwright, in
//! `tests/interop/browser/sign-in.js`) opens the example app (`examples/sso-app`), types an
//! email, is sent to a web IdP with a login form (samlify, `tests/interop/samlify/idp-server.js`),
//! signs in there, posts the response to the real `sso-server`'s ACS and lands back on the app,
//! which redeems the login code over gRPC. Screenshots go to `target/browser-artifacts/`.
//!
//! `cargo xtask test` installs Chromium (Debian `chromium`) and the npm packages; without them
//! this test fails and says how to install.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::node::NodeServer;
use common::{http_get, key_pair, wait_until_serving, with_token};
use serde_json::Value;
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Reason, Role};
use system_tests::{RunningServer, ServerOptions, free_port, fresh_dir, repo_root};
use tonic::transport::Channel;

const AUTH_TOKEN: &str = "auth-secret-for-the-browser-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-browser-test";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one browser run may take (a cold Chromium start included).
const BROWSER_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Fails with how to install it when a tool this test drives is missing.
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

/// What the browser saw at the end of one sign-in.
#[derive(Debug)]
struct BrowserRun {
    url: String,
    text: String,
    visited: Vec<String>,
}

/// One sign-in in headless Chromium: `email` on the app's page, `idp_email` at the IdP's
/// login form; a full-page screenshot of where it ended goes to `screenshot`.
fn browser_sign_in(app_url: &str, email: &str, idp_email: &str, screenshot: &Path) -> BrowserRun {
    let script = repo_root().join("tests/interop/browser/sign-in.js");
    let mut child = Command::new("node")
        .arg(script)
        .args(["--app", app_url, "--email", email, "--idp-email", idp_email])
        .arg("--screenshot")
        .arg(screenshot)
        .args(["--chromium", CHROMIUM])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node does not start: {e}"));
    let deadline = Instant::now() + BROWSER_TIME_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser run did not finish within {BROWSER_TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser run failed ({}):\n{}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("sign-in.js printed no JSON ({e}): {stdout}"));
    BrowserRun {
        url: json["url"].as_str().unwrap().to_owned(),
        text: json["text"].as_str().unwrap().to_owned(),
        visited: json["visited"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect(),
    }
}

/// A Growth org with `domain` verified, `idp_metadata` imported, the connection enabled and
/// JIT as members; its ID.
async fn org_with_idp(admin: &mut AdminServiceClient<Channel>, domain: &str, idp: &str) -> String {
    let token = Some(ADMIN_TOKEN);
    let org = admin
        .create_org(with_token(
            v1::CreateOrgRequest {
                name: "Browser Co".to_owned(),
                plan: Plan::Growth.into(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    admin
        .add_verified_domain(with_token(
            v1::VerifiedDomainRequest {
                org_id: org.id.clone(),
                domain: domain.to_owned(),
            },
            token,
        ))
        .await
        .unwrap();
    admin
        .import_idp_metadata(with_token(
            v1::ImportIdpMetadataRequest {
                org_id: org.id.clone(),
                metadata_xml: idp.to_owned(),
                entity_id: String::new(),
                signing_certificate: String::new(),
            },
            token,
        ))
        .await
        .unwrap_or_else(|e| panic!("importing the IdP metadata: {e:?}\n{idp}"));
    admin
        .set_connection_enabled(with_token(
            v1::SetConnectionEnabledRequest {
                org_id: org.id.clone(),
                enabled: true,
            },
            token,
        ))
        .await
        .unwrap();
    admin
        .set_jit(with_token(
            v1::SetJitRequest {
                org_id: org.id.clone(),
                role: Role::Member.into(),
                default_project_ids: Vec::new(),
            },
            token,
        ))
        .await
        .unwrap();
    org.id
}

async fn password_login(
    auth: &mut AuthServiceClient<Channel>,
    org_id: &str,
    email: &str,
) -> v1::CheckPasswordLoginResponse {
    auth.check_password_login(with_token(
        v1::CheckPasswordLoginRequest {
            email: email.to_owned(),
            org_id: org_id.to_owned(),
        },
        Some(AUTH_TOKEN),
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn last_trace(admin: &mut AdminServiceClient<Channel>, org_id: &str) -> v1::LoginTrace {
    admin
        .list_login_traces(with_token(
            v1::ListLoginTracesRequest {
                org_id: org_id.to_owned(),
                page_size: 1,
                page_token: String::new(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner()
        .traces
        .into_iter()
        .next()
        .expect("a login trace")
}

/// A saved screenshot: a PNG file of some size.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{}",
        path.display()
    );
    assert!(
        bytes.len() > 1000,
        "{}: {} bytes",
        path.display(),
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_a_browser_and_a_stranger_is_told_why_not() {
    require_tools();
    let dir = fresh_dir("browser_test");
    let artifacts = repo_root().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    // The server's public URL is its real HTTP address: the browser posts to its ACS.
    let options = ServerOptions {
        public_base_url: Some("http://127.0.0.1:{http_port}".to_owned()),
        ..ServerOptions::default()
    };
    let mut server = RunningServer::start_with("browser_sso", AUTH_TOKEN, ADMIN_TOKEN, options);
    let channel = wait_until_serving(&mut server).await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let mut auth = AuthServiceClient::new(channel);

    let (key, cert) = key_pair("browser test idp");
    std::fs::write(dir.join("idp-key.pem"), key).unwrap();
    std::fs::write(dir.join("idp-cert.pem"), cert).unwrap();
    let sp_file = dir.join("sp-metadata.xml");
    let idp_port = free_port();
    let idp_port_arg = idp_port.to_string();
    let key_arg = dir.join("idp-key.pem").display().to_string();
    let cert_arg = dir.join("idp-cert.pem").display().to_string();
    let sp_arg = sp_file.display().to_string();
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
    let idp_metadata = http_get(idp.port, "/metadata").await.body;

    let domain = "browser-co.example.com";
    let org_id = org_with_idp(&mut admin, domain, &idp_metadata).await;
    let sp = auth
        .get_service_provider_metadata(with_token(
            v1::GetServiceProviderMetadataRequest {
                org_id: org_id.clone(),
            },
            Some(AUTH_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner();
    let acs_prefix = format!("http://127.0.0.1:{}/saml/2/acs/", server.http_port);
    assert!(sp.acs_url.starts_with(&acs_prefix), "{sp:?}");
    std::fs::write(&sp_file, &sp.metadata_xml).unwrap();

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
    let app_url = format!("http://127.0.0.1:{}/", app.port);

    // Not a member before signing in.
    let email = format!("jane.doe@{domain}");
    let before = password_login(&mut auth, &org_id, &email).await;
    assert!(!before.member, "{before:?}");

    let started = Instant::now();
    let signed_in_png = artifacts.join("signed-in.png");
    let _ = std::fs::remove_file(&signed_in_png);
    let run = browser_sign_in(&app_url, &email, &email, &signed_in_png);
    eprintln!("browser sign-in took {:?}", started.elapsed());
    assert!(
        run.url.starts_with(&format!("{app_url}sso/callback?code=")),
        "{run:?}"
    );
    assert!(
        run.text
            .contains(&format!("Signed in as {email} (role member)")),
        "{run:?}\napp: {}\nidp: {}",
        app.stderr(),
        idp.stderr()
    );
    assert!(run.text.contains("account was just created"), "{run:?}");
    let idp_sso = format!("http://127.0.0.1:{idp_port}/sso?SAMLRequest=");
    assert!(
        run.visited.iter().any(|u| u.starts_with(&idp_sso)),
        "the browser never reached the IdP: {run:?}"
    );
    assert_png(&signed_in_png);

    // JIT made a member: the org does not require SSO, so a password login is now allowed.
    let after = password_login(&mut auth, &org_id, &email).await;
    assert!(after.allowed, "{after:?}");
    let trace = last_trace(&mut admin, &org_id).await;
    assert_eq!(trace.outcome, "success", "{trace:?}");
    assert!(trace.detail_json.contains(&email), "{trace:?}");

    // Someone of another domain signs in at the org's IdP: refused, and told why in words.
    let stranger = "sam@elsewhere.example.net";
    let refused_png = artifacts.join("domain-not-verified.png");
    let _ = std::fs::remove_file(&refused_png);
    let run = browser_sign_in(&app_url, &email, stranger, &refused_png);
    assert!(
        run.url
            .starts_with(&format!("{app_url}sso/callback?error=domain-not-verified")),
        "{run:?}"
    );
    assert!(
        run.text
            .contains("Your email domain is not verified for this organization"),
        "{run:?}"
    );
    assert!(!run.text.contains("Signed in as"), "{run:?}");
    assert_png(&refused_png);
    let trace = last_trace(&mut admin, &org_id).await;
    assert_eq!(trace.outcome, "refused", "{trace:?}");
    assert_eq!(trace.reason_code, "domain-not-verified", "{trace:?}");
    assert_eq!(trace.reason(), Reason::DomainNotVerified, "{trace:?}");
    let stranger_login = password_login(&mut auth, &org_id, stranger).await;
    assert!(!stranger_login.member, "{stranger_login:?}");

    drop(app);
    drop(idp);
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&dir);
}
