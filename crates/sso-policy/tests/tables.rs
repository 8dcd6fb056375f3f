//! Every plan x setting x membership combination of each decision, as tables to read against
//! the rules in the crate documentation. Each table is checked for completeness: every
//! combination of its columns appears exactly once.
//!
//! Fixtures behind the words:
//! - `verified` is `example.com`, the org's one verified domain; `other` is `other.example`.
//! - `none` connection: no connection configured. `disabled` / `enabled`: a connection switched
//!   off / on that has had a successful SSO login since its last change, unless the name says
//!   otherwise: `-never` (no successful login yet), `-stale` (the last one was before the
//!   change), `-same-instant` (at the instant of the change), `-proven` (after the change).
//! - JIT `off` still keeps default project `p1` configured, to show it is not applied.

// Helpers outside #[test] functions panic too: in a test a panic is a failed assertion.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

use sso_policy::{
    Connection, JitSettings, Membership, Org, PasswordSubject, Plan, Role, SsoLoginGrant,
    break_glass, password_login, require_sso_status, set_jit, set_require_sso, sso_login,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const CHANGED_AT: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

/// SSO login of a person at the org's connection. JIT `manager`: on, default role Manager,
/// default project `p1`. Member `admin`: already a member, with role Admin.
/// Outcomes: `existing <role>`, `new <role> <projects or -> [withheld]`, `refused <reason>`.
const SSO_LOGIN: &str = "
# plan        connection  jit      domain    member  => outcome
  starter     none        off      verified  none    => refused plan-without-sso
  starter     none        off      verified  admin   => refused plan-without-sso
  starter     none        off      other     none    => refused plan-without-sso
  starter     none        off      other     admin   => refused plan-without-sso
  starter     none        manager  verified  none    => refused plan-without-sso
  starter     none        manager  verified  admin   => refused plan-without-sso
  starter     none        manager  other     none    => refused plan-without-sso
  starter     none        manager  other     admin   => refused plan-without-sso
  starter     disabled    off      verified  none    => refused plan-without-sso
  starter     disabled    off      verified  admin   => refused plan-without-sso
  starter     disabled    off      other     none    => refused plan-without-sso
  starter     disabled    off      other     admin   => refused plan-without-sso
  starter     disabled    manager  verified  none    => refused plan-without-sso
  starter     disabled    manager  verified  admin   => refused plan-without-sso
  starter     disabled    manager  other     none    => refused plan-without-sso
  starter     disabled    manager  other     admin   => refused plan-without-sso
  starter     enabled     off      verified  none    => refused plan-without-sso
  starter     enabled     off      verified  admin   => refused plan-without-sso
  starter     enabled     off      other     none    => refused plan-without-sso
  starter     enabled     off      other     admin   => refused plan-without-sso
  starter     enabled     manager  verified  none    => refused plan-without-sso
  starter     enabled     manager  verified  admin   => refused plan-without-sso
  starter     enabled     manager  other     none    => refused plan-without-sso
  starter     enabled     manager  other     admin   => refused plan-without-sso
  plus        none        off      verified  none    => refused plan-without-sso
  plus        none        off      verified  admin   => refused plan-without-sso
  plus        none        off      other     none    => refused plan-without-sso
  plus        none        off      other     admin   => refused plan-without-sso
  plus        none        manager  verified  none    => refused plan-without-sso
  plus        none        manager  verified  admin   => refused plan-without-sso
  plus        none        manager  other     none    => refused plan-without-sso
  plus        none        manager  other     admin   => refused plan-without-sso
  plus        disabled    off      verified  none    => refused plan-without-sso
  plus        disabled    off      verified  admin   => refused plan-without-sso
  plus        disabled    off      other     none    => refused plan-without-sso
  plus        disabled    off      other     admin   => refused plan-without-sso
  plus        disabled    manager  verified  none    => refused plan-without-sso
  plus        disabled    manager  verified  admin   => refused plan-without-sso
  plus        disabled    manager  other     none    => refused plan-without-sso
  plus        disabled    manager  other     admin   => refused plan-without-sso
  plus        enabled     off      verified  none    => refused plan-without-sso
  plus        enabled     off      verified  admin   => refused plan-without-sso
  plus        enabled     off      other     none    => refused plan-without-sso
  plus        enabled     off      other     admin   => refused plan-without-sso
  plus        enabled     manager  verified  none    => refused plan-without-sso
  plus        enabled     manager  verified  admin   => refused plan-without-sso
  plus        enabled     manager  other     none    => refused plan-without-sso
  plus        enabled     manager  other     admin   => refused plan-without-sso
  growth      none        off      verified  none    => refused no-connection
  growth      none        off      verified  admin   => refused no-connection
  growth      none        off      other     none    => refused no-connection
  growth      none        off      other     admin   => refused no-connection
  growth      none        manager  verified  none    => refused no-connection
  growth      none        manager  verified  admin   => refused no-connection
  growth      none        manager  other     none    => refused no-connection
  growth      none        manager  other     admin   => refused no-connection
  growth      disabled    off      verified  none    => refused connection-disabled
  growth      disabled    off      verified  admin   => refused connection-disabled
  growth      disabled    off      other     none    => refused connection-disabled
  growth      disabled    off      other     admin   => refused connection-disabled
  growth      disabled    manager  verified  none    => refused connection-disabled
  growth      disabled    manager  verified  admin   => refused connection-disabled
  growth      disabled    manager  other     none    => refused connection-disabled
  growth      disabled    manager  other     admin   => refused connection-disabled
  growth      enabled     off      verified  none    => refused not-a-member
  growth      enabled     off      verified  admin   => existing admin
  growth      enabled     off      other     none    => refused not-a-member
  growth      enabled     off      other     admin   => existing admin
  growth      enabled     manager  verified  none    => new manager - withheld
  growth      enabled     manager  verified  admin   => existing admin
  growth      enabled     manager  other     none    => refused domain-not-verified
  growth      enabled     manager  other     admin   => existing admin
  enterprise  none        off      verified  none    => refused no-connection
  enterprise  none        off      verified  admin   => refused no-connection
  enterprise  none        off      other     none    => refused no-connection
  enterprise  none        off      other     admin   => refused no-connection
  enterprise  none        manager  verified  none    => refused no-connection
  enterprise  none        manager  verified  admin   => refused no-connection
  enterprise  none        manager  other     none    => refused no-connection
  enterprise  none        manager  other     admin   => refused no-connection
  enterprise  disabled    off      verified  none    => refused connection-disabled
  enterprise  disabled    off      verified  admin   => refused connection-disabled
  enterprise  disabled    off      other     none    => refused connection-disabled
  enterprise  disabled    off      other     admin   => refused connection-disabled
  enterprise  disabled    manager  verified  none    => refused connection-disabled
  enterprise  disabled    manager  verified  admin   => refused connection-disabled
  enterprise  disabled    manager  other     none    => refused connection-disabled
  enterprise  disabled    manager  other     admin   => refused connection-disabled
  enterprise  enabled     off      verified  none    => refused not-a-member
  enterprise  enabled     off      verified  admin   => existing admin
  enterprise  enabled     off      other     none    => refused not-a-member
  enterprise  enabled     off      other     admin   => existing admin
  enterprise  enabled     manager  verified  none    => new manager p1
  enterprise  enabled     manager  verified  admin   => existing admin
  enterprise  enabled     manager  other     none    => refused domain-not-verified
  enterprise  enabled     manager  other     admin   => existing admin";

/// Password login of a member. The member's role does not enter the decision.
const PASSWORD_LOGIN: &str = "
# plan  connection      require-sso  person    => outcome
  plus    none            off          member    => allowed sso-not-required
  plus    none            off          verified  => allowed sso-not-required
  plus    none            off          other     => allowed sso-not-required
  plus    none            on           member    => allowed sso-not-in-effect plan-without-sso
  plus    none            on           verified  => allowed sso-not-in-effect plan-without-sso
  plus    none            on           other     => allowed sso-not-in-effect plan-without-sso
  plus    disabled        off          member    => allowed sso-not-required
  plus    disabled        off          verified  => allowed sso-not-required
  plus    disabled        off          other     => allowed sso-not-required
  plus    disabled        on           member    => allowed sso-not-in-effect plan-without-sso
  plus    disabled        on           verified  => allowed sso-not-in-effect plan-without-sso
  plus    disabled        on           other     => allowed sso-not-in-effect plan-without-sso
  plus    enabled-never   off          member    => allowed sso-not-required
  plus    enabled-never   off          verified  => allowed sso-not-required
  plus    enabled-never   off          other     => allowed sso-not-required
  plus    enabled-never   on           member    => allowed sso-not-in-effect plan-without-sso
  plus    enabled-never   on           verified  => allowed sso-not-in-effect plan-without-sso
  plus    enabled-never   on           other     => allowed sso-not-in-effect plan-without-sso
  plus    enabled-stale   off          member    => allowed sso-not-required
  plus    enabled-stale   off          verified  => allowed sso-not-required
  plus    enabled-stale   off          other     => allowed sso-not-required
  plus    enabled-stale   on           member    => allowed sso-not-in-effect plan-without-sso
  plus    enabled-stale   on           verified  => allowed sso-not-in-effect plan-without-sso
  plus    enabled-stale   on           other     => allowed sso-not-in-effect plan-without-sso
  plus    enabled-proven  off          member    => allowed sso-not-required
  plus    enabled-proven  off          verified  => allowed sso-not-required
  plus    enabled-proven  off          other     => allowed sso-not-required
  plus    enabled-proven  on           member    => allowed sso-not-in-effect plan-without-sso
  plus    enabled-proven  on           verified  => allowed sso-not-in-effect plan-without-sso
  plus    enabled-proven  on           other     => allowed sso-not-in-effect plan-without-sso
  growth  none            off          member    => allowed sso-not-required
  growth  none            off          verified  => allowed sso-not-required
  growth  none            off          other     => allowed sso-not-required
  growth  none            on           member    => allowed sso-not-in-effect no-connection
  growth  none            on           verified  => allowed sso-not-in-effect no-connection
  growth  none            on           other     => allowed sso-not-in-effect no-connection
  growth  disabled        off          member    => allowed sso-not-required
  growth  disabled        off          verified  => allowed sso-not-required
  growth  disabled        off          other     => allowed sso-not-required
  growth  disabled        on           member    => allowed sso-not-in-effect connection-disabled
  growth  disabled        on           verified  => allowed sso-not-in-effect connection-disabled
  growth  disabled        on           other     => allowed sso-not-in-effect connection-disabled
  growth  enabled-never   off          member    => allowed sso-not-required
  growth  enabled-never   off          verified  => allowed sso-not-required
  growth  enabled-never   off          other     => allowed sso-not-required
  growth  enabled-never   on           member    => allowed no-sso-login-since-change
  growth  enabled-never   on           verified  => allowed no-sso-login-since-change
  growth  enabled-never   on           other     => allowed no-sso-login-since-change
  growth  enabled-stale   off          member    => allowed sso-not-required
  growth  enabled-stale   off          verified  => allowed sso-not-required
  growth  enabled-stale   off          other     => allowed sso-not-required
  growth  enabled-stale   on           member    => allowed no-sso-login-since-change
  growth  enabled-stale   on           verified  => allowed no-sso-login-since-change
  growth  enabled-stale   on           other     => allowed no-sso-login-since-change
  growth  enabled-proven  off          member    => allowed sso-not-required
  growth  enabled-proven  off          verified  => allowed sso-not-required
  growth  enabled-proven  off          other     => allowed sso-not-required
  growth  enabled-proven  on           member    => refused sso-required
  growth  enabled-proven  on           verified  => refused sso-required
  growth  enabled-proven  on           other     => allowed not-covered-by-require-sso";

/// An admin turns require-SSO on or off.
const REQUIRE_SSO: &str = "
# plan        connection            request  => outcome
  starter     none                  off      => allowed turn-off-allowed
  starter     none                  on       => refused plan-without-sso
  starter     disabled-proven       off      => allowed turn-off-allowed
  starter     disabled-proven       on       => refused plan-without-sso
  starter     enabled-never         off      => allowed turn-off-allowed
  starter     enabled-never         on       => refused plan-without-sso
  starter     enabled-stale         off      => allowed turn-off-allowed
  starter     enabled-stale         on       => refused plan-without-sso
  starter     enabled-same-instant  off      => allowed turn-off-allowed
  starter     enabled-same-instant  on       => refused plan-without-sso
  starter     enabled-proven        off      => allowed turn-off-allowed
  starter     enabled-proven        on       => refused plan-without-sso
  plus        none                  off      => allowed turn-off-allowed
  plus        none                  on       => refused plan-without-sso
  plus        disabled-proven       off      => allowed turn-off-allowed
  plus        disabled-proven       on       => refused plan-without-sso
  plus        enabled-never         off      => allowed turn-off-allowed
  plus        enabled-never         on       => refused plan-without-sso
  plus        enabled-stale         off      => allowed turn-off-allowed
  plus        enabled-stale         on       => refused plan-without-sso
  plus        enabled-same-instant  off      => allowed turn-off-allowed
  plus        enabled-same-instant  on       => refused plan-without-sso
  plus        enabled-proven        off      => allowed turn-off-allowed
  plus        enabled-proven        on       => refused plan-without-sso
  growth      none                  off      => allowed turn-off-allowed
  growth      none                  on       => refused no-connection
  growth      disabled-proven       off      => allowed turn-off-allowed
  growth      disabled-proven       on       => refused connection-disabled
  growth      enabled-never         off      => allowed turn-off-allowed
  growth      enabled-never         on       => refused no-sso-login-since-change
  growth      enabled-stale         off      => allowed turn-off-allowed
  growth      enabled-stale         on       => refused no-sso-login-since-change
  growth      enabled-same-instant  off      => allowed turn-off-allowed
  growth      enabled-same-instant  on       => refused no-sso-login-since-change
  growth      enabled-proven        off      => allowed turn-off-allowed
  growth      enabled-proven        on       => allowed sso-proven
  enterprise  none                  off      => allowed turn-off-allowed
  enterprise  none                  on       => refused no-connection
  enterprise  disabled-proven       off      => allowed turn-off-allowed
  enterprise  disabled-proven       on       => refused connection-disabled
  enterprise  enabled-never         off      => allowed turn-off-allowed
  enterprise  enabled-never         on       => refused no-sso-login-since-change
  enterprise  enabled-stale         off      => allowed turn-off-allowed
  enterprise  enabled-stale         on       => refused no-sso-login-since-change
  enterprise  enabled-same-instant  off      => allowed turn-off-allowed
  enterprise  enabled-same-instant  on       => refused no-sso-login-since-change
  enterprise  enabled-proven        off      => allowed turn-off-allowed
  enterprise  enabled-proven        on       => allowed sso-proven";

/// The operator's break-glass on one org, with a justification or a blank one.
const BREAK_GLASS: &str = "
# plan        connection  require-sso  justification  => outcome
  starter     none        off          given          => allowed sso-not-required
  starter     none        off          blank          => refused missing-justification
  starter     none        on           given          => allowed require-sso-lifted
  starter     none        on           blank          => refused missing-justification
  starter     disabled    off          given          => allowed sso-not-required
  starter     disabled    off          blank          => refused missing-justification
  starter     disabled    on           given          => allowed require-sso-lifted
  starter     disabled    on           blank          => refused missing-justification
  starter     enabled     off          given          => allowed sso-not-required
  starter     enabled     off          blank          => refused missing-justification
  starter     enabled     on           given          => allowed require-sso-lifted
  starter     enabled     on           blank          => refused missing-justification
  plus        none        off          given          => allowed sso-not-required
  plus        none        off          blank          => refused missing-justification
  plus        none        on           given          => allowed require-sso-lifted
  plus        none        on           blank          => refused missing-justification
  plus        disabled    off          given          => allowed sso-not-required
  plus        disabled    off          blank          => refused missing-justification
  plus        disabled    on           given          => allowed require-sso-lifted
  plus        disabled    on           blank          => refused missing-justification
  plus        enabled     off          given          => allowed sso-not-required
  plus        enabled     off          blank          => refused missing-justification
  plus        enabled     on           given          => allowed require-sso-lifted
  plus        enabled     on           blank          => refused missing-justification
  growth      none        off          given          => allowed sso-not-required
  growth      none        off          blank          => refused missing-justification
  growth      none        on           given          => allowed require-sso-lifted
  growth      none        on           blank          => refused missing-justification
  growth      disabled    off          given          => allowed sso-not-required
  growth      disabled    off          blank          => refused missing-justification
  growth      disabled    on           given          => allowed require-sso-lifted
  growth      disabled    on           blank          => refused missing-justification
  growth      enabled     off          given          => allowed sso-not-required
  growth      enabled     off          blank          => refused missing-justification
  growth      enabled     on           given          => allowed require-sso-lifted
  growth      enabled     on           blank          => refused missing-justification
  enterprise  none        off          given          => allowed sso-not-required
  enterprise  none        off          blank          => refused missing-justification
  enterprise  none        on           given          => allowed require-sso-lifted
  enterprise  none        on           blank          => refused missing-justification
  enterprise  disabled    off          given          => allowed sso-not-required
  enterprise  disabled    off          blank          => refused missing-justification
  enterprise  disabled    on           given          => allowed require-sso-lifted
  enterprise  disabled    on           blank          => refused missing-justification
  enterprise  enabled     off          given          => allowed sso-not-required
  enterprise  enabled     off          blank          => refused missing-justification
  enterprise  enabled     on           given          => allowed require-sso-lifted
  enterprise  enabled     on           blank          => refused missing-justification";

/// An admin changes JIT settings, written `<current> -> <new>`, each `<role or off>:<projects>`.
const JIT_SETTINGS: &str = "
# plan        change                   => outcome
  starter     off->off                 => allowed jit-off
  starter     off->member              => allowed jit-on
  starter     member:p1->member:p1     => allowed default-projects-not-applied
  starter     member:p1->admin:p1      => allowed default-projects-not-applied
  starter     member->member:p1        => refused plan-without-default-projects
  starter     member:p1->member:p1,p2  => refused plan-without-default-projects
  starter     member:p1,p2->member:p1  => allowed default-projects-not-applied
  starter     member:p1->off:p1        => allowed jit-off
  starter     off:p1->off:p1,p2        => refused plan-without-default-projects
  plus        off->off                 => allowed jit-off
  plus        off->member              => allowed jit-on
  plus        member:p1->member:p1     => allowed default-projects-not-applied
  plus        member:p1->admin:p1      => allowed default-projects-not-applied
  plus        member->member:p1        => refused plan-without-default-projects
  plus        member:p1->member:p1,p2  => refused plan-without-default-projects
  plus        member:p1,p2->member:p1  => allowed default-projects-not-applied
  plus        member:p1->off:p1        => allowed jit-off
  plus        off:p1->off:p1,p2        => refused plan-without-default-projects
  growth      off->off                 => allowed jit-off
  growth      off->member              => allowed jit-on
  growth      member:p1->member:p1     => allowed default-projects-not-applied
  growth      member:p1->admin:p1      => allowed default-projects-not-applied
  growth      member->member:p1        => refused plan-without-default-projects
  growth      member:p1->member:p1,p2  => refused plan-without-default-projects
  growth      member:p1,p2->member:p1  => allowed default-projects-not-applied
  growth      member:p1->off:p1        => allowed jit-off
  growth      off:p1->off:p1,p2        => refused plan-without-default-projects
  enterprise  off->off                 => allowed jit-off
  enterprise  off->member              => allowed jit-on
  enterprise  member:p1->member:p1     => allowed jit-on
  enterprise  member:p1->admin:p1      => allowed jit-on
  enterprise  member->member:p1        => allowed jit-on
  enterprise  member:p1->member:p1,p2  => allowed jit-on
  enterprise  member:p1,p2->member:p1  => allowed jit-on
  enterprise  member:p1->off:p1        => allowed jit-off
  enterprise  off:p1->off:p1,p2        => allowed jit-off";

// ---- the checks -----------------------------------------------------------------------------

/// Rows of a table: (columns, outcome), checking that the columns cover every combination of
/// the values in `axes` exactly once.
/// What GetOrg reports about "require SSO": the code, and whether it is in effect.
const REQUIRE_SSO_STATUS: &str = "
# plan        connection      setting  => code (in effect)
  plus        none            off      => off
  plus        none            on       => plan-without-sso
  plus        disabled        off      => off
  plus        disabled        on       => plan-without-sso
  plus        enabled-never   off      => off
  plus        enabled-never   on       => plan-without-sso
  plus        enabled-proven  off      => off
  plus        enabled-proven  on       => plan-without-sso
  growth      none            off      => off
  growth      none            on       => no-connection
  growth      disabled        off      => off
  growth      disabled        on       => connection-disabled
  growth      enabled-never   off      => off
  growth      enabled-never   on       => no-sso-login-since-change
  growth      enabled-proven  off      => off
  growth      enabled-proven  on       => enforced (in effect)
";

fn rows<'t>(table: &'t str, axes: &[&[&str]]) -> Vec<(Vec<&'t str>, &'t str)> {
    let rows: Vec<(Vec<&str>, &str)> = table
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (cols, outcome) = l.split_once("=>").expect("a row has =>");
            (cols.split_whitespace().collect(), outcome.trim())
        })
        .collect();
    let seen: BTreeSet<&Vec<&str>> = rows.iter().map(|(c, _)| c).collect();
    assert_eq!(seen.len(), rows.len(), "a combination appears twice");
    let combinations: usize = axes.iter().map(|a| a.len()).product();
    assert_eq!(rows.len(), combinations, "a combination is missing");
    for (cols, _) in &rows {
        assert_eq!(cols.len(), axes.len(), "row {cols:?}");
        for (col, axis) in cols.iter().zip(axes) {
            assert!(axis.contains(col), "unknown value {col} in row {cols:?}");
        }
    }
    rows
}

