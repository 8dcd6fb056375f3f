//! The overview, step 5 (what happens to new people: JIT, default role, default projects)
//! and step 6 (switching SSO sign-in on and requiring SSO, once a test has succeeded).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use sso_policy::{Plan, RequireSsoStatus, Role, require_sso_status};
use sso_provisioning::{AdminError, ProjectId, ProjectQuery, SetupAbility};
use time::OffsetDateTime;

use crate::PortalState;
use crate::idp::{csrf, failed_read, failure, session};
use crate::layout::{Notice, Policy, Step, csrf_field, page};
use crate::session::Session;

/// How many projects step 5 offers as defaults.
const PROJECTS_SHOWN: u32 = 200;

/// The pairs of an URL-encoded form body (repeated names kept, for the project list).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `GET /setup/{org}/`: where the setup stands.
pub(crate) async fn overview(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = match Session::open(&state, &org, &headers, None).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let now = OffsetDateTime::now_utc();
    let snapshot = match state.provisioner.org(session.org).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed_read(&session, &AdminError::from(e)),
    };
    let view = state
        .provisioner
        .connection_view(session.org, now)
        .await
        .ok()
        .flatten();
    let status = |step: Step| -> String {
        match step {
            Step::Idp => "The values to paste into your IdP, and where.".to_owned(),
            Step::Metadata => match &view {
                Some(v) => format!("Done: {}.", v.connection.idp.entity_id),
                None => "To do.".to_owned(),
            },
            Step::Test => match &view {
                Some(v) if v.proven => {
                    "Done: a sign-in succeeded with this configuration.".to_owned()
                }
                Some(_) => "To do: no successful sign-in with this configuration yet.".to_owned(),
                None => "After step 2.".to_owned(),
            },
            Step::Domains => format!("{} verified.", snapshot.verified_domains.len()),
            Step::Users => match snapshot.connection.as_ref().and_then(|c| c.jit_role) {
                Some(role) => format!("New people join as {}.", role.code()),
                None => "New people are not added automatically.".to_owned(),
            },
            Step::GoLive => match require_sso_status(&snapshot.policy()) {
                RequireSsoStatus::Enforced => "SSO is required.".to_owned(),
                RequireSsoStatus::Off => "SSO is not required.".to_owned(),
                _ => "Asked for, but not in effect yet.".to_owned(),
            },
            Step::SignIns => "Who signed in, and why anyone was refused.".to_owned(),
        }
    };
    let body = html! {
        p { "Set up single sign-on for " strong { (snapshot.org.name) } " (plan " (snapshot.org.plan.code()) "). "
            "Go through the steps in order; you can come back to any of them while your link is valid." }
        ol class="overview" {
            @for step in Step::ALL {
                @if session.may(step.ability()) {
                    li { a href=(session.path(step.path())) { (step.title()) } ": " (status(step)) }
                }
            }
        }
    };
    page(&session, None, None, &body, &Policy::default())
}

async fn users_view(state: &PortalState, session: &Session, notice: Option<Notice>) -> Response {
    let snapshot = match state.provisioner.org(session.org).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed_read(session, &AdminError::from(e)),
    };
    let enterprise = snapshot.org.plan == Plan::Enterprise;
    let projects = if enterprise {
        match state
            .provisioner
            .list_projects(session.org, &ProjectQuery::new(PROJECTS_SHOWN))
            .await
        {
            Ok(page) => page.projects,
            Err(e) => return failed_read(session, &e),
        }
    } else {
        Vec::new()
    };
    let connection = snapshot.connection.as_ref();
    let role = connection.and_then(|c| c.jit_role);
    let defaults: Vec<&ProjectId> = connection
        .map(|c| c.jit_default_projects.iter().collect())
        .unwrap_or_default();
    let body = html! {
        @if connection.is_none() {
            p { "Give us your IdP first (step 2): these settings belong to the connection." }
        } @else {
            p { "When someone at one of your verified domains signs in with SSO and is not a member yet:" }
            form method="post" action=(session.path("users")) {
                (csrf_field(session))
                fieldset {
                    legend { "Just-in-time provisioning" }
                    p { input type="radio" id="jit-on" name="jit" value="on" checked[role.is_some()];
                        label class="inline" for="jit-on" { "On: add them to the organization" } }
                    p { input type="radio" id="jit-off" name="jit" value="off" checked[role.is_none()];
                        label class="inline" for="jit-off" { "Off: refuse them until someone adds them" } }
                }
                label for="role" { "Default role of people added" }
                select id="role" name="role" {
                    @for r in Role::ALL {
                        option value=(r.code()) selected[role.unwrap_or(Role::Member) == r] { (r.code()) }
                    }
                }
                @if enterprise {
                    fieldset {
                        legend { "Default projects" }
                        @if projects.is_empty() { p { "Your organization has no projects yet." } }
                        @for (i, p) in projects.iter().enumerate() {
                            p { input type="checkbox" id=(format!("project-{i}")) name="project" value=(p.id.as_str()) checked[defaults.contains(&&p.id)];
                                label class="inline" for=(format!("project-{i}")) { (p.name) } }
                        }
                    }
                } @else {
                    p class="hint" { "Default projects for new people come with the Enterprise plan." }
                }
                p { button type="submit" { "Save" } }
            }
        }
    };
    page(
        session,
        Some(Step::Users),
        notice.as_ref(),
        &body,
        &Policy::default(),
    )
}

/// `GET /setup/{org}/users`.
pub(crate) async fn users_page(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::Users);
    users_view(&state, &session, None).await
}

