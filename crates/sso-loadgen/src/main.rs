//! `sso-loadgen`: drives `AuthService.CompleteSsoLogin` on real `sso-server` processes it
//! starts itself, and prints a markdown table of logins per second, latency and CPU per
//! login, with server CPU also stated as a multiple of one RSA-2048 verification measured in
//! the same run.
//!
//! For each setup (SQLite; PostgreSQL; two servers on one PostgreSQL database) it starts the
//! servers on free loopback ports, sets up one org through AdminService as a calling service
//! would, and for each concurrency runs a phase of first logins (each a new user, created
//! just in time) and then a phase of the same users returning. Every AuthnRequest is begun
//! and every response signed before a phase starts; only `CompleteSsoLogin` is timed. Any
//! failed or unexpected login makes the run fail (exit 1).
//!
//! ```text
//! sso-loadgen [--quick] [--setups sqlite,postgres,postgres-x2] [--concurrency 1,4,16,64]
//!             [--logins N] [--rounds N] [--server-bin PATH] [--postgres-url URL]
//! ```
//!
//! On a shared 2-core machine one run of a phase can differ from the next by a third in CPU
//! per login. `--rounds N` runs every setup N times, each round on fresh servers and
//! databases, and reports each cell as the median of its rounds, with a second table giving
//! each cell's range.
#![forbid(unsafe_code)]
// A command-line tool speaks on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod floor;
mod load;
mod pg;
mod server;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sso_dev_idp::Idp;
use tonic::transport::Channel;

use crate::floor::Floor;
use crate::load::{BASE_URL, IDP_ENTITY, IDP_SSO_URL, Org, Phase, percentile};
use crate::pg::FreshDatabase;
use crate::server::{Server, cpu_ticks, ticks_per_second};

/// Load generator for `sso-server`: CompleteSsoLogin throughput, latency and CPU per login.
#[derive(Debug, Parser)]
#[command(name = "sso-loadgen", version, about)]
struct Args {
    /// Which setups to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_values_t = [Setup::Sqlite, Setup::Postgres, Setup::PostgresX2]
    )]
    setups: Vec<Setup>,
    /// Concurrent callers of each phase.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16, 64])]
    concurrency: Vec<usize>,
    /// Logins per phase (default 2000, or 200 with --quick).
    #[arg(long)]
    logins: Option<usize>,
    /// A short run: 200 logins per phase and a shorter floor measurement.
    #[arg(long)]
    quick: bool,
    /// Only first logins (no phase of returning users).
    #[arg(long)]
    no_returning: bool,
    /// Runs every setup this many times, on fresh servers each round, and reports each cell
    /// as the median of the rounds, then each cell's range.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=25))]
    rounds: u32,
    /// The sso-server binary (default: `sso-server` beside this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// A PostgreSQL database to connect to for creating the fresh one of each run.
    #[arg(
        long,
        env = "SSO_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
    )]
    postgres_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Setup {
    /// One server on its own SQLite file.
    Sqlite,
    /// One server on a fresh PostgreSQL database.
    Postgres,
    /// Two servers on one fresh PostgreSQL database, the load split across both.
    PostgresX2,
}

impl Setup {
    fn backend(self) -> &'static str {
        match self {
            Setup::Sqlite => "SQLite",
            Setup::Postgres | Setup::PostgresX2 => "PostgreSQL",
        }
    }

    fn servers(self) -> usize {
        match self {
            Setup::Sqlite | Setup::Postgres => 1,
            Setup::PostgresX2 => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Setup::Sqlite => "sqlite",
            Setup::Postgres => "postgres",
            Setup::PostgresX2 => "postgres_x2",
        }
    }
}

/// One line of the table.
#[derive(Debug)]
struct Row {
    setup: Setup,
    callers: usize,
    returning: bool,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU seconds per login: all servers, the PostgreSQL backends, this process.
    server_cpu: f64,
    db_cpu: Option<f64>,
    client_cpu: f64,
    /// The floor measured just before and just after this phase (their mean): the machine's
    /// speed while the phase ran, which on a shared machine drifts within a run.
    floor: Duration,
}

/// What a run needs everywhere.
struct Context {
    server_bin: PathBuf,
    postgres_url: String,
    concurrency: Vec<usize>,
    logins: usize,
    returning: bool,
    ticks_per_second: f64,
    /// Measures the floor again around every phase.
    floor: Floor,
    /// Verifications timed before and after each phase.
    phase_floor_samples: usize,
    idp: Arc<Idp>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sso-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn default_server_bin() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    Ok(me.with_file_name("sso-server"))
}