const PLANS: &[&str] = &["starter", "plus", "growth", "enterprise"];

fn plan(word: &str) -> Plan {
    Plan::from_code(word).expect("a plan")
}

fn role(word: &str) -> Role {
    Role::from_code(word).expect("a role")
}

fn connection(word: &str) -> Option<Connection> {
    let (enabled, last) = match word {
        "none" => return None,
        "disabled" | "disabled-proven" => (false, Some(CHANGED_AT + Duration::minutes(5))),
        "enabled" | "enabled-proven" => (true, Some(CHANGED_AT + Duration::minutes(5))),
        "enabled-never" => (true, None),
        "enabled-stale" => (true, Some(CHANGED_AT - Duration::days(30))),
        "enabled-same-instant" => (true, Some(CHANGED_AT)),
        other => panic!("unknown connection {other}"),
    };
    Some(Connection {
        enabled,
        configuration_changed_at: CHANGED_AT,
        last_successful_login_at: last,
    })
}

/// `<role or off>[:<p1,p2>]`
fn jit(word: &str) -> JitSettings<&str> {
    let (role_word, projects) = word.split_once(':').unwrap_or((word, ""));
    let settings = match role_word {
        "off" => JitSettings::off(),
        r => JitSettings::on(role(r)),
    };
    settings.with_default_projects(projects.split(',').filter(|p| !p.is_empty()))
}

