//! The one mapping of service errors to `tonic::Status`.
//!
//! Refusals carry a fitting gRPC code, `google.rpc.ErrorInfo` with the stable reason, and a
//! message: for logins the end-user-safe [`LoginError::user_message`], for admin calls the
//! admin detail. Infrastructure failures (`database`, `corrupt-data`) are `INTERNAL` with a
//! generic message; their detail is logged with `tracing::error!` and never sent.

use sso_domains::CheckError;
use sso_fetch::FetchError;
use sso_policy::{BreakGlassRefusal, GroupRulesRefusal};
use sso_provisioning::{
    AdminError, LoginError, PasswordLoginError, RedeemError, SpMetadataError, StoreError,
};
use tonic::{Code, Status};

use crate::status::{internal, refusal};

/// The gRPC code of a store refusal.
fn store_code(error: &StoreError) -> Code {
    match error {
        StoreError::NotFound { .. } => Code::NotFound,
        StoreError::Replayed { .. } | StoreError::Expired { .. } => Code::FailedPrecondition,
        StoreError::Conflict { .. } => Code::AlreadyExists,
        StoreError::InvalidInput { .. } => Code::InvalidArgument,
        _ => Code::Internal,
    }
}

/// Logs `detail` for the operator and returns the generic `INTERNAL` status.
fn logged_internal(operation: &str, reason: &str, detail: &dyn std::fmt::Display) -> Status {
    tracing::error!(operation, reason, "internal failure: {detail}");
    internal()
}

/// A store error from a call made directly on the store (admin context: the detail is sent
/// for refusals).
pub(crate) fn store_status(operation: &str, error: &StoreError) -> Status {
    if error.is_infrastructure() {
        return logged_internal(operation, error.reason(), error);
    }
    refusal(store_code(error), error.reason(), &error.to_string())
}

/// The status of a refused or failed SSO login (start or completion). The message is the
/// end-user-safe one; the admin reads the detail in the login trace. A response that answered
/// a test login is never a sign-in: `FAILED_PRECONDITION` with `test-login-completed`, or the
/// refusal's own code and reason, with a message saying it was a test and where its result is.
pub(crate) fn login_status(operation: &str, error: &LoginError) -> Status {
    let code = match login_code(operation, error) {
        Ok(code) => code,
        Err(internal) => return internal,
    };
    let message = match error.test_login() {
        Some(test_login) => test_message(test_login, error),
        None => error.user_message().to_owned(),
    };
    refusal(code, error.reason(), &message)
}

/// The status of a test login that could not be started, for the admin who asked: the admin
/// detail, never an infrastructure failure's.
pub(crate) fn test_login_status(operation: &str, error: &LoginError) -> Status {
    match login_code(operation, error) {
        Ok(code) => refusal(code, error.reason(), &error.to_string()),
        Err(internal) => internal,
    }
}

/// What a caller of `CompleteSsoLogin` reads when the response answered a test login.
fn test_message(test_login: &str, error: &LoginError) -> String {
    let outcome = match error {
        LoginError::TestLoginCompleted { .. } => "its result is recorded".to_owned(),
        _ => format!("it failed ({})", error.reason()),
    };
    format!(
        "This response answered test login {test_login} of the organization's SSO connection, \
         not a sign-in: nobody was signed in and {outcome}. An admin reads the result with \
         AdminService.GetTestLogin (ssoctl admin test-login get)."
    )
}

