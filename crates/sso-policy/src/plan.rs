//! Plans, what each includes, and member roles: the data the decisions read.

use std::fmt;

/// A subscription plan, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plan {
    /// Entry plan.
    Starter,
    /// Above Starter.
    Plus,
    /// The first plan with SSO.
    Growth,
    /// Everything, including project permissions.
    Enterprise,
}

/// Something a plan may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// SAML single sign-on, with require-SSO and just-in-time provisioning.
    Sso,
    /// Default projects for members created just in time (needs project permissions).
    JitDefaultProjects,
}

/// What each plan includes. Kept as data so the documentation, the admin UI and the decisions
/// read one table; changing what a plan sells is a change here and nowhere else.
pub const PLAN_FEATURES: [(Plan, &[Feature]); 4] = [
    (Plan::Starter, &[]),
    (Plan::Plus, &[]),
    (Plan::Growth, &[Feature::Sso]),
    (
        Plan::Enterprise,
        &[Feature::Sso, Feature::JitDefaultProjects],
    ),
];

impl Plan {
    /// Every plan, cheapest first.
    pub const ALL: [Plan; 4] = [Plan::Starter, Plan::Plus, Plan::Growth, Plan::Enterprise];

    /// What this plan includes, from [`PLAN_FEATURES`].
    pub fn features(self) -> &'static [Feature] {
        PLAN_FEATURES
            .iter()
            .find(|(plan, _)| *plan == self)
            .map_or(&[], |(_, features)| *features)
    }

    /// Whether this plan includes `feature`.
    pub fn includes(self, feature: Feature) -> bool {
        self.features().contains(&feature)
    }

    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Starter => "starter",
            Self::Plus => "plus",
            Self::Growth => "growth",
            Self::Enterprise => "enterprise",
        }
    }

    /// The plan with this [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Feature {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Sso => "sso",
            Self::JitDefaultProjects => "jit-default-projects",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A member's role in an org, least privileged first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads and writes.
    Member,
    /// Also manages members.
    Manager,
    /// Also manages the org, including SSO.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Manager, Role::Admin];

    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    /// The role with this [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