fn org(plan_word: &str, connection_word: &str) -> Org<&'static str> {
    Org {
        plan: plan(plan_word),
        connection: connection(connection_word),
        require_sso: false,
        jit: JitSettings::off(),
        verified_domains: vec!["example.com".to_owned()],
    }
}

fn verdict<A, R>(
    result: Result<A, R>,
    allowed: impl Fn(&A) -> String,
    refused: impl Fn(&R) -> &str,
) -> String {
    match result {
        Ok(a) => allowed(&a),
        Err(r) => format!("refused {}", refused(&r)),
    }
}

#[test]
fn sso_login_table() {
    let axes: &[&[&str]] = &[
        PLANS,
        &["none", "disabled", "enabled"],
        &["off", "manager"],
        &["verified", "other"],
        &["none", "admin"],
    ];
    for (cols, expected) in rows(SSO_LOGIN, axes) {
        let [p, c, j, d, m] = cols[..] else {
            unreachable!()
        };
        let mut org = org(p, c);
        org.jit = jit(j).with_default_projects(["p1"]);
        let domain = if d == "verified" {
            "example.com"
        } else {
            "other.example"
        };
        let membership = match m {
            "none" => Membership::NotMember,
            r => Membership::Member(role(r)),
        };
        let got = verdict(
            sso_login(&org, domain, membership),
            |grant| match grant {
                SsoLoginGrant::ExistingMember { role } => format!("existing {role}"),
                SsoLoginGrant::NewMember {
                    role,
                    default_projects,
                    default_projects_withheld,
                } => {
                    let projects = if default_projects.is_empty() {
                        "-".to_owned()
                    } else {
                        default_projects.join(",")
                    };
                    let withheld = if *default_projects_withheld {
                        " withheld"
                    } else {
                        ""
                    };
                    format!("new {role} {projects}{withheld}")
                }
            },
            |r| r.reason(),
        );
        assert_eq!(got, expected, "row {cols:?}");
    }
}

