//! Developer tasks. Run `cargo xtask help`.
//!
//! Kept dependency-free so it builds in seconds on a cold machine.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a task runner talks on the terminal

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod layers;
mod scan;
mod tidy;

const HELP: &str = "\
cargo xtask <task>

tasks:
  test               install the test tools if missing (xmllint, xmlsec1, and pysaml2 and
                     samlify as independent IdPs), run tidy, then every test
  tidy               the structural rules, each failure with file and line: dependencies
                     follow ARCHITECTURE.md's layer table, every module under crates/*/src
                     has a `//!` doc, no non-test function is over 120 lines
  lint               rustfmt check, clippy (all targets, warnings denied), cargo-deny
                     (installed if missing, as root)
  ci                 lint + test: what CI runs
  difftest [N] [SEED]  the c14n differential test against libxml2 with N documents
                     (default 200000), release build
  bench              run the criterion/divan benches (see BENCHMARKS.md)
  load [--quick] [ARGS]  release builds of sso-server and sso-loadgen, then logins over gRPC
                     on SQLite, PostgreSQL and two servers (see BENCHMARKS.md)
  fuzz [TARGET] [SECONDS]  fuzz parse, verify and validate (or one TARGET) for SECONDS
                     each (default 60), release build; fails on any finding, saved in
                     target/fuzz-findings
";

/// Debian packages the tests drive as independent implementations: xmllint and libxml2 (also
/// through python3's ctypes) for canonicalization, xmlsec1 for signatures and encryption, python3
/// and node for the pysaml2 and samlify IdPs. The one list: `.ci/run` relies on it.
const TEST_TOOLS: &[(&str, &str)] = &[
    ("xmllint", "libxml2-utils"),
    ("xmlsec1", "xmlsec1"),
    ("python3", "python3"),
    ("node", "nodejs"),
    ("npm", "npm"),
    // Headless, driven by playwright-core in the browser test (tests/tests/browser.rs).
    ("chromium", "chromium"),
    // The loopback DNS server of the domain-claim tests (sso-testkit's `dns`); the package
    // without the system service, so nothing listens on port 53.
    ("dnsmasq", "dnsmasq-base"),
];

/// The venv holding pysaml2 for the interop tests (`tests/tests/interop_idps.rs` runs its
/// python), and the pinned requirements installed into it.
const INTEROP_VENV: &str = "target/interop-venv";
const PYSAML2_REQUIREMENTS: &str = "tests/interop/pysaml2/requirements.txt";
/// The SCIM compliance checker's venv and pinned requirements.
const SCIM_VENV: &str = "target/scim-venv";
const SCIM_TESTER_REQUIREMENTS: &str = "tests/interop/scim/requirements.txt";
/// The npm projects the tests run, each installed with `npm ci` from its lock file: samlify for
/// the interop tests, the example app and playwright-core for the browser test.
const NPM_DIRS: &[&str] = &[
    "tests/interop/samlify",
    "examples/sso-app",
    "tests/interop/browser",
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = args.get(1..).unwrap_or_default();
    let result = match task {
        "test" => test(),
        "tidy" => tidy(),
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

/// Whether `tool` is on PATH, or in /usr/sbin or /sbin, where Debian puts daemons (dnsmasq)
/// that a user's PATH may lack.
fn on_path(tool: &str) -> bool {
    let sbin = ["/usr/sbin", "/sbin"].map(PathBuf::from);
    env::var_os("PATH")
        .map(|paths| env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(sbin)
        .any(|dir| dir.join(tool).is_file())
}

/// Installs the Debian packages of missing test tools when we may (root with apt-get), so a
/// fresh machine needs nothing but this command. Elsewhere, says what to install.
fn ensure_test_tools() -> Result<(), String> {
    let mut missing: Vec<&str> = TEST_TOOLS
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(_, pkg)| *pkg)
        .collect();
    // Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
    let has_venv = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_venv {
        missing.push("python3-venv");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !on_path("apt-get") {
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Installs cargo-deny for the dependency policy (deny.toml) when missing and we may (root, as
/// in CI); elsewhere says how.
fn ensure_cargo_deny() -> Result<(), String> {
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let present = Command::new(&cargo_bin)
        .args(["deny", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    if !is_root() {
        return Err("cargo-deny is missing: cargo install --locked cargo-deny".into());
    }
    cargo(&["install", "--locked", "cargo-deny"])
}

/// The PostgreSQL the tests use when the caller names none: the one every development and CI
/// machine runs locally. With the variable set, PostgreSQL tests fail if it is unreachable.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// Installs the independent IdPs the interop tests run, when missing or when their pinned
/// versions changed: pysaml2 and the SCIM compliance checker (scim2-tester) into venvs, samlify,
/// the example app and playwright-core with `npm ci`.
fn ensure_interop_idps() -> Result<(), String> {
    let root = root();
    ensure_venv(&root, INTEROP_VENV, PYSAML2_REQUIREMENTS)?;
    ensure_venv(&root, SCIM_VENV, SCIM_TESTER_REQUIREMENTS)?;
    // npm ci records what it installed in node_modules/.package-lock.json.
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    for dir in NPM_DIRS {
        let project = root.join(dir);
        let installed = modified(project.join("node_modules/.package-lock.json"));
        let locked = modified(project.join("package-lock.json"));
        if installed.is_none() || installed < locked {
            run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--prefix", dir]))?;
        }
    }
    Ok(())
}

/// Makes the venv `venv` from the pinned `requirements`, unless it was made from exactly
/// these already (a copy of the requirements in the venv is the stamp; a change makes a new
/// venv). Never the system's Python.
fn ensure_venv(root: &Path, venv: &str, requirements_file: &str) -> Result<(), String> {
    let requirements = std::fs::read_to_string(root.join(requirements_file))
        .map_err(|e| format!("{requirements_file}: {e}"))?;
    let stamp = root.join(venv).join("requirements.txt");
    let python = root.join(venv).join("bin/python");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_ref() == Some(&requirements) {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(root.join(venv));
    run(Command::new("python3").args(["-m", "venv", venv]))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        requirements_file,
    ]))?;
    std::fs::write(&stamp, &requirements).map_err(|e| format!("{}: {e}", stamp.display()))
}

/// Prints every tidy violation; fails if there is one.
fn tidy() -> Result<(), String> {
    let violations = tidy::run(&root())?;
    for v in &violations {
        println!("{v}");
    }
    match violations.len() {
        0 => Ok(()),
        n => Err(format!("tidy: {n} violation(s)")),
    }
}

fn test() -> Result<(), String> {
    // First: it takes a second and names what to fix.
    tidy()?;
    ensure_test_tools()?;
    ensure_interop_idps()?;
    let url = env::var("SSO_TEST_DATABASE_URL").unwrap_or_else(|_| {
        eprintln!(
            "xtask: SSO_TEST_DATABASE_URL={DEFAULT_TEST_DATABASE_URL} (set it to use another)"
        );
        DEFAULT_TEST_DATABASE_URL.to_owned()
    });
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Default targets: libraries, binaries, integration tests, examples and doctests; xtask's
    // own tests check the tidy scanner.
    run(Command::new(cargo_bin)
        .args(["test", "--workspace"])
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
    ensure_cargo_deny()?;
    // cargo-deny reads the metadata of every package in the lock file, for every platform, so
    // fetch them all first (a build downloads only what this platform compiles).
    cargo(&["fetch", "--locked"])?;
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
