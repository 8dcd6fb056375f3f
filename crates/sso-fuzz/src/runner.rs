//! The loop: pick a base, mutate it, run the target in-process with panics caught and time
//! measured, keep what parses for further mutation, and save every finding.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::mutate::{self, MAX_LEN};
use crate::rng::{Rng, hash64};
use crate::seeds;
use crate::targets::{Harness, Outcome, Target};

/// How a run is bounded and where it reads and writes.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The targets, run one after the other.
    pub targets: Vec<Target>,
    /// Time budget per target (`None`: only `inputs_per_target` bounds the run).
    pub time_per_target: Option<Duration>,
    /// Input budget per target (`None`: only `time_per_target` bounds the run).
    pub inputs_per_target: Option<u64>,
    /// Fixes every random choice: the same seed and budget in inputs give the same inputs.
    pub seed: u64,
    /// Corpus directory (default: `../shared/corpus` when present).
    pub corpus: Option<PathBuf>,
    /// Where findings are written (`None`: not written).
    pub findings_dir: Option<PathBuf>,
    /// One input of up to 1 MiB taking longer than this is a finding (bigger ones get
    /// proportionally more).
    pub slow: Duration,
    /// One input running longer than this is a hang: the watchdog saves it and ends the
    /// process, since a running thread cannot be stopped.
    pub hang: Duration,
    /// Resident memory above this is a blow-up: saved and fatal like a hang.
    pub memory_limit: u64,
    /// Largest mutant.
    pub max_len: usize,
}

impl Settings {
    /// Defaults for `targets`: 60 s each, 200 ms per input in an optimized build (5 s in a
    /// debug build), hang at 20 s, 4 GiB of memory.
    pub fn new(targets: Vec<Target>) -> Self {
        let debug = cfg!(debug_assertions);
        Settings {
            targets,
            time_per_target: Some(Duration::from_secs(60)),
            inputs_per_target: None,
            seed: 1,
            corpus: seeds::default_corpus(),
            findings_dir: Some(default_findings_dir()),
            slow: Duration::from_millis(if debug { 5000 } else { 200 }),
            hang: Duration::from_secs(if debug { 120 } else { 20 }),
            memory_limit: 4 << 30,
            max_len: MAX_LEN,
        }
    }
}

/// `target/fuzz-findings` in the workspace.
pub fn default_findings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-findings")
}

/// What was wrong with an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// The target panicked, with this message and location.
    Panic(String),
    /// The target took this long (the fastest of three tries).
    Slow(Duration),
    /// The target broke an invariant the harness checks.
    Violation(String),
}

/// One finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The target it was found with.
    pub target: Target,
    /// What happened.
    pub kind: FindingKind,
    /// The input's length.
    pub input_len: usize,
    /// Where the input was saved.
    pub path: Option<PathBuf>,
}

/// One target's run.
#[derive(Clone, Debug)]
pub struct TargetReport {
    /// The target.
    pub target: Target,
    /// Inputs run (seeds included, re-runs of slow inputs not).
    pub inputs: u64,
    /// Bytes of input run.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Findings (at most [`MAX_FINDINGS`] kept; `finding_count` counts all).
    pub findings: Vec<Finding>,
    /// All findings.
    pub finding_count: u64,
    /// How often each outcome label came up.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// The slowest input that was not a finding, and its length.
    pub slowest: (Duration, usize),
}

/// Findings kept per target.
pub const MAX_FINDINGS: usize = 50;

impl TargetReport {
    /// Executions per second.
    pub fn execs_per_sec(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The most frequent outcomes, as `label share%`.
    pub fn outcome_summary(&self, top: usize) -> String {
        let mut v: Vec<(&&str, &u64)> = self.outcomes.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .take(top)
            .map(|(k, n)| format!("{k} {:.1}%", **n as f64 * 100.0 / self.inputs.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Seeds loaded (corpus and synthetic).
    pub seeds: usize,
    /// Per target, in order.
    pub targets: Vec<TargetReport>,
}

impl Report {
    /// Findings over all targets.
    pub fn finding_count(&self) -> u64 {
        self.targets.iter().map(|t| t.finding_count).sum()
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `target` on `input` once, catching a panic: the outcome, or the panic's message.
pub fn run_one(harness: &Harness, target: Target, input: &[u8]) -> Result<Outcome, String> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    panic::catch_unwind(AssertUnwindSafe(|| harness.run(target, input))).map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned())
    })
}

/// Replaces the panic hook with one that records the message for [`run_one`] instead of
/// printing it, for as long as the guard lives.
type PanicHook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

struct QuietPanics {
    previous: Option<PanicHook>,
}

impl QuietPanics {
    fn install() -> Self {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(|info| {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
        }));
        QuietPanics {
            previous: Some(previous),
        }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            panic::set_hook(previous);
        }
    }
}

