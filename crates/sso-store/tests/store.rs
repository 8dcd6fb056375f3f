//! The store on both backends: migrations, uniqueness, races, replays, rollback, paging.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use sso_email::Email;
use sso_policy::{Plan, Role, set_require_sso};
use sso_store::entity::{
    audit_event, authn_request, consumed_assertion, membership, project_access, user,
};
use sso_store::sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement,
};
use sso_store::{
    ConnectionId, ConnectionOptions, CreatedBy, EventCursor, EventOutcome, EventQuery, IdpConfig,
    NewAuthnRequest, NewEvent, NewProject, OneTimeValue, OrgCursor, OrgId, OrgQuery, ProjectId,
    Store, StoreError,
};
use sso_testdb::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn idp(entity_id: &str) -> IdpConfig {
    IdpConfig {
        entity_id: entity_id.into(),
        sso_url: Some("https://idp.example/sso".into()),
        certificates: vec!["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into()],
        metadata_xml: Some("<EntityDescriptor/>".into()),
        metadata_url: None,
    }
}

async fn count<E: EntityTrait>(store: &Store, _entity: E) -> u64
where
    E::Model: Sync,
{
    E::find().count(store.connection()).await.unwrap()
}

/// An org with an SSO connection, ready for logins.
async fn org_with_connection(store: &Store, name: &str) -> (OrgId, ConnectionId) {
    let org = store
        .create_org(name, Plan::Enterprise, BASE)
        .await
        .unwrap();
    let connection = store
        .import_idp_metadata(org.id, &idp("https://idp.example"), BASE)
        .await
        .unwrap();
    (org.id, connection.id)
}

/// Creates (or renames) project `id` of `org`.
async fn project(store: &Store, org: OrgId, id: &str, name: &str) -> ProjectId {
    let id = ProjectId::parse(id).unwrap();
    let new = NewProject {
        id: id.clone(),
        name: name.to_owned(),
    };
    store.upsert_projects(org, &[new], BASE).await.unwrap();
    id
}

fn reason<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    result.unwrap_err().reason()
}

/// A store on a test database. `sso-testdb` hands out URLs only: the store is this crate.
trait Connect {
    async fn connect(&self) -> Store;
}

impl Connect for TestDb {
    async fn connect(&self) -> Store {
        Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }
}

on_both_backends!(
    migrations_are_idempotent,
    domains_belong_to_one_org,
    users_are_unique_by_normalized_email,
    memberships_are_unique_and_keep_their_role,
    assertion_ids_are_single_use,
    concurrent_first_logins_converge,
    concurrent_replays_have_one_winner,
    authn_requests_are_consumed_once,
    rollback_leaves_nothing_behind,
    injected_fault_rolls_back_and_retry_succeeds,
    traces_page_newest_first,
    connection_configuration_is_versioned,
    require_sso_changes_are_timed,
    projects_and_access,
    orgs_page_in_creation_order,
    identical_metadata_keeps_the_configuration,
    login_context_reads_everything_in_one_query,
    an_unreadable_connection_is_an_error_not_a_missing_one,
    login_values_are_spent_once,
    new_members_are_created_with_their_membership,
    a_members_read_does_not_grow_with_the_org,
);

/// The one query a login starts with gives what the separate reads give: verified domains
/// only, in byte order; default projects in byte order; the request only of this org's
/// connection; nothing about a connection the org does not have.
async fn login_context_reads_everything_in_one_query(db: TestDb) {
    let store = db.connect().await;
    let bare = store.create_org("Bare", Plan::Starter, BASE).await.unwrap();
    let (snapshot, request) = store.login_context(bare.id, Some("rs")).await.unwrap();
    assert_eq!(snapshot.org.name, "Bare");
    assert_eq!(snapshot.connection, None);
    assert!(snapshot.verified_domains.is_empty());
    assert_eq!(request, None);
    assert_eq!(
        reason(store.login_context(OrgId::new(9_999), None).await),
        "not-found"
    );

    let (org, connection) = org_with_connection(&store, "A").await;
    let (_, other_connection) = org_with_connection(&store, "B").await;
    for domain in ["zeta.example", "Alpha.example"] {
        store.add_verified_domain(org, domain, BASE).await.unwrap();
    }
    store
        .claim_domain(org, "pending.example", "token", BASE)
        .await
        .unwrap();
    let b = project(&store, org, "b-project", "B").await;
    let upper = project(&store, org, "Z-project", "Z").await;
    let a = project(&store, org, "a project \"quoted\"", "A").await;
    store
        .set_jit(
            org,
            Some(Role::Member),
            &[b.clone(), upper.clone(), a.clone()],
        )
        .await
        .unwrap();
    let mine = NewAuthnRequest {
        id: "_mine".into(),
        connection,
        relay_state: "rs-mine".into(),
        return_target: Some("/back".into()),
        expires_at: at(600),
    };
    let theirs = NewAuthnRequest {
        id: "_theirs".into(),
        connection: other_connection,
        relay_state: "rs-theirs".into(),
        return_target: None,
        expires_at: at(600),
    };
    let mine = store.create_authn_request(&mine, BASE).await.unwrap();
    store.create_authn_request(&theirs, BASE).await.unwrap();

    let (snapshot, request) = store.login_context(org, Some("rs-mine")).await.unwrap();
    assert_eq!(
        snapshot.verified_domains,
        store.verified_domains(org).await.unwrap()
    );
    assert_eq!(snapshot.verified_domains, ["alpha.example", "zeta.example"]);
    let connection_record = snapshot.connection.unwrap();
    assert_eq!(connection_record.id, connection);
    assert_eq!(connection_record.jit_default_projects, [upper, a, b]);
    assert_eq!(
        connection_record,
        store.connection_for_org(org).await.unwrap()
    );
    assert_eq!(request, Some(mine));
    let (_, request) = store.login_context(org, Some("rs-theirs")).await.unwrap();
    assert_eq!(request, None, "another org's request is not this login's");
    let (_, request) = store.login_context(org, Some("rs-unknown")).await.unwrap();
    assert_eq!(request, None);
}

