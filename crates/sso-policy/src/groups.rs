//! Directory-driven roles: rules that map the groups a person has at the IdP (a SAML attribute,
//! or the directory's own groups) to a role and projects, decided at each SSO login.
//!
//! The groups arrive from outside (an IdP may send thousands of values), so they are read with
//! bounds ([`Groups::read`]); the rules come from an admin and are checked before they are
//! stored ([`check_group_roles`]).

use std::fmt;

use crate::login::SsoLoginGrant;
use crate::plan::{Feature, Plan, Role};

/// At most this many group values are looked at per login (values past it are ignored, and
/// the result says so): an IdP sending a huge list costs bounded work.
pub const MAX_GROUPS: usize = 1000;
/// A group value longer than this many bytes is skipped, never cut short (a cut value could
/// match a rule it does not name).
pub const MAX_GROUP_LEN: usize = 1024;
/// At most this many rules per connection.
pub const MAX_GROUP_RULES: usize = 100;
/// At most this many projects per rule.
pub const MAX_RULE_PROJECTS: usize = 100;
/// The longest attribute name accepted as the groups attribute.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 1024;

/// One rule: members of `group` get `role` and access to `projects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule<P = String> {
    /// The group as the IdP names it: a name (`engineering`), a distinguished name
    /// (`CN=Admins,OU=Groups,DC=example,DC=com`) or an object id (Entra ID). Compared with
    /// the values sent without regard to ASCII letter case.
    pub group: String,
    /// The role its members get.
    pub role: Role,
    /// Projects its members get access to (applied on plans with project permissions only).
    pub projects: Vec<P>,
}

/// A connection's group rules and when they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRoles<P = String> {
    /// The SAML attribute carrying the person's groups (`groups`, `memberOf`, Entra ID's
    /// `http://schemas.microsoft.com/ws/2008/06/identity/claims/groups`); `None`: groups come
    /// from the directory only.
    pub attribute: Option<String>,
    /// The rules, in the admin's order; a rule's id is its position from 1.
    pub rules: Vec<GroupRule<P>>,
    /// Also apply the rules to existing members on every login, demotions included; off: only
    /// people created just in time get a role from them.
    pub apply_on_every_login: bool,
}

impl<P> Default for GroupRoles<P> {
    fn default() -> Self {
        Self {
            attribute: None,
            rules: Vec::new(),
            apply_on_every_login: false,
        }
    }
}

/// The groups a login presents, read with bounds: at most [`MAX_GROUPS`] values looked at,
/// surrounding whitespace trimmed, empty values and values over [`MAX_GROUP_LEN`] skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups<'a> {
    names: Vec<&'a str>,
    looked_at: usize,
    truncated: bool,
    too_long: usize,
}

impl<'a> Groups<'a> {
    /// Reads the values of one source (an attribute's values, the directory's groups).
    pub fn read(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut groups = Self::default();
        groups.add(values);
        groups
    }

    /// Reads the values of another source, under the same bound as the first.
    pub fn add(&mut self, values: impl IntoIterator<Item = &'a str>) {
        let mut values = values.into_iter();
        while self.looked_at < MAX_GROUPS {
            let Some(value) = values.next() else {
                return;
            };
            self.looked_at += 1;
            let value = value.trim();
            if value.len() > MAX_GROUP_LEN {
                self.too_long += 1;
            } else if !value.is_empty() {
                self.names.push(value);
            }
        }
        if values.next().is_some() {
            self.truncated = true;
        }
    }

    /// The groups read, in the order sent.
    pub fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// Whether values were left unread because [`MAX_GROUPS`] had been looked at.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// How many values were skipped for being longer than [`MAX_GROUP_LEN`].
    pub fn too_long(&self) -> usize {
        self.too_long
    }
}

/// A rule whose group the person has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// The rule's id: its position among the connection's rules, from 1.
    pub rule: usize,
    /// The rule's group.
    pub group: String,
    /// The rule's role.
    pub role: Role,
}