#[test]
fn password_login_table() {
    let axes: &[&[&str]] = &[
        &["plus", "growth"],
        &[
            "none",
            "disabled",
            "enabled-never",
            "enabled-stale",
            "enabled-proven",
        ],
        &["off", "on"],
        &["member", "verified", "other"],
    ];
    for (cols, expected) in rows(PASSWORD_LOGIN, axes) {
        let [p, c, r, who] = cols[..] else {
            unreachable!()
        };
        let mut org = org(p, c);
        org.require_sso = r == "on";
        let subject = match who {
            "member" => PasswordSubject {
                email_domain: "other.example",
                membership: Membership::Member(Role::Viewer),
            },
            "verified" => PasswordSubject {
                email_domain: "EXAMPLE.com",
                membership: Membership::NotMember,
            },
            _ => PasswordSubject {
                email_domain: "other.example",
                membership: Membership::NotMember,
            },
        };
        let got = verdict(
            password_login(&org, subject),
            |allowed| match allowed {
                sso_policy::PasswordAllowed::SsoNotInEffect(off) => {
                    format!("allowed {} {}", allowed.reason(), off.reason())
                }
                _ => format!("allowed {}", allowed.reason()),
            },
            |r| r.reason(),
        );
        assert_eq!(got, expected, "row {cols:?}");
        // The status GetOrg reports agrees with the decision.
        let status = require_sso_status(&org);
        if got.starts_with("refused") {
            assert!(status.enforced(), "row {cols:?}");
        }
        if status.enforced() && who != "other" {
            assert!(got.starts_with("refused"), "row {cols:?}");
        }
    }
}