/// A login's read of the person's user and membership reads that one membership, however
/// many the org has, also from a plan made while the org was small: a returning login's cost
/// must not grow with its org. On PostgreSQL the store's one session uses generic plans from
/// the start (as it does on its own after five runs of a statement), makes its plan while the
/// org has one member, and keeps it while the org grows to 2001; `pg_stat_user_indexes`, flushed
/// when the session ends, shows what the reads touched. SQLite plans per statement and has no
/// such counter: there the case checks the answers alone.
async fn a_members_read_does_not_grow_with_the_org(db: TestDb) {
    const MEMBERS: i64 = 2000;
    let postgres = db.backend == DbBackend::Postgres;
    let setup = db.connect().await;
    if postgres {
        setup
            .connection()
            .execute_unprepared(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = \
                 force_generic_plan', current_database()); END $$",
            )
            .await
            .unwrap();
    }
    let org = setup
        .create_org("Large", Plan::Enterprise, BASE)
        .await
        .unwrap();
    let other = setup
        .create_org("Other", Plan::Enterprise, BASE)
        .await
        .unwrap();
    let first = email("first@large.example");
    setup
        .create_member(&first, org.id, Role::Member, CreatedBy::Jit, BASE)
        .await
        .unwrap();

    let store = Store::builder(db.url.clone())
        .max_connections(1)
        .connect()
        .await
        .unwrap();
    // The plan is made here, on a one-member org.
    let (_, membership) = store
        .user_and_membership(&first, org.id)
        .await
        .unwrap()
        .unwrap();
    assert!(membership.is_some());

    let bulk = format!(
        "WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {MEMBERS}) \
         INSERT INTO users (email, created_at) SELECT 'm' || i || '@large.example', \
         (SELECT created_at FROM organizations WHERE id = {org}) FROM seq; \
         INSERT INTO memberships (org_id, user_id, role, created_by, created_at) \
         SELECT {org}, id, 'member', 'jit', created_at FROM users WHERE email LIKE 'm%@large.example'",
        org = org.id.get()
    );
    setup.connection().execute_unprepared(&bulk).await.unwrap();
    setup.close().await.unwrap();
    let read_before = if postgres {
        membership_index_reads(&db.connect().await).await
    } else {
        0
    };

    for i in 1..=20 {
        let member = email(&format!("m{i}@large.example"));
        let (user, membership) = store
            .user_and_membership(&member, org.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.email, member);
        assert_eq!(membership.unwrap().role, Role::Member);
        let (_, none) = store
            .user_and_membership(&member, other.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(none, None);
    }
    assert_eq!(
        store
            .user_and_membership(&email("nobody@large.example"), org.id)
            .await
            .unwrap(),
        None
    );
    store.close().await.unwrap();
    if postgres {
        let check = db.connect().await;
        // 41 reads, each of at most one membership, of an org of 2001 members.
        let mut read = 0;
        for _ in 0..50 {
            read = membership_index_reads(&check).await - read_before;
            if read > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(read > 0, "no index reads of memberships recorded");
        assert!(
            read <= 41,
            "{read} membership index entries read in 41 reads"
        );
    }
}

/// Index entries of `memberships` read so far, by every session that has ended.
async fn membership_index_reads(store: &Store) -> i64 {
    store
        .connection()
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CAST(COALESCE(SUM(idx_tup_read), 0) AS BIGINT) AS n \
             FROM pg_stat_user_indexes WHERE relname = 'memberships'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

/// A connection whose row does not read is an error, not a missing connection: read as none,
/// every login would be refused as "no connection" and the damage would stay hidden. SQLite
/// stores text in an integer column as it is; PostgreSQL's column has to change type for it.
async fn an_unreadable_connection_is_an_error_not_a_missing_one(db: TestDb) {
    let store = db.connect().await;
    let (org, _) = org_with_connection(&store, "A").await;
    let relay_state = "rs";
    let sql = match db.backend {
        DbBackend::Sqlite => "UPDATE sso_connections SET clock_skew_seconds = 'soon'",
        _ => "ALTER TABLE sso_connections ALTER COLUMN clock_skew_seconds TYPE TEXT USING 'soon'",
    };
    store.connection().execute_unprepared(sql).await.unwrap();
    for relay_state in [None, Some(relay_state)] {
        let read = store.login_context(org, relay_state).await;
        assert!(read.is_err(), "{read:?}");
    }
}

async fn migrations_are_idempotent(db: TestDb) {
    // Servers starting together on a fresh database: the migration runs once.
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.connect().await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap());
    }
    let store = &stores[0];
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let applied = store
        .connection()
        .query_one(Statement::from_string(
            store.backend(),
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    // One row per migration file, however many there are.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migration"))
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with('m') && name.ends_with(".rs") && name != "mod.rs"
        })
        .count();
    assert!(files >= 2, "migration files not found");
    assert_eq!(applied, i64::try_from(files).unwrap());

    // Data survives reconnecting and migrating again.
    let org = store
        .create_org("Example", Plan::Growth, BASE)
        .await
        .unwrap();
    let again = db.connect().await;
    assert_eq!(again.org(org.id).await.unwrap(), org);

    if db.backend == DbBackend::Sqlite {
        let mode = store
            .connection()
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<String>("", "journal_mode")
            .unwrap();
        assert_eq!(mode, "wal");
        let fk = store
            .connection()
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i32>("", "foreign_keys")
            .unwrap();
        assert_eq!(fk, 1);
    }
}

async fn domains_belong_to_one_org(db: TestDb) {
    let store = db.connect().await;
    let a = store.create_org("A", Plan::Growth, BASE).await.unwrap();
    let b = store.create_org("B", Plan::Growth, BASE).await.unwrap();

    let added = store
        .add_verified_domain(a.id, " Bücher.Example ", BASE)
        .await
        .unwrap();
    assert_eq!(
        (added.record.as_str(), added.created),
        ("xn--bcher-kva.example", true)
    );
    let again = store
        .add_verified_domain(a.id, "xn--bcher-kva.example", BASE)
        .await
        .unwrap();
    assert!(!again.created);
    // Any spelling of the same domain is the same key.
    assert_eq!(
        reason(
            store
                .add_verified_domain(b.id, "BÜCHER.example", BASE)
                .await
        ),
        "conflict"
    );
    assert_eq!(
        store.org_for_domain("bücher.example").await.unwrap(),
        Some(a.id)
    );
    assert_eq!(
        store.verified_domains(a.id).await.unwrap(),
        ["xn--bcher-kva.example"]
    );
    assert!(store.verified_domains(b.id).await.unwrap().is_empty());

    // Moving a domain: remove from one, then the other may verify it.
    assert!(
        !store
            .remove_verified_domain(b.id, "bücher.example")
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_verified_domain(a.id, "bücher.example")
            .await
            .unwrap()
    );
    assert!(
        store
            .add_verified_domain(b.id, "bücher.example", BASE)
            .await
            .unwrap()
            .created
    );

    assert_eq!(
        reason(store.add_verified_domain(a.id, "localhost", BASE).await),
        "invalid-input"
    );
    assert_eq!(
        reason(
            store
                .add_verified_domain(OrgId::new(999_999), "x.example", BASE)
                .await
        ),
        "not-found"
    );
}

async fn users_are_unique_by_normalized_email(db: TestDb) {
    let store = db.connect().await;
    let first = store
        .get_or_create_user(&email("Jane@Example.com"), BASE)
        .await
        .unwrap();
    assert!(first.created);
    let second = store
        .get_or_create_user(&email("jane@example.COM"), at(1))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.record, first.record);
    assert_eq!(first.record.created_at, BASE);
    assert_eq!(
        store
            .user_by_email(&email("JANE@example.com"))
            .await
            .unwrap(),
        Some(first.record.clone())
    );
    assert_eq!(store.user(first.record.id).await.unwrap(), first.record);
    assert_eq!(
        reason(store.user(sso_store::UserId::new(999_999)).await),
        "not-found"
    );

    // The constraint is in the database, not only in the method.
    let duplicate = user::Entity::insert(user::ActiveModel {
        email: Set("jane@example.com".into()),
        created_at: Set(time::PrimitiveDateTime::new(BASE.date(), BASE.time())),
        ..Default::default()
    })
    .exec(store.connection())
    .await;
    assert!(duplicate.is_err());
    assert_eq!(count(&store, user::Entity).await, 1);
}

