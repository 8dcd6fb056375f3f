//! Sign-in decisions: an SSO login, and a password login.

use std::fmt;

use crate::org::{Membership, Org, SsoOff, sso_in_effect};
use crate::plan::{Feature, Role};

/// An SSO login is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum SsoLoginGrant<P = String> {
    /// The person is a member and keeps the role they have: this decision never changes a
    /// role (group rules on every login may, see [`directory_role`](crate::directory_role)).
    ExistingMember {
        /// Their current role.
        role: Role,
    },
    /// The person is added to the org (just-in-time provisioning).
    NewMember {
        /// The org's default role.
        role: Role,
        /// Projects to give access to; empty unless the plan includes
        /// [`Feature::JitDefaultProjects`].
        default_projects: Vec<P>,
        /// Whether default projects are configured but not applied because the plan no longer
        /// includes them (after a downgrade), so traces can say so.
        default_projects_withheld: bool,
    },
}

impl<P> SsoLoginGrant<P> {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ExistingMember { .. } => "existing-member",
            Self::NewMember { .. } => "jit-new-member",
        }
    }

    /// The role the person has in the org after this login.
    pub fn role(&self) -> Role {
        match self {
            Self::ExistingMember { role } | Self::NewMember { role, .. } => *role,
        }
    }
}

/// An SSO login is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsoLoginRefusal {
    /// SSO is not in effect for the org; the reason is the [`SsoOff`] one.
    SsoOff(SsoOff),
    /// Not a member, and just-in-time provisioning is off.
    NotMember,
    /// Not a member, and the email's domain is not one of the org's verified domains, so JIT
    /// may not create the membership.
    DomainNotVerified {
        /// The email's domain.
        domain: String,
    },
    /// A member whose membership the org's directory has deactivated.
    MemberDeactivated,
}

impl SsoLoginRefusal {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SsoOff(off) => off.reason(),
            Self::NotMember => "not-a-member",
            Self::DomainNotVerified { .. } => "domain-not-verified",
            Self::MemberDeactivated => "member-deactivated",
        }
    }
}

impl fmt::Display for SsoLoginRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SsoOff(off) => write!(f, "{off}"),
            Self::NotMember => {
                f.write_str("not a member of the org, and just-in-time provisioning is off")
            }
            Self::DomainNotVerified { domain } => write!(
                f,
                "not a member of the org, and {domain} is not one of its verified domains"
            ),
            Self::MemberDeactivated => {
                f.write_str("the org's directory has deactivated this member")
            }
        }?;
        write!(f, " ({})", self.reason())
    }
}

impl std::error::Error for SsoLoginRefusal {}

/// Decides an SSO login, at `org`'s connection, of a person whose email has been verified by
/// the IdP and whose membership in `org` the caller has looked up.
///
/// Refused when SSO is not in effect (plan without SSO, no or disabled connection), when the
/// person's membership is deactivated, or when the person is not a member and JIT is off, or when JIT is on but the email's domain is not one of
/// the org's verified domains. Members sign in whatever their email's domain: the domain check
/// guards creating memberships, so one org's IdP cannot mint members from another company.
/// Domains compare in ASCII case-insensitively and exactly: a subdomain must be verified itself.
pub fn sso_login<P: Clone>(
    org: &Org<P>,
    email_domain: &str,
    membership: Membership,
) -> Result<SsoLoginGrant<P>, SsoLoginRefusal> {
    sso_in_effect(org).map_err(SsoLoginRefusal::SsoOff)?;
    match membership {
        Membership::Member(role) => return Ok(SsoLoginGrant::ExistingMember { role }),
        Membership::Deactivated(_) => return Err(SsoLoginRefusal::MemberDeactivated),
        Membership::NotMember => {}
    }
    let Some(role) = org.jit.default_role else {
        return Err(SsoLoginRefusal::NotMember);
    };
    let verified = org
        .verified_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(email_domain));
    if !verified {
        return Err(SsoLoginRefusal::DomainNotVerified {
            domain: email_domain.to_owned(),
        });
    }
    let projects_allowed = org.plan.includes(Feature::JitDefaultProjects);
    Ok(SsoLoginGrant::NewMember {
        role,
        default_projects: if projects_allowed {
            org.jit.default_projects.clone()
        } else {
            Vec::new()
        },
        default_projects_withheld: !projects_allowed && !org.jit.default_projects.is_empty(),
    })
}

