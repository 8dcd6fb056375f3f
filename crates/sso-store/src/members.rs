//! Members as admins see them: a membership with its user's email and project access, listed
//! by email; role changes and removals; and the organization lock that makes "never the last
//! Admin" hold under concurrency.

use sea_orm::sea_query::{Alias, Expr, Func, Order, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use sso_email::Email;
use sso_policy::Role;
use time::OffsetDateTime;

use crate::entity::{membership, organization, project_access, scim_user, user};
use crate::error::StoreError;
use crate::ids::{OrgId, ProjectId, UserId};
use crate::instant::from_db;
use crate::lists::{MemberCursor, clamp_page};
use crate::orgs::{OrgRecord, role_from_code};
use crate::people::{CreatedBy, MembershipRecord, UserRecord};
use crate::projects::project_keys_of;
use crate::store::Store;

/// The longest email prefix a member listing filters on (an email is at most 254 bytes).
const MAX_EMAIL_PREFIX: usize = 254;

/// A member of an organization: the user, the membership and the projects of the
/// organization they have access to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberRecord {
    /// The user (id, normalized email).
    pub user: UserRecord,
    /// Their role in the organization.
    pub role: Role,
    /// How the membership was created.
    pub created_by: CreatedBy,
    /// When the membership was created.
    pub created_at: OffsetDateTime,
    /// When the org's directory deactivated the membership, if it did.
    pub suspended_at: Option<OffsetDateTime>,
    /// Whether the org's directory manages the member over SCIM (a SCIM user provisions them).
    pub scim_managed: bool,
    /// The organization's projects they have access to, by id.
    pub projects: Vec<ProjectId>,
}

/// What to list: an organization's members by email (byte order), optionally only those whose
/// email starts with a prefix or who have one role, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberQuery {
    limit: u32,
    email_prefix: Option<String>,
    role: Option<Role>,
    after: Option<MemberCursor>,
}

impl MemberQuery {
    /// The first page of at most `limit` members (1 to [`MAX_PAGE`](crate::MAX_PAGE);
    /// other values are clamped).
    pub fn new(limit: u32) -> Self {
        Self {
            limit: clamp_page(limit),
            email_prefix: None,
            role: None,
            after: None,
        }
    }

    /// Only members whose normalized email starts with `prefix`, compared the way emails are
    /// stored: trimmed and lower-cased. At most 254 bytes, no control characters
    /// ([`StoreError::InvalidInput`] otherwise); an empty prefix filters nothing.
    pub fn email_prefix(mut self, prefix: &str) -> Result<Self, StoreError> {
        let prefix = prefix.trim().to_lowercase();
        if prefix.len() > MAX_EMAIL_PREFIX {
            return Err(StoreError::invalid(
                "email prefix",
                format!("longer than {MAX_EMAIL_PREFIX} bytes"),
            ));
        }
        if prefix.chars().any(char::is_control) {
            return Err(StoreError::invalid(
                "email prefix",
                "control characters are not allowed",
            ));
        }
        self.email_prefix = (!prefix.is_empty()).then_some(prefix);
        Ok(self)
    }

    /// Only members with this role.
    #[must_use]
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// The page after this cursor (from [`MemberPage::next`]).
    #[must_use]
    pub fn after(mut self, cursor: MemberCursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// One page of members.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberPage {
    /// The members, by email.
    pub members: Vec<MemberRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<MemberCursor>,
}

/// A membership joined with its user, as the listing reads it.
#[derive(Debug, FromQueryResult)]
struct MemberRow {
    user_id: i64,
    email: String,
    user_created_at: time::PrimitiveDateTime,
    role: String,
    created_by: String,
    created_at: time::PrimitiveDateTime,
    suspended_at: Option<time::PrimitiveDateTime>,
    scim_managed: bool,
}

impl MemberRow {
    fn record(self, projects: Vec<ProjectId>) -> Result<MemberRecord, StoreError> {
        let email =
            Email::parse(&self.email).map_err(|e| StoreError::corrupt("email", e.to_string()))?;
        Ok(MemberRecord {
            user: UserRecord {
                id: UserId::new(self.user_id),
                email,
                created_at: from_db(self.user_created_at),
            },
            role: role_from_code(&self.role)?,
            created_by: CreatedBy::from_code(&self.created_by).ok_or_else(|| {
                StoreError::corrupt("created-by", format!("unknown code {:?}", self.created_by))
            })?,
            created_at: from_db(self.created_at),
            suspended_at: self.suspended_at.map(from_db),
            scim_managed: self.scim_managed,
            projects,
        })
    }
}

/// Whether a SCIM user of the membership's org provisions its user.
fn scim_managed() -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(scim_user::Entity)
            .and_where(
                Expr::col((scim_user::Entity, scim_user::Column::OrgId))
                    .equals((membership::Entity, membership::Column::OrgId)),
            )
            .and_where(
                Expr::col((scim_user::Entity, scim_user::Column::UserId))
                    .equals((membership::Entity, membership::Column::UserId)),
            )
            .to_owned(),
    )
}

/// `users.email` compared byte by byte: PostgreSQL's default collation may order text
/// otherwise, SQLite's does not.
fn email_in_byte_order(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust(r#""users"."email" COLLATE "C""#),
        _ => Expr::col((user::Entity, user::Column::Email)).into(),
    }
}

