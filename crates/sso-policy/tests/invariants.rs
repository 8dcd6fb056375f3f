//! Invariants over arbitrary orgs: what must hold whatever the settings.

// Helpers outside #[test] functions panic too: in a test a panic is a failed assertion.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use sso_policy::{
    BreakGlass, Connection, Feature, JitSettings, Membership, Org, PasswordRefusal,
    PasswordSubject, Plan, RequireSsoChange, Role, SsoLoginGrant, break_glass, password_login,
    require_sso_status, set_jit, set_require_sso, sso_in_effect, sso_login, sso_login_preview,
    test_login_allowed,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);
const DOMAINS: [&str; 4] = [
    "example.com",
    "other.example",
    "xn--bcher-kva.example",
    "eu.example.com",
];

fn plan() -> impl Strategy<Value = Plan> {
    prop::sample::select(Plan::ALL.to_vec())
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn connection() -> impl Strategy<Value = Option<Connection>> {
    prop::option::of(
        (any::<bool>(), 0i64..100, prop::option::of(0i64..100)).prop_map(
            |(enabled, changed, last)| Connection {
                enabled,
                configuration_changed_at: BASE + Duration::minutes(changed),
                last_successful_login_at: last.map(|m| BASE + Duration::minutes(m)),
            },
        ),
    )
}

fn jit() -> impl Strategy<Value = JitSettings<u8>> {
    (
        prop::option::of(role()),
        prop::collection::vec(0u8..5, 0..4),
    )
        .prop_map(|(default_role, default_projects)| JitSettings {
            default_role,
            default_projects,
        })
}

fn org() -> impl Strategy<Value = Org<u8>> {
    (
        plan(),
        connection(),
        any::<bool>(),
        jit(),
        prop::sample::subsequence(DOMAINS.to_vec(), 0..=DOMAINS.len()),
    )
        .prop_map(|(plan, connection, require_sso, jit, domains)| Org {
            plan,
            connection,
            require_sso,
            jit,
            verified_domains: domains.into_iter().map(str::to_owned).collect(),
        })
}

fn membership() -> impl Strategy<Value = Membership> {
    prop_oneof![
        Just(Membership::NotMember),
        role().prop_map(Membership::Member),
        role().prop_map(Membership::Deactivated),
    ]
}

fn email_domain() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(DOMAINS.to_vec()).prop_map(str::to_owned),
        Just("EXAMPLE.COM".to_owned()),
        "[a-z]{1,8}\\.[a-z]{2,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// The first invariant: no plan below Growth ever yields an SSO grant.
    #[test]
    fn no_plan_below_growth_grants_sso(
        org in org(), domain in email_domain(), membership in membership(),
    ) {
        let granted = sso_login(&org, &domain, membership).is_ok();
        if org.plan < Plan::Growth {
            prop_assert!(!granted);
        }
        if granted {
            prop_assert!(org.plan.includes(Feature::Sso));
            prop_assert!(sso_in_effect(&org).is_ok());
        }
    }

    /// The second invariant: a password refusal always comes with SSO in effect, and
    /// with a configuration that has worked since it last changed (no configuration change
    /// can lock anyone out), and only for members or people at the org's verified domains.
    /// The one other refusal is a member the org's directory deactivated.
    #[test]
    fn password_refusal_implies_sso_in_effect_and_proven(
        org in org(), domain in email_domain(), membership in membership(),
    ) {
        let who = PasswordSubject { email_domain: &domain, membership };
        if let Membership::Deactivated(_) = membership {
            let refused = password_login(&org, who).map(|_| ()).unwrap_err();
            prop_assert_eq!(refused, PasswordRefusal::MemberDeactivated);
        } else if password_login(&org, who).is_err() {
            prop_assert!(sso_in_effect(&org).is_ok());
            prop_assert!(org.require_sso);
            prop_assert!(org.connection.is_some_and(|c| c.proven()));
            prop_assert!(require_sso_status(&org).enforced());
            prop_assert!(
                matches!(membership, Membership::Member(_))
                    || org.verified_domains.iter().any(|d| d.eq_ignore_ascii_case(&domain))
            );
        }
    }

    /// A downgrade below Growth (or a disabled connection) never locks anyone out: only the
    /// directory's deactivation refuses a password whatever the plan.
    #[test]
    fn no_lockout_without_sso_in_effect(
        org in org(), domain in email_domain(), membership in membership(),
    ) {
        let deactivated = matches!(membership, Membership::Deactivated(_));
        if sso_in_effect(&org).is_err() && !deactivated {
            let who = PasswordSubject { email_domain: &domain, membership };
            prop_assert!(password_login(&org, who).is_ok());
        }
    }

    #[test]
    fn members_keep_their_role_and_new_members_come_from_verified_domains(
        org in org(), domain in email_domain(), membership in membership(),
    ) {
        match (sso_login(&org, &domain, membership), membership) {
            (Ok(grant), Membership::Member(role)) => {
                prop_assert_eq!(grant, SsoLoginGrant::ExistingMember { role });
            }
            (Ok(SsoLoginGrant::NewMember { role, default_projects, default_projects_withheld }), Membership::NotMember) => {
                prop_assert_eq!(Some(role), org.jit.default_role);
                prop_assert!(org.verified_domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)));
                if org.plan.includes(Feature::JitDefaultProjects) {
                    prop_assert_eq!(&default_projects, &org.jit.default_projects);
                    prop_assert!(!default_projects_withheld);
                } else {
                    prop_assert!(default_projects.is_empty());
                    prop_assert_eq!(default_projects_withheld, !org.jit.default_projects.is_empty());
                }
            }
            (Ok(grant), Membership::NotMember | Membership::Deactivated(_)) => {
                prop_assert!(false, "unexpected {:?}", grant);
            }
            (Err(_), _) => {}
        }
    }

    /// A test login's preview is the login's decision once the connection is enabled, and is
    /// offered exactly when the plan has SSO and a connection exists.
    #[test]
    fn the_test_preview_is_the_decision_of_the_enabled_connection(
        org in org(), domain in email_domain(), membership in membership(),
    ) {
        let allowed = test_login_allowed(&org).is_ok();
        prop_assert_eq!(allowed, org.plan.includes(Feature::Sso) && org.connection.is_some());
        let preview = sso_login_preview(&org, &domain, membership);
        let mut enabled = org.clone();
        if let Some(connection) = &mut enabled.connection {
            connection.enabled = true;
        }
        prop_assert_eq!(&preview, &sso_login(&enabled, &domain, membership));
        if sso_in_effect(&org).is_ok() {
            prop_assert_eq!(&preview, &sso_login(&org, &domain, membership));
        }
    }

    /// Require-SSO goes on only when SSO is in effect and proven since the last change; it can
    /// always go off.
    #[test]
    fn lockout_protection(org in org()) {
        if let Ok(change) = set_require_sso(&org, true) {
            prop_assert_eq!(change, RequireSsoChange::TurnOn);
            prop_assert!(sso_in_effect(&org).is_ok());
            let connection = org.connection.expect("in effect means a connection");
            let login = connection.last_successful_login_at.expect("proven means a login");
            prop_assert!(login > connection.configuration_changed_at);
        }
        prop_assert_eq!(set_require_sso(&org, false), Ok(RequireSsoChange::TurnOff));
    }

    /// Break-glass is never refused for product reasons, and after it passwords work.
    #[test]
    fn break_glass_always_opens(org in org(), justification in "[a-z ]{0,12}") {
        match break_glass(&org, &justification) {
            Ok(outcome) => {
                prop_assert!(!justification.trim().is_empty());
                prop_assert_eq!(outcome == BreakGlass::Lift, org.require_sso);
                let lifted = Org { require_sso: false, ..org };
                let member = PasswordSubject {
                    email_domain: "example.com",
                    membership: Membership::Member(Role::Admin),
                };
                prop_assert!(password_login(&lifted, member).is_ok());
            }
            Err(_) => prop_assert!(justification.trim().is_empty()),
        }
    }

    /// Default projects are never added below Enterprise, and what is already configured can
    /// always be kept.
    #[test]
    fn default_projects_follow_the_plan(plan in plan(), current in jit(), new in jit()) {
        let adds = new.default_projects.iter().any(|p| !current.default_projects.contains(p));
        let accepted = set_jit(plan, &current, &new).is_ok();
        prop_assert_eq!(accepted, !adds || plan.includes(Feature::JitDefaultProjects));
        prop_assert!(set_jit(plan, &current, &current).is_ok());
    }
}
