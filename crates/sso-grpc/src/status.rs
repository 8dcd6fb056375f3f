//! The two shapes of status the service sends, a refusal with `google.rpc.ErrorInfo` naming its
//! `Reason` and an opaque `internal`, and reading the reason back for clients and tests.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::v1::Reason;

/// `google.rpc.ErrorInfo.domain` of every refusal.
pub const DOMAIN: &str = "sso.v1";

/// The wire enum for a kebab-case reason code (`"wrong-audience"` -> `Reason::WrongAudience`);
/// `Reason::Unspecified` for a code the protocol does not know, which a test keeps from
/// happening for every code the service emits.
pub fn reason(code: &str) -> Reason {
    let name = format!("REASON_{}", code.replace('-', "_").to_ascii_uppercase());
    Reason::from_str_name(&name).unwrap_or(Reason::Unspecified)
}

/// A refusal the caller can act on: `code`, a message safe to show an end user, and
/// `google.rpc.ErrorInfo` with the reason enum's name, the domain and the kebab-case code.
pub fn refusal(code: Code, reason_code: &str, message: &str) -> Status {
    let wire = reason(reason_code);
    let details = ErrorDetails::with_error_info(
        wire.as_str_name(),
        DOMAIN,
        [("code".to_owned(), reason_code.to_owned())],
    );
    Status::with_error_details(code, message, details)
}

/// An infrastructure failure: `INTERNAL` with a generic message. Log the detail before calling
/// this; it is never sent.
pub fn internal() -> Status {
    Status::internal("internal error; the service has logged the detail")
}

/// The reason a refusal carries, for clients and tests.
pub fn reason_of(status: &Status) -> Option<Reason> {
    let info = status.get_details_error_info()?;
    (info.domain == DOMAIN)
        .then(|| Reason::from_str_name(&info.reason))
        .flatten()
}
