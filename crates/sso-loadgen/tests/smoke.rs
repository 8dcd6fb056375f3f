//! The load generator keeps working: a tiny load (20 logins, 2 callers) against the debug
//! `sso-server` on SQLite, and a clear failure when there is no server binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::{Duration, Instant};

const LOADGEN: &str = env!("CARGO_BIN_EXE_sso-loadgen");

/// The table rows of the SQLite setup, split into trimmed cells.
fn sqlite_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .filter(|l| l.starts_with("| SQLite"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect()
}

#[test]
fn a_small_load_on_sqlite_succeeds_and_prints_a_row_per_phase() {
    let server = system_tests::binary("sso-server");
    let started = Instant::now();
    let out = Command::new(LOADGEN)
        .args(["--server-bin", server.to_str().unwrap()])
        .args(["--setups", "sqlite", "--concurrency", "2", "--logins", "20"])
        .arg("--quick")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );

    let rows = sqlite_rows(&stdout);
    assert_eq!(rows.len(), 2, "{stdout}");
    // | backend | servers | callers | login | logins/s | p50 | p99 | server CPU | x floor | ...
    for (row, login) in rows.iter().zip(["first (JIT)", "returning"]) {
        assert_eq!(&row[1..5], ["SQLite", "1", "2", login], "{stdout}");
        let per_second: f64 = row[5].parse().unwrap();
        assert!(per_second > 0.0, "{stdout}");
        let p50: f64 = row[6].trim_end_matches(" ms").parse().unwrap();
        let p99: f64 = row[7].trim_end_matches(" ms").parse().unwrap();
        assert!(p50 > 0.0 && p50 <= p99, "{stdout}");
        assert!(row[9].ends_with('x'), "{stdout}");
    }
    assert!(stdout.contains("RSA-2048"), "{stdout}");
}

#[test]
fn a_missing_server_binary_fails_with_a_reason() {
    let out = Command::new(LOADGEN)
        .args(["--server-bin", "/nonexistent/sso-server", "--quick"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no sso-server binary at /nonexistent/sso-server"),
        "{stderr}"
    );
}

#[test]
fn rounds_report_the_median_of_each_cell_and_its_range() {
    let server = system_tests::binary("sso-server");
    let out = Command::new(LOADGEN)
        .args(["--server-bin", server.to_str().unwrap()])
        .args(["--setups", "sqlite", "--concurrency", "2", "--logins", "10"])
        .args(["--rounds", "3", "--no-returning", "--quick"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("the median of 3 rounds"), "{stdout}");
    // Three fresh servers, one per round.
    assert_eq!(stderr.matches("round ").count(), 3, "{stderr}");

    let rows = sqlite_rows(&stdout);
    // One median row, then one range row.
    assert_eq!(rows.len(), 2, "{stdout}");
    let (median, range) = (&rows[0], &rows[1]);
    assert_eq!(
        &range[1..6],
        ["SQLite", "1", "2", "first (JIT)", "3"],
        "{stdout}"
    );
    let per_second: f64 = median[5].parse().unwrap();
    let (low, high) = range[6].split_once('-').unwrap();
    let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
    // The printed figures are rounded to whole logins per second.
    assert!(
        low - 0.5 <= per_second && per_second <= high + 0.5 && low <= high,
        "{stdout}"
    );
}
