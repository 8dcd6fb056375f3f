//! Users and memberships.

use std::fmt;

use sea_orm::sea_query::{Alias, Condition, Expr, JoinType, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
    Statement,
};
use sso_email::Email;
use sso_policy::Role;
use time::OffsetDateTime;

use crate::entity::{membership, user};
use crate::error::StoreError;
use crate::ids::{OrgId, UserId};
use crate::instant::{from_db, to_db};
use crate::orgs::role_from_code;
use crate::store::Store;
use crate::text_once::TextOnce;

/// The result of an idempotent "make sure it exists": the row, and whether this call created
/// it. Under concurrent calls exactly one caller sees `created: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ensured<T> {
    /// The row as stored.
    pub record: T,
    /// Whether this call inserted it.
    pub created: bool,
}

impl<T> Ensured<T> {
    pub(crate) fn created(record: T) -> Self {
        Self {
            record,
            created: true,
        }
    }

    pub(crate) fn existing(record: T) -> Self {
        Self {
            record,
            created: false,
        }
    }
}

/// [`Store::create_member`] on PostgreSQL: the user insert of [`Store::create_user`], and the
/// membership of the user it created. No row: the user existed already. `$1` the email, `$2`
/// now, `$3` the org, `$4` the role, `$5` who created it.
const CREATE_MEMBER_POSTGRES: &str = "WITH created AS (\
    INSERT INTO \"users\" (\"email\", \"created_at\") VALUES ($1, $2) \
    ON CONFLICT (\"email\") DO NOTHING RETURNING \"id\"), \
joined AS (\
    INSERT INTO \"memberships\" (\"org_id\", \"user_id\", \"role\", \"created_by\", \"created_at\", \"suspended_at\") \
    SELECT $3, \"id\", $4, $5, $2, NULL FROM created) \
SELECT \"id\" FROM created";

/// [`Store::create_member`] on SQLite, which has no data-modifying `WITH`: the same user insert,
/// its id when it inserted (`last_insert_rowid()`: no `RETURNING`, which SQLite gathers in a
/// temporary table), then the membership of that id only when it inserted (`changes()` still
/// counts the insert after the `SELECT`). `?`s in order: the email, now; the org, the role, who
/// created it, now.
const CREATE_MEMBER_SQLITE: &str = "INSERT INTO \"users\" (\"email\", \"created_at\") VALUES (?, ?) \
    ON CONFLICT (\"email\") DO NOTHING; \
SELECT last_insert_rowid() AS \"id\" WHERE changes() = 1; \
INSERT INTO \"memberships\" (\"org_id\", \"user_id\", \"role\", \"created_by\", \"created_at\", \"suspended_at\") \
    SELECT ?, last_insert_rowid(), ?, ?, ?, NULL WHERE changes() = 1";

/// How a membership or a project grant came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CreatedBy {
    /// Just-in-time provisioning on a first SSO login.
    Jit,
    /// An admin (or an import on an admin's behalf).
    Admin,
    /// The org's directory, over SCIM: the member is SCIM-managed.
    Scim,
}

impl CreatedBy {
    /// Every value.
    pub const ALL: [CreatedBy; 3] = [CreatedBy::Jit, CreatedBy::Admin, CreatedBy::Scim];

    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Jit => "jit",
            Self::Admin => "admin",
            Self::Scim => "scim",
        }
    }

    /// The value with this [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for CreatedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

fn created_by_from_code(code: &str) -> Result<CreatedBy, StoreError> {
    CreatedBy::from_code(code)
        .ok_or_else(|| StoreError::corrupt("created-by", format!("unknown code {code:?}")))
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserRecord {
    /// Its id.
    pub id: UserId,
    /// The normalized email, the identity key.
    pub email: Email,
    /// When the user was created.
    pub created_at: OffsetDateTime,
}

impl UserRecord {
    fn from_model(m: &user::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId::new(m.id),
            email: Email::parse(&m.email)
                .map_err(|e| StoreError::corrupt("email", e.to_string()))?,
            created_at: from_db(m.created_at),
        })
    }
}