#[test]
fn require_sso_table() {
    let axes: &[&[&str]] = &[
        PLANS,
        &[
            "none",
            "disabled-proven",
            "enabled-never",
            "enabled-stale",
            "enabled-same-instant",
            "enabled-proven",
        ],
        &["off", "on"],
    ];
    for (cols, expected) in rows(REQUIRE_SSO, axes) {
        let [p, c, request] = cols[..] else {
            unreachable!()
        };
        // The current value of the setting must not matter.
        for current in [false, true] {
            let mut org = org(p, c);
            org.require_sso = current;
            let got = verdict(
                set_require_sso(&org, request == "on"),
                |a| format!("allowed {}", a.reason()),
                |r| r.reason(),
            );
            assert_eq!(got, expected, "row {cols:?}, currently required: {current}");
        }
    }
}

#[test]
fn break_glass_table() {
    let axes: &[&[&str]] = &[
        PLANS,
        &["none", "disabled", "enabled"],
        &["off", "on"],
        &["given", "blank"],
    ];
    for (cols, expected) in rows(BREAK_GLASS, axes) {
        let [p, c, r, j] = cols[..] else {
            unreachable!()
        };
        let mut org = org(p, c);
        org.require_sso = r == "on";
        let justification = if j == "given" {
            "IdP certificate expired, ticket 4521"
        } else {
            " \t"
        };
        let got = verdict(
            break_glass(&org, justification),
            |a| format!("allowed {}", a.reason()),
            |r| r.reason(),
        );
        assert_eq!(got, expected, "row {cols:?}");
    }
}