/// What the rules say about one person's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMatch<P = String> {
    /// Every rule that matched, in rule order.
    pub matched: Vec<RuleMatch>,
    /// The rule that decides the role: the first of those with the highest role.
    pub fired: Option<RuleMatch>,
    /// The projects of every matching rule, each once, in rule order.
    pub projects: Vec<P>,
}

/// Matches `groups` against `rules`: the highest role of the matching rules wins, and the
/// projects are the union of theirs.
pub fn match_groups<P: Clone + PartialEq>(
    rules: &[GroupRule<P>],
    groups: &Groups<'_>,
) -> GroupMatch<P> {
    let mut found = GroupMatch {
        matched: Vec::new(),
        fired: None,
        projects: Vec::new(),
    };
    for (index, rule) in rules.iter().enumerate() {
        let group = rule.group.trim();
        if !groups.names().iter().any(|g| g.eq_ignore_ascii_case(group)) {
            continue;
        }
        let hit = RuleMatch {
            rule: index + 1,
            group: rule.group.clone(),
            role: rule.role,
        };
        if found.fired.as_ref().is_none_or(|f| hit.role > f.role) {
            found.fired = Some(hit.clone());
        }
        found.matched.push(hit);
        for project in &rule.projects {
            if !found.projects.contains(project) {
                found.projects.push(project.clone());
            }
        }
    }
    found
}

/// What the group rules do at one login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DirectoryRole<P = String> {
    /// The rules are not consulted: the connection has none (`no-group-rules`), or the person
    /// is a member already and the rules apply at just-in-time provisioning only
    /// (`existing-member-kept`).
    NotApplied(&'static str),
    /// A person created just in time: the role of the rule that fired, or the JIT default
    /// role when none matched; the JIT default projects and those of every matching rule.
    NewMember {
        /// The role they get.
        role: Role,
        /// The rule that gave it; `None`: the JIT default role.
        rule: Option<RuleMatch>,
        /// The projects they get (empty unless the plan includes project permissions).
        projects: Vec<P>,
        /// Whether projects were configured but not applied because of the plan.
        projects_withheld: bool,
    },
    /// A member signing in again with the rules applied on every login. Without a matching
    /// rule the member keeps their role: a login whose groups are missing (an IdP setting
    /// changed, a group claim left out) must not demote anyone by accident.
    ExistingMember {
        /// Their role before this login.
        from: Role,
        /// The role the rules give (`from` when none matched).
        to: Role,
        /// The rule that fired, if any.
        rule: Option<RuleMatch>,
        /// Projects to add to their access (never removed by a login).
        projects: Vec<P>,
        /// Whether projects were configured but not applied because of the plan.
        projects_withheld: bool,
    },
}

impl<P> DirectoryRole<P> {
    /// Stable machine-readable code of what happened to the role.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotApplied(why) => why,
            Self::NewMember { rule: Some(_), .. } => "role-from-group-rule",
            Self::NewMember { rule: None, .. } => "jit-default-role",
            Self::ExistingMember { rule: None, .. } => "no-matching-rule-kept",
            Self::ExistingMember { from, to, .. } if to > from => "promoted",
            Self::ExistingMember { from, to, .. } if to < from => "demoted",
            Self::ExistingMember { .. } => "unchanged",
        }
    }
}

/// Decides what `settings` do to the login `grant` (the [`sso_login`](crate::sso_login)
/// decision) of a person whose groups matched as `matched`, on `plan`.
pub fn directory_role<P: Clone + PartialEq>(
    plan: Plan,
    settings: &GroupRoles<P>,
    grant: &SsoLoginGrant<P>,
    matched: &GroupMatch<P>,
) -> DirectoryRole<P> {
    if settings.rules.is_empty() {
        return DirectoryRole::NotApplied("no-group-rules");
    }
    let projects_allowed = plan.includes(Feature::JitDefaultProjects);
    let (projects, withheld) = if projects_allowed {
        (matched.projects.clone(), false)
    } else {
        (Vec::new(), !matched.projects.is_empty())
    };
    match grant {
        SsoLoginGrant::NewMember {
            role,
            default_projects,
            default_projects_withheld,
        } => {
            let mut all = default_projects.clone();
            for project in projects {
                if !all.contains(&project) {
                    all.push(project);
                }
            }
            DirectoryRole::NewMember {
                role: matched.fired.as_ref().map_or(*role, |f| f.role),
                rule: matched.fired.clone(),
                projects: all,
                projects_withheld: withheld || *default_projects_withheld,
            }
        }
        SsoLoginGrant::ExistingMember { .. } if !settings.apply_on_every_login => {
            DirectoryRole::NotApplied("existing-member-kept")
        }
        SsoLoginGrant::ExistingMember { role } => DirectoryRole::ExistingMember {
            from: *role,
            to: matched.fired.as_ref().map_or(*role, |f| f.role),
            rule: matched.fired.clone(),
            projects,
            projects_withheld: withheld,
        },
    }
}