fn run(args: Args) -> Result<(), String> {
    let server_bin = match args.server_bin {
        Some(path) => path,
        None => default_server_bin()?,
    };
    if !server_bin.is_file() {
        return Err(format!(
            "no sso-server binary at {} (build it, or pass --server-bin)",
            server_bin.display()
        ));
    }
    let logins = args
        .logins
        .unwrap_or(if args.quick { 200 } else { 2000 })
        .max(1);
    let floor_samples = if args.quick { 2_000 } else { 20_000 };
    eprintln!("sso-loadgen: measuring the floor ({floor_samples} RSA-2048 verifications)");
    let floor_meter = Floor::new()?;
    let floor_before = floor_meter.measure(floor_samples)?;
    eprintln!("sso-loadgen: generating the test IdP's key");
    let context = Context {
        server_bin,
        postgres_url: args.postgres_url,
        concurrency: args.concurrency.iter().map(|&c| c.max(1)).collect(),
        logins,
        returning: !args.no_returning,
        ticks_per_second: ticks_per_second()? as f64,
        floor: floor_meter,
        phase_floor_samples: floor_samples / 5,
        // No KeyInfo: responses stay the size earlier runs measured.
        idp: Arc::new(
            Idp::generate("load test idp", IDP_ENTITY, IDP_SSO_URL)
                .map_err(|e| format!("the test IdP's key: {e}"))?
                .with_key_info(false),
        ),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    // Rounds outermost, so that whatever else the machine is doing spreads over every setup.
    for round in 1..=args.rounds {
        for &setup in &args.setups {
            eprintln!(
                "sso-loadgen: round {round} of {}: {} with {} server(s)",
                args.rounds,
                setup.backend(),
                setup.servers()
            );
            match runtime.block_on(run_setup(&context, setup, &mut rows)) {
                Ok(()) => {}
                Err(e) => {
                    eprintln!("sso-loadgen: {}: {e}", setup.label());
                    errors.push(format!("round {round}: {}: {e}", setup.label()));
                }
            }
        }
    }
    let floor_after = context.floor.measure(floor_samples)?;
    let floor = (floor_before + floor_after) / 2;
    let cells = Cell::gather(rows);
    print_table(
        &cells,
        floor,
        floor_before,
        floor_after,
        &context,
        args.rounds,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} setup(s) failed:\n{}",
            errors.len(),
            errors.join("\n")
        ))
    }
}

/// Starts the setup's servers (and database), runs every phase into `rows`, and cleans up
/// whatever happened.
async fn run_setup(context: &Context, setup: Setup, rows: &mut Vec<Row>) -> Result<(), String> {
    let database = match setup {
        Setup::Sqlite => None,
        Setup::Postgres | Setup::PostgresX2 => {
            Some(FreshDatabase::create(&context.postgres_url, setup.label()).await?)
        }
    };
    let mut servers = Vec::new();
    let result = start_and_load(context, setup, database.as_ref(), &mut servers, rows).await;
    let mut stopped = Ok(());
    for server in &mut servers {
        if let Err(e) = server.stop() {
            stopped = Err(e);
        }
    }
    drop(servers);
    let dropped = match database {
        Some(database) => database.drop_database().await,
        None => Ok(()),
    };
    result.and(stopped).and(dropped)
}

async fn start_and_load(
    context: &Context,
    setup: Setup,
    database: Option<&FreshDatabase>,
    servers: &mut Vec<Server>,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let url = database.map(|d| d.url.as_str());
    let mut channels = Vec::new();
    // One after the other: each migrates the database on start.
    for n in 0..setup.servers() {
        let label = format!("{}-{n}", setup.label());
        servers.push(Server::start(&context.server_bin, url, BASE_URL, &label)?);
        if let Some(server) = servers.last_mut() {
            channels.push(server.wait_until_serving().await?);
        }
    }
    let first = channels.first().cloned().ok_or("no server started")?;
    let org = load::set_up_org(first, &context.idp, "load.example.com").await?;
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();

    for &callers in &context.concurrency {
        let emails: Vec<String> = (0..context.logins)
            .map(|i| format!("c{callers}-user{i}@{}", org.domain))
            .collect();
        let (row, created) = measure(
            context, setup, &channels, &org, &emails, callers, false, database, &pids,
        )
        .await?;
        rows.push(row);
        // Each first login created its own user: as many distinct user ids as emails.
        let distinct: HashSet<&String> = created.users.values().collect();
        if distinct.len() != emails.len() {
            return Err(format!(
                "{} first logins created {} distinct users",
                emails.len(),
                distinct.len()
            ));
        }
        if context.returning {
            let (row, again) = measure(
                context, setup, &channels, &org, &emails, callers, true, database, &pids,
            )
            .await?;
            if again.users != created.users {
                return Err("returning users signed in as other users than they were".into());
            }
            rows.push(row);
        }
    }
    Ok(())
}

