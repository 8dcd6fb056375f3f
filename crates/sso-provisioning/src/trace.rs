//! The login trace: which checks ran, in order, with what result, as the admin reads it.

use serde_json::{Map, Value, json};
use sso_email::{EmailMatch, NoValidEmail, PlaceReport};

use crate::error::LoginError;

/// The event kind of an SSO login attempt (completed or refused).
pub const SSO_LOGIN: &str = "sso-login";
/// The event kind of an SP-initiated login start that was refused.
pub const SSO_LOGIN_START: &str = "sso-login-start";
/// The event kind of a login code redeemed a second time.
pub const SSO_LOGIN_CODE: &str = "sso-login-code";
/// The event kind of a response to an admin's test login (succeeded or refused): traced like
/// a sign-in, provisioning nobody.
pub const SSO_TEST_LOGIN: &str = "sso-test-login";
/// The event kind of an admin starting a test login (started or refused).
pub const SSO_TEST_LOGIN_START: &str = "sso-test-login-start";

/// What a login attempt found, built up as the checks run.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    checks: Vec<Value>,
    facts: Map<String, Value>,
}

impl Trace {
    pub(crate) fn passed(&mut self, check: &str) {
        self.checks
            .push(json!({ "check": check, "result": "passed" }));
    }

    pub(crate) fn passed_with(&mut self, check: &str, detail: Value) {
        let mut entry = Map::new();
        entry.insert("check".to_owned(), Value::String(check.to_owned()));
        entry.insert("result".to_owned(), Value::String("passed".to_owned()));
        entry.insert("detail".to_owned(), detail);
        self.checks.push(Value::Object(entry));
    }

    pub(crate) fn fact(&mut self, key: &str, value: Value) {
        self.facts.insert(key.to_owned(), value);
    }

    pub(crate) fn email_found(&mut self, found: &EmailMatch) {
        self.passed("email");
        self.fact(
            "email",
            json!({
                "email": found.email().as_str(),
                "source": found.source().code(),
                "attribute": found.attribute_name(),
                "value_as_sent": found.value_as_sent(),
                "skipped": found.skipped().iter().map(place).collect::<Vec<_>>(),
            }),
        );
    }

    pub(crate) fn email_missing(&mut self, missing: &NoValidEmail) {
        self.fact(
            "email",
            json!({ "tried": missing.places().iter().map(place).collect::<Vec<_>>() }),
        );
    }

    /// The detail of a finished attempt: the checks that passed, then the one that failed
    /// (when `failed` is given), then the facts.
    pub(crate) fn finish(mut self, check: &str, failed: Option<&LoginError>) -> Value {
        if let Some(error) = failed {
            self.checks.push(json!({
                "check": check,
                "result": "failed",
                "reason": error.reason(),
                "detail": error.to_string(),
            }));
            self.facts.insert(
                "user_message".to_owned(),
                Value::String(error.user_message().to_owned()),
            );
        }
        let mut detail = self.facts;
        detail.insert("checks".to_owned(), Value::Array(self.checks));
        Value::Object(detail)
    }
}

fn place(report: &PlaceReport) -> Value {
    json!({
        "source": report.source().code(),
        "reason": report.reason(),
        "detail": report.to_string(),
        "friendly_name_only": report.friendly_name_only(),
    })
}
