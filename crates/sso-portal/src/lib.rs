//! The self-serve setup portal: the web pages an org's IT admin reaches through a setup link
//! (`AdminService.CreateSetupLink`), to connect the org's IdP, test it, prove the org's
//! domains, choose what happens to new people and require SSO, without anyone's help.
//!
//! [`router`] gives an axum `Router` for the server's HTTP listener, on paths under
//! `sso_provisioning::SETUP_PATH`:
//!
//! - `GET /setup/<org>/link/<token>` opens a session: the token, checked by
//!   `Provisioner::authenticate_setup_link`, goes into an `HttpOnly`, `SameSite=Lax` cookie
//!   scoped to `/setup/<org>/`, and the browser is sent on to the overview. Every later
//!   request checks the link again, so expiry and revocation take effect at once.
//! - Seven steps (pick the IdP, give us its metadata, test, domains, users, go live, recent
//!   sign-ins), each behind the ability the link grants; every change is a `Provisioner`
//!   operation with the link as its audit actor (`setup-link:<id>`).
//! - Every form carries a CSRF token, an HMAC-SHA256 of a fixed label keyed by the link's
//!   token: only a page served to the cookie's holder can know it, and nothing is stored.
//!
//! Pages are rendered on the server with maud (escaped by construction); the only script is
//! `portal.js`, served from here, for copy buttons. Every answer is `no-store`, `no-referrer`,
//! `nosniff`, not framable, under a Content-Security-Policy that allows nothing but this
//! origin's style sheet, script and forms.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod docs;
mod domains;
mod idp;
mod layout;
mod session;
mod settings;
mod sign_ins;
mod words;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use sso_domains::TxtLookup;
use sso_fetch::Fetcher;
use sso_provisioning::Provisioner;

/// The largest form accepted: a metadata file of up to 1 MiB, multipart-encoded.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What the portal's handlers share.
#[derive(Debug, Clone)]
pub struct PortalState {
    /// Every read and change goes through it.
    pub provisioner: Provisioner,
    /// Fetches metadata by URL (the server's, with its address checks).
    pub fetcher: Fetcher,
    /// Looks domain claims' TXT records up.
    pub lookup: TxtLookup,
    /// Whether the session cookie is `Secure` (the public base URL is HTTPS).
    pub secure_cookies: bool,
}

/// The portal's routes, all under `/setup/`.
pub fn router(state: PortalState) -> Router {
    Router::new()
        .route("/setup/static/portal.css", get(layout::css))
        .route("/setup/static/portal.js", get(layout::js))
        .route("/setup/{org}/link/{token}", get(session::enter))
        .route("/setup/{org}", get(session::to_overview))
        .route("/setup/{org}/", get(settings::overview))
        .route("/setup/{org}/idp", get(idp::pick_page))
        .route("/setup/{org}/metadata", get(idp::metadata_page))
        .route("/setup/{org}/metadata/xml", post(idp::metadata_xml))
        .route("/setup/{org}/metadata/file", post(idp::metadata_file))
        .route("/setup/{org}/metadata/url", post(idp::metadata_url))
        .route("/setup/{org}/metadata/refresh", post(idp::metadata_refresh))
        .route(
            "/setup/{org}/test",
            get(idp::test_page).post(idp::test_start),
        )
        .route(
            "/setup/{org}/domains",
            get(domains::show).post(domains::claim),
        )
        .route("/setup/{org}/domains/verify", post(domains::verify))
        .route(
            "/setup/{org}/users",
            get(settings::users_page).post(settings::users_save),
        )
        .route(
            "/setup/{org}/go-live",
            get(settings::go_live_page).post(settings::go_live_save),
        )
        .route("/setup/{org}/sign-ins", get(sign_ins::show))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
