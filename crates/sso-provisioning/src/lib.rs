//! One SSO login as one transaction, and the audited admin operations around it.
//!
//! A [`Provisioner`] holds the [`Store`](sso_store::Store), the public base URL from which each
//! org's SP entity ID and ACS URL are built, and optionally the SP key.
//! [`Provisioner::complete_login`] validates a response against the connection of the org it
//! arrived for (`sso-assertion`), finds the email (`sso-email`), decides (`sso-policy`) and
//! writes the result in one transaction (`sso-store`); every attempt leaves a trace the org's
//! admins can list.
//!
//! The services above (`sso-grpc`, `sso-server`) use the provisioner alone: what they read
//! (org views, connections, SP metadata, purges) is a [`Provisioner`] method, and the store
//! types they name are re-exported here. `Provisioner::store` exists only with the `testing`
//! feature, for tests.
//!
//! ```
//! use sso_email::Email;
//! use sso_policy::Plan;
//! use sso_provisioning::Provisioner;
//! use sso_store::{EventQuery, Store};
//! use time::macros::datetime;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = datetime!(2025-03-01 09:00 UTC);
//! let store = Store::connect("sqlite::memory:").await?;
//! let sso = Provisioner::new(store, "https://sso.example.com");
//!
//! let org = sso.create_org("admin@example.com", "Example Corp", Plan::Growth, now).await?;
//! sso.add_verified_domain("admin@example.com", org.id, "example.com", now).await?;
//! assert_eq!(
//!     sso.service_provider(org.id).acs_url(),
//!     format!("https://sso.example.com/saml/2/acs/{}", org.id),
//! );
//!
//! // No IdP configured yet: an SSO login is refused with a stable reason and a safe message...
//! let refused = sso.begin_login(org.id, Some("/dashboard"), now).await.unwrap_err();
//! assert_eq!(refused.reason(), "no-connection");
//! assert_eq!(refused.user_message(), "Single sign-on is not available for this organization.");
//!
//! // ... and require-SSO cannot be turned on (lockout protection) ...
//! let locked = sso.set_require_sso("admin@example.com", org.id, true, now).await.unwrap_err();
//! assert_eq!(locked.reason(), "no-connection");
//!
//! // ... so members keep signing in with their password.
//! let member = Email::parse("jane@example.com")?;
//! let user = sso.store().get_or_create_user(&member, now).await?;
//! sso.store()
//!     .ensure_membership(org.id, user.record.id, sso_policy::Role::Member,
//!         sso_store::CreatedBy::Admin, now)
//!     .await?;
//! assert_eq!(sso.check_password_login(&member, org.id).await?.reason(), "sso-not-required");
//!
//! // Every attempt and every change left an event the org's admins can read, newest first.
//! let page = sso.list_traces(org.id, &EventQuery::new(10)).await?;
//! let kinds: Vec<_> = page.events.iter().map(|e| (e.kind.as_str(), e.reason.as_str())).collect();
//! assert_eq!(
//!     kinds,
//!     [
//!         ("require-sso-changed", "no-connection"),
//!         ("sso-login-start", "no-connection"),
//!         ("domain-added", "added"),
//!         ("org-created", "created"),
//!     ],
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # A login, step by step
//!
//! Before the transaction, without writing: read the org (plan, connection, domains); check
//! that SSO is in effect; build the connection's validation settings from the stored record
//! (certificates, opt-ins, clock skew, the org's SP entity ID and ACS URL); load the
//! AuthnRequest the RelayState names; validate the response; find the email.
//!
//! In one transaction: consume the AuthnRequest (solicited responses), record the assertion ID
//! (a second use on any server fails on the unique key: `replayed`), decide with
//! `sso_policy::sso_login` (existing members keep their role; new people need JIT on and a
//! verified domain), create the user, membership and default-project access, note the
//! successful login for lockout protection, and write the trace. A refusal rolls all of it
//! back; then only the trace is written, on its own, with every check that ran, the reason
//! code, the admin detail and the email places tried.
//!
//! # Test logins
//!
//! [`Provisioner::begin_test_login`] sends an AuthnRequest marked as a test (the plan must
//! include SSO and a connection must exist, enabled or not). Its response, completed through
//! the same calls, runs every check above and, in its transaction, consumes the request and
//! records the assertion ID, but only previews the JIT decision (`sso_policy::sso_login_preview`)
//! and marks as proven the configuration version the test started under (when it is still the
//! current one): no user, membership or project access is written. The caller gets
//! [`LoginError::TestLoginCompleted`] (or the refusal inside [`LoginError::TestLoginFailed`]),
//! never a login; [`Provisioner::test_login`] reads the result, and each response is traced as
//! [`SSO_TEST_LOGIN`].
//!
//! # Reason codes
//!
//! [`LoginError::reason`]: `org-not-found`; `plan-without-sso`, `no-connection`,
//! `connection-disabled`; `connection-misconfigured`; the AuthnRequest codes of
//! `sso-assertion` (`idp-endpoint-missing`, `sp-key-missing` ...); every validation code of
//! `sso-assertion` (`wrong-audience`, `digest-mismatch`, `expired`, `unsolicited-response`
//! ...); `no-valid-email`; `not-a-member`, `domain-not-verified`; `replayed`,
//! `request-expired`, `unknown-request`; `test-login-completed` (a test login's response: never a
//! sign-in); the store's codes (`database` ...).
//!
//! [`AdminError::reason`]: `no-sso-login-since-change` and the SSO-off codes,
//! `plan-without-default-projects`, `missing-justification`, `last-admin`,
//! `project-is-jit-default`, the metadata codes of
//! `sso-assertion`, the domain codes (`domain-public-suffix`, `domain-free-mail`,
//! `domain-not-claimed`, `domain-verified-elsewhere`, `domain-limit-reached`, and the DNS
//! check's `domain-record-missing`, `domain-token-mismatch`, `domain-lookup-failed`,
//! `domain-lookup-timeout`), and the store's codes (`not-found`, `conflict`, `invalid-input`,
//! `database`). [`PasswordLoginError::reason`]: `sso-required`, store codes.
//! [`CredentialError::reason`]: `unauthenticated`, `credential-expired`, `credential-revoked`,
//! store codes. [`SetupLinkError::reason`]: `unauthenticated`, `setup-link-expired`,
//! `setup-link-revoked`, `setup-link-wrong-org`, `setup-link-not-allowed`, store codes.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod admin;
mod codes;
mod config_cache;
mod error;
mod group_roles;
mod login;
mod scim;
mod test_login;
mod trace;
mod views;

