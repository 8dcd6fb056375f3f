//! Admin and operator changes: require-SSO (with lockout protection), break-glass, JIT.

use std::fmt;

use crate::org::{JitSettings, Org, SsoOff, sso_in_effect};
use crate::plan::{Feature, Plan};

/// A change to "require SSO" is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub enum RequireSsoChange {
    /// Turning it on: SSO is in effect and proven by a login since the last configuration change.
    TurnOn,
    /// Turning it off, which is always allowed.
    TurnOff,
}

impl RequireSsoChange {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TurnOn => "sso-proven",
            Self::TurnOff => "turn-off-allowed",
        }
    }
}

/// Turning "require SSO" on is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequireSsoRefusal {
    /// SSO is not in effect; the reason is the [`SsoOff`] one.
    SsoOff(SsoOff),
    /// Lockout protection: the current connection configuration has not completed a successful
    /// SSO login since it last changed, so it may not work and requiring it could lock everyone
    /// out.
    NoSsoLoginSinceChange,
}

impl RequireSsoRefusal {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SsoOff(off) => off.reason(),
            Self::NoSsoLoginSinceChange => "no-sso-login-since-change",
        }
    }
}

impl fmt::Display for RequireSsoRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SsoOff(off) => write!(f, "{off}"),
            Self::NoSsoLoginSinceChange => f.write_str(
                "complete one SSO login with the current connection configuration first",
            ),
        }?;
        write!(f, " ({})", self.reason())
    }
}

impl std::error::Error for RequireSsoRefusal {}

/// Decides an admin's request to turn "require SSO" on (`on`) or off.
pub fn set_require_sso<P>(org: &Org<P>, on: bool) -> Result<RequireSsoChange, RequireSsoRefusal> {
    if !on {
        return Ok(RequireSsoChange::TurnOff);
    }
    sso_in_effect(org).map_err(RequireSsoRefusal::SsoOff)?;
    match &org.connection {
        Some(connection) if connection.proven() => Ok(RequireSsoChange::TurnOn),
        _ => Err(RequireSsoRefusal::NoSsoLoginSinceChange),
    }
}

/// The operator's break-glass may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub enum BreakGlass {
    /// "Require SSO" is on: lift it (set it off) for this org.
    Lift,
    /// "Require SSO" is already off: nothing to change, but the attempt is still audited.
    NotRequired,
}

impl BreakGlass {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Lift => "require-sso-lifted",
            Self::NotRequired => "sso-not-required",
        }
    }
}

/// The operator's break-glass is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakGlassRefusal {
    /// No justification given: the audit entry must say why the requirement was lifted.
    MissingJustification,
}

impl BreakGlassRefusal {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingJustification => "missing-justification",
        }
    }
}

impl fmt::Display for BreakGlassRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingJustification => write!(
                f,
                "break-glass needs a justification for the audit log ({})",
                self.reason()
            ),
        }
    }
}

impl std::error::Error for BreakGlassRefusal {}

/// Decides the service operator's break-glass: lifting "require SSO" for one org when its
/// members are locked out (a broken IdP, a lost connection).
///
/// It ignores plan and connection on purpose: it is the way out when those are wrong. The only
/// condition is a non-blank `justification`, recorded by the caller in the audit log.
pub fn break_glass<P>(org: &Org<P>, justification: &str) -> Result<BreakGlass, BreakGlassRefusal> {
    if justification.trim().is_empty() {
        return Err(BreakGlassRefusal::MissingJustification);
    }
    Ok(if org.require_sso {
        BreakGlass::Lift
    } else {
        BreakGlass::NotRequired
    })
}

/// New JIT settings are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub enum JitChange {
    /// JIT is off (any default projects are kept, unused).
    Off,
    /// JIT is on, default projects (if any) applied.
    On,
    /// JIT is on; default projects are kept but not applied, because the plan does not include
    /// them (after a downgrade).
    OnProjectsNotApplied,
}

impl JitChange {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Off => "jit-off",
            Self::On => "jit-on",
            Self::OnProjectsNotApplied => "default-projects-not-applied",
        }
    }
}

/// New JIT settings are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JitRefusal {
    /// Adds default projects on a plan without [`Feature::JitDefaultProjects`].
    PlanWithoutDefaultProjects,
}

impl JitRefusal {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::PlanWithoutDefaultProjects => "plan-without-default-projects",
        }
    }
}

impl fmt::Display for JitRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PlanWithoutDefaultProjects => write!(
                f,
                "default projects for new members need a plan with project permissions ({})",
                self.reason()
            ),
        }
    }
}

impl std::error::Error for JitRefusal {}

/// Decides an admin's change of JIT settings from `current` to `new` on `plan`.
///
/// The default role, or off, may always be chosen. Default projects may be added only where the
/// plan includes them; on other plans the ones already configured may be kept (a downgrade
/// deletes nothing) or removed, not added to.
pub fn set_jit<P: PartialEq>(
    plan: Plan,
    current: &JitSettings<P>,
    new: &JitSettings<P>,
) -> Result<JitChange, JitRefusal> {
    let projects_allowed = plan.includes(Feature::JitDefaultProjects);
    let adds_projects = new
        .default_projects
        .iter()
        .any(|p| !current.default_projects.contains(p));
    if adds_projects && !projects_allowed {
        return Err(JitRefusal::PlanWithoutDefaultProjects);
    }
    Ok(match new.default_role {
        None => JitChange::Off,
        Some(_) if !projects_allowed && !new.default_projects.is_empty() => {
            JitChange::OnProjectsNotApplied
        }
        Some(_) => JitChange::On,
    })
}
