//! The product rules of SSO as pure decisions: plain data in, an allowed or refused value with a
//! stable reason code out. No I/O, no clock: times are passed in.
//!
//! ```
//! use sso_policy::{
//!     password_login, set_require_sso, sso_login, Connection, JitSettings, Membership, Org,
//!     PasswordSubject, Plan, Role, SsoLoginGrant,
//! };
//! use time::macros::datetime;
//!
//! let mut org = Org {
//!     plan: Plan::Enterprise,
//!     connection: Some(Connection {
//!         enabled: true,
//!         configuration_changed_at: datetime!(2025-03-01 09:00 UTC),
//!         last_successful_login_at: None,
//!     }),
//!     require_sso: false,
//!     jit: JitSettings::on(Role::Member).with_default_projects(["handbook"]),
//!     verified_domains: vec!["example.com".into()],
//! };
//!
//! // A new person from a verified domain is added with the default role and projects.
//! let grant = sso_login(&org, "example.com", Membership::NotMember)?;
//! assert_eq!(
//!     grant,
//!     SsoLoginGrant::NewMember {
//!         role: Role::Member,
//!         default_projects: vec!["handbook"],
//!         default_projects_withheld: false,
//!     },
//! );
//!
//! // Lockout protection: require-SSO needs a successful SSO login since the last change.
//! assert_eq!(
//!     set_require_sso(&org, true).unwrap_err().reason(),
//!     "no-sso-login-since-change",
//! );
//! if let Some(c) = &mut org.connection {
//!     c.last_successful_login_at = Some(datetime!(2025-03-01 09:05 UTC));
//! }
//! assert_eq!(set_require_sso(&org, true).unwrap().reason(), "sso-proven");
//! org.require_sso = true;
//! let jane = PasswordSubject { email_domain: "example.com", membership: Membership::NotMember };
//! assert_eq!(password_login(&org, jane).unwrap_err().reason(), "sso-required");
//! // The requirement covers members and the org's verified domains, nobody else.
//! let guest = PasswordSubject { email_domain: "other.example", membership: Membership::NotMember };
//! assert_eq!(password_login(&org, guest).unwrap().reason(), "not-covered-by-require-sso");
//!
//! // A new configuration suspends it until a login proves the configuration works.
//! if let Some(c) = &mut org.connection {
//!     c.configuration_changed_at = datetime!(2025-03-02 10:00 UTC);
//! }
//! assert_eq!(password_login(&org, jane).unwrap().reason(), "no-sso-login-since-change");
//!
//! // A downgrade below Growth turns SSO off and never locks anyone out.
//! org.plan = Plan::Plus;
//! assert_eq!(password_login(&org, jane).unwrap().reason(), "sso-not-in-effect");
//! # Ok::<(), sso_policy::SsoLoginRefusal>(())
//! ```
//!
//! # The rules
//!
//! - **Plans** ([`PLAN_FEATURES`]): SSO on Growth and Enterprise; default projects for JIT
//!   users on Enterprise (project permissions).
//! - **SSO in effect** ([`sso_in_effect`]): the plan includes SSO and the org's connection
//!   exists and is enabled. When it is not, every SSO rule stops applying, settings untouched.
//! - **SSO login** ([`sso_login`]): refused when SSO is not in effect, or the person is not a
//!   member and JIT is off, or JIT is on and the email's domain is not verified. Otherwise a
//!   member keeps their role, and a new member gets the default role and, on Enterprise only,
//!   the default projects.
//! - **Require SSO in effect** ([`require_sso_status`]): asked for, SSO in effect, and the
//!   current connection configuration proven by a successful SSO or test login since it last
//!   changed. So no configuration change can leave it enforced on a configuration that has
//!   never worked; it applies again by itself after the first successful login.
//! - **Password login** ([`password_login`]): refused only when "require SSO" is in effect and
//!   the person is a member or at one of the org's verified domains. It answers the policy
//!   question only: membership and the password itself are the host product's business.
//! - **Require SSO** ([`set_require_sso`]): turning it on needs SSO in effect and a
//!   successful SSO login since the connection configuration last changed (lockout
//!   protection); turning it off is always allowed. The operator's [`break_glass`] lifts it
//!   for one org whatever the plan or connection.
//! - **JIT settings** ([`set_jit`]): a default role or off; default projects may be added only
//!   where the plan includes them, and are kept but not applied after a downgrade.
//! - **Group rules** ([`match_groups`], [`directory_role`], [`check_group_roles`]): a
//!   connection's rules map the groups a person has at the IdP to a role and projects; the
//!   highest role of the matching rules wins. Applied at JIT (no match: the JIT default role)
//!   and, when the admin asks, on every login (no match: the role stays); a login never takes
//!   the Admin role from the org's last Admin ([`role_change_allowed`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod groups;
mod login;
mod org;
mod plan;
mod settings;

pub use crate::{
    groups::{
        DirectoryRole, GroupMatch, GroupRoles, GroupRule, GroupRulesRefusal, Groups,
        MAX_ATTRIBUTE_NAME_LEN, MAX_GROUP_LEN, MAX_GROUP_RULES, MAX_GROUPS, MAX_RULE_PROJECTS,
        RuleMatch, check_group_roles, directory_role, match_groups, role_change_allowed,
    },
    login::{
        PasswordAllowed, PasswordRefusal, PasswordSubject, RequireSsoStatus, SsoLoginGrant,
        SsoLoginRefusal, password_login, require_sso_status, sso_login, sso_login_preview,
        test_login_allowed,
    },
    org::{Connection, JitSettings, Membership, Org, SsoOff, sso_in_effect},
    plan::{Feature, PLAN_FEATURES, Plan, Role},
    settings::{
        BreakGlass, BreakGlassRefusal, JitChange, JitRefusal, RequireSsoChange, RequireSsoRefusal,
        break_glass, set_jit, set_require_sso,
    },
};