/// The input running now, for the watchdog.
type Running = Arc<Mutex<Option<(Target, Arc<Vec<u8>>, Instant)>>>;

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Watches the running input from another thread: past `hang`, or past `memory_limit` of
/// resident memory, it saves the input and ends the process (exit code 3), the one way to stop
/// a runaway computation in this thread.
#[allow(clippy::print_stderr)] // the process is about to end: stderr is the only channel left
fn watchdog(
    settings: &Settings,
    running: Running,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    let hang = settings.hang;
    let memory_limit = settings.memory_limit;
    let dir = settings.findings_dir.clone();
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(50));
            let guard = running.lock().unwrap_or_else(PoisonError::into_inner);
            let Some((target, input, started)) = guard.as_ref() else {
                continue;
            };
            let took = started.elapsed();
            let memory = resident_bytes().unwrap_or(0);
            let why = if took > hang {
                format!("hang: still running after {took:?}")
            } else if memory > memory_limit {
                format!("memory: {} MiB resident", memory >> 20)
            } else {
                continue;
            };
            let path = dir
                .as_deref()
                .and_then(|d| save(d, *target, input, &why).ok());
            eprintln!(
                "sso-fuzz: FINDING {target}: {why} on a {}-byte input{}",
                input.len(),
                path.map(|p| format!(", saved as {}", p.display()))
                    .unwrap_or_default()
            );
            std::process::exit(3);
        }
    })
}

/// Saves a finding as `<target>-<hash>.xml`, with what happened in a `.txt` beside it.
pub fn save(dir: &Path, target: Target, input: &[u8], what: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem = format!("{target}-{:016x}", hash64(input));
    let path = dir.join(format!("{stem}.xml"));
    std::fs::write(&path, input)?;
    std::fs::write(dir.join(format!("{stem}.txt")), format!("{what}\n"))?;
    Ok(path)
}

/// The time bound for an input of `len` bytes.
fn slow_bound(settings: &Settings, len: usize) -> Duration {
    let mib = (len >> 20) as u32 + 1;
    settings.slow * mib
}