/// Prepares and runs one phase, with CPU read around it.
#[allow(clippy::too_many_arguments)]
async fn measure(
    context: &Context,
    setup: Setup,
    channels: &[Channel],
    org: &Org,
    emails: &[String],
    callers: usize,
    returning: bool,
    database: Option<&FreshDatabase>,
    pids: &[u32],
) -> Result<(Row, Phase), String> {
    let (kind, letter) = if returning {
        ("returning", 'r')
    } else {
        ("first", 'f')
    };
    let tag = format!("{}c{callers}{letter}", setup.label());
    let prepared = load::prepare(channels, org, context.idp.clone(), emails, &tag).await?;

    let server_ticks =
        |pids: &[u32]| -> Result<u64, String> { pids.iter().map(|&pid| cpu_ticks(pid)).sum() };
    let me = std::process::id();
    let db_before = match database {
        Some(db) => Some(db.backend_ticks().await?),
        None => None,
    };
    let floor_before = context.floor.measure(context.phase_floor_samples)?;
    let (server_before, client_before) = (server_ticks(pids)?, cpu_ticks(me)?);
    let phase = load::run_phase(channels, org, prepared, callers, !returning).await?;
    let (server_after, client_after) = (server_ticks(pids)?, cpu_ticks(me)?);
    let floor_after = context.floor.measure(context.phase_floor_samples)?;
    let db_ticks = match (database, db_before) {
        (Some(db), Some(before)) => Some(pg::ticks_between(&before, &db.backend_ticks().await?)),
        _ => None,
    };

    let n = phase.succeeded.max(1) as f64;
    let per_login = |ticks: u64| ticks as f64 / context.ticks_per_second / n;
    let row = Row {
        setup,
        callers,
        returning,
        per_second: phase.succeeded as f64 / phase.elapsed.as_secs_f64().max(1e-9),
        p50: percentile(&phase.latencies, 50.0),
        p99: percentile(&phase.latencies, 99.0),
        server_cpu: per_login(server_after.saturating_sub(server_before)),
        db_cpu: db_ticks.map(per_login),
        client_cpu: per_login(client_after.saturating_sub(client_before)),
        floor: (floor_before + floor_after) / 2,
    };
    eprintln!(
        "sso-loadgen: {} x{} callers {callers} {kind}: {:.0} logins/s, p50 {:.2} ms, p99 {:.2} ms",
        setup.backend(),
        setup.servers(),
        row.per_second,
        ms(row.p50),
        ms(row.p99)
    );
    Ok((row, phase))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One cell of the table: every round's row of one setup, concurrency and login kind.
#[derive(Debug)]
struct Cell {
    rounds: Vec<Row>,
}

impl Cell {
    /// Groups the rows by setup, concurrency and login kind, in the order they first ran.
    fn gather(rows: Vec<Row>) -> Vec<Cell> {
        let mut cells: Vec<Cell> = Vec::new();
        for row in rows {
            let same = |c: &&mut Cell| {
                c.rounds.first().is_some_and(|f| {
                    f.setup == row.setup && f.callers == row.callers && f.returning == row.returning
                })
            };
            match cells.iter_mut().find(same) {
                Some(cell) => cell.rounds.push(row),
                None => cells.push(Cell { rounds: vec![row] }),
            }
        }
        cells
    }

    /// One column's values over the rounds, sorted.
    fn column(&self, value: impl Fn(&Row) -> f64) -> Vec<f64> {
        let mut values: Vec<f64> = self.rounds.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        values
    }

    /// The median of one column (the mean of the middle two for an even count).
    fn median(&self, value: impl Fn(&Row) -> f64) -> f64 {
        let values = self.column(value);
        let n = values.len();
        let middle = |i: usize| values.get(i).copied().unwrap_or(0.0);
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => middle(n / 2),
            _ => (middle(n / 2 - 1) + middle(n / 2)) / 2.0,
        }
    }

    /// The smallest and largest value of one column.
    fn range(&self, value: impl Fn(&Row) -> f64) -> (f64, f64) {
        let values = self.column(value);
        (
            values.first().copied().unwrap_or(0.0),
            values.last().copied().unwrap_or(0.0),
        )
    }

    /// The first round's row, for what every round shares (setup, callers, kind).
    fn key(&self) -> Option<&Row> {
        self.rounds.first()
    }
}

/// The columns that name a phase: backend, servers, callers and login kind.
fn phase_columns(r: &Row) -> String {
    let login = if r.returning {
        "returning"
    } else {
        "first (JIT)"
    };
    format!(
        "| {} | {} | {} | {login} |",
        r.setup.backend(),
        r.setup.servers(),
        r.callers
    )
}

