//! Durable state of the SSO service: organizations, people, SSO connections, the one-time
//! values of a login and the traces admins read, on SQLite (embedded, the default) or
//! PostgreSQL, through one code path (sea-orm).
//!
//! ```
//! use sso_email::Email;
//! use sso_policy::{Plan, Role};
//! use sso_store::{CreatedBy, Store};
//! use time::macros::datetime;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = datetime!(2025-03-01 09:00 UTC);
//! // Created and migrated on first use; a file path works the same (`sqlite://sso.db`).
//! let store = Store::connect("sqlite::memory:").await?;
//!
//! let org = store.create_org("Example Corp", Plan::Enterprise, now).await?;
//! store.add_verified_domain(org.id, "Example.COM", now).await?;
//!
//! // A first login, as one transaction: all of it or none of it.
//! let email = Email::parse("Jane.Doe@example.com")?;
//! let tx = store.begin().await?;
//! let user = tx.get_or_create_user(&email, now).await?;
//! let member = tx
//!     .ensure_membership(org.id, user.record.id, Role::Member, CreatedBy::Jit, now)
//!     .await?;
//! tx.commit().await?;
//! assert!(user.created && member.created);
//!
//! // The same again changes nothing: one user, one membership, whatever the number of calls.
//! let again = store.get_or_create_user(&email, now).await?;
//! assert_eq!((again.record.id, again.created), (user.record.id, false));
//!
//! // Uniqueness is the database's: another org cannot verify the same domain.
//! let other = store.create_org("Other", Plan::Growth, now).await?;
//! let taken = store.add_verified_domain(other.id, "example.com", now).await.unwrap_err();
//! assert_eq!(taken.reason(), "conflict");
//! # Ok(())
//! # }
//! ```
//!
//! # Shape
//!
//! [`Store`] is a connection pool; [`Store::begin`] gives a [`Transaction`], which has the
//! same query methods plus `commit` and `rollback`, so a caller decides what must happen
//! together. Every method that depends on the time takes `now`: the store has no clock.
//!
//! # Guarantees
//!
//! - **Uniqueness by constraint.** One organization per verified domain, one user per
//!   normalized email, one membership per (organization, user), one use per (connection,
//!   assertion ID), one consumption per AuthnRequest. These hold across servers sharing a
//!   PostgreSQL database, because the database decides, not process memory.
//! - **Convergent provisioning.** [`Store::get_or_create_user`] and
//!   [`Store::ensure_membership`] insert with `ON CONFLICT DO NOTHING` and re-read, so any
//!   number of concurrent first logins end with one user and one membership and all succeed.
//! - **Replays are typed.** A second [`Store::record_assertion`] of an assertion, or a second
//!   [`Store::consume_authn_request`], fails with [`StoreError::Replayed`] (`replayed`).
//! - **Projects by the host product's ids.** A [`ProjectId`] is the host product's opaque text,
//!   unique per organization; members and projects list in byte order with keyset paging
//!   ([`Store::list_members`], [`Store::list_projects`]) on both backends.
//! - **Rules over several rows serialize.** [`Store::lock_org`] locks the organization's row
//!   (`FOR UPDATE`), so a check such as "another Admin remains" holds under concurrent changes.
//! - **Lockout-protection facts.** A connection's configuration version and the time of the
//!   last successful login with that version are kept together
//!   ([`Store::record_successful_login`]), and [`OrgSnapshot::policy`] hands them to
//!   `sso-policy`.
//!
//! # Backends
//!
//! `sqlite:` URLs open (and create) a file in WAL mode with a busy timeout and foreign keys on;
//! transactions take the write lock first so that concurrent writers wait instead of failing.
//! `postgres://` URLs connect to an existing database. [`Store::connect`] applies pending
//! migrations under a lock, so servers may start together. Times are stored as UTC with
//! microsecond precision.
//!
//! # Errors
//!
//! [`StoreError::reason`] codes: `not-found`, `replayed`, `expired`, `conflict`,
//! `invalid-input`, `corrupt-data`, `database`. [`StoreError::is_infrastructure`] tells a
//! failure from a refusal; the database's own error stays opaque ([`DatabaseError`]).
//!
//! # Features
//!
//! `testing` (for dev-dependencies only) exposes the sea-orm entities, sea-orm itself and
//! the raw connection, for tests that look at the tables directly. Without it, the methods
//! of [`Store`] are the only way in.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The tables as sea-orm entities: private, except to tests (`testing` feature).
#[cfg(feature = "testing")]
pub mod entity;
#[cfg(not(feature = "testing"))]
mod entity;

mod checkpoint;
mod codes;
mod connections;
mod credentials;
mod domains;
mod error;
mod events;
mod ids;
mod instant;
mod lists;
mod login_context;
mod logins;
mod members;
mod metadata_source;
mod migration;
mod org_list;
mod orgs;
mod people;
mod projects;
mod scim;
mod setup_links;
mod store;
mod test_logins;
mod text_once;

pub use crate::{
    codes::{LoginCodeRecord, NewLoginCode},
    connections::{ConnectionOptions, ConnectionRecord, IdpConfig, MAX_CLOCK_SKEW},
    credentials::{
        CredentialKind, MAX_CREDENTIAL_DESCRIPTION, MAX_CREDENTIALS_LISTED, NewOrgCredential,
        OrgCredentialRecord,
    },
    domains::{
        CheckCount, DomainClaim, DomainState, DueDomainCheck, MAX_DOMAINS_PER_ORG, VerifiedBy,
        normalize_domain,
    },
    error::{DatabaseError, StoreError},
    events::{EventCursor, EventOutcome, EventPage, EventQuery, EventRecord, MAX_PAGE, NewEvent},
    ids::{
        ConnectionId, EventId, MAX_PROJECT_ID_BYTES, OrgCredentialId, OrgId, ParseIdError,
        ProjectId, ScimGroupId, ScimUserId, SetupLinkId, UserId,
    },
    lists::{MAX_BATCH, MemberCursor, ProjectCursor},
    logins::{AuthnRequestRecord, NewAuthnRequest, OneTimeValue, PurgeCounts, RequestPurpose},
    members::{MemberPage, MemberQuery, MemberRecord},
    metadata_source::{
        DueRefresh, MAX_REFRESH_INTERVAL, MIN_REFRESH_INTERVAL, MetadataSource, MetadataValidity,
        RefreshState,
    },
    org_list::{MAX_NAME_PREFIX, OrgCursor, OrgPage, OrgQuery},
    orgs::{OrgRecord, OrgSnapshot},
    people::{CreatedBy, Ensured, MembershipRecord, UserRecord},
    projects::{
        MAX_PROJECT_NAME_CHARS, NewProject, ProjectChange, ProjectPage, ProjectQuery,
        ProjectRecord, UpsertedProject,
    },
    scim::{
        ScimGroupRecord, ScimGroupWrite, ScimLookup, ScimMember, ScimUserRecord, ScimUserWrite,
    },
    setup_links::{MAX_SETUP_LINKS_LISTED, NewSetupLink, SetupLinkRecord},
    store::{Store, StoreBuilder, Transaction},
    test_logins::{NewTestLogin, TestLoginRecord, TestLoginResult, TestLoginState},
};

/// The sea-orm this crate is built on, for tests that query the tables directly
/// ([`Store::connection`], [`entity`]). Only with the `testing` feature: no shipped crate
/// reaches past the store's methods.
#[cfg(feature = "testing")]
pub use sea_orm;