pub use crate::{
    admin::{
        AddedMember, DEFAULT_CREDENTIAL_TTL, DEFAULT_SCIM_TOKEN_TTL, DEFAULT_SETUP_LINK_TTL,
        DOMAIN_CHECK_ACTOR, DomainChecks, DomainRecheck, ImportedFromUrl, ImportedMetadata,
        IssuedOrgCredential, IssuedSetupLink, MAX_CREDENTIAL_TTL, MAX_SETUP_LINK_TTL,
        MIN_CREDENTIAL_TTL, MIN_SETUP_LINK_TTL, NewMember, ORG_CREDENTIAL_PREFIX, OrgCredential,
        OrgCredentialCaller, REFRESH_ACTOR, RefreshOutcome, SCIM_TOKEN_PREFIX, SETUP_LINK_PREFIX,
        SETUP_PATH, SetupAbilities, SetupAbility, SetupLink, SetupLinkCaller, ValidationOptions,
        is_org_credential, kinds,
    },
    codes::{DEFAULT_CODE_LIFETIME, LoginCode},
    error::{
        AdminError, CredentialError, DEACTIVATED_MESSAGE, LoginError, PasswordLoginError,
        RedeemError, SetupLinkError, SpMetadataError,
    },
    login::{DEFAULT_REQUEST_LIFETIME, LoginOutcome, LoginStart, PasswordCheck, Provisioner},
    scim::{
        MAX_SCIM_GROUP_MEMBERS, ScimCaller, ScimError, ScimGroup, ScimGroupInput, ScimUser,
        ScimUserInput,
    },
    test_login::{
        JitPreview, TEST_RESULT_KEPT, TestLogin, TestLoginCheck, TestLoginStart, TestLoginStatus,
    },
    trace::{SSO_LOGIN, SSO_LOGIN_CODE, SSO_LOGIN_START, SSO_TEST_LOGIN, SSO_TEST_LOGIN_START},
    views::{ConnectionView, SpMetadata, connection_warnings},
};

/// The store's types that are part of this crate's API: the ids, records, cursors and errors
/// the layers above name, so that they never depend on `sso-store` themselves.
pub use sso_store::{
    ConnectionId, ConnectionOptions, ConnectionRecord, CreatedBy, DomainClaim, DomainState,
    EventCursor, EventId, EventOutcome, EventPage, EventQuery, EventRecord, IdpConfig, MAX_BATCH,
    MAX_CLOCK_SKEW, MAX_CREDENTIAL_DESCRIPTION, MAX_CREDENTIALS_LISTED, MAX_DOMAINS_PER_ORG,
    MAX_NAME_PREFIX, MAX_PAGE, MAX_PROJECT_ID_BYTES, MAX_PROJECT_NAME_CHARS, MemberCursor,
    MemberPage, MemberQuery, MemberRecord, MetadataSource, MetadataValidity, NewProject,
    OrgCredentialId, OrgCursor, OrgId, OrgPage, OrgQuery, OrgRecord, OrgSnapshot, ParseIdError,
    ProjectChange, ProjectCursor, ProjectId, ProjectPage, ProjectQuery, ProjectRecord, PurgeCounts,
    RefreshState, ScimGroupId, ScimLookup, ScimMember, ScimUserId, SetupLinkId, StoreError,
    UpsertedProject, UserId, UserRecord, VerifiedBy,
};