/// The gRPC code of a login refusal, or the `INTERNAL` status (detail logged) of a failure.
fn login_code(operation: &str, error: &LoginError) -> Result<Code, Status> {
    Ok(match error {
        LoginError::Store(e) if e.is_infrastructure() => {
            return Err(logged_internal(operation, e.reason(), e));
        }
        LoginError::Store(e) => store_code(e),
        LoginError::OrgNotFound => Code::NotFound,
        LoginError::Misconfigured(detail) => {
            // The org's admin must fix the connection: a refusal with a safe message, but the
            // operator hears about it too.
            tracing::error!(operation, "connection misconfigured: {detail}");
            Code::FailedPrecondition
        }
        LoginError::SsoOff(_)
        | LoginError::Request(_)
        | LoginError::Replayed { .. }
        | LoginError::RequestExpired
        | LoginError::UnknownRequest
        | LoginError::TestLoginCompleted { .. } => Code::FailedPrecondition,
        LoginError::Invalid(_) | LoginError::NoEmail(_) | LoginError::Refused(_) => {
            Code::PermissionDenied
        }
        LoginError::ReturnTarget(_) => Code::InvalidArgument,
        LoginError::TestLoginFailed { cause, .. } => return login_code(operation, cause),
        _ => {
            if !error.is_refusal() {
                return Err(logged_internal(operation, error.reason(), error));
            }
            Code::FailedPrecondition
        }
    })
}

/// The status of a login code that was not exchanged. Unknown, used and expired codes are
/// told apart for the calling service's logs; the message suits the person waiting.
pub(crate) fn redeem_status(operation: &str, error: &RedeemError) -> Status {
    let code = match error {
        RedeemError::Store(e) if e.is_infrastructure() => {
            return logged_internal(operation, e.reason(), e);
        }
        RedeemError::Unknown => Code::NotFound,
        RedeemError::Used | RedeemError::Expired => Code::FailedPrecondition,
        _ => return logged_internal(operation, error.reason(), error),
    };
    refusal(
        code,
        error.reason(),
        "This sign-in link was already used or has expired. Please sign in again.",
    )
}

/// The status of a failed admin operation. Admins are the callers, so the message is the
/// admin detail (never for infrastructure failures).
pub(crate) fn admin_status(operation: &str, error: &AdminError) -> Status {
    let code = match error {
        AdminError::Store(e) => return store_status(operation, e),
        AdminError::RequireSso(_) | AdminError::Jit(_) => Code::FailedPrecondition,
        AdminError::GroupRules(GroupRulesRefusal::PlanWithoutRuleProjects) => {
            Code::FailedPrecondition
        }
        AdminError::GroupRules(_) => Code::InvalidArgument,
        AdminError::BreakGlass(BreakGlassRefusal::MissingJustification) => Code::InvalidArgument,
        AdminError::Metadata(_) => Code::InvalidArgument,
        AdminError::Fetch(e) if e.is_refusal() => Code::InvalidArgument,
        AdminError::Fetch(FetchError::Timeout { .. }) => Code::DeadlineExceeded,
        AdminError::Fetch(_) => Code::Unavailable,
        AdminError::MetadataExpired(_) | AdminError::InvalidCertificate(_) => Code::InvalidArgument,
        AdminError::CertificateNotFound(_) => Code::NotFound,
        AdminError::Internal(detail) => {
            return logged_internal(operation, error.reason(), detail);
        }
        AdminError::InvalidItem { .. } => Code::InvalidArgument,
        AdminError::UnknownProject { .. } => Code::NotFound,
        // `LastAdmin`, `ProjectIsJitDefault`, `NoMetadataUrl`, `LastCertificate`: the state
        // of the org forbids it now.
        AdminError::DomainRefused(_) => Code::InvalidArgument,
        AdminError::DomainNotClaimed(_) => Code::NotFound,
        AdminError::DomainVerifiedElsewhere(_) => Code::AlreadyExists,
        AdminError::DomainLimit(_) => Code::ResourceExhausted,
        AdminError::DomainCheck { error, .. } => match error {
            CheckError::Timeout { .. } => Code::DeadlineExceeded,
            CheckError::LookupFailed { .. } => Code::Unavailable,
            _ => Code::FailedPrecondition,
        },
        _ => Code::FailedPrecondition,
    };
    refusal(code, error.reason(), &error.to_string())
}

/// The status of SP metadata that was not given: the org's absence is a refusal, a document
/// that could not be written is ours to log.
pub(crate) fn sp_metadata_status(operation: &str, error: &SpMetadataError) -> Status {
    match error {
        SpMetadataError::Store(e) => store_status(operation, e),
        _ => {
            tracing::error!(operation, "SP metadata not written: {error}");
            internal()
        }
    }
}

