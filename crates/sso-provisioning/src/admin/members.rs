//! Members as admins manage them: listed and read, their role changed, removed with their
//! project access, and added in bulk for people the host product already has. The org's
//! last Admin is never demoted or removed.
//!
//! Every change locks the org first (`Store::lock_org`), so two changes that each leave one
//! Admin (two admins demoting each other at once) run one after the other and the second is
//! refused, on PostgreSQL as on SQLite.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Value, json};
use sso_email::Email;
use sso_policy::Role;
use sso_store::{
    CreatedBy, MAX_BATCH, MemberPage, MemberQuery, MemberRecord, OrgId, ProjectId, StoreError,
    Transaction,
};
use time::OffsetDateTime;

use super::{Audited, Refused, kinds};
use crate::error::AdminError;
use crate::login::Provisioner;

/// Someone the host product already has, to add as a member: their email, role and the
/// org's projects they get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Their email (normalized by `sso_email::Email`).
    pub email: Email,
    /// The role they get if they are not a member yet.
    pub role: Role,
    /// The org's projects they get if they are not a member yet.
    pub projects: Vec<ProjectId>,
}

/// One person of [`Provisioner::add_members`]: the member as stored afterwards, and whether
/// this call added them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddedMember {
    /// The member as stored.
    pub member: MemberRecord,
    /// `false` for someone who was a member already (left exactly as they were).
    pub created: bool,
}

fn not_a_member() -> AdminError {
    AdminError::Store(StoreError::NotFound { what: "member" })
}

/// A project list as an audit event shows it.
fn ids(projects: &[ProjectId]) -> Value {
    projects.iter().map(|p| Value::from(p.as_str())).collect()
}

/// Refuses a change that takes the Admin role from `member` when no other Admin is left.
/// Call with the org locked.
async fn keep_an_admin(
    tx: &Transaction,
    org: OrgId,
    member: &MemberRecord,
) -> Result<(), AdminError> {
    if member.role == Role::Admin && tx.count_admins(org).await? <= 1 {
        return Err(AdminError::LastAdmin(member.user.email.as_str().to_owned()));
    }
    Ok(())
}

/// The member with `email`, with the org locked for the change that follows.
async fn locked_member(
    tx: &Transaction,
    org: OrgId,
    email: &Email,
) -> Result<Option<MemberRecord>, AdminError> {
    tx.lock_org(org).await?;
    Ok(tx.member(org, email).await?)
}

impl Provisioner {
    /// The org's members by email, filtered as `query` says, one page at a time.
    pub async fn list_members(
        &self,
        org: OrgId,
        query: &MemberQuery,
    ) -> Result<MemberPage, AdminError> {
        self.store.org(org).await?;
        Ok(self.store.list_members(org, query).await?)
    }

    /// The member of the org with this email (`not-found` otherwise).
    pub async fn member(&self, org: OrgId, email: &Email) -> Result<MemberRecord, AdminError> {
        self.store.org(org).await?;
        self.store
            .member(org, email)
            .await?
            .ok_or_else(not_a_member)
    }