async fn memberships_are_unique_and_keep_their_role(db: TestDb) {
    let store = db.connect().await;
    let org = store.create_org("A", Plan::Growth, BASE).await.unwrap();
    let jane = store
        .get_or_create_user(&email("jane@a.example"), BASE)
        .await
        .unwrap()
        .record;

    let first = store
        .ensure_membership(org.id, jane.id, Role::Admin, CreatedBy::Admin, BASE)
        .await
        .unwrap();
    assert!(first.created);
    // A later JIT login with another default role changes nothing.
    let second = store
        .ensure_membership(org.id, jane.id, Role::Viewer, CreatedBy::Jit, at(5))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.record.role, Role::Admin);
    assert_eq!(second.record.created_by, CreatedBy::Admin);
    assert_eq!(
        store.membership(org.id, jane.id).await.unwrap(),
        Some(first.record.clone())
    );
    assert_eq!(store.members(org.id).await.unwrap(), [first.record]);

    let duplicate = membership::Entity::insert(membership::ActiveModel {
        org_id: Set(org.id.get()),
        user_id: Set(jane.id.get()),
        role: Set("viewer".into()),
        created_by: Set("jit".into()),
        created_at: Set(time::PrimitiveDateTime::new(BASE.date(), BASE.time())),
        suspended_at: Set(None),
    })
    .exec_without_returning(store.connection())
    .await;
    assert!(duplicate.is_err());

    assert_eq!(
        reason(
            store
                .ensure_membership(
                    OrgId::new(999_999),
                    jane.id,
                    Role::Viewer,
                    CreatedBy::Jit,
                    BASE
                )
                .await
        ),
        "not-found"
    );
}

async fn assertion_ids_are_single_use(db: TestDb) {
    let store = db.connect().await;
    let (_, c1) = org_with_connection(&store, "A").await;
    let (_, c2) = org_with_connection(&store, "B").await;

    store
        .record_assertion(c1, "_a1", at(300), BASE)
        .await
        .unwrap();
    let replay = store
        .record_assertion(c1, "_a1", at(300), at(10))
        .await
        .unwrap_err();
    assert_eq!(replay.reason(), "replayed");
    assert!(matches!(replay, StoreError::Replayed { what: "assertion" }));
    // The key is (connection, assertion ID).
    store
        .record_assertion(c2, "_a1", at(300), BASE)
        .await
        .unwrap();

    assert_eq!(
        reason(store.record_assertion(c1, "_a2", BASE, BASE).await),
        "invalid-input"
    );
    assert_eq!(
        reason(store.record_assertion(c1, "", at(1), BASE).await),
        "invalid-input"
    );
    assert_eq!(
        reason(
            store
                .record_assertion(ConnectionId::new(999_999), "_x", at(1), BASE)
                .await
        ),
        "not-found"
    );

    // Entries stay until they expire, then go.
    assert_eq!(store.purge_expired(at(299)).await.unwrap().assertions, 0);
    assert_eq!(store.purge_expired(at(300)).await.unwrap().assertions, 2);
    assert_eq!(count(&store, consumed_assertion::Entity).await, 0);
}

async fn concurrent_first_logins_converge(db: TestDb) {
    let store = Arc::new(db.connect().await);
    let (org, _) = org_with_connection(&store, "A").await;

    // 32 first logins of one new person at once, each one transaction as a login is.
    let logins: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let tx = store.begin().await?;
                let user = tx
                    .get_or_create_user(&email("new.person@a.example"), at(i))
                    .await?;
                let member = tx
                    .ensure_membership(org, user.record.id, Role::Member, CreatedBy::Jit, at(i))
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>((user, member))
            })
        })
        .collect();
    let mut results = Vec::new();
    for login in logins {
        results.push(login.await.unwrap().unwrap());
    }
    let users: BTreeSet<_> = results.iter().map(|(u, _)| u.record.id).collect();
    assert_eq!(users.len(), 1);
    assert_eq!(results.iter().filter(|(u, _)| u.created).count(), 1);
    assert_eq!(results.iter().filter(|(_, m)| m.created).count(), 1);
    assert_eq!(count(&store, user::Entity).await, 1);
    assert_eq!(count(&store, membership::Entity).await, 1);

    // The same without transactions: every statement on its own.
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let user = store
                    .get_or_create_user(&email("other@a.example"), at(i))
                    .await?;
                store
                    .ensure_membership(org, user.record.id, Role::Viewer, CreatedBy::Jit, at(i))
                    .await?;
                Ok::<_, StoreError>(user.created)
            })
        })
        .collect();
    let mut created = 0;
    for call in calls {
        created += usize::from(call.await.unwrap().unwrap());
    }
    assert_eq!(created, 1);
    assert_eq!(count(&store, user::Entity).await, 2);
    assert_eq!(count(&store, membership::Entity).await, 2);
}

