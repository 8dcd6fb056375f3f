//! What the decisions know about an org: plain data the caller reads from its store.

use std::fmt;

use time::OffsetDateTime;

use crate::plan::{Feature, Plan, Role};

/// An org's SSO facts and settings.
///
/// `P` identifies a project; the decisions only compare and copy it, so callers use their own
/// id type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org<P = String> {
    /// The current plan.
    pub plan: Plan,
    /// The org's SAML connection, if one is configured.
    pub connection: Option<Connection>,
    /// Whether the admins asked that members sign in with SSO only. Kept as set: whether it
    /// applies also depends on SSO being in effect (see [`sso_in_effect`]).
    pub require_sso: bool,
    /// Just-in-time provisioning settings.
    pub jit: JitSettings<P>,
    /// Email domains the org has proven it owns, in ASCII (punycode) form.
    pub verified_domains: Vec<String>,
}

/// The org's SAML connection, as far as the decisions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// Whether admins have the connection switched on.
    pub enabled: bool,
    /// When its configuration (IdP metadata, certificates, endpoints) last changed.
    pub configuration_changed_at: OffsetDateTime,
    /// When an SSO login through it last succeeded, if ever.
    pub last_successful_login_at: Option<OffsetDateTime>,
}

impl Connection {
    /// Whether the current configuration has completed a successful SSO login since it last
    /// changed. A login at the very instant of a change is not counted: it may have used the
    /// configuration before the change.
    pub fn proven(&self) -> bool {
        self.last_successful_login_at
            .is_some_and(|login| login > self.configuration_changed_at)
    }
}

/// Just-in-time provisioning settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitSettings<P = String> {
    /// The role given to people created on their first SSO login; `None` turns JIT off.
    pub default_role: Option<Role>,
    /// Projects new members get access to. Kept through a downgrade, applied only on plans
    /// with [`Feature::JitDefaultProjects`].
    pub default_projects: Vec<P>,
}

impl<P> JitSettings<P> {
    /// JIT off, no default projects.
    pub fn off() -> Self {
        Self {
            default_role: None,
            default_projects: Vec::new(),
        }
    }

    /// JIT on with this default role and no default projects.
    pub fn on(default_role: Role) -> Self {
        Self {
            default_role: Some(default_role),
            default_projects: Vec::new(),
        }
    }

    /// Sets the default projects.
    #[must_use]
    pub fn with_default_projects(mut self, projects: impl IntoIterator<Item = P>) -> Self {
        self.default_projects = projects.into_iter().collect();
        self
    }
}

impl<P> Default for JitSettings<P> {
    fn default() -> Self {
        Self::off()
    }
}

/// Whether the person signing in already belongs to the org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Membership {
    /// Not a member.
    NotMember,
    /// A member with this role.
    Member(Role),
    /// A member whose membership the org's directory suspended (SCIM `active=false`): they
    /// keep their role for when they come back, but sign in neither by SSO nor by password.
    Deactivated(Role),
}

/// Why SSO is not in effect for an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SsoOff {
    /// The plan does not include SSO (never bought, or downgraded).
    PlanWithoutSso,
    /// No connection is configured.
    NoConnection,
    /// The connection is switched off.
    ConnectionDisabled,
}

impl SsoOff {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::PlanWithoutSso => "plan-without-sso",
            Self::NoConnection => "no-connection",
            Self::ConnectionDisabled => "connection-disabled",
        }
    }
}

impl fmt::Display for SsoOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PlanWithoutSso => "the org's plan does not include SSO",
            Self::NoConnection => "the org has no SSO connection",
            Self::ConnectionDisabled => "the org's SSO connection is disabled",
        })
    }
}

impl std::error::Error for SsoOff {}

/// Whether SSO is in effect: the plan includes it and an enabled connection exists.
///
/// Every other decision goes through this one, so a downgrade or a disabled connection turns
/// all SSO behaviour off at once, including require-SSO, without changing any setting.
pub fn sso_in_effect<P>(org: &Org<P>) -> Result<(), SsoOff> {
    if !org.plan.includes(Feature::Sso) {
        return Err(SsoOff::PlanWithoutSso);
    }
    match &org.connection {
        None => Err(SsoOff::NoConnection),
        Some(connection) if !connection.enabled => Err(SsoOff::ConnectionDisabled),
        Some(_) => Ok(()),
    }
}
