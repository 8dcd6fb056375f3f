//! The HTTP listener beside gRPC: liveness, SP metadata, and the ACS endpoint that completes
//! logins for services that do not run their own (and shows the result of an admin's test
//! login, which is never a sign-in).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sso_provisioning::{LoginError, OrgId, Provisioner, SpMetadataError, StoreError};
use sso_xml::escape;
use time::OffsetDateTime;
use url::Url;

/// The largest ACS form accepted: a 1 MiB response (the validator's own limit) in base64 and
/// URL encoding, with room for line breaks and the RelayState.
const ACS_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Logins and metadata.
    pub provisioner: Provisioner,
    /// Where logins without an absolute return target go: IdP-initiated logins, and return
    /// targets given as a path (joined onto it).
    pub default_return_url: Option<Url>,
}

/// `GET /healthz`, `GET /saml/2/metadata/{org}` and `POST /saml/2/acs/{org}`.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/saml/2/metadata/{org}", get(metadata))
        .route(
            "/saml/2/acs/{org}",
            post(acs).layer(DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metadata(State(state): State<HttpState>, Path(org): Path<String>) -> Response {
    let Ok(org) = org.parse::<OrgId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.provisioner.sp_metadata(org).await {
        Ok(sp) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            sp.xml,
        )
            .into_response(),
        Err(SpMetadataError::Store(StoreError::NotFound { .. })) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(SpMetadataError::Store(e)) => {
            tracing::error!(%org, "SP metadata: org not read: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(%org, "SP metadata not written: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The form an IdP's HTTP-POST binding sends.
#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Completes the login posted by the browser and sends it on to the return target with a
/// single-use `code` (redeemed with `AuthService.RedeemLoginCode`), or with `error=<reason>`
/// when the login was refused and the return target is known. Otherwise a short page says
/// what happened; the org's admin reads the detail in the login traces. A response to a test
/// login gets its result page instead: no code, no redirect.
async fn acs(
    State(state): State<HttpState>,
    Path(org): Path<String>,
    form: Result<axum::Form<AcsForm>, FormRejection>,
) -> Response {
    let Ok(org) = org.parse::<OrgId>() else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown organization",
            "This sign-in address does not belong to any organization.",
            None,
        );
    };
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(rejection) => {
            tracing::info!(%org, "ACS: unusable form: {rejection}");
            return page(
                rejection.status(),
                "Sign-in failed",
                "The sign-in form from your identity provider could not be read.",
                Some("invalid-input"),
            );
        }
    };
    let relay_state = form.relay_state.as_deref().filter(|r| !r.is_empty());
    let now = OffsetDateTime::now_utc();
    match state
        .provisioner
        .complete_login_with_code(org, form.saml_response.as_bytes(), relay_state, now)
        .await
    {
        Ok((outcome, code)) => {
            match return_url(
                state.default_return_url.as_ref(),
                outcome.return_target.as_deref(),
            ) {
                Some(mut url) => {
                    url.query_pairs_mut().append_pair("code", code.as_str());
                    redirect(&url)
                }
                None => {
                    tracing::warn!(
                        %org,
                        user = outcome.user.id.get(),
                        "ACS: login completed but there is nowhere to send it: no return \
                         target and no --default-return-url"
                    );
                    page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Signed in, but nowhere to go",
                        "Your identity provider signed you in, but this service has no address \
                         to send you on to. Start the sign-in from the application instead.",
                        None,
                    )
                }
            }
        }
        // A test login: its result, never a sign-in, a code or a redirect to the app.
        Err(error) if error.test_login().is_some() => test_result(&state, org, &error, now).await,
        Err(error) => refused(&state, org, relay_state, &error).await,
    }
}

/// The page shown after a response to an admin's test login: the attempt's outcome, then the
/// test's recorded result (every check, the email and its source, what JIT would do, whether
/// the configuration is proven), all escaped. `200` when the test completed, `403` (or `500`
/// for a failure of ours) when this response was refused.
async fn test_result(
    state: &HttpState,
    org: OrgId,
    error: &LoginError,
    now: OffsetDateTime,
) -> Response {
    let Some(id) = error.test_login() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (status, title) = match error {
        LoginError::TestLoginCompleted { .. } => (StatusCode::OK, "SSO test login completed"),
        e if !e.is_refusal() => {
            tracing::error!(%org, reason = e.reason(), "ACS: test login failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "SSO test login failed")
        }
        _ => (StatusCode::FORBIDDEN, "SSO test login failed"),
    };
    let mut body = format!(
        "<p>This was a test of the organization's SSO connection (test login <code>{id}</code>). \
         Nobody was signed in and no user, membership or project access was created or \
         changed.</p>",
        id = escape::html(id),
    );
    if let LoginError::TestLoginFailed { cause, .. } = error {
        body.push_str(&format!(
            "<p>This response was refused: {detail}</p>",
            detail = escape::html(&cause.to_string()),
        ));
    }
    match state.provisioner.test_login(org, id, now).await {
        Ok(test) => body.push_str(&crate::test_page::render(&test)),
        Err(e) => {
            tracing::warn!(%org, "ACS: test login result not read: {e}");
            body.push_str(
                "<p>The recorded result could not be read; ask for it with GetTestLogin.</p>",
            );
        }
    }
    html_page(status, title, &body)
}

/// The answer to a refused or failed login.
async fn refused(
    state: &HttpState,
    org: OrgId,
    relay_state: Option<&str>,
    error: &LoginError,
) -> Response {
    let status = match error {
        LoginError::OrgNotFound => StatusCode::NOT_FOUND,
        e if !e.is_refusal() => {
            tracing::error!(%org, reason = e.reason(), "ACS: login failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::FORBIDDEN,
    };
    let target = match relay_state {
        Some(relay_state) if error.is_refusal() => state
            .provisioner
            .return_target_for(org, relay_state)
            .await
            .ok()
            .flatten(),
        _ => None,
    };
    if let Some(mut url) =
        target.and_then(|t| return_url(state.default_return_url.as_ref(), Some(&t)))
    {
        url.query_pairs_mut().append_pair("error", error.reason());
        return redirect(&url);
    }
    page(
        status,
        "Sign-in failed",
        error.user_message(),
        Some(error.reason()),
    )
}

/// The absolute URL to send the browser to: the return target when absolute, else joined
/// onto the default return URL; `None` when neither gives one.
fn return_url(default: Option<&Url>, target: Option<&str>) -> Option<Url> {
    match target {
        Some(target) if target.starts_with('/') => default.and_then(|base| base.join(target).ok()),
        Some(target) => Url::parse(target).ok(),
        None => default.cloned(),
    }
}

/// A 303 to `url`, uncached, sending no Referer (the URL carries a code).
fn redirect(url: &Url) -> Response {
    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    no_store(headers);
    response
}

fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A small HTML page for the person at the browser.
fn page(status: StatusCode, title: &str, message: &str, reason: Option<&str>) -> Response {
    let reason = reason
        .map(|r| {
            format!(
                "<p><small>Reason code: <code>{}</code></small></p>",
                escape::html(r)
            )
        })
        .unwrap_or_default();
    let body = format!("<p>{}</p>{reason}", escape::html(message));
    html_page(status, title, &body)
}

/// An uncached HTML page with this title and `body` (HTML the caller has escaped).
fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        title = escape::html(title),
    );
    let mut response = (status, Html(page)).into_response();
    no_store(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_resolve_paths_on_the_default_and_keep_absolute_ones() {
        let base = Url::parse("https://app.example.com/sso/done").unwrap();
        assert_eq!(
            return_url(Some(&base), Some("/reports/7?tab=1"))
                .unwrap()
                .as_str(),
            "https://app.example.com/reports/7?tab=1"
        );
        assert_eq!(
            return_url(None, Some("https://other.example/x"))
                .unwrap()
                .as_str(),
            "https://other.example/x"
        );
        assert_eq!(return_url(Some(&base), None).unwrap(), base);
        assert!(return_url(None, Some("/x")).is_none());
        assert!(return_url(None, None).is_none());
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape::html("<a href=\"x\">&'").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