async fn concurrent_replays_have_one_winner(db: TestDb) {
    let store = Arc::new(db.connect().await);
    let (_, connection) = org_with_connection(&store, "A").await;

    let attempts: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let tx = store.begin().await?;
                tx.record_assertion(connection, "_same-assertion", at(300), BASE)
                    .await?;
                tx.commit().await
            })
        })
        .collect();
    let mut ok = 0;
    let mut replayed = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) if e.reason() == "replayed" => replayed += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((ok, replayed), (1, 31));
    assert_eq!(count(&store, consumed_assertion::Entity).await, 1);
}

async fn authn_requests_are_consumed_once(db: TestDb) {
    let store = Arc::new(db.connect().await);
    let (_, c1) = org_with_connection(&store, "A").await;
    let (_, c2) = org_with_connection(&store, "B").await;
    let request = |id: &str, relay: &str, expires_at| NewAuthnRequest {
        id: id.into(),
        connection: c1,
        relay_state: relay.into(),
        return_target: Some("https://app.example/after".into()),
        expires_at,
    };

    let created = store
        .create_authn_request(&request("_r1", "rs1", at(300)), BASE)
        .await
        .unwrap();
    assert_eq!(created.consumed_at, None);
    assert_eq!(
        store.authn_request("_r1").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        reason(
            store
                .create_authn_request(&request("_r1", "rs2", at(300)), BASE)
                .await
        ),
        "conflict"
    );
    assert_eq!(
        reason(
            store
                .create_authn_request(&request("_r2", "rs1", at(300)), BASE)
                .await
        ),
        "conflict"
    );
    assert_eq!(
        reason(
            store
                .create_authn_request(&request("_r2", "rs2", BASE), BASE)
                .await
        ),
        "invalid-input"
    );

    // Only for the connection it was sent for.
    assert_eq!(
        reason(store.consume_authn_request(c2, "_r1", at(10)).await),
        "not-found"
    );
    assert_eq!(
        reason(store.consume_authn_request(c1, "_nope", at(10)).await),
        "not-found"
    );
    let consumed = store
        .consume_authn_request(c1, "_r1", at(10))
        .await
        .unwrap();
    assert_eq!(consumed.consumed_at, Some(at(10)));
    assert_eq!(
        consumed.return_target.as_deref(),
        Some("https://app.example/after")
    );
    assert_eq!(
        reason(store.consume_authn_request(c1, "_r1", at(11)).await),
        "replayed"
    );

    store
        .create_authn_request(&request("_r3", "rs3", at(60)), BASE)
        .await
        .unwrap();
    assert_eq!(
        reason(store.consume_authn_request(c1, "_r3", at(60)).await),
        "expired"
    );

    // Racing responses to one request: one wins.
    store
        .create_authn_request(&request("_r4", "rs4", at(300)), BASE)
        .await
        .unwrap();
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let tx = store.begin().await?;
                tx.consume_authn_request(c1, "_r4", at(20)).await?;
                tx.commit().await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(match racer.await.unwrap() {
            Ok(()) => "ok",
            Err(e) => e.reason(),
        });
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == "ok").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "replayed").count(),
        15,
        "{outcomes:?}"
    );

    let purged = store.purge_expired(at(300)).await.unwrap();
    assert_eq!(purged.authn_requests, 3);
    assert_eq!(count(&store, authn_request::Entity).await, 0);
}

async fn rollback_leaves_nothing_behind(db: TestDb) {
    let store = db.connect().await;
    let (org, connection) = org_with_connection(&store, "A").await;
    let project = project(&store, org, "handbook", "Handbook").await;
    let request = NewAuthnRequest {
        id: "_r1".into(),
        connection,
        relay_state: "rs1".into(),
        return_target: None,
        expires_at: at(300),
    };
    store.create_authn_request(&request, BASE).await.unwrap();

    // A whole login, rolled back explicitly, then once more dropped without commit.
    for explicit in [true, false] {
        let tx = store.begin().await.unwrap();
        tx.consume_authn_request(connection, "_r1", at(1))
            .await
            .unwrap();
        tx.record_assertion(connection, "_a1", at(300), at(1))
            .await
            .unwrap();
        let user = tx
            .get_or_create_user(&email("jane@a.example"), at(1))
            .await
            .unwrap();
        tx.ensure_membership(org, user.record.id, Role::Member, CreatedBy::Jit, at(1))
            .await
            .unwrap();
        tx.grant_project_access(
            org,
            user.record.id,
            std::slice::from_ref(&project),
            CreatedBy::Jit,
            at(1),
        )
        .await
        .unwrap();
        tx.record_event(
            &NewEvent::new(org, "sso-login", EventOutcome::Success, "jit-new-member"),
            at(1),
        )
        .await
        .unwrap();
        if explicit {
            tx.rollback().await.unwrap();
        } else {
            drop(tx);
        }

        assert_eq!(count(&store, user::Entity).await, 0);
        assert_eq!(count(&store, membership::Entity).await, 0);
        assert_eq!(count(&store, project_access::Entity).await, 0);
        assert_eq!(count(&store, consumed_assertion::Entity).await, 0);
        assert_eq!(count(&store, audit_event::Entity).await, 0);
        assert_eq!(
            store
                .authn_request("_r1")
                .await
                .unwrap()
                .unwrap()
                .consumed_at,
            None
        );
    }

    // And committed, it is all there.
    let tx = store.begin().await.unwrap();
    tx.consume_authn_request(connection, "_r1", at(2))
        .await
        .unwrap();
    tx.record_assertion(connection, "_a1", at(300), at(2))
        .await
        .unwrap();
    tx.get_or_create_user(&email("jane@a.example"), at(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&store, user::Entity).await, 1);
    assert_eq!(count(&store, consumed_assertion::Entity).await, 1);
}

