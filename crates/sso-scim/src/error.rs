//! SCIM errors (RFC 7644 §3.12): one type for every refusal, rendered as the error message
//! schema with the status as a string and a `scimType` where the RFC names one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::backend::BackendError;

/// The error message schema URN.
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The media type of every body we send.
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// A refusal on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// The body is not the JSON, or not the shape, the request needs.
    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// A filter that does not parse or cannot be evaluated.
    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    /// A PATCH `path` that does not parse or names nothing we can change.
    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    /// A PATCH whose path selects nothing where something is needed.
    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    /// An attempt to change a read-only attribute (`id`, `meta`).
    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    /// A value of the wrong type, missing where required, or too large.
    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// A listing would be larger than we evaluate.
    pub(crate) fn too_many(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("tooMany"), detail)
    }

    /// No token, or one the backend refused.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid bearer token for this organization is required",
        )
    }

    /// An operation the RFC lets a provider leave out, left out.
    pub(crate) fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }

    /// No such resource.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// `If-Match` named another version, or the resource changed under us.
    pub(crate) fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource has changed: its version does not match If-Match",
        )
    }

    /// The body is larger than the configured limit.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// A body that is not JSON by its declared media type.
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "the body must be application/scim+json or application/json",
        )
    }

    /// Something broke on our side; `cause` goes to the log, not to the client.
    pub(crate) fn internal(cause: &str) -> Self {
        tracing::error!(cause, "scim request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal error; the service provider logged it",
        )
    }

    /// The HTTP status this error answers with.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The `scimType`, if the RFC names one for this refusal.
    #[cfg(test)]
    pub(crate) fn scim_type(&self) -> Option<&'static str> {
        self.scim_type
    }
}

impl From<BackendError> for ScimError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::Unauthorized => Self::unauthorized(),
            BackendError::NotFound => Self::not_found("no such resource"),
            BackendError::Uniqueness => Self::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                "the name is already taken in this organization",
            ),
            BackendError::VersionMismatch => Self::precondition_failed(),
            BackendError::InvalidValue { reason, detail } => {
                Self::invalid_value(format!("{reason}: {detail}"))
            }
            BackendError::Forbidden { reason, detail } => {
                Self::new(StatusCode::FORBIDDEN, None, format!("{reason}: {detail}"))
            }
            BackendError::TooMany => {
                Self::too_many("the filter matches more resources than the service evaluates")
            }
            BackendError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".into(), scim_type.into());
        }
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_refusals_map_to_rfc_statuses() {
        let cases = [
            (BackendError::Unauthorized, 401, None),
            (BackendError::NotFound, 404, None),
            (BackendError::Uniqueness, 409, Some("uniqueness")),
            (BackendError::VersionMismatch, 412, None),
            (
                BackendError::InvalidValue {
                    reason: "scim-email-domain-unverified",
                    detail: "x".into(),
                },
                400,
                Some("invalidValue"),
            ),
            (
                BackendError::Forbidden {
                    reason: "plan",
                    detail: "x".into(),
                },
                403,
                None,
            ),
            (BackendError::TooMany, 400, Some("tooMany")),
            (BackendError::Internal("db down".into()), 500, None),
        ];
        for (backend, status, scim_type) in cases {
            let error = ScimError::from(backend);
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(error.scim_type(), scim_type);
        }
    }

    #[test]
    fn the_body_carries_the_reason_and_hides_internal_causes() {
        let invalid = ScimError::from(BackendError::InvalidValue {
            reason: "scim-email-domain-unverified",
            detail: "example.org is not verified".into(),
        });
        assert_eq!(
            invalid.detail,
            "scim-email-domain-unverified: example.org is not verified"
        );
        let internal = ScimError::from(BackendError::Internal("password=hunter2".into()));
        assert!(!internal.detail.contains("hunter2"));
        let response = ScimError::unauthorized().into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(response.headers()[header::CONTENT_TYPE], SCIM_JSON);
    }
}
