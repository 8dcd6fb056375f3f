//! `complete_login`, signature checks included, on SQLite and PostgreSQL, at 1 and 16
//! concurrent callers: logins per second, p50 and p99 latency, and database statements per
//! login (every statement sqlx logs under `sqlx::query`, counted by a tracing subscriber).
//!
//! `cargo bench -p sso-provisioning --bench complete_login`. PostgreSQL comes from
//! `SSO_TEST_DATABASE_URL` (a fresh database is created and dropped); without it the PostgreSQL
//! half prints a line saying it did not run. The table is printed first, then divan's own
//! single-caller measurement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration as StdDuration, Instant};

use divan::Bencher;
use sso_policy::{Plan, Role};
use sso_provisioning::Provisioner;
use sso_store::sea_orm::{ConnectionTrait, Database};
use sso_store::{OrgId, Store};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);
const ADMIN: &str = "bench";
const PG_URL_VAR: &str = "SSO_TEST_DATABASE_URL";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.bench"));

/// Counts the statements sqlx runs; remembers their summaries while `RECORD` is set.
struct StatementCounter;

static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static RECORD: AtomicBool = AtomicBool::new(false);
static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Summary(String);

impl tracing::field::Visit for Summary {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.to_owned();
        }
    }
}

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("sqlx::query")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target().starts_with("sqlx::query") {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
            if RECORD.load(Ordering::Relaxed) {
                let mut summary = Summary(String::new());
                event.record(&mut summary);
                RECORDED.lock().unwrap().push(summary.0);
            }
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Backend {
    name: &'static str,
    url: String,
    cleanup: Option<(String, String)>,
}

fn backends(rt: &tokio::runtime::Runtime) -> Vec<Backend> {
    let path = std::env::temp_dir().join(format!("sso_prov_bench_{}.sqlite", std::process::id()));
    let mut out = vec![Backend {
        name: "sqlite",
        url: format!("sqlite://{}?mode=rwc", path.display()),
        cleanup: None,
    }];
    match std::env::var(PG_URL_VAR) {
        Ok(admin_url) => {
            let name = format!("sso_prov_bench_{}", std::process::id());
            rt.block_on(async {
                let admin = Database::connect(admin_url.as_str()).await.unwrap();
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
            });
            let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
            let root = &base[..base.rfind('/').unwrap()];
            let url = if query.is_empty() {
                format!("{root}/{name}")
            } else {
                format!("{root}/{name}?{query}")
            };
            out.push(Backend {
                name: "postgres",
                url,
                cleanup: Some((admin_url, name)),
            });
        }
        Err(_) => eprintln!("sso-provisioning bench: PostgreSQL NOT RUN: {PG_URL_VAR} is not set"),
    }
    out
}

fn drop_backend(rt: &tokio::runtime::Runtime, backend: &Backend) {
    if let Some((admin_url, name)) = &backend.cleanup {
        rt.block_on(async {
            let admin = Database::connect(admin_url.as_str()).await.unwrap();
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        });
    } else if let Some(path) = backend.url.strip_prefix("sqlite://") {
        let path = path.trim_end_matches("?mode=rwc");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

/// A Growth org with JIT on (role Member), its domain verified and its connection enabled.
async fn setup_org(p: &Provisioner, name: &str) -> OrgId {
    let org = p
        .create_org(ADMIN, name, Plan::Growth, NOW)
        .await
        .unwrap()
        .id;
    p.add_verified_domain(ADMIN, org, &format!("{name}.example"), NOW)
        .await
        .unwrap();
    p.import_idp_metadata(ADMIN, org, &IDP.metadata(), NOW)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, true, NOW)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[], NOW)
        .await
        .unwrap();
    org
}

/// `n` solicited responses: requests stored, responses signed (not timed).
async fn prepare(
    p: &Provisioner,
    org: OrgId,
    domain: &str,
    emails: impl Fn(usize) -> String,
    n: usize,
    tag: &str,
) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start = p.begin_login(org, None, NOW).await.unwrap();
        let raw = IDP.response(
            &Response::new(
                org,
                &format!("_{tag}{i}"),
                &format!("{}@{domain}", emails(i)),
                NOW,
            )
            .answering(&start.request_id),
        );
        out.push((raw, start.relay_state));
    }
    out
}

struct Figures {
    logins_per_second: f64,
    p50: StdDuration,
    p99: StdDuration,
    statements_per_login: f64,
}

