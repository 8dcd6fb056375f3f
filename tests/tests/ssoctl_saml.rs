//! `ssoctl saml ...` as an admin or a script runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};

use serde_json::Value;
use system_tests::{binary, corpus_dir};

fn ssoctl(args: &[&str]) -> Output {
    Command::new(binary("ssoctl"))
        .args(args)
        .current_dir(corpus_dir())
        .output()
        .expect("ssoctl starts")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Google's signed response from the corpus, with the SP settings of its source test.
const GOOGLE: &[&str] = &[
    "saml",
    "verify",
    "--idp-metadata",
    "metadata/google/crewjam_google_idp_metadata.xml",
    "--sp-entity-id",
    "https://29ee6d2e.ngrok.io/saml/metadata",
    "--acs-url",
    "https://29ee6d2e.ngrok.io/saml/acs",
    "--now",
    "2016-01-05T16:55:39Z",
];

#[test]
fn verify_accepts_and_reports_the_email() {
    let mut args = GOOGLE.to_vec();
    args.extend([
        "--request-id",
        "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6",
        "responses/crewjam-saml/google_response.b64",
    ]);
    let out = ssoctl(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["accepted"], true);
    assert_eq!(v["email"], "ross@octolabs.io");
    assert_eq!(v["email_source"], "name-id");
    assert_eq!(v["name_id"], "ross@octolabs.io");
    assert_eq!(
        v["issuer"],
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1"
    );
    assert_eq!(
        v["in_response_to"],
        "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6"
    );
    assert_eq!(v["signed"]["response"], true);
}

#[test]
fn verify_refuses_with_a_reason_and_exit_1() {
    // No outstanding request: the response answers one we did not send.
    let mut args = GOOGLE.to_vec();
    args.push("responses/crewjam-saml/google_response.b64");
    let out = ssoctl(&args);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["reason"], "unexpected-in-response-to");

    // An hour later the assertion has expired.
    let mut args = GOOGLE.to_vec();
    args[9] = "2016-01-05T17:55:39Z";
    args.extend([
        "--request-id",
        "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6",
        "responses/crewjam-saml/google_response.b64",
    ]);
    let v = json(&ssoctl(&args));
    assert_eq!(v["reason"], "expired", "{v}");

    // A comment-truncation attack: refused or read whole, never truncated.
    let mut args = GOOGLE.to_vec();
    args.extend([
        "--request-id",
        "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6",
        "responses/crewjam-saml/derived/google_response_comment_truncation_attack.xml",
    ]);
    let v = json(&ssoctl(&args));
    assert_ne!(v["email"], "ross@octolabs.io", "{v}");
}

#[test]
fn verify_without_an_email_lists_what_was_tried() {
    let out = ssoctl(&[
        "saml",
        "verify",
        "--idp-cert",
        "keys/gosaml2/okta_cert.pem",
        "--idp-entity-id",
        "http://www.okta.com/exk659aytfMeNI49v0h7",
        "--sp-entity-id",
        "\"123\"",
        "--acs-url",
        "http://localhost:8080/v1/_saml_callback",
        "--request-id",
        "_15f66d2d-628b-4d9b-a99e-089d8da862e1",
        "--now",
        "2016-07-25T23:16:00Z",
        "responses/gosaml2/okta_response.xml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["reason"], "no-valid-email");
    let detail = v["detail"].as_str().unwrap();
    for place in [
        "name-id",
        "emailaddress-claim",
        "emailaddress-attribute",
        "email-attribute",
    ] {
        assert!(detail.contains(place), "{detail}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = ssoctl(&[
        "saml",
        "verify",
        "--sp-entity-id",
        "x",
        "--acs-url",
        "y",
        "r.xml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = ssoctl(&["saml", "verify", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn metadata_and_authn_request() {
    let out = ssoctl(&[
        "saml",
        "metadata",
        "--base-url",
        "https://sso.example.com",
        "--org",
        "o1",
    ]);
    assert!(out.status.success());
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains("entityID=\"https://sso.example.com/saml/2/metadata/o1\""),
        "{xml}"
    );
    assert!(
        xml.contains("Location=\"https://sso.example.com/saml/2/acs/o1\""),
        "{xml}"
    );

    let out = ssoctl(&[
        "saml",
        "authn-request",
        "--idp-metadata",
        "metadata/okta/crewjam_okta_idp_metadata.xml",
        "--base-url",
        "https://sso.example.com",
        "--org",
        "o1",
        "--relay-state",
        "r1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    assert!(
        url.starts_with("https://dev-513394.oktapreview.com/"),
        "{url}"
    );
    assert!(
        url.contains("SAMLRequest=") && url.contains("RelayState=r1"),
        "{url}"
    );
}
