//! Projects named by the host product and members as admins see them, on both backends:
//! upserts, byte-ordered keyset paging, filters that are not wildcards, removals that take
//! access along, and the organization lock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration as StdDuration;

use sso_email::Email;
use sso_policy::{Plan, Role};
use sso_store::entity::{jit_default_project, project_access};
use sso_store::sea_orm::{EntityTrait, PaginatorTrait};
use sso_store::{
    CreatedBy, IdpConfig, MAX_BATCH, MemberQuery, NewProject, OrgId, ProjectChange, ProjectId,
    ProjectQuery, Store, StoreError, UserId,
};
use sso_testdb::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

fn pid(id: &str) -> ProjectId {
    ProjectId::parse(id).unwrap()
}

fn new(id: &str, name: &str) -> NewProject {
    NewProject {
        id: pid(id),
        name: name.to_owned(),
    }
}

fn reason<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    result.unwrap_err().reason()
}

async fn connect(db: &TestDb) -> Store {
    Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", db.url))
}

async fn org(store: &Store, name: &str) -> OrgId {
    store
        .create_org(name, Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id
}

/// A member of `org` with `role`, and access to `projects`.
async fn member(store: &Store, org: OrgId, email: &str, role: Role, projects: &[&str]) -> UserId {
    let email = Email::parse(email).unwrap();
    let user = store.get_or_create_user(&email, BASE).await.unwrap().record;
    store
        .ensure_membership(org, user.id, role, CreatedBy::Admin, BASE)
        .await
        .unwrap();
    let projects: Vec<ProjectId> = projects.iter().map(|p| pid(p)).collect();
    store
        .grant_project_access(org, user.id, &projects, CreatedBy::Admin, BASE)
        .await
        .unwrap();
    user.id
}

async fn count<E: EntityTrait>(store: &Store, _entity: E) -> u64
where
    E::Model: Sync,
{
    E::find().count(store.connection()).await.unwrap()
}

on_both_backends!(
    upserts_create_rename_and_keep,
    upserts_refuse_bad_batches_whole,
    projects_page_in_byte_order,
    removing_a_project_takes_access_and_defaults_along,
    members_list_by_email_with_filters,
    roles_change_and_members_go_with_their_access,
    the_org_lock_serializes_transactions,
);

async fn upserts_create_rename_and_keep(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let first = store
        .upsert_projects(
            org,
            &[new("p-1", "Handbook"), new("p-2", "  Wiki  ")],
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|u| u.change.code()).collect::<Vec<_>>(),
        ["created", "created"]
    );
    assert_eq!(first[1].record.name, "Wiki", "names are trimmed");
    assert_eq!(first[0].record.created_at, at(1));

    // Again, in another order, one renamed and one new; names may repeat across ids.
    let second = store
        .upsert_projects(
            org,
            &[
                new("p-3", "Handbook"),
                new("p-2", "Wiki"),
                new("p-1", "Handbook 2025"),
            ],
            at(2),
        )
        .await
        .unwrap();
    let changes: Vec<_> = second
        .iter()
        .map(|u| (u.record.id.as_str(), u.change.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            ("p-3", ProjectChange::Created),
            ("p-2", ProjectChange::Unchanged),
            (
                "p-1",
                ProjectChange::Renamed {
                    from: "Handbook".to_owned()
                }
            ),
        ]
    );
    assert_eq!(second[2].record.created_at, at(1), "a rename keeps the row");
    let listed = store
        .list_projects(org, &ProjectQuery::new(10))
        .await
        .unwrap()
        .projects;
    let listed: Vec<_> = listed
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("p-1", "Handbook 2025"),
            ("p-2", "Wiki"),
            ("p-3", "Handbook")
        ]
    );
    assert_eq!(
        store
            .projects_by_id(org, &[pid("p-3"), pid("nope"), pid("p-1")])
            .await
            .unwrap()
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["p-1", "p-3"]
    );
    assert!(
        store
            .upsert_projects(org, &[], at(3))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn upserts_refuse_bad_batches_whole(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let repeated = store
        .upsert_projects(
            org,
            &[new("a", "A"), new("b", "B"), new("a", "A again")],
            BASE,
        )
        .await
        .unwrap_err();
    assert_eq!(repeated.reason(), "invalid-input");
    assert!(repeated.to_string().contains("item 2"), "{repeated}");
    for bad in ["", "   ", "tab\there", &"n".repeat(201)] {
        let error = store
            .upsert_projects(org, &[new("ok", "fine"), new("x", bad)], BASE)
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "invalid-input", "{bad:?}");
        assert!(error.to_string().contains("item 1"), "{error}");
    }
    let too_many: Vec<NewProject> = (0..=MAX_BATCH)
        .map(|i| new(&format!("p{i}"), "P"))
        .collect();
    assert_eq!(
        reason(store.upsert_projects(org, &too_many, BASE).await),
        "invalid-input"
    );
    // A refused batch wrote nothing.
    assert!(
        store
            .list_projects(org, &ProjectQuery::new(10))
            .await
            .unwrap()
            .projects
            .is_empty()
    );
    // A full batch is fine, and a missing org is not found.
    let full: Vec<NewProject> = too_many.into_iter().take(MAX_BATCH).collect();
    assert_eq!(
        store.upsert_projects(org, &full, BASE).await.unwrap().len(),
        MAX_BATCH
    );
    assert_eq!(
        reason(
            store
                .upsert_projects(OrgId::new(999_999), &[new("a", "A")], BASE)
                .await
        ),
        "not-found"
    );
}