/// A membership as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembershipRecord {
    /// The organization.
    pub org: OrgId,
    /// The member.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// How the membership was created.
    pub created_by: CreatedBy,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When the org's directory deactivated it, if it did.
    pub suspended_at: Option<OffsetDateTime>,
}

impl MembershipRecord {
    /// The membership as `sso-policy` decides on it: a suspended member is
    /// [`Membership::Deactivated`](sso_policy::Membership::Deactivated).
    pub fn policy(&self) -> sso_policy::Membership {
        if self.suspended_at.is_some() {
            sso_policy::Membership::Deactivated(self.role)
        } else {
            sso_policy::Membership::Member(self.role)
        }
    }

    pub(crate) fn from_model(m: &membership::Model) -> Result<Self, StoreError> {
        Ok(Self {
            org: OrgId::new(m.org_id),
            user: UserId::new(m.user_id),
            role: role_from_code(&m.role)?,
            created_by: created_by_from_code(&m.created_by)?,
            created_at: from_db(m.created_at),
            suspended_at: m.suspended_at.map(from_db),
        })
    }
}

impl<C: ConnectionTrait> Store<C> {
    /// The user with this email, created if missing.
    ///
    /// Safe under races: the insert is `ON CONFLICT (email) DO NOTHING`, and a caller that lost
    /// the race reads the winner's row, so concurrent first logins end with one user and every
    /// caller gets it. Inside a PostgreSQL transaction this relies on `READ COMMITTED` (the
    /// default of [`Store::begin`]).
    pub async fn get_or_create_user(
        &self,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<Ensured<UserRecord>, StoreError> {
        if let Some(found) = self.user_by_email(email).await? {
            return Ok(Ensured::existing(found));
        }
        self.create_user(email, now).await
    }

    /// The user with this email, created unless it exists: the insert first, then a read only
    /// when another login created the user meanwhile. For a caller that has just read that
    /// there is no such user ([`user_and_membership`](Self::user_and_membership)); otherwise
    /// [`get_or_create_user`](Self::get_or_create_user) is the same, one read cheaper for
    /// existing users.
    pub async fn create_user(
        &self,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<Ensured<UserRecord>, StoreError> {
        static CREATE: TextOnce = TextOnce::new();
        let created_at = to_db(now)?;
        let statement = CREATE.statement(
            self.conn.get_database_backend(),
            |backend| {
                backend.build(
                    user::Entity::insert(user::ActiveModel {
                        id: NotSet,
                        email: Set(email.as_str().to_owned()),
                        created_at: Set(created_at),
                    })
                    .on_conflict(
                        OnConflict::column(user::Column::Email)
                            .do_nothing()
                            .to_owned(),
                    )
                    .into_query()
                    .returning_col(user::Column::Id),
                )
            },
            vec![email.as_str().into(), created_at.into()],
        );
        match self.conn.query_one(statement).await? {
            Some(row) => Ok(Ensured::created(UserRecord {
                id: UserId::new(row.try_get("", "id")?),
                email: email.clone(),
                created_at: from_db(created_at),
            })),
            None => self
                .user_by_email(email)
                .await?
                .map(Ensured::existing)
                .ok_or(StoreError::not_found("user")),
        }
    }

    /// A new member of `org` with this email: the user, created unless it exists, and their
    /// membership, created with `role` unless it exists. For a caller that has just read that
    /// there is no such user ([`user_and_membership`](Self::user_and_membership)); the outcome
    /// is that of [`create_user`](Self::create_user) then
    /// [`create_membership`](Self::create_membership), races included.
    ///
    /// A user this call creates gets the membership in the same round trip: one statement on
    /// PostgreSQL (a data-modifying `WITH`), two in one call on SQLite (the membership insert
    /// conditional on the user insert's `changes()`).
    pub async fn create_member(
        &self,
        email: &Email,
        org: OrgId,
        role: Role,
        created_by: CreatedBy,
        now: OffsetDateTime,
    ) -> Result<(Ensured<UserRecord>, Ensured<MembershipRecord>), StoreError> {
        let backend = self.conn.get_database_backend();
        let created_at = to_db(now)?;
        let statement = if backend == DbBackend::Postgres {
            Statement::from_sql_and_values(
                backend,
                CREATE_MEMBER_POSTGRES,
                [
                    email.as_str().into(),
                    created_at.into(),
                    org.get().into(),
                    role.code().into(),
                    created_by.code().into(),
                ],
            )
        } else {
            Statement::from_sql_and_values(
                backend,
                CREATE_MEMBER_SQLITE,
                [
                    email.as_str().into(),
                    created_at.into(),
                    org.get().into(),
                    role.code().into(),
                    created_by.code().into(),
                    created_at.into(),
                ],
            )
        };
        // The first row is the created user's id, if the user was created.
        let row = self
            .conn
            .query_all(statement)
            .await
            .map_err(StoreError::on_write("membership", "organization"))?
            .into_iter()
            .next();
        if let Some(row) = row {
            let user = UserRecord {
                id: UserId::new(row.try_get("", "id")?),
                email: email.clone(),
                created_at: from_db(created_at),
            };
            let membership = MembershipRecord {
                org,
                user: user.id,
                role,
                created_by,
                created_at: from_db(created_at),
                suspended_at: None,
            };
            return Ok((Ensured::created(user), Ensured::created(membership)));
        }
        // Another login created the user meanwhile: read it, then the membership as usual.
        let user = self.create_user(email, now).await?;
        let membership = self
            .create_membership(org, user.record.id, role, created_by, now)
            .await?;
        Ok((user, membership))
    }

    /// The user with this email, if any.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.conn)
            .await?
            .as_ref()
            .map(UserRecord::from_model)
            .transpose()
    }

    /// The user with this email and their membership of `org`, if any, in one query (a
    /// login's first read).
    ///
    /// The membership is looked up by both halves of its key as values (the user's id from a
    /// subquery), not joined on the user's row: PostgreSQL's generic plan for the join, made
    /// while the tables were small, scanned every membership of the org on each call, and a
    /// returning login's read grew with the org (BENCHMARKS.md, "Returning logins").
    pub async fn user_and_membership(
        &self,
        email: &Email,
        org: OrgId,
    ) -> Result<Option<(UserRecord, Option<MembershipRecord>)>, StoreError> {
        static READ: TextOnce = TextOnce::new();
        let build = |backend: DbBackend| {
            backend.build(
                Query::select()
                    .column((user::Entity, user::Column::Id))
                    .column((user::Entity, user::Column::Email))
                    .expr_as(
                        Expr::col((user::Entity, user::Column::CreatedAt)),
                        Alias::new("user_created_at"),
                    )
                    .column((membership::Entity, membership::Column::Role))
                    .column((membership::Entity, membership::Column::CreatedBy))
                    .expr_as(
                        Expr::col((membership::Entity, membership::Column::CreatedAt)),
                        Alias::new("member_since"),
                    )
                    .column((membership::Entity, membership::Column::SuspendedAt))
                    .from(user::Entity)
                    .join(
                        JoinType::LeftJoin,
                        membership::Entity,
                        Condition::all()
                            .add(
                                Expr::col((membership::Entity, membership::Column::OrgId))
                                    .eq(org.get()),
                            )
                            .add(
                                Expr::col((membership::Entity, membership::Column::UserId))
                                    .eq(user_id_of(email)),
                            ),
                    )
                    .and_where(Expr::col((user::Entity, user::Column::Email)).eq(email.as_str())),
            )
        };
        let statement = READ.statement(
            self.conn.get_database_backend(),
            build,
            vec![
                org.get().into(),
                email.as_str().into(),
                email.as_str().into(),
            ],
        );
        let Some(row) = self.conn.query_one(statement).await? else {
            return Ok(None);
        };
        let found = UserRecord::from_model(&user::Model {
            id: row.try_get("", "id")?,
            email: row.try_get("", "email")?,
            created_at: row.try_get("", "user_created_at")?,
        })?;
        let role: Option<String> = row.try_get("", "role")?;
        let membership = match role {
            None => None,
            Some(role) => Some(MembershipRecord::from_model(&membership::Model {
                org_id: org.get(),
                user_id: found.id.get(),
                role,
                created_by: row.try_get("", "created_by")?,
                created_at: row.try_get("", "member_since")?,
                suspended_at: row.try_get("", "suspended_at")?,
            })?),
        };
        Ok(Some((found, membership)))
    }

    /// The user with this id.
    pub async fn user(&self, user: UserId) -> Result<UserRecord, StoreError> {
        let model = user::Entity::find_by_id(user.get())
            .one(&self.conn)
            .await?
            .ok_or(StoreError::not_found("user"))?;
        UserRecord::from_model(&model)
    }

    /// Makes `user` a member of `org`, with `role`, if not one already. An existing membership
    /// is returned unchanged (`created: false`): SSO never changes a role. Safe under races
    /// like [`get_or_create_user`](Self::get_or_create_user); a missing organization or user
    /// is [`StoreError::NotFound`].
    pub async fn ensure_membership(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        created_by: CreatedBy,
        now: OffsetDateTime,
    ) -> Result<Ensured<MembershipRecord>, StoreError> {
        if let Some(found) = self.membership(org, user).await? {
            return Ok(Ensured::existing(found));
        }
        self.create_membership(org, user, role, created_by, now)
            .await
    }

    /// [`ensure_membership`](Self::ensure_membership) for a caller that has just read that
    /// there is no such membership: the insert first, then a read only when another login
    /// created it meanwhile (returned unchanged, `created: false`).
    pub async fn create_membership(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        created_by: CreatedBy,
        now: OffsetDateTime,
    ) -> Result<Ensured<MembershipRecord>, StoreError> {
        static CREATE: TextOnce = TextOnce::new();
        let created_at = to_db(now)?;
        let statement = CREATE.statement(
            self.conn.get_database_backend(),
            |backend| {
                membership::Entity::insert(membership::ActiveModel {
                    org_id: Set(org.get()),
                    user_id: Set(user.get()),
                    role: Set(role.code().to_owned()),
                    created_by: Set(created_by.code().to_owned()),
                    created_at: Set(created_at),
                    suspended_at: Set(None),
                })
                .on_conflict(
                    OnConflict::columns([membership::Column::OrgId, membership::Column::UserId])
                        .do_nothing()
                        .to_owned(),
                )
                .build(backend)
            },
            vec![
                org.get().into(),
                user.get().into(),
                role.code().into(),
                created_by.code().into(),
                created_at.into(),
                Option::<time::PrimitiveDateTime>::None.into(),
            ],
        );
        let inserted = self
            .conn
            .execute(statement)
            .await
            .map_err(StoreError::on_write("membership", "organization or user"))?
            .rows_affected();
        if inserted > 0 {
            return Ok(Ensured::created(MembershipRecord {
                org,
                user,
                role,
                created_by,
                created_at: from_db(created_at),
                suspended_at: None,
            }));
        }
        self.membership(org, user)
            .await?
            .map(Ensured::existing)
            .ok_or(StoreError::not_found("membership"))
    }

    /// The membership of `user` in `org`, if any.
    pub async fn membership(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Option<MembershipRecord>, StoreError> {
        membership::Entity::find_by_id((org.get(), user.get()))
            .one(&self.conn)
            .await?
            .as_ref()
            .map(MembershipRecord::from_model)
            .transpose()
    }

    /// Every membership of `org`, by user id.
    pub async fn members(&self, org: OrgId) -> Result<Vec<MembershipRecord>, StoreError> {
        membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.get()))
            .order_by_asc(membership::Column::UserId)
            .all(&self.conn)
            .await?
            .iter()
            .map(MembershipRecord::from_model)
            .collect()
    }
}

/// `(SELECT id FROM users WHERE email = ?)`, under its own alias.
fn user_id_of(email: &Email) -> SimpleExpr {
    let inner = Alias::new("by_email");
    let select = Query::select()
        .column((inner.clone(), user::Column::Id))
        .from_as(user::Entity, inner.clone())
        .and_where(Expr::col((inner, user::Column::Email)).eq(email.as_str()))
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(select.into_sub_query_statement()))
}
