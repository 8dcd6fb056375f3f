//! Step 7: the org's recent sign-ins, newest first, each refusal explained in a sentence.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use sso_provisioning::{EventOutcome, EventQuery, EventRecord, SSO_LOGIN};
use time::format_description::well_known::Rfc3339;

use crate::PortalState;
use crate::idp::{failed_read, session};
use crate::layout::{Policy, Step, page};
use crate::session::Session;
use crate::words::explain;

/// How many sign-ins the page shows.
const SHOWN: u32 = 50;

/// The email a trace found, when it found one.
fn email(event: &EventRecord) -> Option<&str> {
    event.detail.get("email")?.get("email")?.as_str()
}

/// The sentence for one sign-in.
fn sentence(event: &EventRecord) -> String {
    match event.outcome {
        EventOutcome::Success => "Signed in.".to_owned(),
        _ => {
            let said = event
                .detail
                .get("user_message")
                .and_then(Value::as_str)
                .unwrap_or("The sign-in was refused.");
            explain(&event.reason).map_or_else(|| said.to_owned(), str::to_owned)
        }
    }
}

/// `GET /setup/{org}/sign-ins`.
pub(crate) async fn show(
    State(state): State<PortalState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = session!(state, org, headers, Step::SignIns);
    view(&state, &session).await
}

async fn view(state: &PortalState, session: &Session) -> Response {
    let query = EventQuery::new(SHOWN).kind(SSO_LOGIN);
    let events = match state.provisioner.list_traces(session.org, &query).await {
        Ok(page) => page.events,
        Err(e) => return failed_read(session, &e),
    };
    let body = html! {
        p { "The last " (SHOWN) " SSO sign-ins, newest first. Test sign-ins are on the test page." }
        @if events.is_empty() {
            p { "Nobody has signed in with SSO yet." }
        } @else {
            div class="scroll" tabindex="0" role="region" aria-label="Recent sign-ins" {
                table {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "Result" } th scope="col" { "Why" } } }
                    tbody {
                        @for event in &events {
                            tr {
                                td { (event.occurred_at.format(&Rfc3339).unwrap_or_default()) }
                                td { (email(event).unwrap_or("unknown")) }
                                td {
                                    @if event.outcome == EventOutcome::Success {
                                        span class="passed" { "Signed in" }
                                    } @else {
                                        span class="failed" { "Refused" }
                                    }
                                }
                                td {
                                    (sentence(event))
                                    @if event.outcome != EventOutcome::Success {
                                        " " span class="reason" { "(" code { (event.reason) } ")" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(
        session,
        Some(Step::SignIns),
        None,
        &body,
        &Policy::default(),
    )
}