fn print_table(
    cells: &[Cell],
    floor: Duration,
    before: Duration,
    after: Duration,
    context: &Context,
    rounds: u32,
) {
    // Each phase against the floor measured around it: the machine's speed drifts within a run.
    let ratio = |r: &Row| r.server_cpu / r.floor.as_secs_f64().max(1e-12);
    let of_rounds = if rounds > 1 {
        format!(" per round; each cell the median of {rounds} rounds")
    } else {
        " per phase".to_owned()
    };
    println!(
        "Floor: one RSA-2048 PKCS#1 v1.5 SHA-256 verification, median {:.2} µs \
         ({:.2} µs before the load, {:.2} µs after); \"x floor\" divides a phase's server CPU \
         per login by the floor measured around that phase (the median of {} verifications \
         just before it and {} just after). {} logins{of_rounds}; CPU from /proc \
         utime+stime at {} ticks/s.",
        floor.as_secs_f64() * 1e6,
        before.as_secs_f64() * 1e6,
        after.as_secs_f64() * 1e6,
        context.phase_floor_samples,
        context.phase_floor_samples,
        context.logins,
        context.ticks_per_second
    );
    println!();
    println!(
        "| backend | servers | callers | login | logins/s | p50 | p99 | server CPU/login | \
         x floor | DB CPU/login | client CPU/login |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for cell in cells {
        let Some(r) = cell.key() else { continue };
        let server_cpu = cell.median(|r| r.server_cpu);
        let db = if r.db_cpu.is_some() {
            format!("{:.2} ms", cell.median(|r| r.db_cpu.unwrap_or(0.0)) * 1e3)
        } else {
            "-".to_owned()
        };
        println!(
            "{} {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0}x | {db} | {:.2} ms |",
            phase_columns(r),
            cell.median(|r| r.per_second),
            cell.median(|r| ms(r.p50)),
            cell.median(|r| ms(r.p99)),
            server_cpu * 1e3,
            cell.median(ratio),
            cell.median(|r| r.client_cpu) * 1e3,
        );
    }
    if rounds <= 1 {
        return;
    }
    println!();
    println!("Range over the rounds (smallest to largest):");
    println!();
    println!(
        "| backend | servers | callers | login | rounds | logins/s | p50 | p99 | \
         server CPU/login | x floor | DB CPU/login |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for cell in cells {
        let Some(r) = cell.key() else { continue };
        let span = |value: &dyn Fn(&Row) -> f64, scale: f64, unit: &str, digits: usize| {
            let (low, high) = cell.range(value);
            format!("{:.digits$}-{:.digits$}{unit}", low * scale, high * scale)
        };
        let db = if r.db_cpu.is_some() {
            span(&|r| r.db_cpu.unwrap_or(0.0), 1e3, " ms", 2)
        } else {
            "-".to_owned()
        };
        println!(
            "{} {} | {} | {} | {} | {} | {} | {db} |",
            phase_columns(r),
            cell.rounds.len(),
            span(&|r| r.per_second, 1.0, "", 0),
            span(&|r| ms(r.p50), 1.0, " ms", 2),
            span(&|r| ms(r.p99), 1.0, " ms", 2),
            span(&|r| r.server_cpu, 1e3, " ms", 2),
            span(&ratio, 1.0, "x", 0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(per_second: f64) -> Row {
        Row {
            setup: Setup::Sqlite,
            callers: 1,
            returning: false,
            per_second,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            server_cpu: 0.0,
            db_cpu: None,
            client_cpu: 0.0,
            floor: Duration::ZERO,
        }
    }

    #[test]
    fn a_cell_reports_the_median_and_range_of_its_rounds() {
        let cells = Cell::gather(vec![row(300.0), row(100.0), row(200.0)]);
        assert_eq!(cells.len(), 1);
        let Some(cell) = cells.first() else { return };
        assert!((cell.median(|r| r.per_second) - 200.0).abs() < 1e-9);
        assert_eq!(cell.range(|r| r.per_second), (100.0, 300.0));

        let even = Cell::gather(vec![row(400.0), row(100.0), row(200.0), row(300.0)]);
        let Some(cell) = even.first() else { return };
        assert!((cell.median(|r| r.per_second) - 250.0).abs() < 1e-9);
    }

    #[test]
    fn rows_of_other_phases_go_to_other_cells() {
        let mut returning = row(1.0);
        returning.returning = true;
        let mut more_callers = row(2.0);
        more_callers.callers = 16;
        let cells = Cell::gather(vec![row(3.0), returning, more_callers, row(4.0)]);
        let sizes: Vec<usize> = cells.iter().map(|c| c.rounds.len()).collect();
        assert_eq!(sizes, [2, 1, 1]);
    }
}
