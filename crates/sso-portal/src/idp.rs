//! Steps 1 to 3: the values to paste into the IdP and its guide, the IdP's metadata (file,
//! XML or URL, and a refresh), and the test sign-in with its result as a checklist.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, extract::rejection::FormRejection};
use maud::{Markup, html};
use serde::Deserialize;
use sso_provisioning::{
    AdminError, EventQuery, JitPreview, SSO_TEST_LOGIN_START, TestLogin, TestLoginStatus,
};
use time::OffsetDateTime;

use crate::PortalState;
use crate::docs::{GUIDES, guide};
use crate::layout::{Notice, Policy, Step, copyable, csrf_field, page};
use crate::session::Session;
use crate::words::{explain, fix};

/// The NameID format to choose in the IdP: the email address.
const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Opens the session of a step's page, or answers with the refusal.
macro_rules! session {
    ($state:expr, $org:expr, $headers:expr, $step:expr) => {
        match Session::open(&$state, &$org, &$headers, Some($step.ability())).await {
            Ok(session) => session,
            Err(refused) => return refused,
        }
    };
}
pub(crate) use session;

/// Checks a posted form's CSRF token, or answers with the refusal.
macro_rules! csrf {
    ($session:expr, $token:expr) => {
        if let Err(refused) = $session.check_csrf($token) {
            return refused;
        }
    };
}
pub(crate) use csrf;

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenOnly {
    pub(crate) csrf: Option<String>,
}

/// The notice for a refused or failed change: the plain sentence and the service's detail.
pub(crate) fn failure(what: &str, error: &AdminError) -> Notice {
    let reason = error.reason();
    let detail = if matches!(reason, "database" | "corrupt-data" | "internal") {
        tracing::error!(reason, "setup portal: {what}: {error}");
        "The service could not do it just now; it has logged the detail.".to_owned()
    } else {
        error.to_string()
    };
    let text = match explain(reason) {
        Some(sentence) => format!("{what}: {sentence} (Detail: {detail})"),
        None => format!("{what}: {detail}"),
    };
    Notice::failed(text, reason)
}

/// The query of step 1.
#[derive(Debug, Deserialize)]
pub(crate) struct PickQuery {
    idp: Option<String>,
}

/// `GET /setup/{org}/idp`: the IdPs to choose from, the values to paste, and the guide.
pub(crate) async fn pick_page(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    Query(query): Query<PickQuery>,
) -> Response {
    let session = session!(state, org, headers, Step::Idp);
    let sp = state.provisioner.service_provider(session.org);
    let entity_id = sp.entity_id().to_owned();
    let acs_url = sp.acs_url().to_owned();
    let base = entity_id
        .strip_suffix(&format!("/saml/2/metadata/{}", session.org))
        .unwrap_or(&entity_id)
        .to_owned();
    let chosen = query.idp.as_deref().and_then(guide);
    let body = html! {
        p { "Set up a SAML application for this organization in your identity provider (IdP). \
             Choose yours to see where each value goes." }
        ul class="choices" aria-label="Identity providers" {
            @for g in GUIDES {
                li {
                    @if chosen.is_some_and(|c| c.code == g.code) {
                        a href={ (session.path("idp")) "?idp=" (g.code) } aria-current="true" { (g.name) }
                    } @else {
                        a href={ (session.path("idp")) "?idp=" (g.code) } { (g.name) }
                    }
                }
            }
        }
        h2 { "Values to paste into your IdP" }
        (copyable("sp-entity-id", "SP entity ID (Audience)", &entity_id))
        (copyable("acs-url", "ACS URL (Single sign-on URL, Reply URL)", &acs_url))
        (copyable("metadata-url", "SP metadata URL", &entity_id))
        (copyable("name-id-format", "NameID format", NAME_ID_EMAIL))
        (copyable("attribute-email", "Email attribute name", "email"))
        p class="hint" { "The email is read from the NameID first, then from an attribute named \
            email (or the emailaddress claim). Sign responses or assertions with RSA-SHA256." }
        @if let Some(g) = chosen {
            h2 { "Steps in " (g.name) }
            (g.render(&base, &session.org.to_string()))
        }
        p { a href=(session.path("metadata")) { "Next: give us your IdP's metadata" } }
    };
    page(&session, Some(Step::Idp), None, &body, &Policy::default())
}

