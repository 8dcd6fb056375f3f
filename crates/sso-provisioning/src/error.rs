//! The errors of logins and admin operations, with stable reason codes.

use sso_assertion::{MetadataError, RequestError, ValidationError};
use sso_domains::{CheckError, DomainRefusal};
use sso_email::NoValidEmail;
use sso_fetch::FetchError;
use sso_policy::{
    BreakGlassRefusal, GroupRulesRefusal, JitRefusal, PasswordRefusal, RequireSsoRefusal,
    SsoLoginRefusal, SsoOff,
};
use sso_store::{ProjectId, StoreError};

/// What a member the org's directory deactivated is told, at SSO and at password login.
pub const DEACTIVATED_MESSAGE: &str =
    "Your access to this organization has been deactivated. Ask your administrator.";

/// Why an SSO login was not started or not completed.
///
/// [`reason`](Self::reason) is a stable kebab-case code for machines and traces;
/// [`user_message`](Self::user_message) is safe to show the person signing in; the `Display`
/// text is the full detail for the org's admin (it is what the login trace records).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The organization does not exist (`org-not-found`). No trace: there is no org to hold it.
    #[error("no organization with this id (org-not-found)")]
    OrgNotFound,
    /// SSO is not in effect for the org: plan without SSO, no connection, or the connection is
    /// disabled (the reason is `sso-policy`'s: `plan-without-sso`, `no-connection`,
    /// `connection-disabled`).
    #[error("{0} ({reason})", reason = .0.reason())]
    SsoOff(SsoOff),
    /// The stored connection configuration cannot be used (a certificate that no longer
    /// parses): `connection-misconfigured`.
    #[error("the connection's configuration is unusable: {0} (connection-misconfigured)")]
    Misconfigured(String),
    /// An AuthnRequest could not be built (reason from `sso-assertion`: `idp-endpoint-missing`,
    /// `sp-key-missing` ...).
    #[error("{0} ({reason})", reason = .0.reason())]
    Request(RequestError),
    /// The response failed validation; the reason is `sso-assertion`'s (`wrong-audience`,
    /// `digest-mismatch`, `expired` ...).
    #[error("{0}")]
    Invalid(ValidationError),
    /// No valid email in the assertion (`no-valid-email`); lists every place tried.
    #[error("{0}")]
    NoEmail(NoValidEmail),
    /// The product rules refuse this person (`not-a-member`, `domain-not-verified`).
    #[error("{0}")]
    Refused(SsoLoginRefusal),
    /// The assertion, or the AuthnRequest it answers, was already used (`replayed`).
    #[error("the {what} was already used (replayed)")]
    Replayed {
        /// `assertion` or `authn request`.
        what: &'static str,
    },
    /// The AuthnRequest the response answers has expired (`request-expired`).
    #[error("the login request this response answers has expired (request-expired)")]
    RequestExpired,
    /// The response answers a request this connection does not know (`unknown-request`).
    #[error("the response answers a login request this connection never sent (unknown-request)")]
    UnknownRequest,
    /// The database failed (`database`, or the store's reason).
    #[error("{0}")]
    Store(StoreError),
    /// The return target given to `begin_login` is not an absolute `http`/`https` URL of an
    /// allowed origin (`return-target-not-allowed`).
    #[error("return target refused: {0} (return-target-not-allowed)")]
    ReturnTarget(String),
    /// Something of our own failed (`internal`): the random source.
    #[error("internal failure: {0} (internal)")]
    Internal(String),
    /// The response answered an admin's test login: it was validated and traced like a
    /// sign-in, its result is recorded under the test login's id, and nobody was signed in
    /// (`test-login-completed`). Never a sign-in, whatever the response says.
    #[error(
        "this response answered test login {test_login}: the result is recorded and nobody was \
         signed in (test-login-completed)"
    )]
    TestLoginCompleted {
        /// The test login, as `Provisioner::test_login` names it.
        test_login: String,
    },
    /// The response to an admin's test login was refused; the test's result records why.
    /// The reason is the refusal's own (`untrusted-key`, `replayed` ...).
    #[error("test login {test_login} failed: {cause}")]
    TestLoginFailed {
        /// The test login, as `Provisioner::test_login` names it.
        test_login: String,
        /// Why the response was refused.
        cause: Box<LoginError>,
    },
}