/// Runs the fuzzer as `settings` say, calling `log` with progress lines.
pub fn run(settings: &Settings, log: &mut dyn FnMut(&str)) -> Result<Report, String> {
    let harness = Harness::new()?;
    let mut seeds = harness.synthetic_seeds();
    if let Some(dir) = &settings.corpus {
        seeds.extend(seeds::load_corpus(dir));
    }
    seeds.retain(|s| s.len() <= settings.max_len);
    log(&format!(
        "sso-fuzz: {} seeds ({}), seed {}",
        seeds.len(),
        settings
            .corpus
            .as_deref()
            .map_or("synthetic only".to_owned(), |d| format!(
                "corpus {}",
                d.display()
            )),
        settings.seed
    ));
    let template = harness.response_template().into_bytes();

    let _quiet = QuietPanics::install();
    let running: Running = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let dog = watchdog(settings, Arc::clone(&running), Arc::clone(&stop));

    let mut reports = Vec::new();
    for &target in &settings.targets {
        reports.push(run_target(
            settings, &harness, target, &seeds, &template, &running, log,
        ));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = dog.join();
    Ok(Report {
        seeds: seeds.len(),
        targets: reports,
    })
}

fn run_target(
    settings: &Settings,
    harness: &Harness,
    target: Target,
    seeds: &[Vec<u8>],
    template: &[u8],
    running: &Running,
    log: &mut dyn FnMut(&str),
) -> TargetReport {
    let mut rng = Rng::new(settings.seed ^ hash64(target.name().as_bytes()));
    let mut report = TargetReport {
        target,
        inputs: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        findings: Vec::new(),
        finding_count: 0,
        outcomes: BTreeMap::new(),
        slowest: (Duration::ZERO, 0),
    };
    // Mutants that parsed, to mutate further (structure survives better than from seeds).
    let mut pool: Vec<Vec<u8>> = Vec::new();
    const POOL: usize = 512;
    let started = Instant::now();
    let mut next_log = Duration::from_secs(10);
    loop {
        let elapsed = started.elapsed();
        if settings.time_per_target.is_some_and(|t| elapsed >= t)
            || settings
                .inputs_per_target
                .is_some_and(|n| report.inputs >= n)
        {
            break;
        }
        if elapsed >= next_log {
            next_log += Duration::from_secs(10);
            log(&format!(
                "sso-fuzz: {target}: {} inputs, {:.0}/s, {} findings",
                report.inputs,
                report.inputs as f64 / elapsed.as_secs_f64(),
                report.finding_count
            ));
        }

        // Every seed once as it is, then mutants.
        let data = match seeds.get(report.inputs as usize) {
            Some(seed) => seed.clone(),
            None => next_input(settings, harness, target, seeds, template, &pool, &mut rng),
        };
        let input = Arc::new(data);
        let (result, took, bound) = timed_run(settings, harness, target, running, &input);

        report.inputs += 1;
        report.bytes += input.len() as u64;
        let kind = match &result {
            Err(message) => Some(FindingKind::Panic(message.clone())),
            Ok(o) => match &o.violation {
                Some(v) => Some(FindingKind::Violation(v.clone())),
                None if took > bound => Some(FindingKind::Slow(took)),
                None => None,
            },
        };
        if let Ok(o) = &result {
            *report.outcomes.entry(o.label).or_insert(0) += 1;
            if kind.is_none() && took > report.slowest.0 {
                report.slowest = (took, input.len());
            }
            if o.parsed && kind.is_none() && input.len() <= 256 << 10 && rng.one_in(8) {
                if pool.len() < POOL {
                    pool.push(input.to_vec());
                } else if let Some(slot) = pool.get_mut(rng.below(POOL)) {
                    *slot = input.to_vec();
                }
            }
        } else {
            *report.outcomes.entry("PANIC").or_insert(0) += 1;
        }
        if let Some(kind) = kind {
            record_finding(settings, &mut report, kind, &input, log);
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Runs one input with the watchdog told what is running; returns the result, the time it took
/// (the fastest of three tries when the first was slow) and the time it was allowed.
fn timed_run(
    settings: &Settings,
    harness: &Harness,
    target: Target,
    running: &Running,
    input: &Arc<Vec<u8>>,
) -> (Result<Outcome, String>, Duration, Duration) {
    *running.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((target, Arc::clone(input), Instant::now()));
    let t0 = Instant::now();
    let result = run_one(harness, target, input);
    let mut took = t0.elapsed();
    let bound = slow_bound(settings, input.len());
    if result.is_ok() && took > bound {
        // A busy machine can stall anything once: the fastest of three tries counts.
        for _ in 0..2 {
            let t = Instant::now();
            let _ = run_one(harness, target, input);
            took = took.min(t.elapsed());
        }
    }
    *running.lock().unwrap_or_else(PoisonError::into_inner) = None;
    (result, took, bound)
}

/// Counts a finding, and keeps, saves and logs the first [`MAX_FINDINGS`].
fn record_finding(
    settings: &Settings,
    report: &mut TargetReport,
    kind: FindingKind,
    input: &[u8],
    log: &mut dyn FnMut(&str),
) {
    let target = report.target;
    report.finding_count += 1;
    if report.findings.len() < MAX_FINDINGS {
        let what = match &kind {
            FindingKind::Panic(m) => format!("panic: {m}"),
            FindingKind::Slow(d) => format!("slow: {d:?} for {} bytes", input.len()),
            FindingKind::Violation(v) => format!("invariant: {v}"),
        };
        let path = settings
            .findings_dir
            .as_deref()
            .and_then(|d| save(d, target, input, &what).ok());
        log(&format!(
            "sso-fuzz: FINDING {target}: {what}{}",
            path.as_ref()
                .map(|p| format!(" (saved as {})", p.display()))
                .unwrap_or_default()
        ));
        report.findings.push(Finding {
            target,
            kind,
            input_len: input.len(),
            path,
        });
    }
}

fn next_input(
    settings: &Settings,
    harness: &Harness,
    target: Target,
    seeds: &[Vec<u8>],
    template: &[u8],
    pool: &[Vec<u8>],
    rng: &mut Rng,
) -> Vec<u8> {
    let resign = target == Target::Validate && rng.one_in(3);
    let base: &[u8] = if resign && rng.one_in(2) {
        template
    } else if !pool.is_empty() && rng.one_in(2) {
        rng.pick(pool).map_or(&[], Vec::as_slice)
    } else {
        rng.pick(seeds).map_or(&[], Vec::as_slice)
    };
    let other = rng.pick(seeds).map_or(&[][..], Vec::as_slice);
    let mut data = base.to_vec();
    mutate::mutate(rng, &mut data, other, settings.max_len);
    if resign {
        data = harness.resign(&data, rng);
    }
    if target == Target::Validate && rng.one_in(10) {
        // The HTTP-POST binding's form, sometimes with line breaks.
        let b64 = STANDARD.encode(&data);
        data = if rng.one_in(2) {
            b64.as_bytes()
                .chunks(76)
                .collect::<Vec<_>>()
                .join(&b"\r\n"[..])
        } else {
            b64.into_bytes()
        };
    }
    data
}
