//! What an org's directory does over SCIM, as audited transactions: users tied to a user (by
//! email) and that user's membership, deactivation as a suspended membership, groups whose
//! names feed the connection's group rules.
//!
//! The rules:
//! - A user's email must be at one of the org's verified domains, like JIT: one org's
//!   directory cannot mint members from another company's addresses.
//! - Creating a user for a person who is a member already adopts that membership (their role
//!   stays); otherwise the membership is created with the org's JIT default role (Member when
//!   JIT is off), marked `created_by = scim`.
//! - `active: false` suspends the membership: role and projects stay, but the person signs in
//!   neither by SSO (`member-deactivated`) nor by password. `active: true` restores it.
//! - A changed email moves the membership to the new address's user with the same role.
//! - Deleting a user removes its membership and project access, like an admin's removal, but
//!   even for the last Admin: a directory's deprovisioning is not refused.
//! - Every write is one transaction with its audit event (`scim-user`, `scim-group`), whose
//!   actor is the token (`scim-token:<id>`).

use serde_json::{Value, json};
use sso_email::Email;
use sso_policy::Role;
use sso_store::{
    CreatedBy, EventOutcome, NewEvent, OrgCredentialId, OrgId, ScimGroupId, ScimGroupRecord,
    ScimGroupWrite, ScimLookup, ScimMember, ScimUserId, ScimUserRecord, ScimUserWrite, StoreError,
    Transaction, UserId,
};
use time::OffsetDateTime;

use crate::admin::kinds;
use crate::login::Provisioner;

/// The most members one group may have.
pub const MAX_SCIM_GROUP_MEMBERS: usize = 10_000;

/// Who writes: the SCIM token and its org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimCaller {
    /// The token presented.
    pub token: OrgCredentialId,
    /// Its org.
    pub org: OrgId,
}

impl ScimCaller {
    /// The audit actor: `scim-token:<id>`.
    pub fn actor(&self) -> String {
        format!("scim-token:{}", self.token)
    }
}

/// Why a SCIM operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScimError {
    /// No such resource in the org.
    #[error("no such resource (not-found)")]
    NotFound,
    /// The name is taken in the org, or the person has a SCIM user already.
    #[error("{0} (scim-uniqueness)")]
    Uniqueness(String),
    /// The resource changed since the version the caller named.
    #[error("the resource changed since that version (scim-version-mismatch)")]
    VersionMismatch,
    /// A value that cannot be stored.
    #[error("{detail} ({reason})")]
    InvalidValue {
        /// Stable reason code.
        reason: &'static str,
        /// Words for the admin.
        detail: String,
    },
    /// A listing matched more than the caller's limit.
    #[error("more resources match than can be returned (scim-too-many)")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl ScimError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::Uniqueness(_) => "scim-uniqueness",
            Self::VersionMismatch => "scim-version-mismatch",
            Self::InvalidValue { reason, .. } => reason,
            Self::TooMany => "scim-too-many",
            Self::Store(e) => e.reason(),
        }
    }

    fn invalid(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::InvalidValue {
            reason,
            detail: detail.into(),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::NotFound,
            StoreError::Conflict { what } => Self::Uniqueness(format!("{what} already exists")),
            other => Self::Store(other),
        }
    }
}

/// A user resource to write, as the protocol layer read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUserInput {
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// The address the person signs in with.
    pub email: Option<String>,
    /// `active`.
    pub active: bool,
    /// The resource document.
    pub document: Value,
}

/// A user resource as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    /// Its id.
    pub id: ScimUserId,
    /// The user it provisions.
    pub user: UserId,
    /// That user's normalized email.
    pub email: Email,
    /// What was last written.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`.
    pub active: bool,
    /// The resource document.
    pub document: Value,
    /// Increases on every write.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