/// Whether an admin may run a test login of `org`'s connection: the plan includes SSO and a
/// connection exists. The connection may be disabled, so that it can be tested before anyone
/// depends on it.
pub fn test_login_allowed<P>(org: &Org<P>) -> Result<(), SsoOff> {
    match sso_in_effect(org) {
        Ok(()) | Err(SsoOff::ConnectionDisabled) => Ok(()),
        Err(off) => Err(off),
    }
}

/// What [`sso_login`] would decide for this person once the connection is enabled: the
/// preview a test login shows, which never provisions anyone. Refused only for the plan, a
/// missing connection, or the person (not a member with JIT off, or an unverified domain).
pub fn sso_login_preview<P: Clone>(
    org: &Org<P>,
    email_domain: &str,
    membership: Membership,
) -> Result<SsoLoginGrant<P>, SsoLoginRefusal> {
    test_login_allowed(org).map_err(SsoLoginRefusal::SsoOff)?;
    let mut enabled = org.clone();
    if let Some(connection) = &mut enabled.connection {
        connection.enabled = true;
    }
    sso_login(&enabled, email_domain, membership)
}

/// Who asks to sign in with email and password, as far as the decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordSubject<'a> {
    /// The domain of the email, in ASCII (punycode) form.
    pub email_domain: &'a str,
    /// Whether the person is a member of the org, as far as the caller knows. A person the
    /// service has never seen is [`Membership::NotMember`]: membership is the host product's
    /// business, so the answer must not depend on it beyond "is the requirement theirs too".
    pub membership: Membership,
}

/// Whether the org's "require SSO" is enforced right now, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequireSsoStatus {
    /// The admins have not asked for it.
    Off,
    /// Asked for, and enforced: members and people at the org's verified domains sign in by
    /// SSO only.
    Enforced,
    /// Asked for, but SSO is not in effect (a downgrade, no or a disabled connection): kept as
    /// set, not applied, so nobody is locked out.
    Suspended(SsoOff),
    /// Asked for, but the connection's current configuration has not yet completed a
    /// successful SSO login (or test login) since it last changed: enforcing it could lock
    /// everyone out behind a configuration that may not work. It applies again by itself after
    /// the first successful login with the new configuration.
    Unproven,
}

impl RequireSsoStatus {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Off => "sso-not-required",
            Self::Enforced => "sso-required",
            Self::Suspended(off) => off.reason(),
            Self::Unproven => "no-sso-login-since-change",
        }
    }

    /// Whether the requirement applies now.
    pub fn enforced(self) -> bool {
        self == Self::Enforced
    }

    /// The state as an admin reads it, a stable code: `off`, `enforced`, or why the
    /// requirement is set but suspended (`plan-without-sso`, `no-connection`,
    /// `connection-disabled`, `no-sso-login-since-change`). Unlike [`reason`](Self::reason),
    /// which answers a password check, it names the state of the setting.
    pub fn code(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Enforced => "enforced",
            Self::Suspended(_) | Self::Unproven => self.reason(),
        }
    }

    /// One sentence for the admin: what applies now and, when suspended, what would make it
    /// apply again.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Off => "Require SSO is off: members may also sign in with a password.",
            Self::Enforced => {
                "Require SSO is enforced: members and people at the verified domains sign in with SSO only."
            }
            Self::Suspended(SsoOff::PlanWithoutSso) => {
                "Require SSO is set but suspended because the plan does not include SSO; it applies again on a plan with SSO."
            }
            Self::Suspended(SsoOff::NoConnection) => {
                "Require SSO is set but suspended because the org has no SSO connection."
            }
            Self::Suspended(SsoOff::ConnectionDisabled) => {
                "Require SSO is set but suspended because the SSO connection is disabled; it applies again once the connection is enabled."
            }
            Self::Unproven => {
                "Require SSO is set but suspended until the current connection configuration completes a successful SSO or test login."
            }
        }
    }
}