/// Whether a login may change a member's role `from` to `to` when the org has `admins`
/// Admins: never when it would take the Admin role from the last one (the same rule as an
/// admin's change). The login then goes on with the member keeping Admin.
pub fn role_change_allowed(from: Role, to: Role, admins: u64) -> bool {
    !(from == Role::Admin && to != Role::Admin && admins <= 1)
}

/// Group rules an admin asked for are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupRulesRefusal {
    /// More than [`MAX_GROUP_RULES`] rules.
    TooManyRules(usize),
    /// The groups attribute is blank, too long or holds control characters.
    InvalidAttribute(&'static str),
    /// A rule's group is blank, too long or holds control characters.
    InvalidGroup {
        /// The rule's position, from 0.
        index: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// Two rules name the same group (letter case aside): which one applies would be unclear.
    DuplicateGroup {
        /// The second rule's position, from 0.
        index: usize,
    },
    /// A rule lists more than [`MAX_RULE_PROJECTS`] projects, or one twice.
    InvalidProjects {
        /// The rule's position, from 0.
        index: usize,
    },
    /// Projects are added to rules on a plan without project permissions.
    PlanWithoutRuleProjects,
}

impl GroupRulesRefusal {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PlanWithoutRuleProjects => "plan-without-rule-projects",
            _ => "invalid-input",
        }
    }

    /// The position of the rule at fault, from 0, when one is.
    pub fn rule_index(&self) -> Option<usize> {
        match self {
            Self::InvalidGroup { index, .. }
            | Self::DuplicateGroup { index }
            | Self::InvalidProjects { index } => Some(*index),
            _ => None,
        }
    }
}

impl fmt::Display for GroupRulesRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyRules(n) => write!(f, "{n} group rules; at most {MAX_GROUP_RULES}"),
            Self::InvalidAttribute(why) => write!(f, "groups attribute: {why}"),
            Self::InvalidGroup { index, detail } => write!(f, "rules[{index}].group: {detail}"),
            Self::DuplicateGroup { index } => {
                write!(f, "rules[{index}].group: another rule names the same group")
            }
            Self::InvalidProjects { index } => write!(
                f,
                "rules[{index}].projects: at most {MAX_RULE_PROJECTS}, each once"
            ),
            Self::PlanWithoutRuleProjects => {
                f.write_str("projects in group rules need a plan with project permissions")
            }
        }?;
        write!(f, " ({})", self.reason())
    }
}

impl std::error::Error for GroupRulesRefusal {}

/// Checks a name an admin typed (an attribute name, a group): not blank, bounded, no control
/// characters.
fn check_name(name: &str, max: usize) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        Err("empty")
    } else if name.len() > max {
        Err("too long")
    } else if name.chars().any(char::is_control) {
        Err("holds a control character")
    } else {
        Ok(())
    }
}