    /// Changes a member's role. Taking the Admin role from the org's last Admin is refused
    /// (`last-admin`); giving the role they have changes nothing (audited as `unchanged`).
    pub async fn set_member_role(
        &self,
        actor: &str,
        org: OrgId,
        email: &Email,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<MemberRecord, AdminError> {
        let wanted = json!({ "email": email.as_str(), "to": role.code() });
        self.audited(
            Some(org),
            kinds::MEMBER_ROLE_CHANGED,
            actor,
            now,
            async |tx| {
                let fail = |e: AdminError| (e, wanted.clone());
                let mut member = locked_member(tx, org, email)
                    .await
                    .map_err(fail)?
                    .ok_or_else(|| fail(not_a_member()))?;
                let from = member.role;
                let detail = json!({
                    "email": email.as_str(),
                    "user": member.user.id.get(),
                    "from": from.code(),
                    "to": role.code(),
                });
                if from == role {
                    return Ok(Audited::new(member, org, "unchanged", detail));
                }
                if role != Role::Admin {
                    keep_an_admin(tx, org, &member).await.map_err(fail)?;
                }
                tx.set_member_role(org, member.user.id, role)
                    .await
                    .map_err(|e| fail(e.into()))?;
                member.role = role;
                Ok(Audited::new(member, org, "changed", detail))
            },
        )
        .await
    }

    /// Removes a member and their access to the org's projects; the user stays (they may
    /// belong to other orgs). `false` when they were not a member. The org's last Admin
    /// cannot be removed (`last-admin`).
    pub async fn remove_member(
        &self,
        actor: &str,
        org: OrgId,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<bool, AdminError> {
        let wanted = json!({ "email": email.as_str() });
        self.audited(Some(org), kinds::MEMBER_REMOVED, actor, now, async |tx| {
            let fail = |e: AdminError| (e, wanted.clone());
            let Some(member) = locked_member(tx, org, email).await.map_err(fail)? else {
                return Ok(Audited::new(false, org, "not-a-member", wanted.clone()));
            };
            keep_an_admin(tx, org, &member).await.map_err(fail)?;
            tx.remove_membership(org, member.user.id)
                .await
                .map_err(|e| fail(e.into()))?;
            let detail = json!({
                "email": email.as_str(),
                "user": member.user.id.get(),
                "role": member.role.code(),
                "projects_removed": ids(&member.projects),
            });
            Ok(Audited::new(true, org, "removed", detail))
        })
        .await
    }

    /// Adds people the host product already has (with a password) as members, all or
    /// nothing: each gets a user if needed, the membership with their role and access to
    /// their projects. Someone who is a member already is left exactly as they are (roles
    /// change only through [`set_member_role`](Self::set_member_role)) and reported with
    /// `created: false`, so the call can be repeated.
    ///
    /// At most [`MAX_BATCH`] people, each email once (`invalid-input` naming the item), and
    /// only projects the org has (`not-found` naming the item). Returns the members in the
    /// order given.
    pub async fn add_members(
        &self,
        actor: &str,
        org: OrgId,
        members: &[NewMember],
        now: OffsetDateTime,
    ) -> Result<Vec<AddedMember>, AdminError> {
        let wanted = json!({ "count": members.len() });
        let checked = check_batch(members);
        self.audited(Some(org), kinds::MEMBERS_ADDED, actor, now, async |tx| {
            let fail = |e: AdminError| (e, wanted.clone());
            checked.map_err(fail)?;
            tx.lock_org(org).await.map_err(|e| fail(e.into()))?;
            check_projects(tx, org, members).await.map_err(fail)?;
            add_each(tx, org, members, now).await
        })
        .await
    }
}

/// The batch's size and repeated emails: refused before any work.
fn check_batch(members: &[NewMember]) -> Result<(), AdminError> {
    if members.len() > MAX_BATCH {
        return Err(AdminError::Store(StoreError::InvalidInput {
            what: "members",
            detail: format!("{} members; at most {MAX_BATCH} at once", members.len()),
        }));
    }
    let mut seen = HashSet::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        if member.projects.len() > MAX_BATCH {
            return Err(AdminError::InvalidItem {
                field: "members",
                index,
                detail: format!("{} projects; at most {MAX_BATCH}", member.projects.len()),
            });
        }
        if !seen.insert(&member.email) {
            return Err(AdminError::InvalidItem {
                field: "members",
                index,
                detail: format!("{} is listed twice", member.email),
            });
        }
    }
    Ok(())
}

/// Every project named belongs to the org, or the first item naming one that does not is
/// refused.
async fn check_projects(
    tx: &Transaction,
    org: OrgId,
    members: &[NewMember],
) -> Result<(), AdminError> {
    let named: BTreeSet<&ProjectId> = members.iter().flat_map(|m| &m.projects).collect();
    if named.is_empty() {
        return Ok(());
    }
    let named: Vec<ProjectId> = named.into_iter().cloned().collect();
    let found: HashSet<ProjectId> = tx
        .projects_by_id(org, &named)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    for (index, member) in members.iter().enumerate() {
        if let Some(missing) = member.projects.iter().find(|p| !found.contains(*p)) {
            return Err(AdminError::unknown_project("members", index, missing));
        }
    }
    Ok(())
}

/// Adds each person who is not a member yet, and reads every one back.
async fn add_each(
    tx: &Transaction,
    org: OrgId,
    members: &[NewMember],
    now: OffsetDateTime,
) -> Result<Audited<Vec<AddedMember>>, Refused> {
    let fail = |e: StoreError| (AdminError::from(e), json!({ "count": members.len() }));
    let mut out = Vec::with_capacity(members.len());
    let mut added = Vec::new();
    let mut existing = Vec::new();
    for wanted in members {
        let user = tx
            .get_or_create_user(&wanted.email, now)
            .await
            .map_err(fail)?;
        let membership = tx
            .ensure_membership(org, user.record.id, wanted.role, CreatedBy::Admin, now)
            .await
            .map_err(fail)?;
        if membership.created {
            tx.grant_project_access(org, user.record.id, &wanted.projects, CreatedBy::Admin, now)
                .await
                .map_err(fail)?;
            added.push(json!({
                "email": wanted.email.as_str(),
                "user": user.record.id.get(),
                "role": wanted.role.code(),
                "projects": ids(&wanted.projects),
            }));
        } else {
            existing.push(Value::from(wanted.email.as_str()));
        }
        let member = tx
            .member(org, &wanted.email)
            .await
            .map_err(fail)?
            .ok_or_else(|| fail(StoreError::NotFound { what: "member" }))?;
        out.push(AddedMember {
            member,
            created: membership.created,
        });
    }
    let reason = if added.is_empty() {
        "all-existing"
    } else {
        "added"
    };
    let detail = json!({ "added": added, "existing": existing });
    Ok(Audited::new(out, org, reason, detail))
}