/// The message shown when password login is refused because the org requires SSO.
pub(crate) const SSO_REQUIRED_MESSAGE: &str =
    "This organization requires single sign-on. Sign in with your identity provider.";

/// The status of a password-login check that was refused or could not be decided.
/// (`CheckPasswordLogin` answers the refusals in its response; this is the mapping for the
/// rest, and for any caller that wants the refusal as a status.)
pub(crate) fn password_status(operation: &str, error: &PasswordLoginError) -> Status {
    match error {
        PasswordLoginError::Store(e) => store_status(operation, e),
        PasswordLoginError::Refused(sso_policy::PasswordRefusal::MemberDeactivated) => refusal(
            Code::PermissionDenied,
            error.reason(),
            sso_provisioning::DEACTIVATED_MESSAGE,
        ),
        PasswordLoginError::Refused(_) => {
            refusal(Code::PermissionDenied, error.reason(), SSO_REQUIRED_MESSAGE)
        }
        _ => logged_internal(operation, error.reason(), error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::reason_of;
    use crate::v1::Reason;
    use sso_policy::{PasswordRefusal, RequireSsoRefusal, SsoLoginRefusal, SsoOff};

    fn db_error() -> StoreError {
        sso_store::StoreError::database_for_tests("secret connection string")
    }

    #[test]
    fn login_refusals_get_codes_reasons_and_safe_messages() {
        let cases = [
            (LoginError::OrgNotFound, Code::NotFound, Reason::OrgNotFound),
            (
                LoginError::SsoOff(SsoOff::PlanWithoutSso),
                Code::FailedPrecondition,
                Reason::PlanWithoutSso,
            ),
            (
                LoginError::Replayed { what: "assertion" },
                Code::FailedPrecondition,
                Reason::Replayed,
            ),
            (
                LoginError::RequestExpired,
                Code::FailedPrecondition,
                Reason::RequestExpired,
            ),
            (
                LoginError::UnknownRequest,
                Code::FailedPrecondition,
                Reason::UnknownRequest,
            ),
            (
                LoginError::Refused(SsoLoginRefusal::NotMember),
                Code::PermissionDenied,
                Reason::NotAMember,
            ),
            (
                LoginError::Misconfigured("bad cert".to_owned()),
                Code::FailedPrecondition,
                Reason::ConnectionMisconfigured,
            ),
            (
                LoginError::Store(StoreError::NotFound { what: "org" }),
                Code::NotFound,
                Reason::NotFound,
            ),
        ];
        for (error, code, reason) in cases {
            let status = login_status("test", &error);
            assert_eq!(status.code(), code, "{error}");
            assert_eq!(reason_of(&status), Some(reason), "{error}");
            assert_eq!(status.message(), error.user_message());
        }
    }

    #[test]
    fn a_test_login_response_is_never_a_sign_in() {
        let done = LoginError::TestLoginCompleted {
            test_login: "_t1".to_owned(),
        };
        let status = login_status("test", &done);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason_of(&status), Some(Reason::TestLoginCompleted));
        for words in ["test login _t1", "nobody was signed in", "GetTestLogin"] {
            assert!(status.message().contains(words), "{}", status.message());
        }

        let failed = LoginError::TestLoginFailed {
            test_login: "_t2".to_owned(),
            cause: Box::new(LoginError::Replayed { what: "assertion" }),
        };
        let status = login_status("test", &failed);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason_of(&status), Some(Reason::Replayed));
        assert!(
            status.message().contains("it failed (replayed)"),
            "{}",
            status.message()
        );

        let broken = LoginError::TestLoginFailed {
            test_login: "_t3".to_owned(),
            cause: Box::new(LoginError::Store(db_error())),
        };
        let status = login_status("test", &broken);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"), "{}", status.message());
    }

    #[test]
    fn a_refused_test_start_tells_the_admin_why() {
        let status = test_login_status("test", &LoginError::SsoOff(SsoOff::NoConnection));
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason_of(&status), Some(Reason::NoConnection));
        assert!(
            status.message().contains("no SSO connection"),
            "{}",
            status.message()
        );
        let status = test_login_status("test", &LoginError::Store(db_error()));
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn infrastructure_failures_are_internal_and_never_leak() {
        let statuses = [
            login_status("test", &LoginError::Store(db_error())),
            admin_status("test", &AdminError::Store(db_error())),
            password_status("test", &PasswordLoginError::Store(db_error())),
            store_status(
                "test",
                &StoreError::CorruptData {
                    what: "plan",
                    detail: "secret row".to_owned(),
                },
            ),
        ];
        for status in statuses {
            assert_eq!(status.code(), Code::Internal);
            assert!(!status.message().contains("secret"), "{}", status.message());
            assert_eq!(reason_of(&status), None);
        }
    }

    #[test]
    fn admin_refusals_carry_the_admin_detail() {
        let status = admin_status(
            "test",
            &AdminError::RequireSso(RequireSsoRefusal::NoSsoLoginSinceChange),
        );
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason_of(&status), Some(Reason::NoSsoLoginSinceChange));
        let status = admin_status(
            "test",
            &AdminError::BreakGlass(BreakGlassRefusal::MissingJustification),
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&status), Some(Reason::MissingJustification));
        let status = admin_status(
            "test",
            &AdminError::Store(StoreError::Conflict { what: "domain" }),
        );
        assert_eq!(status.code(), Code::AlreadyExists);
        assert_eq!(reason_of(&status), Some(Reason::Conflict));
        assert!(status.message().contains("domain"));
    }

    #[test]
    fn members_and_projects_refusals_get_their_codes() {
        let cases = [
            (
                AdminError::LastAdmin("ann@example.com".to_owned()),
                Code::FailedPrecondition,
                Reason::LastAdmin,
            ),
            (
                AdminError::ProjectIsJitDefault("wiki".to_owned()),
                Code::FailedPrecondition,
                Reason::ProjectIsJitDefault,
            ),
            (
                AdminError::InvalidItem {
                    field: "members",
                    index: 3,
                    detail: "listed twice".to_owned(),
                },
                Code::InvalidArgument,
                Reason::InvalidInput,
            ),
            (
                AdminError::UnknownProject {
                    field: "members",
                    index: 1,
                    project: "nope".to_owned(),
                },
                Code::NotFound,
                Reason::NotFound,
            ),
        ];
        for (error, code, reason) in cases {
            let status = admin_status("test", &error);
            assert_eq!(status.code(), code, "{error}");
            assert_eq!(reason_of(&status), Some(reason), "{error}");
            assert_eq!(status.message(), error.to_string());
        }
    }

    #[test]
    fn domain_refusals_get_codes_and_reasons() {
        use sso_domains::DomainRefusal;
        let name = || "_sso-verification.bigcorp.example".to_owned();
        let check = |error| AdminError::DomainCheck {
            error,
            consequence: Some("the domain stays verified".to_owned()),
        };
        let cases = [
            (
                AdminError::DomainRefused(DomainRefusal::FreeMail {
                    domain: "gmail.com".into(),
                    entry: "gmail.com".into(),
                }),
                Code::InvalidArgument,
                Reason::DomainFreeMail,
            ),
            (
                AdminError::DomainRefused(DomainRefusal::PublicSuffix {
                    domain: "co.uk".into(),
                }),
                Code::InvalidArgument,
                Reason::DomainPublicSuffix,
            ),
            (
                AdminError::DomainNotClaimed("bigcorp.example".into()),
                Code::NotFound,
                Reason::DomainNotClaimed,
            ),
            (
                AdminError::DomainVerifiedElsewhere("bigcorp.example".into()),
                Code::AlreadyExists,
                Reason::DomainVerifiedElsewhere,
            ),
            (
                AdminError::DomainLimit(100),
                Code::ResourceExhausted,
                Reason::DomainLimitReached,
            ),
            (
                check(CheckError::RecordMissing { name: name() }),
                Code::FailedPrecondition,
                Reason::DomainRecordMissing,
            ),
            (
                check(CheckError::TokenMismatch {
                    name: name(),
                    found: 1,
                }),
                Code::FailedPrecondition,
                Reason::DomainTokenMismatch,
            ),
            (
                check(CheckError::LookupFailed {
                    name: name(),
                    detail: "SERVFAIL".into(),
                }),
                Code::Unavailable,
                Reason::DomainLookupFailed,
            ),
            (
                check(CheckError::Timeout {
                    name: name(),
                    after: std::time::Duration::from_secs(11),
                }),
                Code::DeadlineExceeded,
                Reason::DomainLookupTimeout,
            ),
        ];
        for (error, code, reason) in cases {
            let status = admin_status("test", &error);
            assert_eq!(status.code(), code, "{error}");
            assert_eq!(reason_of(&status), Some(reason), "{error}");
            assert_eq!(status.message(), error.to_string());
        }
        // The consequence reaches the admin with the reason.
        let status = admin_status("test", &check(CheckError::RecordMissing { name: name() }));
        assert!(
            status.message().contains("stays verified"),
            "{}",
            status.message()
        );
        // A failing random source is ours: INTERNAL, detail not sent.
        let status = admin_status("test", &AdminError::Internal("secret rng".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn password_refusals_map_to_permission_denied() {
        let status = password_status(
            "test",
            &PasswordLoginError::Refused(PasswordRefusal::SsoRequired),
        );
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(reason_of(&status), Some(Reason::SsoRequired));
    }

    /// A response with `signature` inside its Response (`first`: right after the Issuer;
    /// otherwise last), signing `#_r` or the reference `uri` with these transforms. Nothing
    /// in it needs to verify: the refusals below come before any key is tried.
    fn response(uri: &str, transforms: &[&str], first: bool) -> String {
        let transforms: String = transforms
            .iter()
            .map(|t| format!(r#"<ds:Transform Algorithm="{t}"/>"#))
            .collect();
        let signature = format!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#
        );
        let (early, late) = if first {
            (signature.as_str(), "")
        } else {
            ("", signature.as_str())
        };
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2025-01-01T00:00:00Z"><saml:Issuer>https://idp.test</saml:Issuer>{early}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" Version="2.0" IssueInstant="2025-01-01T00:00:00Z"><saml:Issuer>https://idp.test</saml:Issuer></saml:Assertion>{late}</samlp:Response>"#
        )
    }

    /// The refusals of SAML's signature profile (reference, transforms, place) and of a
    /// declared encoding other than UTF-8 come out of validation with their own codes and
    /// reach callers as their own `Reason`, with the end user's safe message.
    #[test]
    fn strict_signature_refusals_reach_the_wire() {
        use sso_assertion::{ConnectionConfig, ServiceProvider, ValidationContext, validate};

        const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
        const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
        let config = ConnectionConfig::new(
            "https://idp.test",
            Vec::new(),
            Vec::new(),
            ServiceProvider::new("https://sp.test", "https://sp.test/acs"),
        );
        let ctx = ValidationContext::new(time::OffsetDateTime::UNIX_EPOCH, &[]);
        let cases = [
            (
                response("", &[ENVELOPED, EXC], true),
                Reason::WholeDocumentReference,
            ),
            (
                response("#_r", &[EXC, ENVELOPED], true),
                Reason::InvalidTransforms,
            ),
            (
                response("#_r", &[ENVELOPED, EXC], false),
                Reason::MisplacedSignature,
            ),
            (
                format!(
                    "<?xml version=\"1.0\" encoding=\"US-ASCII\"?>{}",
                    response("#_r", &[ENVELOPED, EXC], true)
                ),
                Reason::UnsupportedEncoding,
            ),
        ];
        for (xml, reason) in cases {
            let error = validate(xml.as_bytes(), &config, &ctx).unwrap_err();
            let login = LoginError::Invalid(error);
            let status = login_status("test", &login);
            assert_eq!(status.code(), Code::PermissionDenied, "{login}");
            assert_eq!(reason_of(&status), Some(reason), "{login}");
            assert_eq!(crate::reason(login.reason()), reason, "{}", login.reason());
            assert_eq!(status.message(), login.user_message());
        }
        assert_eq!(Reason::WholeDocumentReference as i32, 210);
        assert_eq!(Reason::UnsupportedEncoding as i32, 213);
    }
}