/// Decides an admin's change of group rules from `current` to `new` on `plan`. Projects may
/// be added to rules only where the plan includes project permissions (as JIT default
/// projects); on other plans those already configured may be kept, not added to.
pub fn check_group_roles<P: PartialEq>(
    plan: Plan,
    current: &GroupRoles<P>,
    new: &GroupRoles<P>,
) -> Result<(), GroupRulesRefusal> {
    if new.rules.len() > MAX_GROUP_RULES {
        return Err(GroupRulesRefusal::TooManyRules(new.rules.len()));
    }
    if let Some(attribute) = &new.attribute {
        check_name(attribute, MAX_ATTRIBUTE_NAME_LEN)
            .map_err(GroupRulesRefusal::InvalidAttribute)?;
    }
    for (index, rule) in new.rules.iter().enumerate() {
        check_name(&rule.group, MAX_GROUP_LEN)
            .map_err(|detail| GroupRulesRefusal::InvalidGroup { index, detail })?;
        let earlier = new.rules.iter().take(index);
        if earlier
            .into_iter()
            .any(|r| r.group.trim().eq_ignore_ascii_case(rule.group.trim()))
        {
            return Err(GroupRulesRefusal::DuplicateGroup { index });
        }
        let repeated = rule
            .projects
            .iter()
            .enumerate()
            .any(|(i, p)| rule.projects.iter().take(i).any(|q| q == p));
        if rule.projects.len() > MAX_RULE_PROJECTS || repeated {
            return Err(GroupRulesRefusal::InvalidProjects { index });
        }
    }
    let adds_projects = new.rules.iter().flat_map(|r| &r.projects).any(|p| {
        !current
            .rules
            .iter()
            .flat_map(|r| &r.projects)
            .any(|q| q == p)
    });
    if adds_projects && !plan.includes(Feature::JitDefaultProjects) {
        return Err(GroupRulesRefusal::PlanWithoutRuleProjects);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rule(group: &str, role: Role, projects: &[&str]) -> GroupRule {
        GroupRule {
            group: group.to_owned(),
            role,
            projects: projects.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn settings(rules: Vec<GroupRule>, every_login: bool) -> GroupRoles {
        GroupRoles {
            attribute: Some("groups".to_owned()),
            rules,
            apply_on_every_login: every_login,
        }
    }

    fn new_member() -> SsoLoginGrant {
        SsoLoginGrant::NewMember {
            role: Role::Viewer,
            default_projects: vec!["handbook".to_owned()],
            default_projects_withheld: false,
        }
    }

    fn existing(role: Role) -> SsoLoginGrant {
        SsoLoginGrant::ExistingMember { role }
    }

    fn rules() -> Vec<GroupRule> {
        vec![
            rule("staff", Role::Member, &["wiki"]),
            rule("CN=Admins,OU=Groups,DC=example,DC=com", Role::Admin, &[]),
            rule("leads", Role::Manager, &["wiki", "roadmap"]),
            rule("also-admins", Role::Admin, &["ops"]),
        ]
    }

    #[test]
    fn the_highest_role_wins_and_the_first_rule_with_it_fires() {
        let groups = Groups::read(["leads", "staff", "cn=admins,ou=groups,dc=example,dc=com"]);
        let found = match_groups(&rules(), &groups);
        let ids: Vec<usize> = found.matched.iter().map(|m| m.rule).collect();
        assert_eq!(ids, [1, 2, 3]);
        let fired = found.fired.unwrap();
        assert_eq!((fired.rule, fired.role), (2, Role::Admin));
        assert_eq!(found.projects, ["wiki", "roadmap"]);

        let groups = Groups::read(["also-admins", "CN=Admins,OU=Groups,DC=example,DC=com"]);
        let found = match_groups(&rules(), &groups);
        assert_eq!(found.fired.unwrap().rule, 2, "rule order breaks a tie");
        assert_eq!(found.projects, ["ops"]);
    }

    #[test]
    fn nothing_matches_without_the_exact_group() {
        for values in [
            vec![],
            vec!["staf"],
            vec!["staff-x"],
            vec!["CN=Admins"],
            vec!["stäff"],
        ] {
            let found = match_groups(&rules(), &Groups::read(values.clone()));
            assert_eq!(found.fired, None, "{values:?}");
            assert!(found.matched.is_empty() && found.projects.is_empty());
        }
        // Surrounding whitespace is not part of a group.
        let found = match_groups(&rules(), &Groups::read(["  staff\n"]));
        assert_eq!(found.fired.unwrap().rule, 1);
    }

    #[test]
    fn at_jit_a_rule_sets_the_role_and_adds_projects() {
        let s = settings(rules(), false);
        let found = match_groups(&s.rules, &Groups::read(["leads"]));
        let decided = directory_role(Plan::Enterprise, &s, &new_member(), &found);
        assert_eq!(decided.reason(), "role-from-group-rule");
        let DirectoryRole::NewMember { role, projects, .. } = decided else {
            panic!("{decided:?}")
        };
        assert_eq!(role, Role::Manager);
        assert_eq!(projects, ["handbook", "wiki", "roadmap"]);

        // No rule: the JIT default role and projects.
        let none = match_groups(&s.rules, &Groups::read(["guests"]));
        let decided = directory_role(Plan::Enterprise, &s, &new_member(), &none);
        assert_eq!(decided.reason(), "jit-default-role");
        assert!(matches!(
            decided,
            DirectoryRole::NewMember { role: Role::Viewer, ref projects, .. } if projects == &["handbook"]
        ));
    }

    #[test]
    fn rule_projects_need_project_permissions() {
        let s = settings(rules(), true);
        let found = match_groups(&s.rules, &Groups::read(["leads"]));
        let grant = SsoLoginGrant::NewMember {
            role: Role::Viewer,
            default_projects: Vec::new(),
            default_projects_withheld: false,
        };
        let decided = directory_role(Plan::Growth, &s, &grant, &found);
        assert!(matches!(
            decided,
            DirectoryRole::NewMember { role: Role::Manager, ref projects, projects_withheld: true, .. }
                if projects.is_empty()
        ));
        let decided = directory_role(Plan::Growth, &s, &existing(Role::Viewer), &found);
        assert!(matches!(
            decided,
            DirectoryRole::ExistingMember { to: Role::Manager, ref projects, projects_withheld: true, .. }
                if projects.is_empty()
        ));
    }

    #[test]
    fn existing_members_follow_the_rules_only_on_every_login() {
        let admins = Groups::read(["CN=Admins,OU=Groups,DC=example,DC=com"]);
        let staff = Groups::read(["staff"]);
        let nobody = Groups::read(["guests"]);
        let off = settings(rules(), false);
        let found = match_groups(&off.rules, &admins);
        let kept = directory_role(Plan::Enterprise, &off, &existing(Role::Viewer), &found);
        assert_eq!(kept, DirectoryRole::NotApplied("existing-member-kept"));

        let on = settings(rules(), true);
        let cases = [
            (&admins, Role::Viewer, Role::Admin, "promoted"),
            (&staff, Role::Admin, Role::Member, "demoted"),
            (&staff, Role::Member, Role::Member, "unchanged"),
            (
                &nobody,
                Role::Manager,
                Role::Manager,
                "no-matching-rule-kept",
            ),
        ];
        for (groups, from, to, reason) in cases {
            let found = match_groups(&on.rules, groups);
            let decided = directory_role(Plan::Enterprise, &on, &existing(from), &found);
            assert_eq!(decided.reason(), reason);
            assert!(
                matches!(decided, DirectoryRole::ExistingMember { from: f, to: t, .. } if f == from && t == to),
                "{decided:?}"
            );
        }
        let empty = settings(Vec::new(), true);
        let found = match_groups(&empty.rules, &admins);
        let decided = directory_role(Plan::Enterprise, &empty, &existing(Role::Viewer), &found);
        assert_eq!(decided, DirectoryRole::NotApplied("no-group-rules"));
    }

    #[test]
    fn the_last_admin_is_never_demoted_by_a_login() {
        assert!(!role_change_allowed(Role::Admin, Role::Member, 1));
        assert!(!role_change_allowed(Role::Admin, Role::Viewer, 0));
        assert!(role_change_allowed(Role::Admin, Role::Member, 2));
        assert!(role_change_allowed(Role::Admin, Role::Admin, 1));
        assert!(role_change_allowed(Role::Member, Role::Admin, 0));
        assert!(role_change_allowed(Role::Manager, Role::Viewer, 1));
    }

    #[test]
    fn a_huge_list_of_groups_is_read_up_to_the_bound() {
        let many: Vec<String> = (0..100_000).map(|i| format!("g{i}")).collect();
        let groups = Groups::read(many.iter().map(String::as_str));
        assert_eq!(groups.names().len(), MAX_GROUPS);
        assert!(groups.truncated());
        // A group past the bound is not seen, one within it is.
        let rules = vec![
            rule("g999", Role::Member, &[]),
            rule("g1000", Role::Admin, &[]),
        ];
        let found = match_groups(&rules, &groups);
        assert_eq!(found.fired.unwrap().role, Role::Member);

        // Blank values count toward the bound too: a million of them cost nothing more.
        let blanks = std::iter::repeat_n("", 1_000_000).chain(["staff"]);
        let groups = Groups::read(blanks);
        assert!(groups.names().is_empty() && groups.truncated());

        // Exactly the bound is not truncated.
        let exact = Groups::read(many.iter().take(MAX_GROUPS).map(String::as_str));
        assert!(!exact.truncated());
    }

    #[test]
    fn an_oversized_value_is_skipped_never_cut() {
        let long = format!("staff{}", "x".repeat(MAX_GROUP_LEN));
        let groups = Groups::read([long.as_str(), "guests"]);
        assert_eq!(groups.too_long(), 1);
        assert_eq!(groups.names(), ["guests"]);
        let found = match_groups(&rules(), &groups);
        assert_eq!(found.fired, None);
        // A second source shares the bound and adds its groups.
        let mut groups = Groups::read(["guests"]);
        groups.add(["staff"]);
        assert_eq!(match_groups(&rules(), &groups).fired.unwrap().rule, 1);
    }

    #[test]
    fn rules_are_checked_before_they_are_stored() {
        let none = GroupRoles::default();
        let ok = settings(rules(), true);
        assert_eq!(check_group_roles(Plan::Enterprise, &none, &ok), Ok(()));
        let cases: Vec<(GroupRoles, &str)> = vec![
            (
                settings(
                    vec![rule("a", Role::Member, &[]); MAX_GROUP_RULES + 1],
                    false,
                ),
                "invalid-input",
            ),
            (
                settings(vec![rule(" ", Role::Member, &[])], false),
                "invalid-input",
            ),
            (
                settings(
                    vec![rule(&"g".repeat(MAX_GROUP_LEN + 1), Role::Member, &[])],
                    false,
                ),
                "invalid-input",
            ),
            (
                settings(vec![rule("a\u{0}b", Role::Member, &[])], false),
                "invalid-input",
            ),
            (
                settings(
                    vec![
                        rule("Staff", Role::Member, &[]),
                        rule("staff", Role::Admin, &[]),
                    ],
                    false,
                ),
                "invalid-input",
            ),
            (
                settings(vec![rule("a", Role::Member, &["p", "p"])], false),
                "invalid-input",
            ),
            (
                GroupRoles {
                    attribute: Some("\n".to_owned()),
                    ..settings(Vec::new(), false)
                },
                "invalid-input",
            ),
        ];
        for (new, reason) in cases {
            let refused = check_group_roles(Plan::Enterprise, &none, &new).unwrap_err();
            assert_eq!(refused.reason(), reason, "{refused}");
        }
        let dup = settings(
            vec![
                rule("Staff", Role::Member, &[]),
                rule("staff", Role::Admin, &[]),
            ],
            false,
        );
        assert_eq!(
            check_group_roles(Plan::Enterprise, &none, &dup)
                .unwrap_err()
                .rule_index(),
            Some(1)
        );
    }

    #[test]
    fn projects_in_rules_follow_the_plan_like_jit_defaults() {
        let with = settings(vec![rule("a", Role::Member, &["p"])], false);
        let without = settings(vec![rule("a", Role::Member, &[])], false);
        let refused = check_group_roles(Plan::Growth, &without, &with).unwrap_err();
        assert_eq!(refused, GroupRulesRefusal::PlanWithoutRuleProjects);
        assert_eq!(refused.reason(), "plan-without-rule-projects");
        // After a downgrade, the projects already there may be kept or removed.
        assert_eq!(check_group_roles(Plan::Growth, &with, &with), Ok(()));
        assert_eq!(check_group_roles(Plan::Growth, &with, &without), Ok(()));
    }
}
