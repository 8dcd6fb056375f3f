//! Every refusal reason the lower layers can produce has a wire value, so no client ever sees
//! REASON_UNSPECIFIED for a real refusal. A tidy test: it reads the reason tables in the
//! sources, so a new code cannot be added there without one here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use sso_grpc::v1::Reason;
use sso_grpc::{reason, reason_of, refusal};

/// The kebab-case codes returned by `reason()` in a source file: the string after `=> "` on
/// each match arm.
fn codes_in(file: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter_map(|l| l.split_once("=> \"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(code, _)| code.to_owned()))
        .filter(|c| !c.contains(' '))
        .collect()
}

#[test]
fn every_validation_signature_and_metadata_reason_has_a_wire_value() {
    let mut missing = Vec::new();
    let mut count = 0;
    for file in [
        "sso-assertion/src/validate.rs",
        "sso-assertion/src/metadata.rs",
        "sso-xmldsig/src/error.rs",
        "sso-fetch/src/error.rs",
        "sso-domains/src/error.rs",
    ] {
        for code in codes_in(file) {
            count += 1;
            // The XML parser's own codes reach callers inside `invalid-xml`; signing is ours,
            // and so is a failing random source (`internal`, sent as INTERNAL).
            if code == "signing-failed" || code == "internal" {
                continue;
            }
            if reason(&code) == Reason::Unspecified {
                missing.push(format!("{file}: {code}"));
            }
        }
    }
    assert!(
        count > 50,
        "read only {count} codes: did the reason tables move?"
    );
    assert!(missing.is_empty(), "no wire Reason for: {missing:?}");
}

/// Refusals of the product rules, email lookup, store and provisioning that reach callers.
/// (`database`, `corrupt-data` and `internal` are infrastructure failures: sent as INTERNAL.)
const LOGIN_AND_ADMIN_REFUSALS: &[&str] = &[
    "plan-without-sso",
    "no-connection",
    "connection-disabled",
    "not-a-member",
    "domain-not-verified",
    "sso-required",
    "no-sso-login-since-change",
    "missing-justification",
    "plan-without-default-projects",
    "plan-without-rule-projects",
    "no-valid-email",
    "not-found",
    "replayed",
    "expired",
    "conflict",
    "invalid-input",
    "org-not-found",
    "connection-misconfigured",
    "request-expired",
    "unknown-request",
    "idp-endpoint-missing",
    "idp-endpoint-invalid",
    "sp-key-missing",
    "return-target-not-allowed",
    "login-code-unknown",
    "login-code-used",
    "login-code-expired",
    "metadata-expired",
    "no-metadata-url",
    "invalid-certificate",
    "certificate-not-found",
    "last-certificate",
    "last-admin",
    "project-is-jit-default",
    "test-login-completed",
    "credential-expired",
    "credential-revoked",
    "credential-wrong-org",
    "credential-operator-only",
    "domain-public-suffix",
    "domain-free-mail",
    "domain-not-claimed",
    "domain-verified-elsewhere",
    "domain-limit-reached",
    "domain-record-missing",
    "domain-token-mismatch",
    "domain-lookup-failed",
    "domain-lookup-timeout",
    "setup-link-expired",
    "setup-link-revoked",
    "setup-link-wrong-org",
    "setup-link-not-allowed",
    "setup-csrf-mismatch",
    "member-deactivated",
];

#[test]
fn every_login_and_admin_refusal_has_a_wire_value() {
    for code in LOGIN_AND_ADMIN_REFUSALS {
        assert_ne!(reason(code), Reason::Unspecified, "{code}");
    }
    // The provisioning layer's own codes are among them.
    for code in codes_in("sso-provisioning/src/scim.rs") {
        assert_ne!(reason(&code), Reason::Unspecified, "{code}");
    }
    for code in codes_in("sso-provisioning/src/error.rs") {
        // `internal` is an infrastructure failure, sent as INTERNAL.
        if !code.contains('-') || code == "corrupt-data" {
            continue;
        }
        assert!(LOGIN_AND_ADMIN_REFUSALS.contains(&code.as_str()), "{code}");
    }
}

#[test]
fn refusals_carry_error_info() {
    let status = refusal(
        tonic::Code::PermissionDenied,
        "domain-not-verified",
        "Ask your admin.",
    );
    assert_eq!(status.message(), "Ask your admin.");
    assert_eq!(reason_of(&status), Some(Reason::DomainNotVerified));
    assert_eq!(reason("no-such-code"), Reason::Unspecified);
    assert_eq!(reason_of(&tonic::Status::internal("x")), None);
    assert_eq!(sso_grpc::internal().code(), tonic::Code::Internal);
}

#[test]
fn the_descriptor_set_names_both_services() {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(sso_grpc::FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<String> = fds
        .file
        .iter()
        .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
        .collect();
    assert!(services.contains(&"AuthService".to_owned()));
    assert!(services.contains(&"AdminService".to_owned()));
}