impl LoginError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::OrgNotFound => "org-not-found",
            Self::SsoOff(off) => off.reason(),
            Self::Misconfigured(_) => "connection-misconfigured",
            Self::Request(e) => e.reason(),
            Self::Invalid(e) => e.reason(),
            Self::NoEmail(e) => e.reason(),
            Self::Refused(r) => r.reason(),
            Self::Replayed { .. } => "replayed",
            Self::RequestExpired => "request-expired",
            Self::UnknownRequest => "unknown-request",
            Self::Store(e) => e.reason(),
            Self::ReturnTarget(_) => "return-target-not-allowed",
            Self::Internal(_) => "internal",
            Self::TestLoginCompleted { .. } => "test-login-completed",
            Self::TestLoginFailed { cause, .. } => cause.reason(),
        }
    }

    /// The test login this attempt answered, when it answered one.
    pub fn test_login(&self) -> Option<&str> {
        match self {
            Self::TestLoginCompleted { test_login } | Self::TestLoginFailed { test_login, .. } => {
                Some(test_login)
            }
            _ => None,
        }
    }

    /// A message for the person signing in: says what to do, reveals nothing about the
    /// configuration. The admin reads the detail in the login trace.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::OrgNotFound | Self::SsoOff(_) => {
                "Single sign-on is not available for this organization."
            }
            Self::Misconfigured(_) | Self::Request(_) | Self::Invalid(_) => {
                "The sign-in from your identity provider could not be accepted. Your administrator can see why in the SSO login traces."
            }
            Self::NoEmail(_) => {
                "Your identity provider did not send an email address for you. Your administrator can see why in the SSO login traces."
            }
            Self::Refused(SsoLoginRefusal::DomainNotVerified { .. }) => {
                "Your email address is not in a domain this organization has verified. Ask your administrator for access."
            }
            Self::Refused(SsoLoginRefusal::SsoOff(_)) => {
                "Single sign-on is not available for this organization."
            }
            Self::Refused(SsoLoginRefusal::MemberDeactivated) => DEACTIVATED_MESSAGE,
            Self::Refused(_) => {
                "You are not a member of this organization. Ask your administrator for access."
            }
            Self::Replayed { .. } | Self::RequestExpired | Self::UnknownRequest => {
                "This sign-in was already used or has expired. Please sign in again."
            }
            Self::ReturnTarget(_) => {
                "This sign-in link is not valid. Start again from the application."
            }
            Self::Store(_) | Self::Internal(_) => {
                "Sign-in is unavailable right now. Please try again."
            }
            Self::TestLoginCompleted { .. } => {
                "This was a test of your organization's single sign-on, not a sign-in: nobody was signed in. Your administrator sees the result."
            }
            Self::TestLoginFailed { .. } => {
                "This was a test of your organization's single sign-on, and it failed: nobody was signed in. Your administrator sees why."
            }
        }
    }

    /// Whether a rule refused the login (`true`) rather than something breaking (`false`:
    /// the database, an unusable configuration).
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::TestLoginFailed { cause, .. } => cause.is_refusal(),
            _ => !matches!(
                self,
                Self::Store(_) | Self::Misconfigured(_) | Self::Internal(_)
            ),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why a login code was not exchanged for its login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// No such code (`login-code-unknown`): mistyped, forged, or purged after expiry.
    #[error("no such login code (login-code-unknown)")]
    Unknown,
    /// The code was redeemed before (`login-code-used`).
    #[error("the login code was already used (login-code-used)")]
    Used,
    /// The code is past its lifetime (`login-code-expired`).
    #[error("the login code has expired (login-code-expired)")]
    Expired,
    /// The database failed (`database`, `corrupt-data`).
    #[error("{0}")]
    Store(StoreError),
}

impl RedeemError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unknown => "login-code-unknown",
            Self::Used => "login-code-used",
            Self::Expired => "login-code-expired",
            Self::Store(e) => e.reason(),
        }
    }
}

