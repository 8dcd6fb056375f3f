//! Step 4: claim an email domain, see the TXT record to publish, and verify it by DNS.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use sso_domains::{VALUE_PREFIX, record_name};
use sso_provisioning::{AdminError, DomainState};
use time::OffsetDateTime;

use crate::PortalState;
use crate::idp::{csrf, failed_read, failure, session};
use crate::layout::{Notice, Policy, Step, copyable, csrf_field, page};
use crate::session::Session;

async fn view(state: &PortalState, session: &Session, notice: Option<Notice>) -> Response {
    let claims = match state.provisioner.list_domains(session.org).await {
        Ok(claims) => claims,
        Err(e) => return failed_read(session, &AdminError::from(e)),
    };
    let csrf = csrf_field(session);
    let body = html! {
        p { "Sign-ins are routed to your IdP, and new people are added, only for email domains \
             your organization has proven it owns. Prove a domain by publishing a DNS TXT record." }
        form method="post" action=(session.path("domains")) {
            (csrf)
            label for="domain" { "Domain" }
            p class="hint" id="domain-hint" { "For example example.com: the part after the @ in your people's email." }
            input type="text" id="domain" name="domain" required autocomplete="off" aria-describedby="domain-hint";
            p { button type="submit" { "Add domain" } }
        }
        @if claims.is_empty() {
            p { "No domains yet." }
        }
        @for (i, claim) in claims.iter().enumerate() {
            section aria-labelledby=(format!("domain-{i}")) {
                h2 id=(format!("domain-{i}")) { (claim.domain) }
                @match claim.state {
                    DomainState::Verified => p { span class="passed" { "✓ Verified." } " Sign-ins with this domain go to your IdP." },
                    _ => {
                        p { span class="failed" { "Not verified yet." } " Publish this record at your DNS provider, then verify." }
                        (copyable(&format!("record-name-{i}"), "Record name (host)", &record_name(&claim.domain)))
                        (copyable(&format!("record-type-{i}"), "Record type", "TXT"))
                        @if let Some(token) = &claim.token {
                            (copyable(&format!("record-value-{i}"), "Record value", &format!("{VALUE_PREFIX}{token}")))
                        }
                        @if let Some(result) = &claim.check_result {
                            p class="hint" { "Last check: " code { (result) } }
                        }
                        form method="post" action=(session.path("domains/verify")) {
                            (csrf)
                            input type="hidden" name="domain" value=(claim.domain);
                            button type="submit" { "Verify " (claim.domain) }
                        }
                    }
                }
            }
        }
    };
    page(
        session,
        Some(Step::Domains),
        notice.as_ref(),
        &body,
        &Policy::default(),
    )
}

/// `GET /setup/{org}/domains`.
pub(crate) async fn show(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::Domains);
    view(&state, &session, None).await
}

/// The form of both actions.
#[derive(Debug, Deserialize)]
pub(crate) struct DomainForm {
    csrf: Option<String>,
    domain: Option<String>,
}

fn parts(form: Result<Form<DomainForm>, FormRejection>) -> (Option<String>, String) {
    match form {
        Ok(Form(f)) => (f.csrf, f.domain.unwrap_or_default()),
        Err(_) => (None, String::new()),
    }
}

/// `POST /setup/{org}/domains`: claims a domain.
pub(crate) async fn claim(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DomainForm>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Domains);
    let (token, domain) = parts(form);
    csrf!(session, token.as_deref());
    let now = OffsetDateTime::now_utc();
    let notice = match state
        .provisioner
        .claim_domain(&session.actor(), session.org, domain.trim(), now)
        .await
    {
        Ok(claim) => Notice::done(format!(
            "Added {}. Publish its TXT record below, then verify.",
            claim.domain
        )),
        Err(e) => failure("The domain was not added", &e),
    };
    view(&state, &session, Some(notice)).await
}

/// `POST /setup/{org}/domains/verify`: looks the record up.
pub(crate) async fn verify(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DomainForm>, FormRejection>,
) -> Response {
    let session = session!(state, org, headers, Step::Domains);
    let (token, domain) = parts(form);
    csrf!(session, token.as_deref());
    let now = OffsetDateTime::now_utc();
    let notice = match state
        .provisioner
        .verify_domain(&state.lookup, &session.actor(), session.org, &domain, now)
        .await
    {
        Ok(claim) if claim.state == DomainState::Verified => {
            Notice::done(format!("{} is verified.", claim.domain))
        }
        Ok(claim) => Notice::failed(
            format!("{} is not verified yet.", claim.domain),
            claim
                .check_result
                .as_deref()
                .unwrap_or("domain-record-missing"),
        ),
        Err(e) => failure("The domain was not verified", &e),
    };
    view(&state, &session, Some(notice)).await
}
