//! The result of a test login as the ACS endpoint shows it: plain HTML, every value escaped
//! with `sso_xml::escape::html`.

use std::fmt::Write as _;

use sso_provisioning::{JitPreview, TestLogin, TestLoginStatus};
use sso_xml::escape;

/// The test's recorded result as an HTML fragment: state, configuration version and whether
/// it is proven, the email and its source, what a sign-in would do, and every check.
pub(crate) fn render(test: &TestLogin) -> String {
    let mut out = String::new();
    let state = match test.state {
        TestLoginStatus::Succeeded => "succeeded: the connection works",
        TestLoginStatus::Failed => "failed",
        TestLoginStatus::Pending => "pending",
        TestLoginStatus::Expired => "expired",
        _ => "unknown",
    };
    let proven = if test.proved_configuration {
        "this test proved it"
    } else {
        "not proven by this test"
    };
    let _ = write!(
        out,
        "<p>Result: <strong>{state}</strong>. Configuration version {version}: {proven}.</p>",
        state = escape::html(state),
        version = test.config_version,
        proven = escape::html(proven),
    );
    if let Some(email) = &test.email {
        let source = test.email_source.map_or("", |s| s.code());
        let _ = write!(
            out,
            "<p>Email: <code>{email}</code> (from <code>{source}</code>).</p>",
            email = escape::html(email),
            source = escape::html(source),
        );
    }
    if let Some(jit) = &test.jit {
        let _ = write!(
            out,
            "<p>A sign-in would: {}.</p>",
            escape::html(&jit_sentence(jit))
        );
    }
    out.push_str("<table><tr><th>Check</th><th>Result</th><th>Reason</th><th>Detail</th></tr>");
    for check in &test.checks {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{result}</td><td>{reason}</td><td>{detail}</td></tr>",
            name = escape::html(&check.name),
            result = if check.passed { "passed" } else { "failed" },
            reason = escape::html(check.reason.as_deref().unwrap_or("")),
            detail = escape::html(&check.detail),
        );
    }
    out.push_str("</table>");
    out
}

/// What JIT would do, in words.
fn jit_sentence(jit: &JitPreview) -> String {
    match jit {
        JitPreview::ExistingMember { role } => {
            format!(
                "sign in an existing member, who keeps the role {}",
                role.code()
            )
        }
        JitPreview::NewMember {
            role,
            projects,
            user_exists,
            ..
        } => {
            let who = if *user_exists {
                "add the existing user to the organization"
            } else {
                "create the user and add them to the organization"
            };
            let projects: Vec<String> = projects.iter().map(ToString::to_string).collect();
            format!(
                "{who} with the role {} and access to projects [{}]",
                role.code(),
                projects.join(", ")
            )
        }
        JitPreview::Refused { reason, detail } => format!("be refused ({reason}): {detail}"),
        _ => "(unknown)".to_owned(),
    }
}