impl From<StoreError> for RedeemError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why an admin or operator operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// Require-SSO may not be turned on (`no-sso-login-since-change`, `plan-without-sso` ...).
    #[error("{0}")]
    RequireSso(RequireSsoRefusal),
    /// The JIT settings are not allowed on the plan (`plan-without-default-projects`).
    #[error("{0}")]
    Jit(JitRefusal),
    /// Break-glass needs a justification (`missing-justification`).
    #[error("{0}")]
    BreakGlass(BreakGlassRefusal),
    /// The group rules are malformed (`invalid-input`) or add projects on a plan without
    /// project permissions (`plan-without-rule-projects`).
    #[error("{0}")]
    GroupRules(GroupRulesRefusal),
    /// The IdP metadata cannot be imported (`metadata-malformed`, `no-signing-certificate` ...).
    #[error("{0} ({reason})", reason = .0.reason())]
    Metadata(MetadataError),
    /// The store refused or failed (`not-found`, `conflict`, `invalid-input`, `database` ...).
    #[error("{0}")]
    Store(StoreError),
    /// The metadata could not be fetched from its URL (`sso-fetch`'s codes:
    /// `metadata-url-scheme`, `metadata-url-blocked-address`, `metadata-too-large`,
    /// `metadata-fetch-timeout` ...).
    #[error("{0}")]
    Fetch(FetchError),
    /// The fetched metadata's `validUntil` is past: the IdP stopped vouching for it
    /// (`metadata-expired`).
    #[error("the metadata was valid until {0}, which is past (metadata-expired)")]
    MetadataExpired(String),
    /// The connection's metadata was not imported from a URL, so there is nothing to refresh
    /// (`no-metadata-url`).
    #[error("the connection's metadata was not imported from a URL (no-metadata-url)")]
    NoMetadataUrl,
    /// The certificate given cannot be read (`invalid-certificate`).
    #[error("the certificate cannot be read: {0} (invalid-certificate)")]
    InvalidCertificate(String),
    /// No trusted IdP certificate has this SHA-256 fingerprint (`certificate-not-found`).
    #[error("no trusted IdP certificate has the SHA-256 fingerprint {0} (certificate-not-found)")]
    CertificateNotFound(String),
    /// Removing the connection's only trusted certificate would leave it unable to accept any
    /// login (`last-certificate`).
    #[error(
        "{0} is the connection's only trusted certificate; add its successor first (last-certificate)"
    )]
    LastCertificate(String),
    /// Something of our own failed (`internal`): the random source.
    #[error("internal failure: {0} (internal)")]
    Internal(String),
    /// No org may hold this domain (`domain-public-suffix`, `domain-free-mail`).
    #[error("{0}")]
    DomainRefused(DomainRefusal),
    /// The org has no claim on the domain, or none with a token to look for
    /// (`domain-not-claimed`).
    #[error("the org has no claim on {0}; claim it first (domain-not-claimed)")]
    DomainNotClaimed(String),
    /// Another org holds the domain verified (`domain-verified-elsewhere`).
    #[error("{0} is verified by another organization (domain-verified-elsewhere)")]
    DomainVerifiedElsewhere(String),
    /// The org has as many domains as it may (`domain-limit-reached`).
    #[error("the organization already has {0} domains (domain-limit-reached)")]
    DomainLimit(u64),
    /// The DNS check did not find the claim's token (`domain-record-missing`,
    /// `domain-token-mismatch`, `domain-lookup-failed`, `domain-lookup-timeout`);
    /// `consequence` says what it did to a domain that was verified.
    #[error("{error}{}", consequence.as_ref().map(|c| format!("; {c}")).unwrap_or_default())]
    DomainCheck {
        /// Why the record did not prove the claim.
        error: CheckError,
        /// What became of a verified domain.
        consequence: Option<String>,
    },
    /// Demoting or removing this member would leave the org without an Admin
    /// (`last-admin`).
    #[error("{0} is the org's last Admin; make another member Admin first (last-admin)")]
    LastAdmin(String),
    /// The project is one of the connection's JIT default projects, so removing it would
    /// quietly change what new members get (`project-is-jit-default`).
    #[error(
        "project {0:?} is a default project of just-in-time provisioning; take it out of the JIT settings first (project-is-jit-default)"
    )]
    ProjectIsJitDefault(String),
    /// An item of a list in the request is malformed or repeated; nothing was changed
    /// (`invalid-input`).
    #[error("invalid {field}[{index}]: {detail} (invalid-input)")]
    InvalidItem {
        /// The list (`members`, `projects`, `default_project_ids`).
        field: &'static str,
        /// The item's position in it, from 0.
        index: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// An item of a list in the request names a project the org does not have; nothing was
    /// changed (`not-found`).
    #[error("{field}[{index}]: the org has no project {project:?} (not-found)")]
    UnknownProject {
        /// The list (`members`, `default_project_ids`).
        field: &'static str,
        /// The item's position in it, from 0.
        index: usize,
        /// The project id as given.
        project: String,
    },
}

impl AdminError {
    /// The error for `project`, named at `index` of `field`.
    pub(crate) fn unknown_project(field: &'static str, index: usize, project: &ProjectId) -> Self {
        Self::UnknownProject {
            field,
            index,
            project: project.as_str().to_owned(),
        }
    }
}