#[test]
fn jit_settings_table() {
    let changes: &[&str] = &[
        "off->off",
        "off->member",
        "member:p1->member:p1",
        "member:p1->admin:p1",
        "member->member:p1",
        "member:p1->member:p1,p2",
        "member:p1,p2->member:p1",
        "member:p1->off:p1",
        "off:p1->off:p1,p2",
    ];
    for (cols, expected) in rows(JIT_SETTINGS, &[PLANS, changes]) {
        let [p, change] = cols[..] else {
            unreachable!()
        };
        let (current, new) = change.split_once("->").expect("a change");
        let got = verdict(
            set_jit(plan(p), &jit(current), &jit(new)),
            |a| format!("allowed {}", a.reason()),
            |r| r.reason(),
        );
        assert_eq!(got, expected, "row {cols:?}");
    }
}

/// Every role, both ways: a new member gets the org's default role, an existing member keeps
/// theirs whatever the default.
#[test]
fn roles() {
    for default in Role::ALL {
        let mut org = org("enterprise", "enabled");
        org.jit = JitSettings::on(default);
        let grant = sso_login(&org, "example.com", Membership::NotMember).unwrap();
        assert_eq!(grant.role(), default);
        assert_eq!(grant.reason(), "jit-new-member");
        for existing in Role::ALL {
            let grant = sso_login(&org, "example.com", Membership::Member(existing)).unwrap();
            assert_eq!(grant, SsoLoginGrant::ExistingMember { role: existing });
            assert_eq!(grant.reason(), "existing-member");
        }
    }
}