/// Step 2's page with `notice` (the outcome of a form just posted).
async fn metadata_view(state: &PortalState, session: &Session, notice: Option<Notice>) -> Response {
    let now = OffsetDateTime::now_utc();
    let view = match state.provisioner.connection_view(session.org, now).await {
        Ok(view) => view,
        Err(e) => return failed_read(session, &AdminError::from(e)),
    };
    let csrf = csrf_field(session);
    let body = html! {
        @match &view {
            Some(v) => {
                h2 { "Your IdP now" }
                dl {
                    dt { "Entity ID" } dd { code { (v.connection.idp.entity_id) } }
                    dt { "Sign-in address" } dd { code { (v.connection.idp.sso_url.as_deref().unwrap_or("none")) } }
                    dt { "Signing certificates" } dd { (v.connection.idp.certificates.len()) }
                    @if let Some(url) = &v.connection.idp.metadata_url {
                        dt { "Metadata URL" } dd { code { (url) } }
                    }
                    dt { "Tested" } dd { @if v.proven { "Yes: a sign-in succeeded with this configuration." } @else { "Not yet: run a test sign-in (step 3)." } }
                }
                @for w in &v.warnings { p class="notice error" { (w) } }
                @if v.connection.idp.metadata_url.is_some() {
                    form method="post" action=(session.path("metadata/refresh")) {
                        (csrf)
                        button type="submit" class="secondary" { "Refresh from the metadata URL" }
                    }
                }
            }
            None => p { "No IdP is configured yet. Give us its metadata in one of three ways." }
        }
        h2 { "Upload the metadata file" }
        form method="post" action=(session.path("metadata/file")) enctype="multipart/form-data" {
            (csrf)
            label for="metadata-file" { "Metadata file (XML)" }
            input type="file" id="metadata-file" name="file" accept=".xml,application/xml,text/xml,application/samlmetadata+xml" required;
            p { button type="submit" { "Upload" } }
        }
        h2 { "Or paste its XML" }
        form method="post" action=(session.path("metadata/xml")) {
            (csrf)
            label for="metadata-xml" { "Metadata XML" }
            textarea id="metadata-xml" name="xml" required spellcheck="false" {}
            p { button type="submit" { "Save" } }
        }
        h2 { "Or give its URL" }
        form method="post" action=(session.path("metadata/url")) {
            (csrf)
            label for="metadata-url" { "Metadata URL" }
            p class="hint" id="metadata-url-hint" { "HTTPS only. The service reads it again every day, and when you press Refresh." }
            input type="url" id="metadata-url" name="url" required aria-describedby="metadata-url-hint";
            p { button type="submit" { "Import" } }
        }
        p { a href=(session.path("test")) { "Next: test sign-in" } }
    };
    page(
        session,
        Some(Step::Metadata),
        notice.as_ref(),
        &body,
        &Policy::default(),
    )
}

/// The page when what a page shows could not be read.
pub(crate) fn failed_read(session: &Session, error: &AdminError) -> Response {
    let notice = failure("This page could not be read", error);
    page(session, None, Some(&notice), &html! {}, &Policy::default())
}

/// `GET /setup/{org}/metadata`.
pub(crate) async fn metadata_page(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::Metadata);
    metadata_view(&state, &session, None).await
}

/// The outcome of an import, as a notice.
fn imported(result: Result<String, AdminError>) -> Notice {
    match result {
        Ok(entity) => Notice::done(format!(
            "Saved the metadata of {entity}. Now run a test sign-in (step 3)."
        )),
        Err(e) => failure("We could not use this metadata", &e),
    }
}

/// Imports metadata from bytes (a file or pasted XML).
async fn import_xml(state: &PortalState, session: &Session, xml: &[u8]) -> Response {
    let now = OffsetDateTime::now_utc();
    let result = state
        .provisioner
        .import_idp_metadata(&session.actor(), session.org, xml, now)
        .await
        .map(|i| i.connection.idp.entity_id);
    metadata_view(state, session, Some(imported(result))).await
}

/// The form of pasted metadata.
#[derive(Debug, Deserialize)]
pub(crate) struct XmlForm {
    csrf: Option<String>,
    xml: Option<String>,
}

