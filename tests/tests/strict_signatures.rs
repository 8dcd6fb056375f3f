//! The strict SAML signature profile through the real `sso-server` binary: a response signed
//! by xmlsec1 is accepted, and the same response changed in one way the profile forbids is
//! refused by `CompleteSsoLogin` with that rule's own reason, on SQLite and PostgreSQL.
//!
//! The four rules: the Reference names the signed element's ID (`URI=""` is refused), the
//! Signature sits right after the Issuer, the transforms are enveloped-signature then one
//! canonicalization, and a document declaring an encoding other than UTF-8 is refused even when
//! its bytes are ASCII.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_grpc::reason_of;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_store::OrgId;
use sso_testkit::idp::{BASE_URL, Idp, Response};
use system_tests::{RunningServer, ServerOptions};
use time::OffsetDateTime;
use tonic::Code;
use tonic::transport::Channel;

mod common;
use common::{OrgSetup, set_up_org, wait_until_serving, with_token};

const AUTH: &str = "auth-token-of-the-strict-signature-test";
const ADMIN: &str = "admin-token-of-the-strict-signature-test";
const DOMAIN: &str = "strict.example";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Starts a login for `email`; returns (request id, relay state).
async fn begin(auth: &mut AuthServiceClient<Channel>, email: &str) -> (String, String) {
    let start = auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::Email(email.into())),
                return_target: String::new(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    (start.request_id, start.relay_state)
}

/// The XML of a response to `request`, signed by xmlsec1.
fn signed_xml(idp: &Idp, org: &str, request: &str, email: &str) -> String {
    let org = OrgId::new(org.parse().unwrap());
    let response = Response::new(
        org,
        &format!("_strict_{request}"),
        email,
        OffsetDateTime::now_utc(),
    )
    .answering(request);
    let encoded = idp.response_signed_by_xmlsec1(&response);
    String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
}

/// The first `<prefix:Signature ...>...</prefix:Signature>` element: (start, end, text).
fn signature(xml: &str) -> (usize, usize, String) {
    let open = xml
        .find(":Signature ")
        .or_else(|| xml.find(":Signature>"))
        .unwrap();
    let start = xml[..open].rfind('<').unwrap();
    let prefix = &xml[start + 1..open];
    let close = format!("</{prefix}:Signature>");
    let end = xml[start..].find(&close).unwrap() + start + close.len();
    (start, end, xml[start..end].to_owned())
}

/// The first signature's Reference points at the whole document.
fn whole_document(xml: &str) -> String {
    let (start, end, sig) = signature(xml);
    let at = sig.find("URI=\"#").unwrap();
    let stop = sig[at + 6..].find('"').unwrap() + at + 6;
    format!(
        "{}{}URI=\"\"{}{}",
        &xml[..start],
        &sig[..at],
        &sig[stop + 1..],
        &xml[end..]
    )
}

/// The first signature moved from after the Issuer to the end of its parent.
fn misplaced(xml: &str) -> String {
    let (start, end, sig) = signature(xml);
    let rest = format!("{}{}", &xml[..start], &xml[end..]);
    // The signed element is the one whose ID the Reference names; its closing tag follows.
    let parent_close = if xml[..start].rfind("Assertion ").unwrap_or(0)
        > xml[..start].rfind("Response ").unwrap_or(0)
    {
        "Assertion>"
    } else {
        "Response>"
    };
    let close_at = rest.find(&format!(":{parent_close}")).unwrap();
    let tag_start = rest[..close_at].rfind("</").unwrap();
    format!("{}{}{}", &rest[..tag_start], sig, &rest[tag_start..])
}

/// The enveloped-signature transform taken out, leaving the canonicalization alone.
fn without_enveloped(xml: &str) -> String {
    let at = xml.find(ENVELOPED).unwrap();
    let start = xml[..at].rfind('<').unwrap();
    let after = &xml[at..];
    let self_closing = after.find("/>").unwrap();
    let next_tag = after.find('>').unwrap();
    let end = if self_closing + 1 == next_tag {
        at + self_closing + 2
    } else {
        let close = after.find("Transform>").unwrap();
        at + close + "Transform>".len()
    };
    format!("{}{}", &xml[..start], &xml[end..])
}

/// The same bytes under a declaration of ISO-8859-1 (the body is ASCII).
fn declared_latin1(xml: &str) -> String {
    let body = match xml.strip_prefix("<?xml") {
        Some(rest) => &rest[rest.find("?>").unwrap() + 2..],
        None => xml,
    };
    assert!(body.is_ascii());
    format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{body}")
}

async fn complete(
    auth: &mut AuthServiceClient<Channel>,
    org: &str,
    xml: &str,
    relay_state: &str,
) -> Result<v1::CompleteSsoLoginResponse, tonic::Status> {
    auth.complete_sso_login(with_token(
        v1::CompleteSsoLoginRequest {
            org_id: org.into(),
            saml_response: STANDARD.encode(xml),
            relay_state: relay_state.into(),
        },
        Some(AUTH),
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn strict_profile(name: &str, database_url: Option<String>) {
    let idp = Idp::generate("strict-signature IdP");
    let options = ServerOptions {
        database_url,
        public_base_url: Some(BASE_URL.to_owned()),
        ..ServerOptions::default()
    };
    let mut server = RunningServer::start_with(name, AUTH, ADMIN, options);
    let channel = wait_until_serving(&mut server).await;
    let mut auth = AuthServiceClient::new(channel.clone());
    let (org, _) = set_up_org(
        channel,
        ADMIN,
        OrgSetup {
            name: "Strict",
            plan: Plan::Growth,
            domain: DOMAIN,
            metadata_xml: String::from_utf8(idp.metadata()).unwrap(),
            jit_role: Role::Member,
        },
    )
    .await;

    type Mutation = fn(&str) -> String;
    let cases: [(&str, Mutation, Reason); 4] = [
        (
            "whole-document reference",
            whole_document,
            Reason::WholeDocumentReference,
        ),
        (
            "signature after the Issuer",
            misplaced,
            Reason::MisplacedSignature,
        ),
        (
            "enveloped-signature then one c14n",
            without_enveloped,
            Reason::InvalidTransforms,
        ),
        ("UTF-8 only", declared_latin1, Reason::UnsupportedEncoding),
    ];
    for (n, (rule, mutate, reason)) in cases.into_iter().enumerate() {
        let email = format!("user{n}@{DOMAIN}");
        let (request, relay) = begin(&mut auth, &email).await;
        let xml = signed_xml(&idp, &org, &request, &email);
        let changed = mutate(&xml);
        assert_ne!(changed, xml, "{rule}: the change must change the document");
        let refused = complete(&mut auth, &org, &changed, &relay)
            .await
            .expect_err(rule);
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{rule}: {refused:?}"
        );
        assert_eq!(reason_of(&refused), Some(reason), "{rule}: {refused:?}");

        // The request was not consumed by the refusal: the document as signed signs in.
        let accepted = complete(&mut auth, &org, &xml, &relay)
            .await
            .unwrap_or_else(|e| panic!("{rule}: the unchanged response: {e:?}"));
        assert_eq!(accepted.user.unwrap().email, email, "{rule}");
    }
    drop(auth);
    server.stop(std::time::Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_signature_profile_on_sqlite() {
    strict_profile("strict_signatures_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_signature_profile_on_postgres() {
    sso_testkit::on_postgres("system", "strict_signatures", |db| async move {
        strict_profile("strict_signatures_postgres", Some(db.url)).await;
    })
    .await;
}