#[test]
fn verified_domains_compare_exactly_but_ignore_ascii_case() {
    let mut org = org("enterprise", "enabled");
    org.jit = JitSettings::on(Role::Viewer);
    org.verified_domains = vec!["example.com".into(), "xn--bcher-kva.example".into()];
    for (domain, expected) in [
        ("example.com", "jit-new-member"),
        ("EXAMPLE.com", "jit-new-member"),
        ("xn--bcher-kva.example", "jit-new-member"),
        ("eu.example.com", "domain-not-verified"),
        ("example.com.evil.example", "domain-not-verified"),
        ("ample.com", "domain-not-verified"),
        ("", "domain-not-verified"),
    ] {
        let got = match sso_login(&org, domain, Membership::NotMember) {
            Ok(g) => g.reason(),
            Err(r) => r.reason(),
        };
        assert_eq!(got, expected, "domain {domain:?}");
    }
}

#[test]
fn plans_as_data() {
    use sso_policy::{Feature, PLAN_FEATURES};
    let table: Vec<(&str, Vec<&str>)> = PLAN_FEATURES
        .iter()
        .map(|(p, f)| (p.code(), f.iter().map(|f| f.code()).collect()))
        .collect();
    assert_eq!(
        table,
        [
            ("starter", vec![]),
            ("plus", vec![]),
            ("growth", vec!["sso"]),
            ("enterprise", vec!["sso", "jit-default-projects"]),
        ]
    );
    assert_eq!(
        Plan::ALL.map(|p| p.includes(Feature::Sso)),
        [false, false, true, true]
    );
    assert!(Plan::ALL.windows(2).all(|w| w[0] < w[1]));
    for p in Plan::ALL {
        assert_eq!(Plan::from_code(p.code()), Some(p));
    }
    for r in Role::ALL {
        assert_eq!(Role::from_code(r.code()), Some(r));
    }
}

