//! Organizations, their plan and require-SSO setting, and the snapshot of one organization
//! (with its connection and verified domains) that policy decisions read.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use sso_policy::{Plan, Role};
use time::OffsetDateTime;

use crate::connections::ConnectionRecord;
use crate::entity::organization;
use crate::error::StoreError;
use crate::ids::{OrgId, ProjectId};
use crate::instant::{from_db, to_db};
use crate::store::Store;

/// An organization as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgRecord {
    /// Its id, the one in its SP entity ID and ACS URL.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Current plan.
    pub plan: Plan,
    /// Whether admins asked for SSO-only sign-in. Whether it applies also depends on SSO being
    /// in effect (`sso_policy::sso_in_effect`).
    pub require_sso: bool,
    /// When `require_sso` last changed value, if ever.
    pub require_sso_changed_at: Option<OffsetDateTime>,
    /// When the organization was created.
    pub created_at: OffsetDateTime,
}

impl OrgRecord {
    pub(crate) fn from_model(m: organization::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: OrgId::new(m.id),
            plan: plan_from_code(&m.plan)?,
            name: m.name,
            require_sso: m.require_sso,
            require_sso_changed_at: m.require_sso_changed_at.map(from_db),
            created_at: from_db(m.created_at),
        })
    }
}

/// Everything the `sso-policy` decisions need about one organization, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgSnapshot {
    /// The organization.
    pub org: OrgRecord,
    /// Its SSO connection, if one is configured.
    pub connection: Option<ConnectionRecord>,
    /// Its verified domains, sorted.
    pub verified_domains: Vec<String>,
}

impl OrgSnapshot {
    /// The organization as `sso-policy` sees it. JIT settings come from the connection; without
    /// one, JIT is off.
    pub fn policy(&self) -> sso_policy::Org<ProjectId> {
        sso_policy::Org {
            plan: self.org.plan,
            connection: self.connection.as_ref().map(ConnectionRecord::policy),
            require_sso: self.org.require_sso,
            jit: self
                .connection
                .as_ref()
                .map(ConnectionRecord::jit)
                .unwrap_or_default(),
            verified_domains: self.verified_domains.clone(),
        }
    }
}

pub(crate) fn plan_from_code(code: &str) -> Result<Plan, StoreError> {
    Plan::from_code(code)
        .ok_or_else(|| StoreError::corrupt("plan", format!("unknown code {code:?}")))
}

pub(crate) fn role_from_code(code: &str) -> Result<Role, StoreError> {
    Role::from_code(code)
        .ok_or_else(|| StoreError::corrupt("role", format!("unknown code {code:?}")))
}

impl<C: ConnectionTrait> Store<C> {
    /// Creates an organization with this name and plan; require-SSO starts off.
    pub async fn create_org(
        &self,
        name: &str,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::invalid("organization name", "empty"));
        }
        let created_at = to_db(now)?;
        let inserted = organization::Entity::insert(organization::ActiveModel {
            id: NotSet,
            name: Set(name.to_owned()),
            plan: Set(plan.code().to_owned()),
            require_sso: Set(false),
            require_sso_changed_at: Set(None),
            created_at: Set(created_at),
        })
        .exec(&self.conn)
        .await?;
        Ok(OrgRecord {
            id: OrgId::new(inserted.last_insert_id),
            name: name.to_owned(),
            plan,
            require_sso: false,
            require_sso_changed_at: None,
            created_at: from_db(created_at),
        })
    }

    /// The organization with this id.
    pub async fn org(&self, org: OrgId) -> Result<OrgRecord, StoreError> {
        let model = organization::Entity::find_by_id(org.get())
            .one(&self.conn)
            .await?
            .ok_or(StoreError::not_found("organization"))?;
        OrgRecord::from_model(model)
    }

    /// Changes the plan. Nothing else changes: a downgrade below Growth turns SSO off through
    /// the policy, while every setting is kept for an upgrade.
    pub async fn set_plan(&self, org: OrgId, plan: Plan) -> Result<OrgRecord, StoreError> {
        let updated = organization::Entity::update_many()
            .col_expr(organization::Column::Plan, Expr::value(plan.code()))
            .filter(organization::Column::Id.eq(org.get()))
            .exec_with_returning(&self.conn)
            .await?;
        let model = updated
            .into_iter()
            .next()
            .ok_or(StoreError::not_found("organization"))?;
        OrgRecord::from_model(model)
    }

    /// Sets require-SSO; `require_sso_changed_at` becomes `now` when the value changes. The
    /// decision whether this is allowed (lockout protection) is `sso_policy::set_require_sso`,
    /// taken by the caller.
    pub async fn set_require_sso(
        &self,
        org: OrgId,
        on: bool,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, StoreError> {
        let now = to_db(now)?;
        // One statement, so concurrent calls cannot disagree about whether the value changed.
        let changed_at = Expr::case(
            Expr::col(organization::Column::RequireSso).eq(on),
            Expr::col(organization::Column::RequireSsoChangedAt),
        )
        .finally(Expr::value(now));
        let updated = organization::Entity::update_many()
            .col_expr(organization::Column::RequireSsoChangedAt, changed_at.into())
            .col_expr(organization::Column::RequireSso, Expr::value(on))
            .filter(organization::Column::Id.eq(org.get()))
            .exec_with_returning(&self.conn)
            .await?;
        let model = updated
            .into_iter()
            .next()
            .ok_or(StoreError::not_found("organization"))?;
        OrgRecord::from_model(model)
    }

    /// The organization, its connection and its verified domains: the input of every
    /// `sso-policy` decision (see [`OrgSnapshot::policy`]).
    ///
    /// One query (see [`login_context`](Self::login_context)), because every login starts
    /// with it.
    pub async fn org_snapshot(&self, org: OrgId) -> Result<OrgSnapshot, StoreError> {
        Ok(self.login_context(org, None).await?.0)
    }
}