impl fmt::Display for RequireSsoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("the org does not require SSO"),
            Self::Enforced => f.write_str("the org requires SSO"),
            Self::Suspended(off) => write!(f, "require SSO is set but not applied: {off}"),
            Self::Unproven => f.write_str(
                "require SSO is set but not applied until the current connection configuration \
                 completes a successful SSO or test login",
            ),
        }?;
        write!(f, " ({})", self.reason())
    }
}

/// Whether `org`'s "require SSO" applies now (see [`RequireSsoStatus`]).
///
/// Every password decision goes through this one, so a downgrade, a disabled connection or a
/// configuration change that has not been proven by a login suspends the requirement at once,
/// without changing the setting.
pub fn require_sso_status<P>(org: &Org<P>) -> RequireSsoStatus {
    if !org.require_sso {
        return RequireSsoStatus::Off;
    }
    if let Err(off) = sso_in_effect(org) {
        return RequireSsoStatus::Suspended(off);
    }
    match &org.connection {
        Some(connection) if connection.proven() => RequireSsoStatus::Enforced,
        _ => RequireSsoStatus::Unproven,
    }
}

/// A password login is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub enum PasswordAllowed {
    /// The org does not require SSO.
    SsoNotRequired,
    /// The org requires SSO but SSO is not in effect, so the requirement does not apply: a
    /// downgrade or a disabled connection must never lock anyone out.
    SsoNotInEffect(SsoOff),
    /// The org requires SSO but its current connection configuration has not completed a
    /// successful login since it changed, so the requirement is not enforced yet.
    ConfigurationUnproven,
    /// The org requires SSO, but of its members and of the people at its verified domains
    /// only: this person is neither.
    NotCovered,
}

impl PasswordAllowed {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SsoNotRequired => "sso-not-required",
            Self::SsoNotInEffect(_) => "sso-not-in-effect",
            Self::ConfigurationUnproven => "no-sso-login-since-change",
            Self::NotCovered => "not-covered-by-require-sso",
        }
    }
}

/// A password login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordRefusal {
    /// The org requires SSO, the requirement is enforced, and this person is a member or at
    /// one of the org's verified domains.
    SsoRequired,
    /// The org's directory has deactivated this member: refused whatever the org requires.
    MemberDeactivated,
}

impl PasswordRefusal {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SsoRequired => "sso-required",
            Self::MemberDeactivated => "member-deactivated",
        }
    }
}

impl fmt::Display for PasswordRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SsoRequired => write!(
                f,
                "the org requires members to sign in with SSO ({})",
                self.reason()
            ),
            Self::MemberDeactivated => write!(
                f,
                "the org's directory has deactivated this member ({})",
                self.reason()
            ),
        }
    }
}

impl std::error::Error for PasswordRefusal {}

/// Decides whether `who` may sign in to `org` with email and password.
///
/// A member the org's directory deactivated is refused first, whatever the org requires.
/// Otherwise this answers the policy question only: allowed unless "require SSO" is enforced for the org
/// (see [`require_sso_status`]) and the person is one it covers, a member or anyone whose
/// email is at one of the org's verified domains. Whether the password is right, or the person
/// belongs to the org at all, is the host product's business.
pub fn password_login<P>(
    org: &Org<P>,
    who: PasswordSubject<'_>,
) -> Result<PasswordAllowed, PasswordRefusal> {
    if matches!(who.membership, Membership::Deactivated(_)) {
        return Err(PasswordRefusal::MemberDeactivated);
    }
    match require_sso_status(org) {
        RequireSsoStatus::Off => return Ok(PasswordAllowed::SsoNotRequired),
        RequireSsoStatus::Suspended(off) => return Ok(PasswordAllowed::SsoNotInEffect(off)),
        RequireSsoStatus::Unproven => return Ok(PasswordAllowed::ConfigurationUnproven),
        RequireSsoStatus::Enforced => {}
    }
    let member = matches!(who.membership, Membership::Member(_));
    let at_verified_domain = org
        .verified_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(who.email_domain));
    if member || at_verified_domain {
        Err(PasswordRefusal::SsoRequired)
    } else {
        Ok(PasswordAllowed::NotCovered)
    }
}
