//! Orgs and their plan, and the traces admins read.

use serde_json::json;
use sso_policy::{Plan, sso_in_effect};
use sso_store::{EventPage, EventQuery, OrgId, OrgRecord, StoreError};
use time::OffsetDateTime;

use super::{Audited, kinds};
use crate::error::AdminError;
use crate::login::Provisioner;

impl Provisioner {
    /// Creates an org on `plan`.
    pub async fn create_org(
        &self,
        actor: &str,
        name: &str,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, AdminError> {
        self.audited(None, kinds::ORG_CREATED, actor, now, async |tx| {
            let org = tx
                .create_org(name, plan, now)
                .await
                .map_err(|e| (e.into(), json!({})))?;
            let detail = json!({ "name": org.name, "plan": plan.code() });
            let id = org.id;
            Ok(Audited::new(org, id, "created", detail))
        })
        .await
    }

    /// Changes the plan. A downgrade below Growth turns SSO off (require-SSO stops applying,
    /// password login works again); nothing is deleted, so an upgrade restores everything.
    pub async fn set_plan(
        &self,
        actor: &str,
        org: OrgId,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, AdminError> {
        self.audited(Some(org), kinds::PLAN_CHANGED, actor, now, async |tx| {
            let fail = |e: StoreError| (AdminError::from(e), json!({ "to": plan.code() }));
            let before = tx.org(org).await.map_err(fail)?;
            let after = tx.set_plan(org, plan).await.map_err(fail)?;
            let snapshot = tx.org_snapshot(org).await.map_err(fail)?;
            let in_effect = sso_in_effect(&snapshot.policy());
            let detail = json!({
                "from": before.plan.code(),
                "to": plan.code(),
                "sso_in_effect": in_effect.is_ok(),
                "sso_off_reason": in_effect.err().map(|off| off.reason()),
                "require_sso_applies": after.require_sso && in_effect.is_ok(),
            });
            Ok(Audited::new(after, org, "plan-changed", detail))
        })
        .await
    }

    /// The org's login traces and audit events, newest first, one page at a time.
    pub async fn list_traces(
        &self,
        org: OrgId,
        query: &EventQuery,
    ) -> Result<EventPage, AdminError> {
        Ok(self.store.list_events(org, query).await?)
    }
}
