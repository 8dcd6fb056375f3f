//! Wire <-> domain conversions: plans, roles, ids, timestamps and records.

use sso_assertion::{Certificate, ServiceProvider};
use sso_domains::{VALUE_PREFIX, record_name};
use sso_policy::{GroupRoles, GroupRule, Plan, Role, require_sso_status};
use sso_provisioning::{
    AddedMember, ConnectionView, CreatedBy, DomainClaim, EventCursor, EventRecord, JitPreview,
    MemberRecord, OrgCredential, OrgCredentialId, OrgCursor, OrgId, OrgSnapshot, ProjectChange,
    ProjectId, ProjectRecord, RefreshState, SetupLink, SetupLinkId, TestLogin, TestLoginCheck,
    TestLoginStatus, UpsertedProject,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::{Code, Status};

use crate::status::{reason, refusal};
use crate::v1;

/// An `invalid-input` refusal (`INVALID_ARGUMENT`) naming the field.
pub(crate) fn invalid(field: &str, detail: &str) -> Status {
    refusal(
        Code::InvalidArgument,
        "invalid-input",
        &format!("invalid {field}: {detail}"),
    )
}

/// An org id as the wire carries it (decimal text).
pub(crate) fn org_id(text: &str) -> Result<OrgId, Status> {
    text.trim()
        .parse()
        .map_err(|_| invalid("org_id", &format!("{text:?} is not an organization id")))
}

/// A credential id as the wire carries it (decimal text).
pub(crate) fn credential_id(text: &str) -> Result<OrgCredentialId, Status> {
    text.trim()
        .parse()
        .map_err(|_| invalid("credential_id", &format!("{text:?} is not a credential id")))
}

/// A setup link id from the wire.
pub(crate) fn setup_link_id(text: &str) -> Result<SetupLinkId, Status> {
    text.trim()
        .parse()
        .map_err(|_| invalid("link_id", &format!("{text:?} is not a setup link id")))
}

/// A project id as the wire carries it: the host product's text, taken exactly as sent (no
/// trimming: the id is opaque), `field` naming it in a refusal.
pub(crate) fn project_id(field: &str, text: &str) -> Result<ProjectId, Status> {
    ProjectId::parse(text).map_err(|e| invalid(field, &e.to_string()))
}

/// A page token of a listing (`EventCursor`, `MemberCursor`, `ProjectCursor`): empty for the
/// first page.
pub(crate) fn cursor<C: std::str::FromStr>(text: &str) -> Result<Option<C>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<C>()
        .map(Some)
        .map_err(|_| invalid("page_token", "not a token this service issued"))
}

/// The domain plan of a wire plan; `PLAN_UNSPECIFIED` and unknown values are refused.
pub(crate) fn plan(wire: i32) -> Result<Plan, Status> {
    match v1::Plan::try_from(wire) {
        Ok(v1::Plan::Starter) => Ok(Plan::Starter),
        Ok(v1::Plan::Plus) => Ok(Plan::Plus),
        Ok(v1::Plan::Growth) => Ok(Plan::Growth),
        Ok(v1::Plan::Enterprise) => Ok(Plan::Enterprise),
        Ok(v1::Plan::Unspecified) | Err(_) => Err(invalid("plan", "a plan is required")),
    }
}

/// An org credential on the wire, without its secret.
pub(crate) fn credential(credential: &OrgCredential) -> v1::OrgCredential {
    v1::OrgCredential {
        id: credential.id.to_string(),
        org_id: credential.org.to_string(),
        description: credential.description.clone(),
        created_by: credential.created_by.clone(),
        created_at: timestamp(credential.created_at),
        expires_at: timestamp(credential.expires_at),
        revoked_at: optional_timestamp(credential.revoked_at),
    }
}

/// The wire form of a setup link (never its URL).
pub(crate) fn setup_link(link: &SetupLink) -> v1::SetupLink {
    v1::SetupLink {
        id: link.id.to_string(),
        org_id: link.org.to_string(),
        abilities: link
            .abilities
            .codes()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        created_by: link.created_by.clone(),
        created_at: timestamp(link.created_at),
        expires_at: timestamp(link.expires_at),
        revoked_at: optional_timestamp(link.revoked_at),
    }
}

/// The wire value of a plan.
pub(crate) fn plan_to_wire(plan: Plan) -> v1::Plan {
    match plan {
        Plan::Starter => v1::Plan::Starter,
        Plan::Plus => v1::Plan::Plus,
        Plan::Growth => v1::Plan::Growth,
        Plan::Enterprise => v1::Plan::Enterprise,
    }
}

