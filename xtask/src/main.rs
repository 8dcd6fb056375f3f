//! Developer tasks. Run `cargo xtask help`.
//!
//! Kept dependency-free so it builds in seconds on a cold machine.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a task runner talks on the terminal

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <task>

tasks:
  test               install the test tools if missing (xmllint, xmlsec1), run every test
  lint               rustfmt check, clippy (all targets, warnings denied), cargo-deny
  ci                 lint + test: what CI runs
  difftest [N] [SEED]  the c14n differential test against libxml2 with N documents
                     (default 200000), release build
  bench              run the criterion/divan benches (see BENCHMARKS.md)
  fuzz [TARGET] [SECONDS]  fuzz parse, verify and validate (or one TARGET) for SECONDS
                     each (default 60), release build; fails on any finding, saved in
                     target/fuzz-findings
";

/// Debian packages the tests drive as independent implementations.
const TEST_TOOLS: &[(&str, &str)] = &[
    ("xmllint", "libxml2-utils"),
    ("xmlsec1", "xmlsec1"),
    ("python3", "python3"),
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = args.get(1..).unwrap_or_default();
    let result = match task {
        "test" => test(),
        "lint" => lint(),
        "ci" => lint().and_then(|()| test()),
        "difftest" => difftest(rest),
        "bench" => cargo(&["bench", "--workspace", "--exclude", "xtask"]),
        "fuzz" => fuzz(rest),
        "load" => load(rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown task {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(args))
}

fn on_path(tool: &str) -> bool {
    env::var_os("PATH")
        .map(|paths| env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// Installs the Debian packages of missing test tools when we may (root with apt-get), so a
/// fresh machine needs nothing but this command. Elsewhere, says what to install.
fn ensure_test_tools() -> Result<(), String> {
    let missing: Vec<&str> = TEST_TOOLS
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root || !on_path("apt-get") {
        return Err(format!(
            "the tests need these Debian packages: {}; install them and run again",
            missing.join(" ")
        ));
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The PostgreSQL the tests use when the caller names none: the one every development and CI
/// machine runs locally. With the variable set, PostgreSQL tests fail if it is unreachable.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

fn test() -> Result<(), String> {
    ensure_test_tools()?;
    let url = env::var("SSO_TEST_DATABASE_URL").unwrap_or_else(|_| {
        eprintln!(
            "xtask: SSO_TEST_DATABASE_URL={DEFAULT_TEST_DATABASE_URL} (set it to use another)"
        );
        DEFAULT_TEST_DATABASE_URL.to_owned()
    });
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Default targets: libraries, binaries, integration tests, examples and doctests.
    run(Command::new(cargo_bin)
        .args(["test", "--workspace", "--exclude", "xtask"])
        .env("SSO_TEST_DATABASE_URL", url))
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    if !on_path("cargo-deny") {
        return Err("cargo-deny is missing: cargo install --locked cargo-deny".into());
    }
    // Offline: the advisory database needs a network this machine does not have.
    cargo(&["deny", "--offline", "check", "bans", "licenses", "sources"])
}

fn difftest(rest: &[String]) -> Result<(), String> {
    ensure_test_tools()?;
    let count = rest.first().map_or("200000", String::as_str);
    let seed = rest.get(1).map_or("1", String::as_str);
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo_bin)
        .args([
            "test",
            "-p",
            "sso-xml",
            "--release",
            "--test",
            "differential",
            "--",
            "--nocapture",
        ])
        .env("SSO_DIFFTEST_COUNT", count)
        .env("SSO_DIFFTEST_SEED", seed))
}

fn fuzz(rest: &[String]) -> Result<(), String> {
    // `fuzz 30` means every target for 30 seconds.
    let (target, seconds) = match rest {
        [] => ("all", "60"),
        [one] if one.parse::<u64>().is_ok() => ("all", one.as_str()),
        [target] => (target.as_str(), "60"),
        [target, seconds, ..] => (target.as_str(), seconds.as_str()),
    };
    cargo(&["run", "--release", "-p", "sso-fuzz", "--", target, seconds])
}

/// `load [--quick] [ARGS]`: release builds of sso-server and sso-loadgen, then the load
/// matrix of BENCHMARKS.md (SQLite, PostgreSQL, two servers on PostgreSQL), printed as a
/// markdown table. Further arguments go to sso-loadgen (`--help` lists them).
fn load(rest: &[String]) -> Result<(), String> {
    cargo(&[
        "build",
        "--release",
        "-p",
        "sso-server",
        "-p",
        "sso-loadgen",
    ])?;
    let mut args = vec!["run", "--quiet", "--release", "-p", "sso-loadgen", "--"];
    args.extend(rest.iter().map(String::as_str));
    cargo(&args)
}
