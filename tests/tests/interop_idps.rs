//! Independent identity providers against the real `sso-server`: pysaml2 (PyPI) and samlify
//! (npm), each run as a subprocess script in `tests/interop/`, configured only from the SP
//! metadata the service publishes, answering the AuthnRequests the service makes, with their
//! own signing and encryption code. The calling service's side is driven over gRPC exactly as a
//! product service would: AdminService to set the org up, AuthService to begin and complete.
//!
//! `cargo xtask test` installs both (a venv in `target/interop-venv`, `npm ci` in
//! `tests/interop/samlify`); without them these tests fail and say how to install.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sso_grpc::reason_of;
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::begin_sso_login_request::Target;
use sso_grpc::v1::{self, Plan, Reason, Role};
use system_tests::{RunningServer, ServerOptions, repo_root};

mod common;
use common::key_pair;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

const AUTH_TOKEN: &str = "auth-secret-for-the-interop-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-interop-test";
/// How long one IdP action may take (a cold Python or Node start included).
const IDP_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The body of a PEM certificate: what metadata carries in `X509Certificate`.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// An identity provider implementation from a package registry.
#[derive(Clone, Copy, Debug)]
enum Software {
    Pysaml2,
    Samlify,
}

impl Software {
    fn name(self) -> &'static str {
        match self {
            Software::Pysaml2 => "pysaml2",
            Software::Samlify => "samlify",
        }
    }

    /// The command running this IdP's script, or a failure saying how to install it.
    fn command(self) -> Command {
        let dir = repo_root().join("tests/interop").join(self.name());
        match self {
            Software::Pysaml2 => {
                let python = repo_root().join("target/interop-venv/bin/python");
                assert!(
                    python.is_file(),
                    "{} is missing: pysaml2 is not installed. Run `cargo xtask test`, or \
                     `python3 -m venv target/interop-venv && target/interop-venv/bin/pip \
                     install -r tests/interop/pysaml2/requirements.txt`",
                    python.display()
                );
                let mut command = Command::new(python);
                command.arg("-W").arg("ignore").arg(dir.join("idp.py"));
                command
            }
            Software::Samlify => {
                assert!(
                    dir.join("node_modules/samlify").is_dir(),
                    "{}/node_modules is missing: samlify is not installed. Run `cargo xtask \
                     test`, or `npm ci` in tests/interop/samlify (needs node and npm)",
                    dir.display()
                );
                let mut command = Command::new("node");
                command.arg(dir.join("idp.js"));
                command
            }
        }
    }
}

/// One IdP: its software, entity ID, key pair on disk, a scratch directory, and the settings
/// of the metadata it last published (every later action runs with the same settings).
struct Idp {
    software: Software,
    entity_id: String,
    sso_url: String,
    dir: PathBuf,
    post_only: bool,
    want_signed_requests: bool,
}

/// What the IdP's script printed for one response.
#[derive(Debug)]
struct IdpResponse {
    saml_response: String,
    relay_state: Option<String>,
    destination: String,
    in_response_to: Option<String>,
}

