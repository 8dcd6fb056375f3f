//! Sign-in decisions: an SSO login, and a password login.

use std::fmt;

use crate::org::{Membership, Org, SsoOff, sso_in_effect};
use crate::plan::{Feature, Role};

/// An SSO login is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum SsoLoginGrant<P = String> {
    /// The person is a member and keeps the role they have: SSO never changes a role.
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
}

impl SsoLoginRefusal {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SsoOff(off) => off.reason(),
            Self::NotMember => "not-a-member",
            Self::DomainNotVerified { .. } => "domain-not-verified",
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
        }?;
        write!(f, " ({})", self.reason())
    }
}

impl std::error::Error for SsoLoginRefusal {}

/// Decides an SSO login, at `org`'s connection, of a person whose email has been verified by
/// the IdP and whose membership in `org` the caller has looked up.
///
/// Refused when SSO is not in effect (plan without SSO, no or disabled connection), or when the
/// person is not a member and JIT is off, or when JIT is on but the email's domain is not one of
/// the org's verified domains. Members sign in whatever their email's domain: the domain check
/// guards creating memberships, so one org's IdP cannot mint members from another company.
/// Domains compare in ASCII case-insensitively and exactly: a subdomain must be verified itself.
pub fn sso_login<P: Clone>(
    org: &Org<P>,
    email_domain: &str,
    membership: Membership,
) -> Result<SsoLoginGrant<P>, SsoLoginRefusal> {
    sso_in_effect(org).map_err(SsoLoginRefusal::SsoOff)?;
    if let Membership::Member(role) = membership {
        return Ok(SsoLoginGrant::ExistingMember { role });
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
}

impl PasswordAllowed {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SsoNotRequired => "sso-not-required",
            Self::SsoNotInEffect(_) => "sso-not-in-effect",
        }
    }
}

/// A password login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordRefusal {
    /// The org requires SSO and SSO is in effect.
    SsoRequired,
}

impl PasswordRefusal {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SsoRequired => "sso-required",
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
        }
    }
}

impl std::error::Error for PasswordRefusal {}

/// Decides an email + password login of a member of `org`.
pub fn password_login<P>(org: &Org<P>) -> Result<PasswordAllowed, PasswordRefusal> {
    if !org.require_sso {
        return Ok(PasswordAllowed::SsoNotRequired);
    }
    match sso_in_effect(org) {
        Ok(()) => Err(PasswordRefusal::SsoRequired),
        Err(off) => Ok(PasswordAllowed::SsoNotInEffect(off)),
    }
}