/// `POST /setup/{org}/metadata/xml`.
pub(crate) async fn metadata_xml(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<XmlForm>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Metadata);
    let form = form.map(|Form(f)| f).ok();
    csrf!(session, form.as_ref().and_then(|f| f.csrf.as_deref()));
    let xml = form.and_then(|f| f.xml).unwrap_or_default();
    import_xml(&state, &session, xml.as_bytes()).await
}

/// `POST /setup/{org}/metadata/file`: a multipart form with `csrf` and `file`.
pub(crate) async fn metadata_file(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Metadata);
    let mut csrf = None;
    let mut file = None;
    if let Ok(mut multipart) = multipart {
        while let Ok(Some(field)) = multipart.next_field().await {
            match field.name() {
                Some("csrf") => csrf = field.text().await.ok(),
                Some("file") => file = field.bytes().await.ok(),
                _ => {}
            }
        }
    }
    csrf!(session, csrf.as_deref());
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        let notice = Notice::failed(
            "Choose the metadata file to upload (it was missing, empty or larger than 2 MiB).",
            "invalid-input",
        );
        return metadata_view(&state, &session, Some(notice)).await;
    };
    import_xml(&state, &session, &file).await
}

/// The form of a metadata URL.
#[derive(Debug, Deserialize)]
pub(crate) struct UrlForm {
    csrf: Option<String>,
    url: Option<String>,
}

/// `POST /setup/{org}/metadata/url`.
pub(crate) async fn metadata_url(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<UrlForm>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Metadata);
    let form = form.map(|Form(f)| f).ok();
    csrf!(session, form.as_ref().and_then(|f| f.csrf.as_deref()));
    let url = form.and_then(|f| f.url).unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    let result = state
        .provisioner
        .import_idp_metadata_from_url(
            &state.fetcher,
            &session.actor(),
            session.org,
            url.trim(),
            None,
            None,
            now,
        )
        .await
        .map(|i| i.imported.connection.idp.entity_id);
    metadata_view(&state, &session, Some(imported(result))).await
}

/// `POST /setup/{org}/metadata/refresh`.
pub(crate) async fn metadata_refresh(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<TokenOnly>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Metadata);
    csrf!(session, form.ok().and_then(|Form(f)| f.csrf).as_deref());
    let now = OffsetDateTime::now_utc();
    let notice = match state
        .provisioner
        .refresh_idp_metadata(&state.fetcher, &session.actor(), session.org, now)
        .await
    {
        Ok(outcome) => Notice::done(format!(
            "Refreshed from the metadata URL: {}.",
            outcome.reason()
        )),
        Err(e) => failure(
            "The refresh failed, and the configuration in use was kept",
            &e,
        ),
    };
    metadata_view(&state, &session, Some(notice)).await
}

/// The newest test sign-in started for the org, when there is one still on record.
async fn latest_test(state: &PortalState, session: &Session) -> Option<TestLogin> {
    let query = EventQuery::new(1).kind(SSO_TEST_LOGIN_START);
    let page = state
        .provisioner
        .list_traces(session.org, &query)
        .await
        .ok()?;
    let id = page
        .events
        .first()?
        .detail
        .get("test_login")?
        .as_str()?
        .to_owned();
    let now = OffsetDateTime::now_utc();
    state
        .provisioner
        .test_login(session.org, &id, now)
        .await
        .ok()
}

/// What a sign-in would do, in words.
pub(crate) fn jit_sentence(jit: &JitPreview) -> String {
    match jit {
        JitPreview::ExistingMember { role } => format!(
            "Sign in an existing member, who keeps the role {}.",
            role.code()
        ),
        JitPreview::NewMember {
            role,
            projects,
            user_exists,
            ..
        } => {
            let who = if *user_exists {
                "Add this existing user to your organization"
            } else {
                "Create this person's account and add them to your organization"
            };
            let projects = if projects.is_empty() {
                "no default projects".to_owned()
            } else {
                let names: Vec<&str> = projects.iter().map(|p| p.as_str()).collect();
                format!("access to {}", names.join(", "))
            };
            format!("{who} with the role {} and {projects}.", role.code())
        }
        JitPreview::Refused { reason, .. } => format!(
            "Refuse this person ({reason}): {}",
            explain(reason).unwrap_or("see the detail in the checks above.")
        ),
        _ => "Unknown.".to_owned(),
    }
}

