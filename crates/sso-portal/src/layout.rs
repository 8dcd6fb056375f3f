//! The page shell every portal page shares: the steps, the notice of the last action, the
//! security headers, and the portal's own style sheet and script.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use sso_provisioning::SetupAbility;

use crate::session::Session;

/// The portal's style sheet, served from `/setup/static/portal.css`.
const CSS: &str = include_str!("../static/portal.css");
/// The portal's one script (copy buttons), served from `/setup/static/portal.js`.
const JS: &str = include_str!("../static/portal.js");

/// The seven steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Idp,
    Metadata,
    Test,
    Domains,
    Users,
    GoLive,
    SignIns,
}

impl Step {
    pub(crate) const ALL: [Step; 7] = [
        Step::Idp,
        Step::Metadata,
        Step::Test,
        Step::Domains,
        Step::Users,
        Step::GoLive,
        Step::SignIns,
    ];

    /// The step's page under the org's pages.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Step::Idp => "idp",
            Step::Metadata => "metadata",
            Step::Test => "test",
            Step::Domains => "domains",
            Step::Users => "users",
            Step::GoLive => "go-live",
            Step::SignIns => "sign-ins",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Step::Idp => "Pick your IdP",
            Step::Metadata => "Give us your IdP",
            Step::Test => "Test sign-in",
            Step::Domains => "Domains",
            Step::Users => "Users",
            Step::GoLive => "Require SSO",
            Step::SignIns => "Recent sign-ins",
        }
    }

    pub(crate) fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// What the link must grant to open the step.
    pub(crate) fn ability(self) -> SetupAbility {
        match self {
            Step::Idp | Step::Metadata | Step::Test => SetupAbility::Connection,
            Step::Domains => SetupAbility::Domains,
            Step::Users => SetupAbility::Users,
            Step::GoLive => SetupAbility::RequireSso,
            Step::SignIns => SetupAbility::SignIns,
        }
    }
}

/// The outcome of the action that led to this page.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub(crate) ok: bool,
    pub(crate) text: String,
    pub(crate) reason: Option<String>,
}

impl Notice {
    pub(crate) fn done(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
            reason: None,
        }
    }

    pub(crate) fn failed(text: impl Into<String>, reason: &str) -> Self {
        Self {
            ok: false,
            text: text.into(),
            reason: Some(reason.to_owned()),
        }
    }
}

/// Extra origins a page's forms may lead to (the IdP, for the test sign-in's redirect).
#[derive(Debug, Default)]
pub(crate) struct Policy {
    pub(crate) form_origins: Vec<String>,
}

/// A full page of the portal for `session`, on `step` (`None`: the overview).
pub(crate) fn page(
    session: &Session,
    step: Option<Step>,
    notice: Option<&Notice>,
    body: &Markup,
    policy: &Policy,
) -> Response {
    let title = step.map_or("SSO setup", Step::title);
    let status = match notice {
        Some(n) if !n.ok => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SSO setup" }
                link rel="stylesheet" href="/setup/static/portal.css";
                script src="/setup/static/portal.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    p class="brand" {
                        a href=(session.path("")) { "SSO setup" }
                        " for organization " (session.org)
                    }
                    nav aria-label="Setup steps" {
                        ol {
                            @for s in Step::ALL {
                                @if session.may(s.ability()) {
                                    li {
                                        @if Some(s) == step {
                                            a href=(session.path(s.path())) aria-current="page" { (s.title()) }
                                        } @else {
                                            a href=(session.path(s.path())) { (s.title()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 {
                        @if let Some(s) = step { "Step " (s.number()) ": " }
                        (title)
                    }
                    @if let Some(n) = notice { (notice_box(n)) }
                    (body)
                }
                footer {
                    p { "This page was opened with setup link " (session.caller.link)
                        ". Every change you make here is recorded under that link." }
                }
            }
        }
    };
    respond(status, markup.into_string(), policy)
}

fn notice_box(n: &Notice) -> Markup {
    html! {
        div class=(if n.ok { "notice ok" } else { "notice error" }) role=(if n.ok { "status" } else { "alert" }) {
            p { (n.text) }
            @if let Some(reason) = &n.reason {
                p class="reason" { "Reason code: " code { (reason) } }
            }
        }
    }
}

/// A page outside a session (a refused link): the message and its reason code.
pub(crate) fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    reason: Option<&str>,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SSO setup" }
                link rel="stylesheet" href="/setup/static/portal.css";
            }
            body {
                main id="main" {
                    h1 { (title) }
                    p { (message) }
                    @if let Some(reason) = reason {
                        p class="reason" { "Reason code: " code { (reason) } }
                    }
                }
            }
        }
    };
    respond(status, markup.into_string(), &Policy::default())
}

/// An HTML answer with the portal's headers.
fn respond(status: StatusCode, html: String, policy: &Policy) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let mut form_action = String::from("'self'");
    for origin in &policy.form_origins {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'none'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    security_headers(headers);
    response
}

/// `no-store` and `no-referrer`: portal pages carry secrets' effects and CSRF tokens.
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn security_headers(headers: &mut HeaderMap) {
    no_store(headers);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /setup/static/portal.css`.
pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /setup/static/portal.js`.
pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A value to paste elsewhere, with a copy button (shown by `portal.js`).
pub(crate) fn copyable(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div class="copyable" {
            span class="label" id=(format!("{id}-label")) { (label) }
            code id=(id) { (value) }
            button type="button" class="copy" data-copy=(id) hidden
                aria-label=(format!("Copy {label}")) { "Copy" }
        }
    }
}