/// `POST /setup/{org}/users`: `jit` (on, off), `role`, and any number of `project`.
pub(crate) async fn users_save(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = session!(state, org, headers, Step::Users);
    let form = pairs(&body);
    csrf!(session, value(&form, "csrf"));
    let role = match (
        value(&form, "jit"),
        value(&form, "role").and_then(Role::from_code),
    ) {
        (Some("on"), Some(role)) => Some(role),
        (Some("off"), _) => None,
        _ => {
            let notice = Notice::failed("Choose on or off, and a role.", "invalid-input");
            return users_view(&state, &session, Some(notice)).await;
        }
    };
    let projects: Result<Vec<ProjectId>, _> = form
        .iter()
        .filter(|(n, _)| n == "project")
        .map(|(_, v)| ProjectId::parse(v))
        .collect();
    let Ok(projects) = projects else {
        let notice = Notice::failed(
            "A project in the form is not a project id.",
            "invalid-input",
        );
        return users_view(&state, &session, Some(notice)).await;
    };
    let now = OffsetDateTime::now_utc();
    let notice = match state
        .provisioner
        .set_jit(&session.actor(), session.org, role, &projects, now)
        .await
    {
        Ok(_) => Notice::done(match role {
            Some(role) => format!("Saved: new people join as {}.", role.code()),
            None => "Saved: new people are refused until someone adds them.".to_owned(),
        }),
        Err(e) => failure("The settings were not saved", &e),
    };
    users_view(&state, &session, Some(notice)).await
}

async fn go_live_view(state: &PortalState, session: &Session, notice: Option<Notice>) -> Response {
    let now = OffsetDateTime::now_utc();
    let snapshot = match state.provisioner.org(session.org).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed_read(session, &AdminError::from(e)),
    };
    let view = state
        .provisioner
        .connection_view(session.org, now)
        .await
        .ok()
        .flatten();
    let proven = view.as_ref().is_some_and(|v| v.proven);
    let enabled = view.as_ref().is_some_and(|v| v.connection.enabled);
    let status = require_sso_status(&snapshot.policy());
    let csrf = csrf_field(session);
    let may_connect = session.may(SetupAbility::Connection);
    let body = html! {
        @if !proven {
            p { "Requiring SSO is offered once a test sign-in has succeeded with the current \
                 configuration (step 3). Until then, nobody can be locked out by a setup that \
                 does not work yet." }
        } @else {
            h2 { "SSO sign-in" }
            @if enabled {
                p { span class="passed" { "✓ On." } " People at your verified domains can sign in with your IdP." }
            } @else {
                p { "SSO sign-in is off: the test worked, so you can switch it on now." }
            }
            @if may_connect {
                form method="post" action=(session.path("go-live")) {
                    (csrf)
                    @if enabled {
                        input type="hidden" name="action" value="disable";
                        button type="submit" class="secondary" { "Switch SSO sign-in off" }
                    } @else {
                        input type="hidden" name="action" value="enable";
                        button type="submit" { "Switch SSO sign-in on" }
                    }
                }
            }
            h2 { "Require SSO" }
            p { "When SSO is required, your members and anyone at your verified domains must sign \
                 in through your IdP: password sign-in is refused." }
            p { strong { "Lockout protection: " } "if the IdP configuration changes later, the \
                 requirement pauses by itself until a sign-in succeeds with the new configuration, \
                 and it also pauses while SSO sign-in is off or your plan lacks SSO. Nothing is \
                 deleted, and the service's operator can lift it in an emergency." }
            p id="require-state" { @match status {
                RequireSsoStatus::Enforced => "SSO is required now.",
                RequireSsoStatus::Off => "SSO is not required.",
                _ => "SSO is required, but the requirement is paused (see lockout protection above).",
            } }
            form method="post" action=(session.path("go-live")) {
                (csrf)
                @if snapshot.org.require_sso {
                    input type="hidden" name="action" value="unrequire";
                    button type="submit" class="secondary" { "Stop requiring SSO" }
                } @else {
                    input type="hidden" name="action" value="require";
                    button type="submit" { "Require SSO" }
                }
            }
        }
    };
    page(
        session,
        Some(Step::GoLive),
        notice.as_ref(),
        &body,
        &Policy::default(),
    )
}

/// `GET /setup/{org}/go-live`.
pub(crate) async fn go_live_page(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::GoLive);
    go_live_view(&state, &session, None).await
}

/// `POST /setup/{org}/go-live`: `action` is enable, disable, require or unrequire.
pub(crate) async fn go_live_save(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = session!(state, org, headers, Step::GoLive);
    let form = pairs(&body);
    csrf!(session, value(&form, "csrf"));
    let now = OffsetDateTime::now_utc();
    let actor = session.actor();
    let p = &state.provisioner;
    let notice = match value(&form, "action") {
        Some(action @ ("enable" | "disable")) => {
            if let Err(refused) = session.caller.require(SetupAbility::Connection) {
                Notice::failed("This link may not switch SSO sign-in.", refused.reason())
            } else {
                let on = action == "enable";
                match p.set_connection_enabled(&actor, session.org, on, now).await {
                    Ok(_) if on => Notice::done("SSO sign-in is on."),
                    Ok(_) => Notice::done("SSO sign-in is off."),
                    Err(e) => failure("SSO sign-in was not switched", &e),
                }
            }
        }
        Some(action @ ("require" | "unrequire")) => {
            let on = action == "require";
            match p.set_require_sso(&actor, session.org, on, now).await {
                Ok(_) if on => Notice::done("SSO is now required."),
                Ok(_) => Notice::done("SSO is no longer required."),
                Err(e) => failure("The requirement was not changed", &e),
            }
        }
        _ => Notice::failed("Unknown action.", "invalid-input"),
    };
    go_live_view(&state, &session, Some(notice)).await
}
