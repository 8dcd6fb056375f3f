//! The HTTP edges: who is calling (bearer token), the JSON body (media type, size), the
//! resource id in the path, ETag preconditions and SCIM responses.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::ScimConfig;
use crate::backend::{Backend, BackendError, Tenant};
use crate::error::{SCIM_JSON, ScimError};
use crate::resource::{encode_segment, etag};

/// The longest bearer token passed to the backend.
const MAX_TOKEN_LEN: usize = 4096;
/// The longest resource id or discovery name looked up.
const MAX_ID_LEN: usize = 512;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Shared<B> {
    pub(crate) backend: B,
    pub(crate) config: ScimConfig,
}

/// The router's state.
pub(crate) type AppState<B> = Arc<Shared<B>>;

/// An authenticated caller and the URL prefix of its org's resources.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) tenant: Tenant,
    /// `<base_url>/scim/v2/<org>`.
    pub(crate) base: String,
}

impl<B: Backend> FromRequestParts<AppState<B>> for Caller {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<B>,
    ) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::not_found("no such organization"))?;
        let org = params
            .iter()
            .find(|(name, _)| *name == "org")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| ScimError::not_found("no such organization"))?;
        let token = bearer(&parts.headers).ok_or_else(ScimError::unauthorized)?;
        let tenant = match state.backend.authenticate(&org, token).await {
            Ok(tenant) => tenant,
            Err(BackendError::Internal(cause)) => return Err(ScimError::internal(&cause)),
            Err(_) => return Err(ScimError::unauthorized()),
        };
        let base = format!(
            "{}/scim/v2/{}",
            state.config.base_url.trim_end_matches('/'),
            encode_segment(&tenant.org)
        );
        Ok(Self { tenant, base })
    }
}

/// The token of `Authorization: Bearer <token>` (scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .then_some(token)
}

/// The last path parameter: the resource id, or the discovery name or URN.
#[derive(Debug, Clone)]
pub(crate) struct Last(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Last {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::not_found("no such resource"))?;
        match params.iter().last() {
            Some((_, value)) if !value.is_empty() && value.len() <= MAX_ID_LEN => {
                Ok(Self(value.to_owned()))
            }
            _ => Err(ScimError::not_found("no such resource")),
        }
    }
}

/// A JSON request body, `application/scim+json`, `application/json` or untyped.
#[derive(Debug, Clone)]
pub(crate) struct ScimJson(pub(crate) Value);

impl<B: Backend> FromRequest<AppState<B>> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &AppState<B>) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let essence = content_type
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim();
            if !essence.eq_ignore_ascii_case(SCIM_JSON)
                && !essence.eq_ignore_ascii_case("application/json")
            {
                return Err(ScimError::unsupported_media_type());
            }
        }
        let limit = state.config.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::payload_too_large(limit)
            } else {
                ScimError::invalid_syntax("the request body could not be read")
            }
        })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ScimError::invalid_syntax(format!("the body is not JSON: {e}")))?;
        Ok(Self(value))
    }
}

/// An `If-Match` or `If-None-Match` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// `*`.
    Any,
    /// The versions of the listed ETags (weak or strong; one we did not issue matches none).
    Versions(Vec<u64>),
}

impl Precondition {
    /// The condition in header `name`, if sent.
    pub(crate) fn from_headers(headers: &HeaderMap, name: HeaderName) -> Option<Self> {
        let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
        if values.is_empty() {
            return None;
        }
        let mut versions = Vec::new();
        for value in values {
            for tag in value.to_str().unwrap_or_default().split(',') {
                let tag = tag.trim();
                if tag == "*" {
                    return Some(Self::Any);
                }
                let opaque = tag.strip_prefix("W/").unwrap_or(tag);
                let inner = opaque
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(opaque);
                if let Ok(version) = inner.parse::<u64>() {
                    versions.push(version);
                }
            }
        }
        Some(Self::Versions(versions))
    }

    /// Whether the resource at `version` meets the condition.
    pub(crate) fn matches(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }
}

/// A SCIM JSON response, with the resource's ETag and `Location` when given.
pub(crate) fn respond(
    status: StatusCode,
    body: &Value,
    version: Option<u64>,
    location: Option<&str>,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(tag) = version.and_then(|v| HeaderValue::from_str(&etag(v)).ok()) {
        headers.insert(header::ETAG, tag);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// `304 Not Modified` for a matching `If-None-Match`.
pub(crate) fn not_modified(version: u64) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn bearer_tokens_are_read_in_any_scheme_case() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn preconditions_parse_weak_strong_lists_and_star() {
        let p = Precondition::from_headers(
            &headers(&[("if-match", "W/\"3\", \"5\""), ("if-match", "junk")]),
            header::IF_MATCH,
        );
        assert_eq!(p, Some(Precondition::Versions(vec![3, 5])));
        let star = Precondition::from_headers(&headers(&[("if-match", "*")]), header::IF_MATCH);
        assert!(star.is_some_and(|p| p.matches(99)));
        let junk =
            Precondition::from_headers(&headers(&[("if-match", "W/\"x\"")]), header::IF_MATCH);
        assert!(junk.is_some_and(|p| !p.matches(0)));
        assert_eq!(
            Precondition::from_headers(&headers(&[]), header::IF_MATCH),
            None
        );
    }
}