#[test]
fn refusals_explain_themselves() {
    let mut org = org("enterprise", "enabled");
    org.jit = JitSettings::on(Role::Member);
    let refusal = sso_login(&org, "other.example", Membership::NotMember).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "not a member of the org, and other.example is not one of its verified domains \
         (domain-not-verified)"
    );
    org.connection = connection("enabled-stale");
    assert_eq!(
        set_require_sso(&org, true).unwrap_err().to_string(),
        "complete one SSO login with the current connection configuration first \
         (no-sso-login-since-change)"
    );
    org.plan = Plan::Plus;
    assert_eq!(
        set_require_sso(&org, true).unwrap_err().to_string(),
        "the org's plan does not include SSO (plan-without-sso)"
    );
    org.require_sso = true;
    org.plan = Plan::Growth;
    org.connection = connection("enabled");
    let member = PasswordSubject {
        email_domain: "example.com",
        membership: Membership::Member(Role::Member),
    };
    assert_eq!(
        password_login(&org, member).unwrap_err().to_string(),
        "the org requires members to sign in with SSO (sso-required)"
    );
    assert_eq!(
        break_glass(&org, "").unwrap_err().to_string(),
        "break-glass needs a justification for the audit log (missing-justification)"
    );
}

#[test]
fn require_sso_status_table() {
    let axes: &[&[&str]] = &[
        &["plus", "growth"],
        &["none", "disabled", "enabled-never", "enabled-proven"],
        &["off", "on"],
    ];
    for (cols, expected) in rows(REQUIRE_SSO_STATUS, axes) {
        let [p, c, setting] = cols[..] else {
            unreachable!()
        };
        let mut org = org(p, c);
        org.require_sso = setting == "on";
        let status = require_sso_status(&org);
        let got = if status.enforced() {
            format!("{} (in effect)", status.code())
        } else {
            status.code().to_owned()
        };
        assert_eq!(got, expected, "row {cols:?}");
        let sentence = status.explanation();
        assert!(
            sentence.starts_with("Require SSO is ") && sentence.ends_with('.'),
            "{sentence}"
        );
        assert_eq!(
            sentence.matches(". ").count(),
            0,
            "one sentence: {sentence}"
        );
    }
}

/// A member the directory deactivated signs in neither by SSO (once SSO is in effect; before,
/// SSO itself is off) nor by password, on every plan, connection and requirement, and keeps
/// the role for when they come back.
#[test]
fn a_deactivated_member_is_refused_everywhere() {
    for p in ["plus", "growth", "enterprise"] {
        for c in ["none", "disabled", "enabled-never", "enabled-proven"] {
            for require in [false, true] {
                let mut org = org(p, c);
                org.require_sso = require;
                org.jit = JitSettings::on(Role::Member);
                let who = Membership::Deactivated(Role::Admin);
                let sso = sso_login(&org, "example.com", who).unwrap_err();
                if sso_policy::sso_in_effect(&org).is_ok() {
                    assert_eq!(sso.reason(), "member-deactivated", "{p} {c} {require}");
                }
                let subject = PasswordSubject {
                    email_domain: "example.com",
                    membership: who,
                };
                let password = password_login(&org, subject).unwrap_err();
                assert_eq!(password.reason(), "member-deactivated", "{p} {c} {require}");
            }
        }
    }
}