/// A database error in the middle of a login (a trigger refuses the project grant) rolls the
/// whole transaction back; once the fault is gone the same login, same assertion, succeeds.
async fn injected_fault_rolls_back_and_retry_succeeds(db: TestDb) {
    let store = db.connect().await;
    let (org, connection) = org_with_connection(&store, "A").await;
    let project = project(&store, org, "handbook", "Handbook").await;
    let (install, remove) = match db.backend {
        DbBackend::Sqlite => (
            vec![
                "CREATE TRIGGER injected_fault BEFORE INSERT ON project_access \
                  BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            ],
            "DROP TRIGGER injected_fault",
        ),
        _ => (
            vec![
                "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
                "CREATE TRIGGER injected_fault BEFORE INSERT ON project_access \
                 FOR EACH ROW EXECUTE FUNCTION injected_fault()",
            ],
            "DROP TRIGGER injected_fault ON project_access",
        ),
    };
    for sql in install {
        store.connection().execute_unprepared(sql).await.unwrap();
    }

    let login = |store: Store| {
        let project = project.clone();
        async move {
            let tx = store.begin().await?;
            tx.record_assertion(connection, "_a1", at(300), at(1))
                .await?;
            let user = tx
                .get_or_create_user(&email("jane@a.example"), at(1))
                .await?;
            tx.ensure_membership(org, user.record.id, Role::Member, CreatedBy::Jit, at(1))
                .await?;
            tx.grant_project_access(org, user.record.id, &[project], CreatedBy::Jit, at(1))
                .await?;
            tx.commit().await
        }
    };
    let failed = login(store.clone()).await.unwrap_err();
    assert_eq!(failed.reason(), "database");
    assert!(failed.to_string().contains("injected fault"), "{failed}");
    assert_eq!(count(&store, user::Entity).await, 0);
    assert_eq!(count(&store, membership::Entity).await, 0);
    assert_eq!(count(&store, consumed_assertion::Entity).await, 0);

    store.connection().execute_unprepared(remove).await.unwrap();
    login(store.clone()).await.unwrap();
    assert_eq!(count(&store, user::Entity).await, 1);
    assert_eq!(count(&store, membership::Entity).await, 1);
    assert_eq!(count(&store, project_access::Entity).await, 1);
}

async fn traces_page_newest_first(db: TestDb) {
    let store = db.connect().await;
    let a = store.create_org("A", Plan::Growth, BASE).await.unwrap().id;
    let b = store.create_org("B", Plan::Growth, BASE).await.unwrap().id;

    // Several events share an instant, and instants with and without a fraction of a second
    // are mixed: the order must still be by time, then by id.
    let times = [
        BASE,
        BASE + Duration::milliseconds(500),
        BASE + Duration::milliseconds(250),
        BASE + Duration::seconds(1),
        BASE + Duration::microseconds(1),
    ];
    let mut expected = Vec::new();
    for i in 0..25 {
        let kind = if i % 5 == 0 {
            "break-glass"
        } else {
            "sso-login"
        };
        let event = NewEvent::new(a, kind, EventOutcome::Refused, "domain-not-verified")
            .detail(json!({ "n": i, "tried": ["name-id", "email-attribute"] }));
        let when = times[i % times.len()];
        let id = store.record_event(&event, when).await.unwrap();
        expected.push((when, id));
    }
    for i in 0..3 {
        store
            .record_event(
                &NewEvent::new(b, "sso-login", EventOutcome::Success, "existing-member"),
                at(i),
            )
            .await
            .unwrap();
    }
    expected.sort_by(|x, y| y.cmp(x));

    let mut seen = Vec::new();
    let mut query = EventQuery::new(10);
    let mut pages = 0;
    loop {
        let page = store.list_events(a, &query).await.unwrap();
        pages += 1;
        assert!(page.events.len() <= 10);
        seen.extend(page.events.iter().map(|e| (e.occurred_at, e.id)));
        match page.next {
            // Through the wire form, as a client would send it back.
            Some(next) => query = query.after(next.to_string().parse::<EventCursor>().unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);

    let first = store.list_events(a, &EventQuery::new(1)).await.unwrap();
    let event = &first.events[0];
    assert_eq!(event.org, a);
    assert_eq!(event.outcome, EventOutcome::Refused);
    assert_eq!(event.reason, "domain-not-verified");
    assert_eq!(event.detail["tried"][1], "email-attribute");

    let glass = store
        .list_events(a, &EventQuery::new(100).kind("break-glass"))
        .await
        .unwrap();
    assert_eq!(glass.events.len(), 5);
    assert!(glass.next.is_none());
    assert_eq!(
        store
            .list_events(b, &EventQuery::new(100))
            .await
            .unwrap()
            .events
            .len(),
        3
    );

    // Times come back in UTC, truncated to the microsecond, on both backends.
    let odd = datetime!(2025-03-01 10:00:05.123_456_789 +01:00);
    store
        .record_event(
            &NewEvent::new(b, "x", EventOutcome::Failed, "database").actor("ops"),
            odd,
        )
        .await
        .unwrap();
    let newest = store.list_events(b, &EventQuery::new(1)).await.unwrap();
    assert_eq!(
        newest.events[0].occurred_at,
        datetime!(2025-03-01 09:00:05.123_456 UTC)
    );
    assert_eq!(newest.events[0].actor.as_deref(), Some("ops"));
}

async fn connection_configuration_is_versioned(db: TestDb) {
    let store = db.connect().await;
    let org = store
        .create_org("A", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    let other = store
        .create_org("B", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    assert_eq!(reason(store.connection_for_org(org).await), "not-found");
    assert_eq!(store.org_snapshot(org).await.unwrap().connection, None);

    let c = store
        .import_idp_metadata(org, &idp("https://idp.example"), BASE)
        .await
        .unwrap();
    assert_eq!((c.config_version, c.enabled), (1, false));
    assert_eq!(c.configuration_changed_at, BASE);
    assert_eq!(c.options, ConnectionOptions::default());
    assert_eq!(c.idp, idp("https://idp.example"));
    assert_eq!(store.connection_by_id(c.id).await.unwrap(), c);

    let c = store.set_connection_enabled(org, true).await.unwrap();
    assert!(c.enabled);
    assert_eq!(c.config_version, 1);
    assert!(
        store
            .record_successful_login(c.id, 1, at(60))
            .await
            .unwrap()
    );
    let snapshot = store.org_snapshot(org).await.unwrap();
    assert_eq!(
        snapshot
            .connection
            .as_ref()
            .unwrap()
            .last_successful_login_at,
        Some(at(60))
    );
    assert!(set_require_sso(&snapshot.policy(), true).is_ok());

    // Replacing the metadata is a new configuration that has not worked yet.
    let mut rolled = idp("https://idp.example");
    rolled
        .certificates
        .push("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----".into());
    let c = store
        .import_idp_metadata(org, &rolled, at(120))
        .await
        .unwrap();
    assert_eq!(c.config_version, 2);
    assert_eq!(c.idp.certificates.len(), 2);
    assert_eq!(
        (c.configuration_changed_at, c.last_successful_login_at),
        (at(120), None)
    );
    assert!(c.enabled);
    let snapshot = store.org_snapshot(org).await.unwrap();
    assert_eq!(
        set_require_sso(&snapshot.policy(), true)
            .unwrap_err()
            .reason(),
        "no-sso-login-since-change"
    );
    // A login that validated against version 1 does not prove version 2.
    assert!(
        !store
            .record_successful_login(c.id, 1, at(130))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_successful_login(c.id, 2, at(130))
            .await
            .unwrap()
    );

    // Options: the same values change nothing; a different value is a new version.
    let same = store
        .set_connection_options(org, &ConnectionOptions::default(), at(140))
        .await
        .unwrap();
    assert_eq!(same.config_version, 2);
    let risky = ConnectionOptions {
        allow_sha1: true,
        clock_skew: Duration::seconds(30),
        sp_settings: json!({ "want_assertions_signed": true }),
        ..ConnectionOptions::default()
    };
    let c = store
        .set_connection_options(org, &risky, at(150))
        .await
        .unwrap();
    assert_eq!((c.config_version, c.last_successful_login_at), (3, None));
    assert_eq!(c.options, risky);
    let bad = ConnectionOptions {
        clock_skew: Duration::hours(2),
        ..ConnectionOptions::default()
    };
    assert_eq!(
        reason(store.set_connection_options(org, &bad, at(160)).await),
        "invalid-input"
    );

    // JIT: role and default projects of this org only; not a configuration change.
    let p1 = project(&store, org, "handbook", "Handbook").await;
    let p2 = project(&store, org, "wiki", "Wiki").await;
    let foreign = project(&store, other, "secret", "Secret").await;
    assert_eq!(
        reason(
            store
                .set_jit(org, Some(Role::Member), &[p1.clone(), foreign])
                .await
        ),
        "not-found"
    );
    let c = store
        .set_jit(
            org,
            Some(Role::Member),
            &[p2.clone(), p1.clone(), p2.clone()],
        )
        .await
        .unwrap();
    assert_eq!(c.jit_role, Some(Role::Member));
    assert_eq!(c.jit_default_projects, [p1.clone(), p2.clone()]);
    assert_eq!(c.config_version, 3);
    let policy = store.org_snapshot(org).await.unwrap().policy();
    assert_eq!(policy.jit.default_role, Some(Role::Member));
    assert_eq!(policy.jit.default_projects, [p1, p2]);
    let c = store.set_jit(org, None, &[]).await.unwrap();
    assert_eq!((c.jit_role, c.jit_default_projects.len()), (None, 0));

    let no_certs = IdpConfig {
        certificates: vec![],
        ..idp("https://idp.example")
    };
    assert_eq!(
        reason(store.import_idp_metadata(org, &no_certs, at(200)).await),
        "invalid-input"
    );
    assert_eq!(
        reason(
            store
                .import_idp_metadata(OrgId::new(999_999), &idp("x"), at(200))
                .await
        ),
        "not-found"
    );
}

async fn require_sso_changes_are_timed(db: TestDb) {
    let store = db.connect().await;
    let org = store.create_org("A", Plan::Growth, BASE).await.unwrap();
    assert_eq!((org.require_sso, org.require_sso_changed_at), (false, None));

    let on = store.set_require_sso(org.id, true, at(10)).await.unwrap();
    assert_eq!(
        (on.require_sso, on.require_sso_changed_at),
        (true, Some(at(10)))
    );
    let still = store.set_require_sso(org.id, true, at(20)).await.unwrap();
    assert_eq!(still.require_sso_changed_at, Some(at(10)));
    let off = store.set_require_sso(org.id, false, at(30)).await.unwrap();
    assert_eq!(
        (off.require_sso, off.require_sso_changed_at),
        (false, Some(at(30)))
    );

    // A downgrade changes the plan and nothing else.
    store.set_require_sso(org.id, true, at(40)).await.unwrap();
    let down = store.set_plan(org.id, Plan::Starter).await.unwrap();
    assert_eq!((down.plan, down.require_sso), (Plan::Starter, true));
    assert_eq!(store.org(org.id).await.unwrap(), down);

    assert_eq!(
        reason(store.set_plan(OrgId::new(999_999), Plan::Plus).await),
        "not-found"
    );
    assert_eq!(
        reason(store.set_require_sso(OrgId::new(999_999), true, BASE).await),
        "not-found"
    );
    assert_eq!(reason(store.org(OrgId::new(999_999)).await), "not-found");
    assert_eq!(
        reason(store.create_org("  ", Plan::Plus, BASE).await),
        "invalid-input"
    );
}

async fn projects_and_access(db: TestDb) {
    let store = db.connect().await;
    let org = store
        .create_org("A", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    let other = store
        .create_org("B", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    let handbook = project(&store, org, "handbook", "Handbook").await;
    let wiki = project(&store, org, "wiki", "Wiki").await;
    // Ids are the host product's, per organization: another org may use the same one.
    let foreign = project(&store, other, "handbook", "Their handbook").await;
    let secret = project(&store, other, "secret", "Secret").await;

    let jane = store
        .get_or_create_user(&email("jane@a.example"), BASE)
        .await
        .unwrap()
        .record
        .id;
    let granted = store
        .grant_project_access(
            org,
            jane,
            &[handbook.clone(), wiki.clone()],
            CreatedBy::Jit,
            BASE,
        )
        .await
        .unwrap();
    assert_eq!(granted, 2);
    let again = store
        .grant_project_access(
            org,
            jane,
            std::slice::from_ref(&handbook),
            CreatedBy::Admin,
            BASE,
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(
        reason(
            store
                .grant_project_access(
                    org,
                    jane,
                    std::slice::from_ref(&secret),
                    CreatedBy::Admin,
                    BASE
                )
                .await
        ),
        "not-found"
    );
    store
        .grant_project_access(
            other,
            jane,
            std::slice::from_ref(&foreign),
            CreatedBy::Admin,
            BASE,
        )
        .await
        .unwrap();
    assert_eq!(
        store.project_access(org, jane).await.unwrap(),
        [handbook, wiki]
    );
    assert_eq!(store.project_access(other, jane).await.unwrap(), [foreign]);
    assert_eq!(count(&store, project_access::Entity).await, 3);
}

/// Orgs list oldest first, a page at a time, with what the policy needs; a name prefix
/// compares exactly on both backends; a cursor from one page never repeats an org.
async fn orgs_page_in_creation_order(db: TestDb) {
    let store = db.connect().await;
    let empty = store.list_orgs(&OrgQuery::new(10)).await.unwrap();
    assert!(empty.orgs.is_empty() && empty.next.is_none());

    let mut made = Vec::new();
    for name in ["Acme 1", "acme 2", "Beta", "Acme 3", "Acme_4", "Acmé 5"] {
        made.push(store.create_org(name, Plan::Growth, BASE).await.unwrap().id);
    }
    store
        .add_verified_domain(made[0], "acme.example", BASE)
        .await
        .unwrap();
    store
        .add_verified_domain(made[0], "acme.test", BASE)
        .await
        .unwrap();
    let c = store
        .import_idp_metadata(made[0], &idp("https://idp.example"), BASE)
        .await
        .unwrap();
    let project = ProjectId::parse("p").unwrap();
    store
        .upsert_projects(
            made[0],
            &[NewProject {
                id: project.clone(),
                name: "P".to_owned(),
            }],
            BASE,
        )
        .await
        .unwrap();
    store
        .set_jit(made[0], Some(Role::Member), std::slice::from_ref(&project))
        .await
        .unwrap();

    // Every org, two a page, in id order, each listed once.
    let mut seen = Vec::new();
    let mut query = OrgQuery::new(2);
    let mut pages = 0;
    loop {
        let page = store.list_orgs(&query).await.unwrap();
        pages += 1;
        assert!(page.orgs.len() <= 2);
        seen.extend(page.orgs.iter().map(|o| o.org.id));
        match page.next {
            Some(next) => {
                // The cursor survives the wire as text.
                let text = next.to_string();
                query = OrgQuery::new(2).after(text.parse::<OrgCursor>().unwrap());
            }
            None => break,
        }
    }
    assert_eq!(seen, made);
    assert_eq!(pages, 3);

    // The page carries the same snapshot as `org_snapshot`.
    let first = store.list_orgs(&OrgQuery::new(1)).await.unwrap();
    assert_eq!(first.orgs[0], store.org_snapshot(made[0]).await.unwrap());
    let listed = first.orgs[0].connection.as_ref().unwrap();
    assert_eq!(listed.id, c.id);
    assert_eq!(listed.jit_default_projects, [project]);
    assert_eq!(
        first.orgs[0].verified_domains,
        ["acme.example", "acme.test"]
    );

    // A prefix: exact, letter case counts, `_` and `%` are plain characters, and
    // characters (not bytes) are counted.
    let names = |page: sso_store::OrgPage| -> Vec<String> {
        page.orgs.into_iter().map(|o| o.org.name).collect()
    };
    let acme = store
        .list_orgs(&OrgQuery::new(10).name_prefix("Acme"))
        .await
        .unwrap();
    assert_eq!(names(acme), ["Acme 1", "Acme 3", "Acme_4"]);
    let underscore = store
        .list_orgs(&OrgQuery::new(10).name_prefix("Acme_"))
        .await
        .unwrap();
    assert_eq!(names(underscore), ["Acme_4"]);
    let percent = store
        .list_orgs(&OrgQuery::new(10).name_prefix("%"))
        .await
        .unwrap();
    assert!(percent.orgs.is_empty());
    let accented = store
        .list_orgs(&OrgQuery::new(10).name_prefix("Acmé"))
        .await
        .unwrap();
    assert_eq!(names(accented), ["Acmé 5"]);
    let everything = store
        .list_orgs(&OrgQuery::new(10).name_prefix(""))
        .await
        .unwrap();
    assert_eq!(everything.orgs.len(), 6);
    // Paging within a prefix.
    let page = store
        .list_orgs(&OrgQuery::new(2).name_prefix("Acme"))
        .await
        .unwrap();
    let rest = store
        .list_orgs(
            &OrgQuery::new(2)
                .name_prefix("Acme")
                .after(page.next.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(names(rest.clone()), ["Acme_4"]);
    assert!(rest.next.is_none());

    let long = store
        .list_orgs(&OrgQuery::new(10).name_prefix("x".repeat(201)))
        .await
        .unwrap_err();
    assert_eq!(long.reason(), "invalid-input");
}

/// A new reading of metadata that says the same is stored without a configuration change,
/// and never over a change made in between.
async fn identical_metadata_keeps_the_configuration(db: TestDb) {
    let store = db.connect().await;
    let org = store.create_org("A", Plan::Growth, BASE).await.unwrap().id;
    let c = store
        .import_idp_metadata(org, &idp("https://idp.example"), BASE)
        .await
        .unwrap();
    assert!(
        store
            .record_successful_login(c.id, 1, at(60))
            .await
            .unwrap()
    );

    let mut again = idp("https://idp.example");
    again.metadata_xml = Some("<EntityDescriptor validUntil='2030-01-01T00:00:00Z'/>".into());
    again.metadata_url = Some("https://idp.example/metadata".into());
    let kept = store.keep_idp_configuration(org, 1, &again).await.unwrap();
    assert_eq!(kept.config_version, 1);
    assert_eq!(kept.last_successful_login_at, Some(at(60)));
    assert_eq!(kept.configuration_changed_at, BASE);
    assert_eq!(kept.idp, again);

    // A real change in between: the stale reading is refused, the change stands.
    let mut rolled = idp("https://idp.example");
    rolled.certificates =
        vec!["-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----".into()];
    let changed = store
        .import_idp_metadata(org, &rolled, at(120))
        .await
        .unwrap();
    assert_eq!(changed.config_version, 2);
    let stale = store
        .keep_idp_configuration(org, 1, &again)
        .await
        .unwrap_err();
    assert_eq!(stale.reason(), "conflict");
    assert_eq!(store.connection_for_org(org).await.unwrap().idp, rolled);
    let missing = store
        .keep_idp_configuration(OrgId::new(999_999), 1, &again)
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "not-found");
}

/// The request and the assertion a login spends, in one statement on PostgreSQL: each once,
/// the refusal names which one, and a refused spend leaves nothing once rolled back.
async fn login_values_are_spent_once(db: TestDb) {
    let store = db.connect().await;
    let (_, connection) = org_with_connection(&store, "A").await;
    let (_, other) = org_with_connection(&store, "B").await;
    for (id, expires) in [("_r1", 300), ("_r2", 300), ("_r3", 60), ("_r4", 300)] {
        let request = NewAuthnRequest {
            id: id.into(),
            connection,
            relay_state: format!("rs{id}"),
            return_target: Some(format!("/after{id}")),
            expires_at: at(expires),
        };
        store.create_authn_request(&request, BASE).await.unwrap();
    }
    let spend = |request: Option<&'static str>, assertion: &'static str, now: i64| {
        let store = &store;
        async move {
            let tx = store.begin().await.unwrap();
            let spent = tx
                .spend_login_values(connection, request, assertion, at(600), at(now))
                .await;
            match spent {
                Ok(consumed) => {
                    tx.commit().await.unwrap();
                    Ok(consumed)
                }
                Err((value, e)) => {
                    tx.rollback().await.unwrap();
                    Err((value, e.reason()))
                }
            }
        }
    };

    let consumed = spend(Some("_r1"), "_a1", 10).await.unwrap().unwrap();
    assert_eq!(
        (consumed.id.as_str(), consumed.consumed_at),
        ("_r1", Some(at(10)))
    );
    assert_eq!(consumed.return_target.as_deref(), Some("/after_r1"));
    assert_eq!(
        spend(Some("_r1"), "_a2", 11).await.unwrap_err(),
        (OneTimeValue::AuthnRequest, "replayed")
    );
    // A fresh request cannot carry a used assertion, and is not spent by trying.
    assert_eq!(
        spend(Some("_r2"), "_a1", 12).await.unwrap_err(),
        (OneTimeValue::Assertion, "replayed")
    );
    assert_eq!(
        store
            .authn_request("_r2")
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        None
    );
    assert_eq!(
        spend(Some("_r3"), "_a3", 60).await.unwrap_err(),
        (OneTimeValue::AuthnRequest, "expired")
    );
    assert_eq!(
        spend(Some("_nope"), "_a3", 12).await.unwrap_err(),
        (OneTimeValue::AuthnRequest, "not-found")
    );
    assert_eq!(
        spend(None, "", 12).await.unwrap_err(),
        (OneTimeValue::Assertion, "invalid-input")
    );
    // Unsolicited: the assertion alone.
    assert_eq!(spend(None, "_a4", 13).await.unwrap(), None);
    assert_eq!(
        spend(None, "_a4", 14).await.unwrap_err(),
        (OneTimeValue::Assertion, "replayed")
    );
    // Another connection's request is not found, and its assertion IDs are its own.
    let tx = store.begin().await.unwrap();
    let (value, e) = tx
        .spend_login_values(other, Some("_r4"), "_a1", at(600), at(15))
        .await
        .unwrap_err();
    assert_eq!(
        (value, e.reason()),
        (OneTimeValue::AuthnRequest, "not-found")
    );
    tx.rollback().await.unwrap();
    assert!(spend(Some("_r2"), "_a2", 16).await.unwrap().is_some());
    assert_eq!(count(&store, consumed_assertion::Entity).await, 3);
}

/// A first login's user and membership, created together (one statement on PostgreSQL), or
/// only what is missing when the user exists.
async fn new_members_are_created_with_their_membership(db: TestDb) {
    let store = db.connect().await;
    let (org, _) = org_with_connection(&store, "A").await;
    let (other, _) = org_with_connection(&store, "B").await;
    let person = email("New.Person@A.example");

    let tx = store.begin().await.unwrap();
    let (user, membership) = tx
        .create_member(&person, org, Role::Admin, CreatedBy::Jit, at(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(user.created && membership.created);
    assert_eq!(user.record.email.as_str(), "new.person@a.example");
    assert_eq!(user.record.created_at, at(1));
    assert_eq!(
        (
            membership.record.user,
            membership.record.role,
            membership.record.created_by
        ),
        (user.record.id, Role::Admin, CreatedBy::Jit)
    );
    let (read, member) = store
        .user_and_membership(&person, org)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, user.record);
    assert_eq!(member, Some(membership.record));

    // The user exists: read, and made a member of the second org only.
    let (again, joined) = store
        .create_member(&person, other, Role::Member, CreatedBy::Jit, at(2))
        .await
        .unwrap();
    assert!(!again.created && joined.created);
    assert_eq!(again.record, user.record);
    assert_eq!(joined.record.role, Role::Member);

    // Both exist: nothing created, the stored role kept.
    let (_, kept) = store
        .create_member(&person, org, Role::Member, CreatedBy::Scim, at(3))
        .await
        .unwrap();
    assert!(!kept.created);
    assert_eq!(kept.record.role, Role::Admin);

    // An unknown org is not found, and leaves no user behind once rolled back.
    let tx = store.begin().await.unwrap();
    let missing = tx
        .create_member(
            &email("ghost@a.example"),
            OrgId::new(9_999),
            Role::Member,
            CreatedBy::Jit,
            at(4),
        )
        .await;
    assert_eq!(reason(missing), "not-found");
    tx.rollback().await.unwrap();
    assert_eq!(count(&store, user::Entity).await, 1);
    assert_eq!(count(&store, membership::Entity).await, 2);
}