fn checklist(test: &TestLogin) -> Markup {
    let state = match test.state {
        TestLoginStatus::Succeeded => "Succeeded: the connection works.",
        TestLoginStatus::Failed => "Failed: see the checks below.",
        TestLoginStatus::Pending => {
            "Waiting: finish signing in at your IdP in the other tab, then reload this page."
        }
        TestLoginStatus::Expired => {
            "Expired: the sign-in was not finished in time. Start a new test."
        }
        _ => "Unknown.",
    };
    html! {
        h2 { "Latest test sign-in" }
        p id="test-state" { strong { (state) } }
        @if let Some(email) = &test.email {
            p { "Email found: " code { (email) } " (from "
                (test.email_source.map_or("an unknown place", |s| s.code())) ")." }
        }
        @if let Some(jit) = &test.jit {
            p { "A real sign-in would: " (jit_sentence(jit)) }
        }
        @if !test.checks.is_empty() {
            ul class="checklist" aria-label="Checks" {
                @for check in &test.checks {
                    li {
                        @if check.passed {
                            span class="passed" { "✓ Passed: " }
                        } @else {
                            span class="failed" { "✗ Failed: " }
                        }
                        strong { (check.name) }
                        @if !check.detail.is_empty() { " — " (check.detail) }
                        @if let Some(reason) = &check.reason {
                            @if !check.passed {
                                br;
                                "Reason code: " code { (reason) } ". "
                                @if let Some(sentence) = explain(reason) { (sentence) " " }
                                "How to fix it: " (fix(reason))
                            }
                        }
                    }
                }
            }
        }
        @if test.proved_configuration {
            p { "This test proved the current configuration: you can now require SSO (step 6)." }
        }
    }
}

/// `GET /setup/{org}/test`: the test button and the latest result.
pub(crate) async fn test_page(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::Test);
    test_view(&state, &session, None).await
}

async fn test_view(state: &PortalState, session: &Session, notice: Option<Notice>) -> Response {
    let latest = latest_test(state, session).await;
    let now = OffsetDateTime::now_utc();
    let view = state
        .provisioner
        .connection_view(session.org, now)
        .await
        .ok()
        .flatten();
    // The test's form leads, through our redirect, to the IdP's sign-in address.
    let mut policy = Policy::default();
    if let Some(origin) = view
        .as_ref()
        .and_then(|v| v.connection.idp.sso_url.as_deref())
        .and_then(origin)
    {
        policy.form_origins.push(origin);
    }
    let body = html! {
        p { "A test sign-in goes through your IdP like a real one and runs every check, but \
             signs nobody in and changes no account. It opens in a new tab: sign in there, \
             then come back and reload this page to read the result." }
        @if view.is_none() {
            p { "Give us your IdP first (step 2)." }
        } @else {
            form method="post" action=(session.path("test")) target="_blank" {
                (csrf_field(session))
                button type="submit" { "Test sign-in" span class="visually-hidden" { " (opens a new tab)" } }
            }
        }
        @if let Some(test) = &latest { (checklist(test)) }
        p { a href=(session.path("test")) { "Reload the result" } }
    };
    page(session, Some(Step::Test), notice.as_ref(), &body, &policy)
}

/// The origin (`scheme://host[:port]`) of a URL, for the Content-Security-Policy.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let safe = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    safe.then(|| format!("{scheme}://{authority}"))
}

/// `POST /setup/{org}/test`: starts a test sign-in and sends this (new) tab to the IdP.
pub(crate) async fn test_start(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<TokenOnly>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Test);
    csrf!(session, form.ok().and_then(|Form(f)| f.csrf).as_deref());
    let now = OffsetDateTime::now_utc();
    match state
        .provisioner
        .begin_test_login(&session.actor(), session.org, now)
        .await
    {
        Ok(start) => match HeaderValue::from_str(&start.redirect_url) {
            Ok(location) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                response.headers_mut().insert(header::LOCATION, location);
                crate::layout::no_store(response.headers_mut());
                response
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(e) => {
            let reason = e.reason();
            let text = format!(
                "The test could not start: {}",
                explain(reason).unwrap_or("see the reason code.")
            );
            test_view(&state, &session, Some(Notice::failed(text, reason))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_sign_in_addresses() {
        assert_eq!(
            origin("https://idp.example.com/sso?x=1").as_deref(),
            Some("https://idp.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/sso").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("https://a b/"), None);
        assert_eq!(origin("https://x;y/"), None);
    }
}
