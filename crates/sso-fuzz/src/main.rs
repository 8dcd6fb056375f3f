//! `sso-fuzz [TARGET|all] [SECONDS] [options]`, or `sso-fuzz replay TARGET FILE...`.
#![forbid(unsafe_code)]
// A command-line tool: its output is the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sso_fuzz::{Harness, Settings, Target, run, run_one};

const USAGE: &str = "\
usage: sso-fuzz [TARGET|all] [SECONDS] [options]
       sso-fuzz replay TARGET FILE...

targets: parse, verify, validate (default: all, each for SECONDS, default 60)

options:
  --inputs N       stop each target after N inputs (with or instead of a time budget)
  --seed N         random seed (default 1)
  --corpus DIR     seed corpus (default ../shared/corpus)
  --no-corpus      synthetic seeds only
  --findings DIR   where findings go (default target/fuzz-findings)
  --slow-ms MS     per-input time bound for inputs up to 1 MiB (default 200)
  --max-len N      largest mutant in bytes

Exits 1 when anything was found.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("replay") {
        replay(args.get(1..).unwrap_or_default())
    } else {
        fuzz(&args)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sso-fuzz: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

fn fuzz(args: &[String]) -> Result<ExitCode, String> {
    let mut settings = Settings::new(Target::ALL.to_vec());
    let mut positional = 0;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--inputs" => {
                settings.inputs_per_target = Some(number(arg, it.next())?);
                if positional < 2 {
                    settings.time_per_target = None;
                }
            }
            "--seed" => settings.seed = number(arg, it.next())?,
            "--corpus" => {
                settings.corpus = Some(PathBuf::from(
                    it.next().ok_or("--corpus needs a directory")?,
                ));
            }
            "--no-corpus" => settings.corpus = None,
            "--findings" => {
                settings.findings_dir = Some(PathBuf::from(
                    it.next().ok_or("--findings needs a directory")?,
                ));
            }
            "--slow-ms" => settings.slow = Duration::from_millis(number(arg, it.next())?),
            "--max-len" => settings.max_len = number(arg, it.next())?,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => {
                if let Ok(seconds) = other.parse::<u64>() {
                    settings.time_per_target = Some(Duration::from_secs(seconds));
                    positional = 2;
                } else if positional == 0 {
                    settings.targets = match other {
                        "all" => Target::ALL.to_vec(),
                        name => vec![Target::from_name(name).ok_or(format!("no target {name:?}"))?],
                    };
                    positional = 1;
                } else {
                    return Err(format!("unexpected argument {other:?}"));
                }
            }
        }
    }

    let report = run(&settings, &mut |line| eprintln!("{line}"))?;
    println!(
        "\nsso-fuzz summary (seed {}, {} seeds):",
        settings.seed, report.seeds
    );
    for t in &report.targets {
        println!(
            "  {:<8} {:>9} inputs in {:>6.1} s = {:>7.0} exec/s, {:>6.1} MiB, slowest {:?} ({} bytes), {} findings",
            t.target.name(),
            t.inputs,
            t.elapsed.as_secs_f64(),
            t.execs_per_sec(),
            t.bytes as f64 / f64::from(1u32 << 20),
            t.slowest.0,
            t.slowest.1,
            t.finding_count
        );
        println!("           outcomes: {}", t.outcome_summary(8));
        for f in &t.findings {
            println!(
                "           FINDING {:?} ({} bytes){}",
                f.kind,
                f.input_len,
                f.path
                    .as_ref()
                    .map(|p| format!(" -> {}", p.display()))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if report.finding_count() == 0 {
        ExitCode::SUCCESS
    } else {
        println!("\n{} findings", report.finding_count());
        ExitCode::FAILURE
    })
}

fn replay(args: &[String]) -> Result<ExitCode, String> {
    let (Some(name), files) = (args.first(), args.get(1..).unwrap_or_default()) else {
        return Err("replay needs a target and files".into());
    };
    let target = Target::from_name(name).ok_or(format!("no target {name:?}"))?;
    if files.is_empty() {
        return Err("replay needs files".into());
    }
    let harness = Harness::new()?;
    let mut failed = false;
    for f in files {
        let input = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
        let t0 = Instant::now();
        let result = run_one(&harness, target, &input);
        let took = t0.elapsed();
        match result {
            Ok(o) => {
                let violation = o.violation.as_ref().map(|v| format!(" VIOLATION {v}"));
                println!(
                    "{f}: {} in {took:?}{}",
                    o.label,
                    violation.unwrap_or_default()
                );
                failed |= took > Duration::from_millis(200);
                failed |= o.violation.is_some();
            }
            Err(panic) => {
                println!("{f}: PANIC in {took:?}: {panic}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