/// The domain role of a wire role: `ROLE_UNSPECIFIED` is `None`, unknown values are refused.
pub(crate) fn role(wire: i32) -> Result<Option<Role>, Status> {
    match v1::Role::try_from(wire) {
        Ok(v1::Role::Unspecified) => Ok(None),
        Ok(v1::Role::Viewer) => Ok(Some(Role::Viewer)),
        Ok(v1::Role::Member) => Ok(Some(Role::Member)),
        Ok(v1::Role::Manager) => Ok(Some(Role::Manager)),
        Ok(v1::Role::Admin) => Ok(Some(Role::Admin)),
        Err(_) => Err(invalid("role", &format!("{wire} is not a role"))),
    }
}

/// The wire value of a role; `None` is `ROLE_UNSPECIFIED`.
pub(crate) fn role_to_wire(role: Option<Role>) -> v1::Role {
    match role {
        None => v1::Role::Unspecified,
        Some(Role::Viewer) => v1::Role::Viewer,
        Some(Role::Member) => v1::Role::Member,
        Some(Role::Manager) => v1::Role::Manager,
        Some(Role::Admin) => v1::Role::Admin,
    }
}

/// RFC 3339 text of an instant (empty for the rare instant RFC 3339 cannot express).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// RFC 3339 text of an optional instant; empty for `None`.
/// A completed login as `CompleteSsoLogin` and `RedeemLoginCode` answer it.
pub(crate) fn login_to_wire(
    outcome: sso_provisioning::LoginOutcome,
) -> v1::CompleteSsoLoginResponse {
    v1::CompleteSsoLoginResponse {
        user: Some(v1::User {
            id: outcome.user.id.to_string(),
            email: outcome.user.email.as_str().to_owned(),
        }),
        org_id: outcome.org.to_string(),
        role: role_to_wire(Some(outcome.role)).into(),
        project_ids: outcome.projects.iter().map(ToString::to_string).collect(),
        membership_created: outcome.membership_created,
        session_not_on_or_after: optional_timestamp(outcome.session_not_on_or_after),
        return_target: outcome.return_target.unwrap_or_default(),
    }
}

pub(crate) fn optional_timestamp(at: Option<OffsetDateTime>) -> String {
    at.map(timestamp).unwrap_or_default()
}

/// A page token of the traces: empty for the first page, else an `EventCursor`.
pub(crate) fn page_token(text: &str) -> Result<Option<EventCursor>, Status> {
    cursor(text)
}

/// An org-list page token: empty for the first page, else an `OrgCursor`.
pub(crate) fn org_page_token(text: &str) -> Result<Option<OrgCursor>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<OrgCursor>()
        .map(Some)
        .map_err(|_| invalid("page_token", "not a token this service issued"))
}

/// An organization on the wire, with whether "require SSO" applies now: `sso-policy`'s
/// `require_sso_status`, the one rule the password check also follows.
pub(crate) fn org(snapshot: &OrgSnapshot) -> v1::Org {
    let record = &snapshot.org;
    let status = require_sso_status(&snapshot.policy());
    v1::Org {
        id: record.id.to_string(),
        name: record.name.clone(),
        plan: plan_to_wire(record.plan).into(),
        require_sso: record.require_sso,
        verified_domains: snapshot.verified_domains.clone(),
        require_sso_in_effect: status.enforced(),
        require_sso_status: status.code().to_owned(),
        require_sso_explanation: status.explanation().to_owned(),
    }
}

/// A connection on the wire, as an admin reads it, with the org's SP endpoints.
pub(crate) fn connection(view: &ConnectionView, sp: &ServiceProvider) -> v1::Connection {
    let record = &view.connection;
    let options = &record.options;
    let idp_certificate_fingerprints = record
        .idp
        .certificates
        .iter()
        .map(|pem| {
            Certificate::from_pem_or_base64(pem)
                .map(|c| c.fingerprint().to_string())
                .unwrap_or_else(|_| "(unreadable certificate)".to_owned())
        })
        .collect();
    v1::Connection {
        org_id: record.org.to_string(),
        idp_entity_id: record.idp.entity_id.clone(),
        idp_certificate_fingerprints,
        enabled: record.enabled,
        jit_role: role_to_wire(record.jit_role).into(),
        jit_default_project_ids: record
            .jit_default_projects
            .iter()
            .map(ToString::to_string)
            .collect(),
        config_version: u64::try_from(record.config_version).unwrap_or_default(),
        last_successful_login_at: optional_timestamp(record.last_successful_login_at),
        sp_entity_id: sp.entity_id().to_owned(),
        acs_url: sp.acs_url().to_owned(),
        warnings: view.warnings.clone(),
        allow_unsolicited: options.allow_unsolicited,
        allow_sha1: options.allow_sha1,
        clock_skew_seconds: u32::try_from(options.clock_skew.whole_seconds()).unwrap_or_default(),
        metadata_origin: if view.source.is_some() {
            "url"
        } else {
            "inline"
        }
        .to_owned(),
        metadata_source: view.source.as_ref().map(metadata_source),
        configuration_changed_at: timestamp(record.configuration_changed_at),
        proven: view.proven,
        group_role_rules: Some(group_roles_to_wire(&record.group_roles)),
    }
}