impl From<ScimUserRecord> for ScimUser {
    fn from(r: ScimUserRecord) -> Self {
        Self {
            id: r.id,
            user: r.user,
            email: r.email,
            user_name: r.write.user_name,
            external_id: r.write.external_id,
            display_name: r.write.display_name,
            active: r.write.active,
            document: r.write.document,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A group resource to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimGroupInput {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Member user resource ids, as sent.
    pub members: Vec<String>,
    /// The resource document, without members.
    pub document: Value,
}

/// A group resource as stored, with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimGroup {
    /// Its id.
    pub id: ScimGroupId,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Its members, in the order they were added.
    pub members: Vec<ScimMember>,
    /// The resource document.
    pub document: Value,
    /// Increases on every write.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

fn group(r: ScimGroupRecord, members: Vec<ScimMember>) -> ScimGroup {
    ScimGroup {
        id: r.id,
        display_name: r.write.display_name,
        external_id: r.write.external_id,
        members,
        document: r.write.document,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn user_write(input: &ScimUserInput) -> ScimUserWrite {
    ScimUserWrite {
        user_name: input.user_name.clone(),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        active: input.active,
        document: input.document.clone(),
    }
}

/// A resource id from a URL or a body: the id types' own parsing; text that is not one of
/// ours names no resource.
fn resource_id<Id: std::str::FromStr>(text: &str) -> Result<Id, ScimError> {
    text.parse().map_err(|_| ScimError::NotFound)
}

/// The email a user resource signs in with, checked against the org's verified domains.
async fn checked_email(
    tx: &Transaction,
    org: OrgId,
    input: &ScimUserInput,
) -> Result<Email, ScimError> {
    let text = input.email.as_deref().ok_or_else(|| {
        ScimError::invalid(
            "scim-no-email",
            "the user has no email: give `emails` (primary or work) or an email as `userName`",
        )
    })?;
    let email = Email::parse(text)
        .map_err(|e| ScimError::invalid("scim-invalid-email", format!("{text:?}: {e}")))?;
    let domains = tx.verified_domains(org).await?;
    if !domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(email.domain()))
    {
        return Err(ScimError::invalid(
            "scim-email-domain-unverified",
            format!(
                "{} is not one of the org's verified domains; verify it before provisioning its people",
                email.domain()
            ),
        ));
    }
    Ok(email)
}

/// Member ids as stored, each a user resource of `org`.
async fn checked_members(
    tx: &Transaction,
    org: OrgId,
    members: &[String],
) -> Result<Vec<ScimUserId>, ScimError> {
    if members.len() > MAX_SCIM_GROUP_MEMBERS {
        return Err(ScimError::invalid(
            "scim-too-many-members",
            format!(
                "{} members; at most {MAX_SCIM_GROUP_MEMBERS}",
                members.len()
            ),
        ));
    }
    let mut ids = Vec::with_capacity(members.len());
    let mut seen = std::collections::HashSet::new();
    for text in members {
        let id: ScimUserId = text.parse().map_err(|_| unknown_member(text))?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    if tx.count_scim_users_in(org, &ids).await? != ids.len() {
        return Err(ScimError::invalid(
            "scim-unknown-member",
            "a member is not a user of this org's directory",
        ));
    }
    Ok(ids)
}

fn unknown_member(text: &str) -> ScimError {
    let shown: String = text.chars().take(64).collect();
    ScimError::invalid(
        "scim-unknown-member",
        format!("no user {shown:?} in this org's directory"),
    )
}

/// The role a membership the directory creates starts with.
async fn starting_role(tx: &Transaction, org: OrgId) -> Result<Role, ScimError> {
    let snapshot = tx.org_snapshot(org).await?;
    Ok(snapshot.policy().jit.default_role.unwrap_or(Role::Member))
}

/// Makes `user` a member of `org` (adopting an existing membership), suspended or not.
async fn ensure_member(
    tx: &Transaction,
    org: OrgId,
    user: UserId,
    role: Option<Role>,
    active: bool,
    now: OffsetDateTime,
) -> Result<bool, ScimError> {
    let created = match tx.membership(org, user).await? {
        Some(_) => false,
        None => {
            let role = match role {
                Some(role) => role,
                None => starting_role(tx, org).await?,
            };
            tx.create_membership(org, user, role, CreatedBy::Scim, now)
                .await?
                .created
        }
    };
    tx.set_membership_suspended(org, user, (!active).then_some(now))
        .await?;
    Ok(created)
}

/// Moves the membership `before` provisioned to the user of `email` (created if new), with
/// the same role: the user resource now provisions that user.
async fn move_membership(
    tx: &Transaction,
    org: OrgId,
    before: &ScimUser,
    email: &Email,
    active: bool,
    now: OffsetDateTime,
) -> Result<UserId, ScimError> {
    let user = tx.get_or_create_user(email, now).await?.record.id;
    if tx
        .scim_user_of(org, user)
        .await?
        .is_some_and(|other| other != before.id)
    {
        return Err(ScimError::Uniqueness(format!(
            "{email} is provisioned by another user resource already"
        )));
    }
    let role = tx.membership(org, before.user).await?.map(|m| m.role);
    ensure_member(tx, org, user, role, active, now).await?;
    tx.remove_membership(org, before.user).await?;
    Ok(user)
}

impl Provisioner {
    /// The SCIM base URL of `org` to give its IdP: `<public base URL>/scim/v2/<org>`.
    pub fn scim_base_url(&self, org: OrgId) -> String {
        format!("{}/scim/v2/{org}", self.base_url.trim_end_matches('/'))
    }

    /// Runs a SCIM write in one transaction with its audit event; a refusal is recorded on its
    /// own (not-found and version mismatches are not: they are the protocol's normal flow).
    async fn scim_audited<T, F>(
        &self,
        caller: &ScimCaller,
        kind: &str,
        now: OffsetDateTime,
        change: F,
    ) -> Result<T, ScimError>
    where
        F: for<'t> AsyncFnOnce(&'t Transaction) -> Result<(T, &'static str, Value), ScimError>,
    {
        let tx = self.store.begin().await?;
        match change(&tx).await {
            Ok((value, reason, detail)) => {
                let event = NewEvent::new(caller.org, kind, EventOutcome::Success, reason)
                    .actor(caller.actor())
                    .detail(detail);
                tx.record_event(&event, now).await?;
                tx.commit().await?;
                Ok(value)
            }
            Err(error) => {
                drop(tx.rollback().await);
                if !matches!(error, ScimError::NotFound | ScimError::VersionMismatch) {
                    self.scim_refusal(caller, kind, &error, now).await;
                }
                Err(error)
            }
        }
    }

    async fn scim_refusal(
        &self,
        caller: &ScimCaller,
        kind: &str,
        error: &ScimError,
        now: OffsetDateTime,
    ) {
        let outcome = match error {
            ScimError::Store(e) if e.is_infrastructure() => EventOutcome::Failed,
            _ => EventOutcome::Refused,
        };
        let event = NewEvent::new(caller.org, kind, outcome, error.reason())
            .actor(caller.actor())
            .detail(json!({ "error": error.to_string() }));
        if let Err(e) = self.store.record_event(&event, now).await {
            tracing::warn!(org = caller.org.get(), kind, "audit event not written: {e}");
        }
    }

    /// Creates a user resource, and the membership it provisions (see the module's rules).
    pub async fn scim_create_user(
        &self,
        caller: &ScimCaller,
        input: &ScimUserInput,
        now: OffsetDateTime,
    ) -> Result<ScimUser, ScimError> {
        let org = caller.org;
        self.scim_audited(caller, kinds::SCIM_USER, now, async |tx| {
            let email = checked_email(tx, org, input).await?;
            let user = tx.get_or_create_user(&email, now).await?.record;
            if tx.scim_user_of(org, user.id).await?.is_some() {
                return Err(ScimError::Uniqueness(format!(
                    "{email} is provisioned by another user resource already"
                )));
            }
            let created = ensure_member(tx, org, user.id, None, input.active, now).await?;
            let id = tx
                .create_scim_user(org, user.id, &user_write(input), now)
                .await?;
            let stored = found_user(tx.scim_user(org, id).await?)?;
            let detail = json!({
                "scim_user": id.get(), "email": email.as_str(), "active": input.active,
                "membership": if created { "created" } else { "adopted" },
            });
            Ok((stored, "created", detail))
        })
        .await
    }

    /// The user resource `id` of the caller's org.
    pub async fn scim_user(&self, org: OrgId, id: &str) -> Result<ScimUser, ScimError> {
        found_user(self.store.scim_user(org, resource_id(id)?).await?)
    }

    /// The org's user resources matching `lookup`, oldest first; more than `limit` is
    /// [`ScimError::TooMany`].
    pub async fn scim_find_users(
        &self,
        org: OrgId,
        lookup: ScimLookup<'_>,
        limit: usize,
    ) -> Result<Vec<ScimUser>, ScimError> {
        let asked = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        let found = self.store.find_scim_users(org, lookup, asked).await?;
        if found.len() > limit {
            return Err(ScimError::TooMany);
        }
        Ok(found.into_iter().map(ScimUser::from).collect())
    }

    /// Replaces user resource `id` when its version is `expected` (any when `None`): a new
    /// email moves the membership, `active` suspends or restores it.
    pub async fn scim_replace_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        input: &ScimUserInput,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<ScimUser, ScimError> {
        let org = caller.org;
        let id: ScimUserId = resource_id(id)?;
        self.scim_audited(caller, kinds::SCIM_USER, now, async |tx| {
            let before = found_user(tx.scim_user(org, id).await?)?;
            if expected.is_some_and(|v| v != before.version) {
                return Err(ScimError::VersionMismatch);
            }
            let email = checked_email(tx, org, input).await?;
            let mut user = before.user;
            let mut reason = "updated";
            if email != before.email {
                user = move_membership(tx, org, &before, &email, input.active, now).await?;
                reason = "email-changed";
            } else {
                ensure_member(tx, org, user, None, input.active, now).await?;
                if before.active != input.active {
                    reason = if input.active {
                        "reactivated"
                    } else {
                        "deactivated"
                    };
                }
            }
            tx.update_scim_user(
                org,
                id,
                user,
                &user_write(input),
                expected.or(Some(before.version)),
                now,
            )
            .await?
            .ok_or(ScimError::VersionMismatch)?;
            let stored = found_user(tx.scim_user(org, id).await?)?;
            let detail = json!({
                "scim_user": id.get(), "email": email.as_str(), "active": input.active,
                "previous_email": (email != before.email).then(|| before.email.as_str().to_owned()),
            });
            Ok((stored, reason, detail))
        })
        .await
    }

    /// Deletes user resource `id` and removes the membership it provisioned.
    pub async fn scim_delete_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(), ScimError> {
        let org = caller.org;
        let id: ScimUserId = resource_id(id)?;
        self.scim_audited(caller, kinds::SCIM_USER, now, async |tx| {
            let before = found_user(tx.scim_user(org, id).await?)?;
            let user = tx
                .delete_scim_user(org, id, expected.or(Some(before.version)))
                .await?
                .ok_or(ScimError::VersionMismatch)?;
            let access = tx.remove_membership(org, user).await?;
            let detail = json!({
                "scim_user": id.get(), "email": before.email.as_str(),
                "membership_removed": access.is_some(), "project_access_removed": access,
            });
            Ok(((), "deleted", detail))
        })
        .await
    }

    /// Creates a group resource with its members.
    pub async fn scim_create_group(
        &self,
        caller: &ScimCaller,
        input: &ScimGroupInput,
        now: OffsetDateTime,
    ) -> Result<ScimGroup, ScimError> {
        let org = caller.org;
        self.scim_audited(caller, kinds::SCIM_GROUP, now, async |tx| {
            let members = checked_members(tx, org, &input.members).await?;
            let record = tx.create_scim_group(org, &group_write(input), now).await?;
            tx.set_scim_group_members(record.id, &members, now).await?;
            let stored = found_group(tx.scim_group(org, record.id).await?)?;
            let detail = json!({
                "scim_group": record.id.get(), "display_name": input.display_name,
                "members": members.len(),
            });
            Ok((stored, "created", detail))
        })
        .await
    }

    /// The group resource `id` of the org.
    pub async fn scim_group(&self, org: OrgId, id: &str) -> Result<ScimGroup, ScimError> {
        found_group(self.store.scim_group(org, resource_id(id)?).await?)
    }

    /// The org's group resources matching `lookup`, with their members, oldest first; more
    /// than `limit` is [`ScimError::TooMany`].
    pub async fn scim_find_groups(
        &self,
        org: OrgId,
        lookup: ScimLookup<'_>,
        limit: usize,
    ) -> Result<Vec<ScimGroup>, ScimError> {
        let asked = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        let found = self.store.find_scim_groups(org, lookup, asked).await?;
        if found.len() > limit {
            return Err(ScimError::TooMany);
        }
        let ids: Vec<ScimGroupId> = found.iter().map(|g| g.id).collect();
        let mut members = self.store.scim_group_members(&ids).await?;
        Ok(found
            .into_iter()
            .map(|g| {
                let m = members.remove(&g.id).unwrap_or_default();
                group(g, m)
            })
            .collect())
    }

    /// Replaces group resource `id`, its members included, when its version is `expected`.
    pub async fn scim_replace_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        input: &ScimGroupInput,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<ScimGroup, ScimError> {
        let org = caller.org;
        let id: ScimGroupId = resource_id(id)?;
        self.scim_audited(caller, kinds::SCIM_GROUP, now, async |tx| {
            let before = found_group(tx.scim_group(org, id).await?)?;
            if expected.is_some_and(|v| v != before.version) {
                return Err(ScimError::VersionMismatch);
            }
            let members = checked_members(tx, org, &input.members).await?;
            tx.update_scim_group(
                org,
                id,
                &group_write(input),
                expected.or(Some(before.version)),
                now,
            )
            .await?
            .ok_or(ScimError::VersionMismatch)?;
            tx.set_scim_group_members(id, &members, now).await?;
            let stored = found_group(tx.scim_group(org, id).await?)?;
            let detail = json!({
                "scim_group": id.get(), "display_name": input.display_name,
                "previous_display_name": (before.display_name != input.display_name)
                    .then_some(before.display_name),
                "members": members.len(),
            });
            Ok((stored, "updated", detail))
        })
        .await
    }

    /// Deletes group resource `id`.
    pub async fn scim_delete_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(), ScimError> {
        let org = caller.org;
        let id: ScimGroupId = resource_id(id)?;
        self.scim_audited(caller, kinds::SCIM_GROUP, now, async |tx| {
            let before = found_group(tx.scim_group(org, id).await?)?;
            if !tx
                .delete_scim_group(org, id, expected.or(Some(before.version)))
                .await?
            {
                return Err(ScimError::VersionMismatch);
            }
            let detail = json!({ "scim_group": id.get(), "display_name": before.display_name });
            Ok(((), "deleted", detail))
        })
        .await
    }
}

fn group_write(input: &ScimGroupInput) -> ScimGroupWrite {
    ScimGroupWrite {
        display_name: input.display_name.clone(),
        external_id: input.external_id.clone(),
        document: input.document.clone(),
    }
}

fn found_user(record: Option<ScimUserRecord>) -> Result<ScimUser, ScimError> {
    record.map(ScimUser::from).ok_or(ScimError::NotFound)
}

fn found_group(record: Option<(ScimGroupRecord, Vec<ScimMember>)>) -> Result<ScimGroup, ScimError> {
    record
        .map(|(g, members)| group(g, members))
        .ok_or(ScimError::NotFound)
}