impl AdminError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RequireSso(r) => r.reason(),
            Self::Jit(r) => r.reason(),
            Self::BreakGlass(r) => r.reason(),
            Self::GroupRules(r) => r.reason(),
            Self::Metadata(e) => e.reason(),
            Self::Store(e) => e.reason(),
            Self::Fetch(e) => e.reason(),
            Self::MetadataExpired(_) => "metadata-expired",
            Self::NoMetadataUrl => "no-metadata-url",
            Self::InvalidCertificate(_) => "invalid-certificate",
            Self::CertificateNotFound(_) => "certificate-not-found",
            Self::LastCertificate(_) => "last-certificate",
            Self::Internal(_) => "internal",
            Self::LastAdmin(_) => "last-admin",
            Self::ProjectIsJitDefault(_) => "project-is-jit-default",
            Self::InvalidItem { .. } => "invalid-input",
            Self::UnknownProject { .. } => "not-found",
            Self::DomainRefused(r) => r.reason(),
            Self::DomainNotClaimed(_) => "domain-not-claimed",
            Self::DomainVerifiedElsewhere(_) => "domain-verified-elsewhere",
            Self::DomainLimit(_) => "domain-limit-reached",
            Self::DomainCheck { error, .. } => error.reason(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why a presented org credential was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Not a credential this service issued: malformed, unknown id, or a wrong secret
    /// (`unauthenticated`). Deliberately one case, so a guess learns nothing.
    #[error("not a valid org credential (unauthenticated)")]
    Unknown,
    /// The credential's time is over (`credential-expired`).
    #[error("the org credential has expired (credential-expired)")]
    Expired,
    /// The credential was revoked (`credential-revoked`).
    #[error("the org credential was revoked (credential-revoked)")]
    Revoked,
    /// The database failed (`database`, `corrupt-data`).
    #[error("{0}")]
    Store(StoreError),
}

impl CredentialError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unknown => "unauthenticated",
            Self::Expired => "credential-expired",
            Self::Revoked => "credential-revoked",
            Self::Store(e) => e.reason(),
        }
    }
}

impl From<StoreError> for CredentialError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why a setup link is refused on an org's portal pages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupLinkError {
    /// Not a link this service issued: malformed, unknown id, or a wrong secret
    /// (`unauthenticated`). One case, so a guess learns nothing.
    #[error("not a valid setup link (unauthenticated)")]
    Unknown,
    /// The link's time is over (`setup-link-expired`).
    #[error("the setup link has expired (setup-link-expired)")]
    Expired,
    /// The link was revoked (`setup-link-revoked`).
    #[error("the setup link was revoked (setup-link-revoked)")]
    Revoked,
    /// The link belongs to another org (`setup-link-wrong-org`).
    #[error("the setup link is for another organization (setup-link-wrong-org)")]
    WrongOrg,
    /// The link does not grant this ability (`setup-link-not-allowed`).
    #[error("the setup link does not allow {0} (setup-link-not-allowed)")]
    NotAllowed(crate::admin::SetupAbility),
    /// The database failed (`database`, `corrupt-data`).
    #[error("{0}")]
    Store(StoreError),
}

impl SetupLinkError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unknown => "unauthenticated",
            Self::Expired => "setup-link-expired",
            Self::Revoked => "setup-link-revoked",
            Self::WrongOrg => "setup-link-wrong-org",
            Self::NotAllowed(_) => "setup-link-not-allowed",
            Self::Store(e) => e.reason(),
        }
    }
}

impl From<StoreError> for SetupLinkError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why a password login is refused, or could not be decided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordLoginError {
    /// The org requires SSO and SSO is in effect (`sso-required`).
    #[error("{0}")]
    Refused(PasswordRefusal),
    /// The store failed or the org does not exist (`not-found`, `database` ...).
    #[error("{0}")]
    Store(StoreError),
}

impl PasswordLoginError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Refused(r) => r.reason(),
            Self::Store(e) => e.reason(),
        }
    }
}

impl From<StoreError> for PasswordLoginError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why an org's SP metadata was not given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpMetadataError {
    /// The org does not exist (`not-found`), or the store failed (`database` ...).
    #[error("{0}")]
    Store(StoreError),
    /// The document could not be written (`sp-metadata-failed`): a failure of ours.
    #[error("{0}")]
    Write(sso_assertion::SpMetadataError),
}

impl SpMetadataError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Store(e) => e.reason(),
            Self::Write(e) => e.reason(),
        }
    }
}