/// A connection's group rules on the wire, each with its id (position from 1).
fn group_roles_to_wire(settings: &GroupRoles<ProjectId>) -> v1::GroupRoleRules {
    v1::GroupRoleRules {
        groups_attribute: settings.attribute.clone().unwrap_or_default(),
        rules: settings
            .rules
            .iter()
            .zip(1u32..)
            .map(|(rule, id)| v1::GroupRoleRule {
                id,
                group: rule.group.clone(),
                role: role_to_wire(Some(rule.role)).into(),
                project_ids: rule.projects.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        apply_on_every_login: settings.apply_on_every_login,
    }
}

/// The group rules of `SetGroupRoleRules`: every rule needs a role, and project ids must
/// read; each is named by its place when refused. The limits are the policy's.
pub(crate) fn group_roles(
    request: &v1::SetGroupRoleRulesRequest,
) -> Result<GroupRoles<ProjectId>, Status> {
    if request.rules.len() > sso_policy::MAX_GROUP_RULES {
        return Err(invalid(
            "rules",
            &format!(
                "{} rules; at most {}",
                request.rules.len(),
                sso_policy::MAX_GROUP_RULES
            ),
        ));
    }
    let rules = request
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let Some(role) = role(rule.role)? else {
                return Err(invalid(&format!("rules[{i}].role"), "a role is needed"));
            };
            if rule.project_ids.len() > sso_policy::MAX_RULE_PROJECTS {
                return Err(invalid(&format!("rules[{i}].project_ids"), "too many"));
            }
            let projects = rule
                .project_ids
                .iter()
                .enumerate()
                .map(|(j, id)| project_id(&format!("rules[{i}].project_ids[{j}]"), id))
                .collect::<Result<_, _>>()?;
            Ok(GroupRule {
                group: rule.group.clone(),
                role,
                projects,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(GroupRoles {
        attribute: Some(request.groups_attribute.clone()).filter(|a| !a.trim().is_empty()),
        rules,
        apply_on_every_login: request.apply_on_every_login,
    })
}

/// A connection's metadata source and refresh state on the wire.
pub(crate) fn metadata_source(state: &RefreshState) -> v1::MetadataSource {
    v1::MetadataSource {
        url: state.source.url.clone(),
        entity_id: state.source.entity_id.clone().unwrap_or_default(),
        refresh_interval_seconds: state
            .source
            .refresh_interval
            .and_then(|i| u32::try_from(i.whole_seconds()).ok())
            .unwrap_or(0),
        next_refresh_at: optional_timestamp(state.next_refresh_at),
        last_refresh_at: optional_timestamp(state.refreshed_at),
        last_refresh_result: state.refresh_reason.clone().unwrap_or_default(),
        signing_certificate_fingerprint: state
            .source
            .signing_certificate
            .as_deref()
            .map(|pem| {
                Certificate::from_pem_or_base64(pem)
                    .map(|c| c.fingerprint().to_string())
                    .unwrap_or_else(|_| "(unreadable certificate)".to_owned())
            })
            .unwrap_or_default(),
        valid_until: optional_timestamp(state.validity.valid_until),
        cache_duration_seconds: state
            .validity
            .cache_duration
            .and_then(|d| u64::try_from(d.whole_seconds()).ok())
            .unwrap_or(0),
    }
}

/// A project on the wire.
pub(crate) fn project(record: &ProjectRecord) -> v1::Project {
    v1::Project {
        id: record.id.to_string(),
        name: record.name.clone(),
        created_at: timestamp(record.created_at),
    }
}

/// One project of an upsert on the wire.
pub(crate) fn upserted_project(upserted: &UpsertedProject) -> v1::UpsertedProject {
    let (change, previous_name) = match &upserted.change {
        ProjectChange::Created => (v1::ProjectChange::Created, String::new()),
        ProjectChange::Renamed { from } => (v1::ProjectChange::Renamed, from.clone()),
        _ => (v1::ProjectChange::Unchanged, String::new()),
    };
    v1::UpsertedProject {
        project: Some(project(&upserted.record)),
        change: change.into(),
        previous_name,
    }
}

/// A member on the wire.
pub(crate) fn member(record: &MemberRecord) -> v1::Member {
    let created_by = match record.created_by {
        CreatedBy::Jit => v1::CreatedBy::Jit,
        CreatedBy::Admin => v1::CreatedBy::Admin,
        CreatedBy::Scim => v1::CreatedBy::Scim,
        _ => v1::CreatedBy::Unspecified,
    };
    v1::Member {
        email: record.user.email.as_str().to_owned(),
        user_id: record.user.id.to_string(),
        role: role_to_wire(Some(record.role)).into(),
        created_by: created_by.into(),
        created_at: timestamp(record.created_at),
        project_ids: record.projects.iter().map(ToString::to_string).collect(),
        deactivated_at: optional_timestamp(record.suspended_at),
        scim_managed: record.scim_managed,
    }
}

/// One person of `AddMembers` on the wire.
pub(crate) fn added_member(added: &AddedMember) -> v1::AddedMember {
    v1::AddedMember {
        member: Some(member(&added.member)),
        created: added.created,
    }
}

/// A domain claim on the wire, with the TXT record that proves it.
pub(crate) fn domain_claim(claim: &DomainClaim) -> v1::DomainClaim {
    v1::DomainClaim {
        org_id: claim.org.to_string(),
        domain: claim.domain.clone(),
        state: claim.state.code().to_owned(),
        record_name: record_name(&claim.domain),
        record_value: claim
            .token
            .as_ref()
            .map(|token| format!("{VALUE_PREFIX}{token}"))
            .unwrap_or_default(),
        verified_by: claim
            .verified_by
            .map(|by| by.code().to_owned())
            .unwrap_or_default(),
        verified_at: optional_timestamp(claim.verified_at),
        claimed_at: timestamp(claim.claimed_at),
        last_checked_at: optional_timestamp(claim.checked_at),
        last_check_result: claim.check_result.clone().unwrap_or_default(),
        failures_in_a_row: claim.check_failures,
        next_check_at: optional_timestamp(claim.next_check_at),
    }
}

/// A login trace or audit event on the wire.
pub(crate) fn trace(event: &EventRecord) -> v1::LoginTrace {
    v1::LoginTrace {
        id: event.id.to_string(),
        occurred_at: timestamp(event.occurred_at),
        kind: event.kind.clone(),
        outcome: event.outcome.code().to_owned(),
        reason: reason(&event.reason).into(),
        reason_code: event.reason.clone(),
        detail_json: event.detail.to_string(),
        actor: event.actor.clone().unwrap_or_default(),
    }
}

/// A test login and its findings on the wire.
pub(crate) fn test_login(test: &TestLogin) -> v1::TestLogin {
    let state = match test.state {
        TestLoginStatus::Pending => v1::TestLoginState::Pending,
        TestLoginStatus::Succeeded => v1::TestLoginState::Succeeded,
        TestLoginStatus::Failed => v1::TestLoginState::Failed,
        TestLoginStatus::Expired => v1::TestLoginState::Expired,
        _ => v1::TestLoginState::Unspecified,
    };
    let reason_code = test.reason.clone().unwrap_or_default();
    v1::TestLogin {
        id: test.id.clone(),
        org_id: test.org.to_string(),
        state: state.into(),
        config_version: u64::try_from(test.config_version).unwrap_or_default(),
        proved_configuration: test.proved_configuration,
        started_at: timestamp(test.started_at),
        expires_at: timestamp(test.expires_at),
        completed_at: optional_timestamp(test.completed_at),
        started_by: test.started_by.clone(),
        reason: optional_reason(&reason_code).into(),
        reason_code,
        message: test.message.clone().unwrap_or_default(),
        checks: test.checks.iter().map(test_login_check).collect(),
        email: test.email.clone().unwrap_or_default(),
        email_source: test
            .email_source
            .map(|s| s.code().to_owned())
            .unwrap_or_default(),
        jit: test.jit.as_ref().map(jit_preview),
        connection_enabled: test.connection_enabled.unwrap_or(false),
        trace_id: test.trace.map(|t| t.to_string()).unwrap_or_default(),
    }
}

/// The wire reason of a code; `REASON_UNSPECIFIED` for none.
fn optional_reason(code: &str) -> v1::Reason {
    if code.is_empty() {
        v1::Reason::Unspecified
    } else {
        reason(code)
    }
}

fn test_login_check(check: &TestLoginCheck) -> v1::TestLoginCheck {
    let reason_code = check.reason.clone().unwrap_or_default();
    v1::TestLoginCheck {
        name: check.name.clone(),
        passed: check.passed,
        reason: optional_reason(&reason_code).into(),
        reason_code,
        detail: check.detail.clone(),
    }
}

fn jit_preview(preview: &JitPreview) -> v1::JitPreview {
    match preview {
        JitPreview::ExistingMember { role } => v1::JitPreview {
            decision: "existing-member".to_owned(),
            role: role_to_wire(Some(*role)).into(),
            ..v1::JitPreview::default()
        },
        JitPreview::NewMember {
            role,
            projects,
            user_exists,
            default_projects_withheld,
        } => v1::JitPreview {
            decision: "jit-new-member".to_owned(),
            role: role_to_wire(Some(*role)).into(),
            project_ids: projects.iter().map(ToString::to_string).collect(),
            user_exists: *user_exists,
            default_projects_withheld: *default_projects_withheld,
            ..v1::JitPreview::default()
        },
        JitPreview::Refused {
            reason: code,
            detail,
        } => v1::JitPreview {
            decision: "refused".to_owned(),
            reason: reason(code).into(),
            reason_code: code.clone(),
            detail: detail.clone(),
            ..v1::JitPreview::default()
        },
        _ => v1::JitPreview::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::reason_of;
    use time::macros::datetime;

    #[test]
    fn plans_round_trip_and_unspecified_is_refused() {
        for p in [Plan::Starter, Plan::Plus, Plan::Growth, Plan::Enterprise] {
            assert_eq!(plan(plan_to_wire(p).into()).unwrap(), p);
        }
        for bad in [0, 99, -1] {
            let status = plan(bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(reason_of(&status), Some(v1::Reason::InvalidInput));
        }
    }

    #[test]
    fn roles_round_trip_and_unspecified_is_none() {
        for r in [
            None,
            Some(Role::Viewer),
            Some(Role::Member),
            Some(Role::Manager),
            Some(Role::Admin),
        ] {
            assert_eq!(role(role_to_wire(r).into()).unwrap(), r);
        }
        assert_eq!(role(42).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn org_ids_parse_from_decimal_text_only() {
        assert_eq!(org_id("42").unwrap(), OrgId::new(42));
        assert_eq!(org_id(" 7 ").unwrap(), OrgId::new(7));
        for bad in ["", "abc", "-1", "0", "1.5", "99999999999999999999"] {
            let status = org_id(bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
            assert_eq!(reason_of(&status), Some(v1::Reason::InvalidInput));
        }
    }

    #[test]
    fn project_ids_are_the_host_products_text_as_sent() {
        assert_eq!(project_id("f", "3").unwrap().as_str(), "3");
        assert_eq!(
            project_id("f", "Team / wiki").unwrap().as_str(),
            "Team / wiki"
        );
        for bad in ["", " padded", "a\u{0}b", &"x".repeat(201)] {
            let status = project_id("projects[2].id", bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
            assert_eq!(reason_of(&status), Some(v1::Reason::InvalidInput));
            assert!(
                status.message().contains("projects[2].id"),
                "{}",
                status.message()
            );
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let at = datetime!(2025-03-01 09:00:05.25 UTC);
        assert_eq!(timestamp(at), "2025-03-01T09:00:05.25Z");
        assert_eq!(optional_timestamp(Some(at)), "2025-03-01T09:00:05.25Z");
        assert_eq!(optional_timestamp(None), "");
    }

    #[test]
    fn page_tokens_parse_or_are_invalid_input() {
        assert_eq!(page_token("").unwrap(), None);
        assert!(page_token("1740819605000000.12").unwrap().is_some());
        let status = page_token("garbage").unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&status), Some(v1::Reason::InvalidInput));
        assert_eq!(org_page_token("").unwrap(), None);
        assert!(org_page_token("org.12").unwrap().is_some());
        for bad in ["12", "1740819605000000.12", "org.0"] {
            let status = org_page_token(bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        }
    }
}