impl<C: ConnectionTrait> Store<C> {
    /// The organization, its row locked until the transaction ends: `SELECT ... FOR UPDATE`
    /// on PostgreSQL, while on SQLite a transaction of [`Store::begin`] holds the database's
    /// write lock already. Changes whose rule reads several of the organization's rows (never
    /// the last Admin) take it first, so two of them run one after the other.
    pub async fn lock_org(&self, org: OrgId) -> Result<OrgRecord, StoreError> {
        let model = organization::Entity::find_by_id(org.get())
            .lock_exclusive()
            .one(&self.conn)
            .await?
            .ok_or(StoreError::not_found("organization"))?;
        OrgRecord::from_model(model)
    }

    /// The member of `org` with this email, if any.
    pub async fn member(
        &self,
        org: OrgId,
        email: &Email,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let query = MemberQuery::new(1);
        let mut rows = self.member_rows(org, &query, Some(email)).await?;
        let Some(row) = rows.pop() else {
            return Ok(None);
        };
        let user = UserId::new(row.user_id);
        let projects = self.project_access(org, user).await?;
        row.record(projects).map(Some)
    }

    /// The organization's members by email (byte order), one page at a time. Keyset paging: a
    /// page does not shift when members are added or removed before it.
    pub async fn list_members(
        &self,
        org: OrgId,
        query: &MemberQuery,
    ) -> Result<MemberPage, StoreError> {
        let mut rows = self.member_rows(org, query, None).await?;
        let more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let users: Vec<UserId> = rows.iter().map(|r| UserId::new(r.user_id)).collect();
        let mut access = self.project_access_of(org, &users).await?;
        let members = rows
            .into_iter()
            .map(|row| {
                let projects = access.remove(&UserId::new(row.user_id)).unwrap_or_default();
                row.record(projects)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = more
            .then(|| members.last().map(|m| MemberCursor::after(&m.user.email)))
            .flatten();
        Ok(MemberPage { members, next })
    }

    /// Up to `query.limit + 1` memberships of `org` with their users, by email; only `email`'s
    /// when given.
    async fn member_rows(
        &self,
        org: OrgId,
        query: &MemberQuery,
        email: Option<&Email>,
    ) -> Result<Vec<MemberRow>, StoreError> {
        let backend = self.conn.get_database_backend();
        let mut select = membership::Entity::find()
            .select_only()
            .column(membership::Column::UserId)
            .column_as(Expr::col((user::Entity, user::Column::Email)), "email")
            .column_as(
                Expr::col((user::Entity, user::Column::CreatedAt)),
                "user_created_at",
            )
            .column(membership::Column::Role)
            .column(membership::Column::CreatedBy)
            .column(membership::Column::CreatedAt)
            .column(membership::Column::SuspendedAt)
            .column_as(scim_managed(), "scim_managed")
            .join(
                JoinType::InnerJoin,
                membership::Entity::belongs_to(user::Entity)
                    .from(membership::Column::UserId)
                    .to(user::Column::Id)
                    .into(),
            )
            .filter(membership::Column::OrgId.eq(org.get()));
        if let Some(email) = email {
            select =
                select.filter(Expr::col((user::Entity, user::Column::Email)).eq(email.as_str()));
        }
        if let Some(role) = query.role {
            select = select.filter(membership::Column::Role.eq(role.code()));
        }
        if let Some(prefix) = &query.email_prefix {
            // A prefix of characters, compared for equality: no LIKE wildcards to escape, and
            // the same on both backends (`substr` counts characters on both).
            // An int4 for PostgreSQL's `substr`; the prefix is at most 254 bytes anyway.
            let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
            let head = Func::cust(Alias::new("substr"))
                .arg(Expr::col((user::Entity, user::Column::Email)))
                .arg(1)
                .arg(chars);
            select = select.filter(Expr::expr(head).eq(prefix.as_str()));
        }
        if let Some(after) = &query.after {
            select =
                select.filter(Expr::expr(email_in_byte_order(backend)).gt(after.email.as_str()));
        }
        let statement = select
            .order_by(email_in_byte_order(backend), Order::Asc)
            .limit(u64::from(query.limit) + 1)
            .build(backend);
        Ok(MemberRow::find_by_statement(statement)
            .all(&self.conn)
            .await?)
    }

    /// Changes the role of `user` in `org` ([`StoreError::NotFound`] when not a member).
    /// Whether the change is allowed (never the last Admin) is the caller's decision.
    pub async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<MembershipRecord, StoreError> {
        let updated = membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.code()))
            .filter(membership::Column::OrgId.eq(org.get()))
            .filter(membership::Column::UserId.eq(user.get()))
            .exec_with_returning(&self.conn)
            .await?;
        let model = updated
            .into_iter()
            .next()
            .ok_or(StoreError::not_found("member"))?;
        MembershipRecord::from_model(&model)
    }

    /// Removes the membership of `user` in `org` and their access to the organization's
    /// projects; the user stays (they may belong to other organizations). Returns how many
    /// access grants went, or `None` when `user` was not a member (nothing changes then).
    pub async fn remove_membership(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Option<u64>, StoreError> {
        let removed = membership::Entity::delete_many()
            .filter(membership::Column::OrgId.eq(org.get()))
            .filter(membership::Column::UserId.eq(user.get()))
            .exec(&self.conn)
            .await?;
        if removed.rows_affected == 0 {
            return Ok(None);
        }
        let access = project_access::Entity::delete_many()
            .filter(project_access::Column::UserId.eq(user.get()))
            .filter(project_access::Column::ProjectId.in_subquery(project_keys_of(org)))
            .exec(&self.conn)
            .await?;
        Ok(Some(access.rows_affected))
    }

    /// How many Admins `org` has.
    pub async fn count_admins(&self, org: OrgId) -> Result<u64, StoreError> {
        Ok(membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.get()))
            .filter(membership::Column::Role.eq(Role::Admin.code()))
            .count(&self.conn)
            .await?)
    }
}