impl Idp {
    fn new(software: Software, label: &str) -> Idp {
        let host = format!("{label}.{}.idp.test", software.name());
        let dir = std::env::temp_dir().join(format!(
            "interop_{}_{label}_{}",
            software.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = key_pair(&host);
        std::fs::write(dir.join("idp-key.pem"), key).unwrap();
        std::fs::write(dir.join("idp-cert.pem"), cert).unwrap();
        Idp {
            software,
            entity_id: format!("https://{host}/metadata"),
            sso_url: format!("https://{host}/sso"),
            dir,
            post_only: false,
            want_signed_requests: false,
        }
    }

    /// Runs the script with the IdP's identity and `args`; its stdout, or a failure with its
    /// stderr.
    fn run(&self, args: &[&str]) -> String {
        self.try_run(args)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Runs the script with the IdP's identity and `args`: its stdout, or what it said when
    /// it failed.
    fn try_run(&self, args: &[&str]) -> Result<String, String> {
        let mut command = self.software.command();
        command
            .arg(args[0])
            .arg("--key")
            .arg(self.dir.join("idp-key.pem"))
            .arg("--cert")
            .arg(self.dir.join("idp-cert.pem"))
            .args(["--entity-id", &self.entity_id, "--sso-url", &self.sso_url])
            .args(&args[1..]);
        if self.post_only {
            command.arg("--post-only");
        }
        if self.want_signed_requests {
            command.arg("--want-signed-requests");
        }
        run_with_limit(command, &self.dir, self.software.name())
    }

    /// The IdP's metadata: SingleSignOnService on both bindings, or on HTTP-POST only; with
    /// `want_signed_requests` the IdP refuses AuthnRequests without a valid signature.
    fn metadata(&mut self, post_only: bool, want_signed_requests: bool) -> String {
        self.post_only = post_only;
        self.want_signed_requests = want_signed_requests;
        self.run(&["metadata"])
    }

    /// The IdP's answer to `request` (or an unsolicited response when `None`) for `email`.
    fn respond(
        &self,
        sp_metadata: &str,
        request: Option<&v1::BeginSsoLoginResponse>,
        flags: &[&str],
        email: &str,
    ) -> IdpResponse {
        self.try_respond(sp_metadata, request, flags, email)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// [`respond`](Self::respond), or what the IdP said when it refused.
    fn try_respond(
        &self,
        sp_metadata: &str,
        request: Option<&v1::BeginSsoLoginResponse>,
        flags: &[&str],
        email: &str,
    ) -> Result<IdpResponse, String> {
        let sp_file = self.dir.join("sp-metadata.xml");
        std::fs::write(&sp_file, sp_metadata).unwrap();
        let sp_file = sp_file.to_str().unwrap().to_owned();
        let form_file = self.dir.join("post-form.html");
        let form_file = form_file.to_str().unwrap().to_owned();
        let mut args = vec!["respond", "--sp-metadata", &sp_file, "--email", email];
        if let Some(begin) = request {
            if begin.redirect_url.is_empty() {
                std::fs::write(&form_file, &begin.post_form_html).unwrap();
                args.extend(["--post-form", &form_file]);
            } else {
                args.extend(["--redirect-url", &begin.redirect_url]);
            }
        }
        args.extend(flags);
        let out = self.try_run(&args)?;
        let json: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {out}", self.software.name()));
        let text = |key: &str| json[key].as_str().map(str::to_owned);
        Ok(IdpResponse {
            saml_response: text("saml_response").unwrap(),
            relay_state: text("relay_state"),
            destination: text("destination").unwrap(),
            in_response_to: text("in_response_to"),
        })
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command` with stdout and stderr in files under `dir`, for at most `IDP_TIME_LIMIT`:
/// its stdout, or how it failed with its stderr.
fn run_with_limit(mut command: Command, dir: &Path, name: &str) -> Result<String, String> {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} does not start ({command:?}): {e}"));
    let deadline = Instant::now() + IDP_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {IDP_TIME_LIMIT:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{name} failed ({status}): {command:?}\nstderr: {stderr}\nstdout: {stdout}"
        ))
    }
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The service as a product service sees it: the running server and its two clients.
struct Service {
    server: RunningServer,
    admin: AdminServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
}

impl Service {
    /// The real server, with an SP key pair so it signs requests and can decrypt.
    async fn start(name: &str) -> (Service, String) {
        let (key, cert) = key_pair("sso interop sp");
        let options = ServerOptions {
            sp_key_pem: Some((key, cert.clone())),
            ..ServerOptions::default()
        };
        let mut server = RunningServer::start_with(name, AUTH_TOKEN, ADMIN_TOKEN, options);
        let url = format!("http://127.0.0.1:{}", server.grpc_port);
        let deadline = Instant::now() + Duration::from_secs(60);
        let channel = loop {
            server.assert_running();
            assert!(
                Instant::now() < deadline,
                "sso-server not serving in time:\n{}",
                server.log()
            );
            let endpoint = Endpoint::from_shared(url.clone())
                .unwrap()
                .timeout(Duration::from_secs(30));
            if let Ok(channel) = endpoint.connect().await {
                break channel;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let service = Service {
            server,
            admin: AdminServiceClient::new(channel.clone()),
            auth: AuthServiceClient::new(channel),
        };
        (service, cert)
    }

    /// A Growth org with `domain` verified, `idp_metadata` imported, the connection enabled and
    /// JIT as members; its ID.
    async fn org_with_idp(&mut self, name: &str, domain: &str, idp_metadata: &str) -> String {
        let org = self
            .admin
            .create_org(with_token(
                v1::CreateOrgRequest {
                    name: name.to_owned(),
                    plan: Plan::Growth.into(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        self.admin
            .add_verified_domain(with_token(
                v1::VerifiedDomainRequest {
                    org_id: org.id.clone(),
                    domain: domain.to_owned(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap();
        self.import(&org.id, idp_metadata).await;
        self.admin
            .set_connection_enabled(with_token(
                v1::SetConnectionEnabledRequest {
                    org_id: org.id.clone(),
                    enabled: true,
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap();
        self.admin
            .set_jit(with_token(
                v1::SetJitRequest {
                    org_id: org.id.clone(),
                    role: Role::Member.into(),
                    default_project_ids: Vec::new(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap();
        org.id
    }

    async fn import(&mut self, org_id: &str, idp_metadata: &str) -> v1::Connection {
        self.admin
            .import_idp_metadata(with_token(
                v1::ImportIdpMetadataRequest {
                    org_id: org_id.to_owned(),
                    metadata_xml: idp_metadata.to_owned(),
                    entity_id: String::new(),
                    signing_certificate: String::new(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap_or_else(|e| panic!("importing the IdP metadata: {e:?}\n{idp_metadata}"))
            .into_inner()
    }

    async fn set_options(&mut self, org_id: &str, allow_unsolicited: bool, allow_sha1: bool) {
        self.admin
            .set_connection_options(with_token(
                v1::SetConnectionOptionsRequest {
                    org_id: org_id.to_owned(),
                    allow_unsolicited,
                    allow_sha1,
                    clock_skew_seconds: 0,
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap();
    }

    async fn sp_metadata(&mut self, org_id: &str) -> v1::GetServiceProviderMetadataResponse {
        self.auth
            .get_service_provider_metadata(with_token(
                v1::GetServiceProviderMetadataRequest {
                    org_id: org_id.to_owned(),
                },
                AUTH_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn begin(&mut self, email: &str, return_target: &str) -> v1::BeginSsoLoginResponse {
        self.auth
            .begin_sso_login(with_token(
                v1::BeginSsoLoginRequest {
                    target: Some(Target::Email(email.to_owned())),
                    return_target: return_target.to_owned(),
                },
                AUTH_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn complete(
        &mut self,
        org_id: &str,
        response: &IdpResponse,
    ) -> Result<v1::CompleteSsoLoginResponse, tonic::Status> {
        self.auth
            .complete_sso_login(with_token(
                v1::CompleteSsoLoginRequest {
                    org_id: org_id.to_owned(),
                    saml_response: response.saml_response.clone(),
                    relay_state: response.relay_state.clone().unwrap_or_default(),
                },
                AUTH_TOKEN,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The `response-valid` detail of the org's newest login trace: which parts were signed,
    /// whether the assertion was encrypted.
    async fn last_validation(&mut self, org_id: &str) -> Value {
        let trace = self.last_trace(org_id).await;
        assert_eq!(trace.outcome, "success", "{trace:?}");
        let detail: Value = serde_json::from_str(&trace.detail_json).unwrap();
        detail["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "response-valid")
            .unwrap_or_else(|| panic!("no response-valid check: {detail}"))["detail"]
            .clone()
    }

    async fn last_trace(&mut self, org_id: &str) -> v1::LoginTrace {
        let traces = self
            .admin
            .list_login_traces(with_token(
                v1::ListLoginTracesRequest {
                    org_id: org_id.to_owned(),
                    page_size: 1,
                    page_token: String::new(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        traces.traces.into_iter().next().expect("a login trace")
    }
}

/// Checks a successful login and returns whether it created the membership.
fn assert_signed_in(
    login: &v1::CompleteSsoLoginResponse,
    org_id: &str,
    email: &str,
    return_target: &str,
) -> bool {
    assert_eq!(login.org_id, org_id, "{login:?}");
    assert_eq!(
        login.user.as_ref().map(|u| u.email.as_str()),
        Some(email.to_ascii_lowercase().as_str()),
        "{login:?}"
    );
    assert_eq!(login.role(), Role::Member, "{login:?}");
    assert_eq!(login.return_target, return_target, "{login:?}");
    login.membership_created
}

/// The IdP answered the request the service made, to the ACS the service published.
fn assert_answers(
    response: &IdpResponse,
    begin: &v1::BeginSsoLoginResponse,
    sp: &v1::GetServiceProviderMetadataResponse,
) {
    assert_eq!(response.destination, sp.acs_url);
    assert_eq!(
        response.in_response_to.as_deref(),
        Some(begin.request_id.as_str())
    );
    assert_eq!(
        response.relay_state.as_deref(),
        Some(begin.relay_state.as_str())
    );
}

fn decoded(response: &IdpResponse) -> String {
    String::from_utf8(STANDARD.decode(&response.saml_response).unwrap()).unwrap()
}

/// SP-initiated logins over HTTP-Redirect (the IdP wants signed requests, so it checks the
/// service's query signature) in every signing mode, then over HTTP-POST with IdP metadata
/// that offers only POST. JIT creates the member once; a replay is refused.
async fn sp_initiated(software: Software) {
    let name = software.name();
    let (mut service, _) = Service::start(&format!("interop_sp_initiated_{name}")).await;
    let mut idp = Idp::new(software, "sp-initiated");
    let domain = format!("{name}-sp.example.com");
    let org_id = service
        .org_with_idp("SP-initiated", &domain, &idp.metadata(false, true))
        .await;
    let sp = service.sp_metadata(&org_id).await;
    let email = format!("Jane.Doe@{domain}");

    let mut created = Vec::new();
    for (mode, response_signed, assertion_signed) in [
        ("assertion", false, true),
        ("response", true, false),
        ("both", true, true),
    ] {
        let target = format!("https://app.example.test/after/{mode}");
        let begin = service.begin(&email, &target).await;
        assert_eq!(begin.org_id, org_id);
        assert!(begin.redirect_url.starts_with(&idp.sso_url), "{begin:?}");
        assert!(begin.redirect_url.contains("&Signature="), "{begin:?}");
        assert!(begin.post_form_html.is_empty(), "{begin:?}");
        let response = idp.respond(&sp.metadata_xml, Some(&begin), &["--sign", mode], &email);
        assert_answers(&response, &begin, &sp);
        let login = service
            .complete(&org_id, &response)
            .await
            .unwrap_or_else(|e| panic!("{name} {mode}: {e:?}\n{}", decoded(&response)));
        created.push(assert_signed_in(&login, &org_id, &email, &target));
        let validation = service.last_validation(&org_id).await;
        assert_eq!(
            validation["signed_response"], response_signed,
            "{mode}: {validation}"
        );
        assert_eq!(
            validation["signed_assertion"], assertion_signed,
            "{mode}: {validation}"
        );
        assert_eq!(validation["encrypted"], false, "{validation}");
        assert_eq!(validation["issuer"], idp.entity_id.as_str(), "{validation}");

        let replay = service.complete(&org_id, &response).await.unwrap_err();
        assert_eq!(reason_of(&replay), Some(Reason::Replayed), "{replay:?}");
    }
    assert_eq!(created, [true, false, false], "JIT creates the member once");

    // The IdP does check the request signature: without it, or over another RelayState, it
    // refuses.
    let begin = service.begin(&email, "https://app.example.test/").await;
    let (unsigned, _) = begin.redirect_url.split_once("&SigAlg=").unwrap();
    let mut changed = begin.relay_state.clone();
    let first = if changed.starts_with('0') { "1" } else { "0" };
    changed.replace_range(..1, first);
    let other_relay_state = begin.redirect_url.replace(&begin.relay_state, &changed);
    assert_ne!(other_relay_state, begin.redirect_url);
    for tampered in [unsigned.to_owned(), other_relay_state] {
        let request = v1::BeginSsoLoginResponse {
            redirect_url: tampered,
            ..begin.clone()
        };
        let refused = idp.try_respond(&sp.metadata_xml, Some(&request), &[], &email);
        assert!(refused.is_err(), "{name} took {}", request.redirect_url);
    }

    // RSA-SHA1 with SHA-1 digests: refused until the admin opts in for this connection.
    for allow_sha1 in [false, true] {
        service.set_options(&org_id, false, allow_sha1).await;
        let target = "https://app.example.test/after/sha1";
        let begin = service.begin(&email, target).await;
        let flags = ["--sign", "both", "--sha1"];
        let response = idp.respond(&sp.metadata_xml, Some(&begin), &flags, &email);
        let completed = service.complete(&org_id, &response).await;
        if allow_sha1 {
            let login = completed.unwrap_or_else(|e| panic!("{name} sha1: {e:?}"));
            assert!(!assert_signed_in(&login, &org_id, &email, target));
        } else {
            let refused = completed.unwrap_err();
            assert_eq!(
                reason_of(&refused),
                Some(Reason::AlgorithmNotAllowed),
                "{refused:?}"
            );
        }
    }

    // The same IdP with metadata offering only HTTP-POST: the service hands over a form.
    service.import(&org_id, &idp.metadata(true, false)).await;
    let target = "https://app.example.test/after/post";
    let begin = service.begin(&email, target).await;
    assert!(begin.redirect_url.is_empty(), "{begin:?}");
    assert!(
        begin
            .post_form_html
            .contains(&format!("action=\"{}\"", idp.sso_url)),
        "{begin:?}"
    );
    let response = idp.respond(&sp.metadata_xml, Some(&begin), &["--sign", "both"], &email);
    assert_answers(&response, &begin, &sp);
    let login = service
        .complete(&org_id, &response)
        .await
        .unwrap_or_else(|e| panic!("{name} post: {e:?}\n{}", decoded(&response)));
    assert!(!assert_signed_in(&login, &org_id, &email, target));

    let exit = service.server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", service.server.log());
}

/// IdP-initiated responses: accepted by a connection that allows them, refused as unsolicited
/// by one that does not.
async fn idp_initiated(software: Software) {
    let name = software.name();
    let (mut service, _) = Service::start(&format!("interop_idp_initiated_{name}")).await;
    let mut open_idp = Idp::new(software, "unsolicited-allowed");
    let mut closed_idp = Idp::new(software, "unsolicited-refused");
    let open_domain = format!("{name}-open.example.com");
    let closed_domain = format!("{name}-closed.example.com");
    let open = service
        .org_with_idp("Allows", &open_domain, &open_idp.metadata(false, false))
        .await;
    service.set_options(&open, true, false).await;
    let closed = service
        .org_with_idp(
            "Refuses",
            &closed_domain,
            &closed_idp.metadata(false, false),
        )
        .await;

    let open_sp = service.sp_metadata(&open).await;
    let email = format!("idp.user@{open_domain}");
    let response = open_idp.respond(&open_sp.metadata_xml, None, &["--sign", "both"], &email);
    assert_eq!(response.destination, open_sp.acs_url);
    assert_eq!(response.in_response_to, None);
    let login = service
        .complete(&open, &response)
        .await
        .unwrap_or_else(|e| panic!("{name} unsolicited: {e:?}\n{}", decoded(&response)));
    assert!(assert_signed_in(&login, &open, &email, ""));

    let closed_sp = service.sp_metadata(&closed).await;
    let email = format!("idp.user@{closed_domain}");
    let response = closed_idp.respond(&closed_sp.metadata_xml, None, &["--sign", "both"], &email);
    let refused = service.complete(&closed, &response).await.unwrap_err();
    assert_eq!(
        reason_of(&refused),
        Some(Reason::UnsolicitedResponse),
        "{refused:?}"
    );

    let exit = service.server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", service.server.log());
}

/// Encrypted assertions: the SP metadata served over HTTP carries the service's encryption
/// certificate, the IdP encrypts to it, and the service decrypts. `accepted` lists the IdP's
/// `--encrypt` choices the service must take; `refused` those it must refuse, with the reason
/// and a text the admin's login trace must show.
async fn encrypted(software: Software, accepted: &[&str], refused: &[(&str, Reason, &str)]) {
    let name = software.name();
    let (mut service, sp_cert) = Service::start(&format!("interop_encrypted_{name}")).await;
    let mut idp = Idp::new(software, "encrypted");
    let domain = format!("{name}-enc.example.com");
    let org_id = service
        .org_with_idp("Encrypted", &domain, &idp.metadata(false, true))
        .await;
    let sp = service.sp_metadata(&org_id).await;
    let http_metadata = http_sp_metadata(service.server.http_port, &org_id).await;
    assert_eq!(http_metadata, sp.metadata_xml);
    assert!(
        http_metadata.contains("use=\"encryption\""),
        "no encryption key in SP metadata: {http_metadata}"
    );
    assert!(
        http_metadata.contains(&pem_body(&sp_cert)),
        "SP metadata does not carry the --sp-cert certificate: {http_metadata}"
    );
    let email = format!("secret.agent@{domain}");

    for (i, algorithm) in accepted.iter().enumerate() {
        let target = format!("https://app.example.test/after/encrypted/{algorithm}");
        let begin = service.begin(&email, &target).await;
        let response = idp.respond(
            &http_metadata,
            Some(&begin),
            &["--sign", "both", "--encrypt", algorithm],
            &email,
        );
        let xml = decoded(&response);
        assert!(xml.contains("EncryptedAssertion"), "{xml}");
        assert!(!xml.contains(&email), "the email is in the clear: {xml}");
        let login = service
            .complete(&org_id, &response)
            .await
            .unwrap_or_else(|e| panic!("{name} {algorithm}: {e:?}\n{xml}"));
        assert_eq!(assert_signed_in(&login, &org_id, &email, &target), i == 0);
        let validation = service.last_validation(&org_id).await;
        assert_eq!(validation["encrypted"], true, "{validation}");
        assert_eq!(validation["signed_assertion"], true, "{validation}");
        assert_eq!(validation["signed_response"], true, "{validation}");
    }
    for (algorithm, reason, detail) in refused {
        let begin = service.begin(&email, "https://app.example.test/").await;
        let response = idp.respond(
            &http_metadata,
            Some(&begin),
            &["--sign", "both", "--encrypt", algorithm],
            &email,
        );
        let refusal = service.complete(&org_id, &response).await.unwrap_err();
        assert_eq!(
            reason_of(&refusal),
            Some(*reason),
            "{algorithm}: {refusal:?}"
        );
        let trace = service.last_trace(&org_id).await;
        assert_eq!(trace.outcome, "refused", "{trace:?}");
        assert!(trace.detail_json.contains(detail), "{trace:?}");
    }

    let exit = service.server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", service.server.log());
}

/// `GET /saml/2/metadata/{org}` on the HTTP port: the body.
async fn http_sp_metadata(port: u16, org_id: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET /saml/2/metadata/{org_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

mod pysaml2 {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sp_initiated_logins_over_redirect_and_post_in_each_signing_mode() {
        sp_initiated(Software::Pysaml2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idp_initiated_logins_need_allow_unsolicited() {
        idp_initiated(Software::Pysaml2).await;
    }

    /// pysaml2 always encrypts with 3DES-CBC unless patched; the service accepts only AES and
    /// names the refused algorithm (checked from the document alone, so naming it reveals
    /// nothing about the key).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn encrypted_assertions_are_decrypted() {
        encrypted(
            Software::Pysaml2,
            &["aes256-cbc"],
            &[(
                "default",
                Reason::EncryptionAlgorithmNotAllowed,
                "encryption-algorithm-not-allowed: content encryption algorithm \
                 http://www.w3.org/2001/04/xmlenc#tripledes-cbc is not allowed",
            )],
        )
        .await;
    }
}

mod samlify {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sp_initiated_logins_over_redirect_and_post_in_each_signing_mode() {
        sp_initiated(Software::Samlify).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idp_initiated_logins_need_allow_unsolicited() {
        idp_initiated(Software::Samlify).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn encrypted_assertions_are_decrypted() {
        encrypted(Software::Samlify, &["aes256-cbc", "aes128-gcm"], &[]).await;
    }
}
