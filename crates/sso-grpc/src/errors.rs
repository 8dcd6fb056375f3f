//! The one mapping of service errors to `tonic::Status`.
//!
//! Refusals carry a fitting gRPC code, `google.rpc.ErrorInfo` with the stable reason, and a
//! message: for logins the end-user-safe [`LoginError::user_message`], for admin calls the
//! admin detail. Infrastructure failures (`database`, `corrupt-data`) are `INTERNAL` with a
//! generic message; their detail is logged with `tracing::error!` and never sent.

use sso_domains::CheckError;
use sso_fetch::FetchError;
use sso_policy::BreakGlassRefusal;
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
/// end-user-safe one; the admin reads the detail in the login trace.
pub(crate) fn login_status(operation: &str, error: &LoginError) -> Status {
    let code = match error {
        LoginError::Store(e) if e.is_infrastructure() => {
            return logged_internal(operation, e.reason(), e);
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
        | LoginError::UnknownRequest => Code::FailedPrecondition,
        LoginError::Invalid(_) | LoginError::NoEmail(_) | LoginError::Refused(_) => {
            Code::PermissionDenied
        }
        LoginError::ReturnTarget(_) => Code::InvalidArgument,
        _ => {
            if !error.is_refusal() {
                return logged_internal(operation, error.reason(), error);
            }
            Code::FailedPrecondition
        }
    };
    refusal(code, error.reason(), error.user_message())
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
        AdminError::BreakGlass(BreakGlassRefusal::MissingJustification) => Code::InvalidArgument,
        AdminError::Metadata(_) => Code::InvalidArgument,
        AdminError::Fetch(e) if e.is_refusal() => Code::InvalidArgument,
        AdminError::Fetch(FetchError::Timeout { .. }) => Code::DeadlineExceeded,
        AdminError::Fetch(_) => Code::Unavailable,
        AdminError::MetadataExpired(_) | AdminError::InvalidCertificate(_) => Code::InvalidArgument,
        AdminError::CertificateNotFound(_) => Code::NotFound,
        AdminError::DomainRefused(_) => Code::InvalidArgument,
        AdminError::DomainNotClaimed(_) => Code::NotFound,
        AdminError::DomainVerifiedElsewhere(_) => Code::AlreadyExists,
        AdminError::DomainLimit(_) => Code::ResourceExhausted,
        AdminError::DomainCheck { error, .. } => match error {
            CheckError::Timeout { .. } => Code::DeadlineExceeded,
            CheckError::LookupFailed { .. } => Code::Unavailable,
            _ => Code::FailedPrecondition,
        },
        AdminError::Internal(_) => return logged_internal(operation, error.reason(), error),
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
}