async fn run(
    p: &Arc<Provisioner>,
    org: OrgId,
    inputs: Vec<(Vec<u8>, String)>,
    callers: usize,
) -> Figures {
    let n = inputs.len();
    let queue = Arc::new(Mutex::new(inputs));
    STATEMENTS.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (p, queue) = (p.clone(), queue.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some((raw, relay)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let t = Instant::now();
                    p.complete_login(org, &raw, Some(&relay), NOW + Duration::seconds(1))
                        .await
                        .unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Figures {
        logins_per_second: n as f64 / wall.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        statements_per_login: STATEMENTS.load(Ordering::Relaxed) as f64 / n as f64,
    }
}

fn report(rt: &tokio::runtime::Runtime) {
    let n: usize = std::env::var("SSO_BENCH_LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(800);
    println!("complete_login, {n} logins per row, RSA-2048 signed assertions (~3 KB)");
    println!(
        "{:<9} {:<17} {:>7} {:>10} {:>10} {:>10} {:>11}",
        "backend", "path", "callers", "logins/s", "p50 ms", "p99 ms", "stmts/login"
    );
    for backend in backends(rt) {
        rt.block_on(async {
            let store = Store::connect(&backend.url).await.unwrap();
            let p = Arc::new(Provisioner::new(store, BASE_URL));
            for callers in [1, 16] {
                let name = format!("o{callers}");
                let org = setup_org(&p, &name).await;
                let domain = format!("{name}.example");
                for (path, tag) in [("first login (JIT)", "f"), ("returning member", "r")] {
                    let inputs = prepare(&p, org, &domain, |i| format!("user{i}"), n, tag).await;
                    let f = run(&p, org, inputs, callers).await;
                    println!(
                        "{:<9} {:<17} {:>7} {:>10.0} {:>10.2} {:>10.2} {:>11.1}",
                        backend.name,
                        path,
                        callers,
                        f.logins_per_second,
                        f.p50.as_secs_f64() * 1e3,
                        f.p99.as_secs_f64() * 1e3,
                        f.statements_per_login
                    );
                }
            }
            // The statements of one first login and one returning login, by summary.
            let org = setup_org(&p, "trace").await;
            for tag in ["one-first", "one-again"] {
                let inputs = prepare(&p, org, "trace.example", |_| "once".into(), 1, tag).await;
                RECORDED.lock().unwrap().clear();
                RECORD.store(true, Ordering::Relaxed);
                run(&p, org, inputs, 1).await;
                RECORD.store(false, Ordering::Relaxed);
                let recorded = RECORDED.lock().unwrap().clone();
                println!(
                    "{} {tag}: {} statements {:?}",
                    backend.name,
                    recorded.len(),
                    recorded
                );
            }
        });
        drop_backend(rt, &backend);
    }
}

struct Single {
    rt: tokio::runtime::Runtime,
    p: Arc<Provisioner>,
    org: OrgId,
    counter: AtomicU64,
}

fn single(url: &str) -> Single {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, org) = rt.block_on(async {
        let p = Arc::new(Provisioner::new(
            Store::connect(url).await.unwrap(),
            BASE_URL,
        ));
        let org = setup_org(&p, "divan").await;
        (p, org)
    });
    Single {
        rt,
        p,
        org,
        counter: AtomicU64::new(0),
    }
}

fn bench_backend(bencher: Bencher<'_, '_>, s: &Single) {
    bencher
        .with_inputs(|| {
            let i = s.counter.fetch_add(1, Ordering::Relaxed) as usize;
            s.rt.block_on(prepare(
                &s.p,
                s.org,
                "divan.example",
                |_| format!("d{i}"),
                1,
                &format!("d{i}_"),
            ))
            .pop()
            .unwrap()
        })
        .bench_local_values(|(raw, relay)| {
            s.rt.block_on(s.p.complete_login(s.org, &raw, Some(&relay), NOW + Duration::seconds(1)))
                .unwrap()
        });
}

#[divan::bench(sample_count = 40, sample_size = 5)]
fn complete_login_sqlite(bencher: Bencher<'_, '_>) {
    static S: LazyLock<Single> = LazyLock::new(|| {
        let path =
            std::env::temp_dir().join(format!("sso_prov_divan_{}.sqlite", std::process::id()));
        single(&format!("sqlite://{}?mode=rwc", path.display()))
    });
    bench_backend(bencher, &S);
}

fn main() {
    tracing::subscriber::set_global_default(StatementCounter).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    LazyLock::force(&IDP);
    report(&rt);
    divan::main();
}