async fn projects_page_in_byte_order(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let other = self::org(&store, "B").await;
    // Byte order: upper case before lower case, '/' before letters, UTF-8 after ASCII.
    let ids = ["é", "b", "B", "a/b", "a", "Z z", "ab"];
    let projects: Vec<NewProject> = ids.iter().map(|id| new(id, "P")).collect();
    store.upsert_projects(org, &projects, BASE).await.unwrap();
    store
        .upsert_projects(other, &[new("a", "theirs"), new("zz", "theirs")], BASE)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut query = ProjectQuery::new(3);
    let mut pages = 0;
    loop {
        let page = store.list_projects(org, &query).await.unwrap();
        pages += 1;
        seen.extend(page.projects.iter().map(|p| p.id.as_str().to_owned()));
        match page.next {
            Some(next) => {
                // Tokens survive the trip through text.
                query = ProjectQuery::new(3).after(next.to_string().parse().unwrap());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["B", "Z z", "a", "a/b", "ab", "b", "é"]);
    // A page size that divides the count exactly ends without an empty page.
    let exact = store
        .list_projects(org, &ProjectQuery::new(7))
        .await
        .unwrap();
    assert_eq!((exact.projects.len(), exact.next), (7, None));
}

async fn removing_a_project_takes_access_and_defaults_along(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let other = self::org(&store, "B").await;
    store
        .upsert_projects(org, &[new("wiki", "Wiki"), new("docs", "Docs")], BASE)
        .await
        .unwrap();
    store
        .upsert_projects(other, &[new("wiki", "Their wiki")], BASE)
        .await
        .unwrap();
    let idp = IdpConfig {
        entity_id: "https://idp.example".into(),
        certificates: vec!["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into()],
        ..IdpConfig::default()
    };
    store.import_idp_metadata(org, &idp, BASE).await.unwrap();
    store
        .set_jit(org, Some(Role::Member), &[pid("wiki"), pid("docs")])
        .await
        .unwrap();
    let jane = member(
        &store,
        org,
        "jane@a.example",
        Role::Member,
        &["wiki", "docs"],
    )
    .await;
    let joe = member(&store, org, "joe@a.example", Role::Member, &["wiki"]).await;
    member(&store, other, "jane@a.example", Role::Member, &["wiki"]).await;

    let tx = store.begin().await.unwrap();
    assert_eq!(tx.remove_project(org, &pid("wiki")).await.unwrap(), Some(2));
    tx.commit().await.unwrap();
    assert_eq!(
        store.project_access(org, jane).await.unwrap(),
        [pid("docs")]
    );
    assert!(store.project_access(org, joe).await.unwrap().is_empty());
    assert_eq!(
        store
            .connection_for_org(org)
            .await
            .unwrap()
            .jit_default_projects,
        [pid("docs")]
    );
    // The other org's project of the same id, and its access, are untouched.
    assert_eq!(
        store.project_access(other, jane).await.unwrap(),
        [pid("wiki")]
    );
    assert_eq!(count(&store, project_access::Entity).await, 2);
    assert_eq!(count(&store, jit_default_project::Entity).await, 1);
    assert_eq!(store.remove_project(org, &pid("wiki")).await.unwrap(), None);
    assert_eq!(
        store.remove_project(org, &pid("never")).await.unwrap(),
        None
    );
}

async fn members_list_by_email_with_filters(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let other = self::org(&store, "B").await;
    store
        .upsert_projects(org, &[new("p2", "Two"), new("p1", "One")], BASE)
        .await
        .unwrap();
    store
        .upsert_projects(other, &[new("p1", "Theirs")], BASE)
        .await
        .unwrap();
    member(&store, org, "Carol@A.example", Role::Viewer, &[]).await;
    member(&store, org, "a_b@a.example", Role::Admin, &["p2", "p1"]).await;
    member(&store, org, "axb@a.example", Role::Member, &["p1"]).await;
    member(&store, org, "a%c@a.example", Role::Member, &[]).await;
    member(&store, org, "bob@a.example", Role::Admin, &[]).await;
    member(&store, other, "zed@b.example", Role::Admin, &["p1"]).await;
    // Jane's access in the other org does not show here.
    member(&store, other, "axb@a.example", Role::Viewer, &["p1"]).await;

    let all = store
        .list_members(org, &MemberQuery::new(50))
        .await
        .unwrap();
    let emails: Vec<&str> = all.members.iter().map(|m| m.user.email.as_str()).collect();
    assert_eq!(
        emails,
        [
            "a%c@a.example",
            "a_b@a.example",
            "axb@a.example",
            "bob@a.example",
            "carol@a.example"
        ]
    );
    assert_eq!(all.next, None);
    let a_b = &all.members[1];
    assert_eq!(
        (a_b.role, a_b.created_by, a_b.created_at),
        (Role::Admin, CreatedBy::Admin, BASE)
    );
    assert_eq!(a_b.projects, [pid("p1"), pid("p2")]);
    assert_eq!(all.members[2].projects, [pid("p1")]);

    // Prefixes are literal text (no wildcards), compared after normalizing.
    let with = |q: MemberQuery| {
        let store = store.clone();
        async move {
            store
                .list_members(org, &q)
                .await
                .unwrap()
                .members
                .into_iter()
                .map(|m| m.user.email.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let q = || MemberQuery::new(50);
    assert_eq!(
        with(q().email_prefix("a_").unwrap()).await,
        ["a_b@a.example"]
    );
    assert_eq!(
        with(q().email_prefix("A%").unwrap()).await,
        ["a%c@a.example"]
    );
    assert_eq!(
        with(q().email_prefix(" CAROL@a.EXAMPLE ").unwrap()).await,
        ["carol@a.example"]
    );
    assert_eq!(with(q().email_prefix("").unwrap()).await.len(), 5);
    assert!(with(q().email_prefix("zed").unwrap()).await.is_empty());
    assert_eq!(
        with(q().role(Role::Admin)).await,
        ["a_b@a.example", "bob@a.example"]
    );
    assert_eq!(
        with(q().role(Role::Admin).email_prefix("b").unwrap()).await,
        ["bob@a.example"]
    );
    assert!(with(q().role(Role::Manager)).await.is_empty());
    for bad in [&"a".repeat(255), "a\nb"] {
        assert_eq!(reason(q().email_prefix(bad)), "invalid-input");
    }

    // Pages of two, through the cursor's text form, with members added meanwhile: one
    // before the cursor (no shift), one after it (listed).
    let first = store.list_members(org, &MemberQuery::new(2)).await.unwrap();
    assert_eq!(first.members.len(), 2);
    member(&store, org, "a#b@a.example", Role::Viewer, &[]).await;
    member(&store, org, "aaa@a.example", Role::Viewer, &[]).await;
    let token = first.next.unwrap().to_string();
    let second = store
        .list_members(org, &MemberQuery::new(2).after(token.parse().unwrap()))
        .await
        .unwrap();
    let emails: Vec<&str> = second
        .members
        .iter()
        .map(|m| m.user.email.as_str())
        .collect();
    assert_eq!(emails, ["aaa@a.example", "axb@a.example"]);
    let third = store
        .list_members(org, &MemberQuery::new(2).after(second.next.unwrap()))
        .await
        .unwrap();
    let emails: Vec<&str> = third
        .members
        .iter()
        .map(|m| m.user.email.as_str())
        .collect();
    assert_eq!(emails, ["bob@a.example", "carol@a.example"]);
    assert_eq!(third.next, None);

    let one = store
        .member(org, &Email::parse("A_B@a.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one, *a_b);
    assert_eq!(
        store
            .member(org, &Email::parse("zed@b.example").unwrap())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .member(org, &Email::parse("nobody@a.example").unwrap())
            .await
            .unwrap(),
        None
    );
}

async fn roles_change_and_members_go_with_their_access(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    let other = self::org(&store, "B").await;
    store
        .upsert_projects(org, &[new("p1", "One")], BASE)
        .await
        .unwrap();
    store
        .upsert_projects(other, &[new("p1", "Theirs")], BASE)
        .await
        .unwrap();
    let ann = member(&store, org, "ann@a.example", Role::Admin, &["p1"]).await;
    let ben = member(&store, org, "ben@a.example", Role::Member, &[]).await;
    member(&store, other, "ann@a.example", Role::Admin, &["p1"]).await;
    assert_eq!(store.count_admins(org).await.unwrap(), 1);

    let changed = store.set_member_role(org, ben, Role::Admin).await.unwrap();
    assert_eq!((changed.user, changed.role), (ben, Role::Admin));
    assert_eq!(store.count_admins(org).await.unwrap(), 2);
    let stranger = store
        .get_or_create_user(&Email::parse("stranger@a.example").unwrap(), BASE)
        .await
        .unwrap()
        .record
        .id;
    assert_eq!(
        reason(store.set_member_role(org, stranger, Role::Viewer).await),
        "not-found"
    );

    assert_eq!(store.remove_membership(org, ann).await.unwrap(), Some(1));
    assert_eq!(store.membership(org, ann).await.unwrap(), None);
    assert!(store.project_access(org, ann).await.unwrap().is_empty());
    // The user and their other org stay.
    assert_eq!(store.user(ann).await.unwrap().id, ann);
    assert!(store.membership(other, ann).await.unwrap().is_some());
    assert_eq!(store.project_access(other, ann).await.unwrap(), [pid("p1")]);
    assert_eq!(store.remove_membership(org, ann).await.unwrap(), None);
    assert_eq!(store.remove_membership(org, stranger).await.unwrap(), None);
    assert_eq!(store.count_admins(org).await.unwrap(), 1);
    assert_eq!(store.count_admins(other).await.unwrap(), 1);
}

/// A second transaction that locks the org waits until the first one ends.
async fn the_org_lock_serializes_transactions(db: TestDb) {
    let store = connect(&db).await;
    let org = org(&store, "A").await;
    assert_eq!(
        reason(store.lock_org(OrgId::new(999_999)).await),
        "not-found"
    );

    let first = store.begin().await.unwrap();
    assert_eq!(first.lock_org(org).await.unwrap().id, org);
    let (locked_tx, mut locked_rx) = tokio::sync::oneshot::channel();
    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            let tx = store.begin().await.unwrap();
            tx.lock_org(org).await.unwrap();
            locked_tx.send(()).unwrap();
            tx.set_plan(org, Plan::Growth).await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert!(
        locked_rx.try_recv().is_err(),
        "the second lock was granted while the first was held"
    );
    first.set_plan(org, Plan::Plus).await.unwrap();
    first.commit().await.unwrap();
    second.await.unwrap();
    assert_eq!(store.org(org).await.unwrap().plan, Plan::Growth);
}
