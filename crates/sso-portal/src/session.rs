//! The session a setup link opens: the link's token in a cookie scoped to the org's pages,
//! checked again on every request, and the CSRF token derived from it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use sso_provisioning::{OrgId, SetupAbility, SetupLinkCaller, SetupLinkError};
use time::OffsetDateTime;

use crate::PortalState;
use crate::layout::{error_page, no_store};

/// The session cookie's name.
const COOKIE: &str = "sso_setup";

/// What the CSRF token signs: fixed, since the key (the link's token) is what binds it.
const CSRF_LABEL: &[u8] = b"sso-setup-portal csrf v1";

/// A checked request: who (which link), on which org, and the CSRF token of its forms.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The link, as the provisioner accepted it.
    pub(crate) caller: SetupLinkCaller,
    /// The org of the pages (the link's own).
    pub(crate) org: OrgId,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
}

impl Session {
    /// The audit actor of changes made in this session.
    pub(crate) fn actor(&self) -> String {
        self.caller.actor()
    }

    /// Whether the link grants `ability`.
    pub(crate) fn may(&self, ability: SetupAbility) -> bool {
        self.caller.abilities.contains(ability)
    }

    /// A path under this org's pages.
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/setup/{}/{rest}", self.org)
    }

    /// Checks the session of a request to `org`'s pages, and that the link grants `ability`
    /// (`None`: any link of the org). The refusal is the page to answer with.
    pub(crate) async fn open(
        state: &PortalState,
        org: &str,
        headers: &HeaderMap,
        ability: Option<SetupAbility>,
    ) -> Result<Session, Response> {
        let org: OrgId = org.parse().map_err(|_| not_found())?;
        let Some(token) = cookie(headers) else {
            return Err(error_page(
                StatusCode::UNAUTHORIZED,
                "Open your setup link",
                "This page belongs to an organization's SSO setup. Open the setup link you \
                 were given to continue; it signs this browser in to these pages.",
                Some("unauthenticated"),
            ));
        };
        let caller = authenticate(state, &token, org).await?;
        if let Some(ability) = ability {
            caller.require(ability).map_err(|e| link_refused(&e))?;
        }
        let csrf = csrf_token(&token).ok_or_else(internal)?;
        Ok(Session { caller, org, csrf })
    }

    /// `Ok` when a posted form carries this session's CSRF token; else the refusal page.
    // The error is the HTTP answer itself, sent as it is: boxing it would buy nothing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn check_csrf(&self, presented: Option<&str>) -> Result<(), Response> {
        let presented = presented.unwrap_or_default();
        let same = presented.len() == self.csrf.len()
            && openssl::memcmp::eq(presented.as_bytes(), self.csrf.as_bytes());
        if same {
            return Ok(());
        }
        tracing::info!(org = %self.org, link = %self.caller.link, "setup portal: form without its CSRF token");
        Err(error_page(
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from your setup session (its security token is missing \
             or wrong), so nothing was changed. Go back, reload the page and try again.",
            Some("setup-csrf-mismatch"),
        ))
    }
}

/// The link's checks, with the refusal as a page.
async fn authenticate(
    state: &PortalState,
    token: &str,
    org: OrgId,
) -> Result<SetupLinkCaller, Response> {
    let now = OffsetDateTime::now_utc();
    state
        .provisioner
        .authenticate_setup_link(token, org, now)
        .await
        .map_err(|e| link_refused(&e))
}

/// The page for a refused link.
fn link_refused(error: &SetupLinkError) -> Response {
    let (status, title, message) = match error {
        SetupLinkError::Unknown => (
            StatusCode::UNAUTHORIZED,
            "This setup link is not valid",
            "The link is incomplete or was never issued. Copy the whole link from the message \
             you received, or ask for a new one.",
        ),
        SetupLinkError::Expired => (
            StatusCode::FORBIDDEN,
            "This setup link has expired",
            "Setup links last a limited time. Ask whoever sent it for a new one; what you \
             already set up is kept.",
        ),
        SetupLinkError::Revoked => (
            StatusCode::FORBIDDEN,
            "This setup link was revoked",
            "Someone withdrew this link. Ask for a new one if you still need to change the \
             setup.",
        ),
        SetupLinkError::WrongOrg => (
            StatusCode::FORBIDDEN,
            "This setup link is for another organization",
            "A setup link works only on the pages of the organization it was made for.",
        ),
        SetupLinkError::NotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "Not part of this setup link",
            "The link you were given does not include this step. Ask for a link that does.",
        ),
        SetupLinkError::Store(e) => {
            tracing::error!("setup portal: link not checked: {e}");
            return internal();
        }
        _ => return internal(),
    };
    error_page(status, title, message, Some(error.reason()))
}

fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.",
        None,
    )
}

fn internal() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The service could not answer; it has logged the detail. Try again in a moment.",
        None,
    )
}

/// The session cookie's value, when the request carries one.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The CSRF token of a session: HMAC-SHA256 of [`CSRF_LABEL`] under the link's token, hex.
fn csrf_token(token: &str) -> Option<String> {
    let key = PKey::hmac(token.as_bytes()).ok()?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key).ok()?;
    signer.update(CSRF_LABEL).ok()?;
    let mac = signer.sign_to_vec().ok()?;
    Some(mac.iter().map(|b| format!("{b:02x}")).collect())
}

/// `GET /setup/{org}/link/{token}`: checks the link, puts it in the session cookie and sends
/// the browser on to the overview, so the token leaves the address bar at once.
pub(crate) async fn enter(
    State(state): State<PortalState>,
    Path((org, token)): Path<(String, String)>,
) -> Response {
    let Ok(org) = org.parse::<OrgId>() else {
        return not_found();
    };
    if let Err(refused) = authenticate(&state, &token, org).await {
        return refused;
    }
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/setup/{org}/; HttpOnly; SameSite=Lax{secure}");
    let (Ok(cookie), Ok(location)) = (
        HeaderValue::from_str(&cookie),
        HeaderValue::from_str(&format!("/setup/{org}/")),
    ) else {
        return internal();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::SET_COOKIE, cookie);
    headers.insert(header::LOCATION, location);
    no_store(headers);
    response
}

/// `GET /setup/{org}`: the overview is at `/setup/{org}/`, where the cookie applies.
pub(crate) async fn to_overview(Path(org): Path<String>) -> Response {
    let Ok(org) = org.parse::<OrgId>() else {
        return not_found();
    };
    let Ok(location) = HeaderValue::from_str(&format!("/setup/{org}/")) else {
        return internal();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    no_store(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_depend_on_the_link_token() {
        let a = csrf_token("sso_setup_1_aaaa").unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(a, csrf_token("sso_setup_1_aaaa").unwrap());
        assert_ne!(a, csrf_token("sso_setup_1_aaab").unwrap());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sso_setup=sso_setup_3_x; b=2"),
        );
        assert_eq!(cookie(&headers).as_deref(), Some("sso_setup_3_x"));
        headers.insert(header::COOKIE, HeaderValue::from_static("sso_setup="));
        assert_eq!(cookie(&headers), None);
    }
}
