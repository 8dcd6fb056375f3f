//! What an org's directory pushes over SCIM: user resources tied to a user and a membership,
//! groups and their members. Every write bumps a version that callers may require
//! (`expected`), atomically with the write, so read-modify-write over several servers loses
//! no update.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait as _,
};
use serde_json::Value;
use sso_email::Email;
use time::OffsetDateTime;

use crate::entity::{membership, scim_group, scim_group_member, scim_user, user};
use crate::error::StoreError;
use crate::ids::{OrgId, ScimGroupId, ScimUserId, UserId};
use crate::instant::{from_db, to_db};
use crate::store::Store;

/// What identifies a SCIM resource in a listing: one indexed condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimLookup<'a> {
    /// Every resource of the org.
    All,
    /// By resource id.
    Id(i64),
    /// By `userName` (users) or `displayName` (groups), ignoring ASCII case.
    Name(&'a str),
    /// By `externalId`, exactly.
    ExternalId(&'a str),
}

/// A user resource to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUserWrite {
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`.
    pub active: bool,
    /// The resource document.
    pub document: Value,
}

/// A user resource as stored, with the email of the user it provisions.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScimUserRecord {
    /// Its id.
    pub id: ScimUserId,
    /// The org whose directory owns it.
    pub org: OrgId,
    /// The user it provisions.
    pub user: UserId,
    /// That user's normalized email.
    pub email: Email,
    /// What was last written.
    pub write: ScimUserWrite,
    /// Increases on every write.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

/// A group resource to write (its members are written apart).
#[derive(Debug, Clone, PartialEq)]
pub struct ScimGroupWrite {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The resource document, without members.
    pub document: Value,
}

/// A group resource as stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScimGroupRecord {
    /// Its id.
    pub id: ScimGroupId,
    /// The org whose directory owns it.
    pub org: OrgId,
    /// What was last written.
    pub write: ScimGroupWrite,
    /// Increases on every write.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

/// A group member as listed: the user resource and its `userName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimMember {
    /// The user resource.
    pub id: ScimUserId,
    /// Its `userName`.
    pub user_name: String,
}

fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn user_record(m: scim_user::Model, email: &str) -> Result<ScimUserRecord, StoreError> {
    Ok(ScimUserRecord {
        id: ScimUserId::new(m.id),
        org: OrgId::new(m.org_id),
        user: UserId::new(m.user_id),
        email: Email::parse(email).map_err(|e| StoreError::corrupt("email", e.to_string()))?,
        write: ScimUserWrite {
            user_name: m.user_name,
            external_id: m.external_id,
            display_name: m.display_name,
            active: m.active,
            document: m.document,
        },
        version: m.version,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

fn group_record(m: scim_group::Model) -> ScimGroupRecord {
    ScimGroupRecord {
        id: ScimGroupId::new(m.id),
        org: OrgId::new(m.org_id),
        write: ScimGroupWrite {
            display_name: m.display_name,
            external_id: m.external_id,
            document: m.document,
        },
        version: m.version,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    }
}

fn user_condition(org: OrgId, lookup: ScimLookup<'_>) -> Condition {
    let mut c = Condition::all().add(scim_user::Column::OrgId.eq(org.get()));
    match lookup {
        ScimLookup::All => {}
        ScimLookup::Id(id) => c = c.add(scim_user::Column::Id.eq(id)),
        ScimLookup::Name(name) => c = c.add(scim_user::Column::UserNameKey.eq(name_key(name))),
        ScimLookup::ExternalId(id) => c = c.add(scim_user::Column::ExternalId.eq(id)),
    }
    c
}

fn group_condition(org: OrgId, lookup: ScimLookup<'_>) -> Condition {
    let mut c = Condition::all().add(scim_group::Column::OrgId.eq(org.get()));
    match lookup {
        ScimLookup::All => {}
        ScimLookup::Id(id) => c = c.add(scim_group::Column::Id.eq(id)),
        ScimLookup::Name(name) => c = c.add(scim_group::Column::NameKey.eq(name_key(name))),
        ScimLookup::ExternalId(id) => c = c.add(scim_group::Column::ExternalId.eq(id)),
    }
    c
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores a user resource for `user`. A `userName` taken in the org (ignoring case), or a
    /// user the org's directory provisions already, is [`StoreError::Conflict`].
    pub async fn create_scim_user(
        &self,
        org: OrgId,
        user: UserId,
        write: &ScimUserWrite,
        now: OffsetDateTime,
    ) -> Result<ScimUserId, StoreError> {
        let at = to_db(now)?;
        let inserted = scim_user::Entity::insert(scim_user::ActiveModel {
            id: NotSet,
            org_id: Set(org.get()),
            user_id: Set(user.get()),
            user_name: Set(write.user_name.clone()),
            user_name_key: Set(name_key(&write.user_name)),
            external_id: Set(write.external_id.clone()),
            display_name: Set(write.display_name.clone()),
            active: Set(write.active),
            document: Set(write.document.clone()),
            version: Set(1),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec(&self.conn)
        .await
        .map_err(StoreError::on_write("scim user", "organization or user"))?;
        Ok(ScimUserId::new(inserted.last_insert_id))
    }

    /// Up to `limit` user resources of `org` matching `lookup`, oldest first.
    pub async fn find_scim_users(
        &self,
        org: OrgId,
        lookup: ScimLookup<'_>,
        limit: u64,
    ) -> Result<Vec<ScimUserRecord>, StoreError> {
        let rows = scim_user::Entity::find()
            .filter(user_condition(org, lookup))
            .find_also_related(user::Entity)
            .order_by_asc(scim_user::Column::Id)
            .limit(limit)
            .all(&self.conn)
            .await?;
        rows.into_iter()
            .map(|(m, u)| {
                let email = u
                    .ok_or_else(|| StoreError::corrupt("scim user", "no user"))?
                    .email;
                user_record(m, &email)
            })
            .collect()
    }

    /// The user resource `id` of `org`, if any.
    pub async fn scim_user(
        &self,
        org: OrgId,
        id: ScimUserId,
    ) -> Result<Option<ScimUserRecord>, StoreError> {
        Ok(self
            .find_scim_users(org, ScimLookup::Id(id.get()), 1)
            .await?
            .pop())
    }

    /// The user resource that provisions `user` in `org`, if any.
    pub async fn scim_user_of(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Option<ScimUserId>, StoreError> {
        Ok(scim_user::Entity::find()
            .filter(scim_user::Column::OrgId.eq(org.get()))
            .filter(scim_user::Column::UserId.eq(user.get()))
            .one(&self.conn)
            .await?
            .map(|m| ScimUserId::new(m.id)))
    }

    /// Rewrites user resource `id` (now provisioning `user`), when its version is `expected`
    /// (any version when `None`). `None` when there is no such resource or the version did not
    /// match; a taken `userName` is [`StoreError::Conflict`].
    pub async fn update_scim_user(
        &self,
        org: OrgId,
        id: ScimUserId,
        user: UserId,
        write: &ScimUserWrite,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut update = scim_user::Entity::update_many()
            .col_expr(scim_user::Column::UserId, Expr::value(user.get()))
            .col_expr(
                scim_user::Column::UserName,
                Expr::value(write.user_name.clone()),
            )
            .col_expr(
                scim_user::Column::UserNameKey,
                Expr::value(name_key(&write.user_name)),
            )
            .col_expr(
                scim_user::Column::ExternalId,
                Expr::value(write.external_id.clone()),
            )
            .col_expr(
                scim_user::Column::DisplayName,
                Expr::value(write.display_name.clone()),
            )
            .col_expr(scim_user::Column::Active, Expr::value(write.active))
            .col_expr(
                scim_user::Column::Document,
                Expr::value(write.document.clone()),
            )
            .col_expr(
                scim_user::Column::Version,
                Expr::col(scim_user::Column::Version).add(1),
            )
            .col_expr(scim_user::Column::UpdatedAt, Expr::value(to_db(now)?))
            .filter(scim_user::Column::OrgId.eq(org.get()))
            .filter(scim_user::Column::Id.eq(id.get()));
        if let Some(expected) = expected {
            update = update.filter(scim_user::Column::Version.eq(expected));
        }
        let updated = update
            .exec_with_returning(&self.conn)
            .await
            .map_err(StoreError::on_write("scim user", "user"))?;
        Ok(updated.into_iter().next().map(|m| m.version))
    }

    /// Deletes user resource `id` of `org` (and its group memberships) when its version is
    /// `expected` (any when `None`): the user it provisioned, or `None` when nothing matched.
    pub async fn delete_scim_user(
        &self,
        org: OrgId,
        id: ScimUserId,
        expected: Option<i64>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut delete = scim_user::Entity::delete_many()
            .filter(scim_user::Column::OrgId.eq(org.get()))
            .filter(scim_user::Column::Id.eq(id.get()));
        if let Some(expected) = expected {
            delete = delete.filter(scim_user::Column::Version.eq(expected));
        }
        let deleted = delete.exec_with_returning(&self.conn).await?;
        Ok(deleted.into_iter().next().map(|m| UserId::new(m.user_id)))
    }

    /// Suspends (`Some(at)`) or restores (`None`) the membership of `user` in `org`, keeping
    /// the first suspension time when already suspended: whether this call changed it.
    pub async fn set_membership_suspended(
        &self,
        org: OrgId,
        user: UserId,
        at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let value = at.map(to_db).transpose()?;
        let mut update = membership::Entity::update_many()
            .col_expr(membership::Column::SuspendedAt, Expr::value(value))
            .filter(membership::Column::OrgId.eq(org.get()))
            .filter(membership::Column::UserId.eq(user.get()));
        update = match at {
            Some(_) => update.filter(membership::Column::SuspendedAt.is_null()),
            None => update.filter(membership::Column::SuspendedAt.is_not_null()),
        };
        Ok(update.exec(&self.conn).await?.rows_affected > 0)
    }

    /// Stores a group resource without members. A `displayName` taken in the org (ignoring
    /// case) is [`StoreError::Conflict`].
    pub async fn create_scim_group(
        &self,
        org: OrgId,
        write: &ScimGroupWrite,
        now: OffsetDateTime,
    ) -> Result<ScimGroupRecord, StoreError> {
        let at = to_db(now)?;
        let inserted = scim_group::Entity::insert(scim_group::ActiveModel {
            id: NotSet,
            org_id: Set(org.get()),
            display_name: Set(write.display_name.clone()),
            name_key: Set(name_key(&write.display_name)),
            external_id: Set(write.external_id.clone()),
            document: Set(write.document.clone()),
            version: Set(1),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec(&self.conn)
        .await
        .map_err(StoreError::on_write("scim group", "organization"))?;
        Ok(ScimGroupRecord {
            id: ScimGroupId::new(inserted.last_insert_id),
            org,
            write: write.clone(),
            version: 1,
            created_at: from_db(at),
            updated_at: from_db(at),
        })
    }

    /// Up to `limit` group resources of `org` matching `lookup`, oldest first.
    pub async fn find_scim_groups(
        &self,
        org: OrgId,
        lookup: ScimLookup<'_>,
        limit: u64,
    ) -> Result<Vec<ScimGroupRecord>, StoreError> {
        Ok(scim_group::Entity::find()
            .filter(group_condition(org, lookup))
            .order_by_asc(scim_group::Column::Id)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(group_record)
            .collect())
    }

    /// Rewrites group resource `id` when its version is `expected` (any when `None`), bumping
    /// the version: the new version, or `None` when nothing matched.
    pub async fn update_scim_group(
        &self,
        org: OrgId,
        id: ScimGroupId,
        write: &ScimGroupWrite,
        expected: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut update = scim_group::Entity::update_many()
            .col_expr(
                scim_group::Column::DisplayName,
                Expr::value(write.display_name.clone()),
            )
            .col_expr(
                scim_group::Column::NameKey,
                Expr::value(name_key(&write.display_name)),
            )
            .col_expr(
                scim_group::Column::ExternalId,
                Expr::value(write.external_id.clone()),
            )
            .col_expr(
                scim_group::Column::Document,
                Expr::value(write.document.clone()),
            )
            .col_expr(
                scim_group::Column::Version,
                Expr::col(scim_group::Column::Version).add(1),
            )
            .col_expr(scim_group::Column::UpdatedAt, Expr::value(to_db(now)?))
            .filter(scim_group::Column::OrgId.eq(org.get()))
            .filter(scim_group::Column::Id.eq(id.get()));
        if let Some(expected) = expected {
            update = update.filter(scim_group::Column::Version.eq(expected));
        }
        let updated = update
            .exec_with_returning(&self.conn)
            .await
            .map_err(StoreError::on_write("scim group", "organization"))?;
        Ok(updated.into_iter().next().map(|m| m.version))
    }

    /// Deletes group resource `id` of `org` (members go with it) when its version is
    /// `expected` (any when `None`); `false` when nothing matched.
    pub async fn delete_scim_group(
        &self,
        org: OrgId,
        id: ScimGroupId,
        expected: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut delete = scim_group::Entity::delete_many()
            .filter(scim_group::Column::OrgId.eq(org.get()))
            .filter(scim_group::Column::Id.eq(id.get()));
        if let Some(expected) = expected {
            delete = delete.filter(scim_group::Column::Version.eq(expected));
        }
        Ok(delete.exec(&self.conn).await?.rows_affected > 0)
    }

    /// Group resource `id` of `org` with its members, if any.
    pub async fn scim_group(
        &self,
        org: OrgId,
        id: ScimGroupId,
    ) -> Result<Option<(ScimGroupRecord, Vec<ScimMember>)>, StoreError> {
        let Some(group) = self
            .find_scim_groups(org, ScimLookup::Id(id.get()), 1)
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let members = self
            .scim_group_members(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(Some((group, members)))
    }

    /// How many of `ids` are user resources of `org` (members must be).
    pub async fn count_scim_users_in(
        &self,
        org: OrgId,
        ids: &[ScimUserId],
    ) -> Result<usize, StoreError> {
        let mut found = 0;
        for chunk in ids.chunks(500) {
            found += scim_user::Entity::find()
                .select_only()
                .column(scim_user::Column::Id)
                .filter(scim_user::Column::OrgId.eq(org.get()))
                .filter(scim_user::Column::Id.is_in(chunk.iter().map(|i| i.get())))
                .into_tuple::<i64>()
                .all(&self.conn)
                .await?
                .len();
        }
        Ok(found)
    }

    /// Makes group `group`'s members exactly `members` (which the caller checked belong to the
    /// same org): removes the others, adds the missing ones at `now`.
    pub async fn set_scim_group_members(
        &self,
        group: ScimGroupId,
        members: &[ScimUserId],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let current: Vec<i64> = scim_group_member::Entity::find()
            .select_only()
            .column(scim_group_member::Column::ScimUserId)
            .filter(scim_group_member::Column::GroupId.eq(group.get()))
            .into_tuple()
            .all(&self.conn)
            .await?;
        let wanted: std::collections::HashSet<i64> = members.iter().map(|m| m.get()).collect();
        let gone: Vec<i64> = current
            .iter()
            .copied()
            .filter(|c| !wanted.contains(c))
            .collect();
        for chunk in gone.chunks(500) {
            scim_group_member::Entity::delete_many()
                .filter(scim_group_member::Column::GroupId.eq(group.get()))
                .filter(scim_group_member::Column::ScimUserId.is_in(chunk.iter().copied()))
                .exec(&self.conn)
                .await?;
        }
        let have: std::collections::HashSet<i64> = current.into_iter().collect();
        let at = to_db(now)?;
        let mut seen = std::collections::HashSet::new();
        let new: Vec<scim_group_member::ActiveModel> = members
            .iter()
            .map(|m| m.get())
            .filter(|m| !have.contains(m) && seen.insert(*m))
            .map(|m| scim_group_member::ActiveModel {
                group_id: Set(group.get()),
                scim_user_id: Set(m),
                added_at: Set(at),
            })
            .collect();
        for chunk in new.chunks(300) {
            scim_group_member::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        scim_group_member::Column::GroupId,
                        scim_group_member::Column::ScimUserId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .do_nothing()
                .exec(&self.conn)
                .await
                .map_err(StoreError::on_write("scim group member", "scim user"))?;
        }
        Ok(())
    }

    /// The members of each of `groups`, in the order they were added.
    pub async fn scim_group_members(
        &self,
        groups: &[ScimGroupId],
    ) -> Result<HashMap<ScimGroupId, Vec<ScimMember>>, StoreError> {
        let mut out: HashMap<ScimGroupId, Vec<ScimMember>> = HashMap::new();
        for chunk in groups.chunks(500) {
            let rows: Vec<(i64, i64, String)> = scim_group_member::Entity::find()
                .select_only()
                .column(scim_group_member::Column::GroupId)
                .column(scim_group_member::Column::ScimUserId)
                .column_as(scim_user::Column::UserName, "user_name")
                .join(
                    JoinType::InnerJoin,
                    scim_group_member::Relation::ScimUser.def(),
                )
                .filter(scim_group_member::Column::GroupId.is_in(chunk.iter().map(|g| g.get())))
                .order_by_asc(scim_group_member::Column::AddedAt)
                .order_by_asc(scim_group_member::Column::ScimUserId)
                .into_tuple()
                .all(&self.conn)
                .await?;
            for (group, member, user_name) in rows {
                out.entry(ScimGroupId::new(group))
                    .or_default()
                    .push(ScimMember {
                        id: ScimUserId::new(member),
                        user_name,
                    });
            }
        }
        Ok(out)
    }

    /// The display names of the SCIM groups `user` is in, in `org` (at most `limit`): a
    /// second source of groups for the connection's group rules.
    pub async fn scim_group_names_of(
        &self,
        org: OrgId,
        user: UserId,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(scim_group::Entity::find()
            .select_only()
            .column(scim_group::Column::DisplayName)
            .join(JoinType::InnerJoin, scim_group::Relation::Members.def())
            .join(
                JoinType::InnerJoin,
                scim_group_member::Relation::ScimUser.def(),
            )
            .filter(scim_group::Column::OrgId.eq(org.get()))
            .filter(scim_user::Column::UserId.eq(user.get()))
            .order_by_asc(scim_group::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.conn)
            .await?)
    }
}
