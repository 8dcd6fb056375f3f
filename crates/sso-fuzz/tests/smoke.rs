//! A short, deterministic fuzz run of every target, so each test run exercises the harness,
//! the mutators and the targets (the real runs are `cargo xtask fuzz`).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use sso_fuzz::{Settings, Target, run};

#[test]
fn every_target_runs_clean() {
    let mut settings = Settings::new(Target::ALL.to_vec());
    settings.time_per_target = None;
    settings.inputs_per_target = Some(1500);
    settings.seed = 7;
    // Small mutants keep a debug build fast; the limit-sized ones are for the release runs.
    settings.max_len = 64 << 10;
    settings.slow = Duration::from_secs(3);
    let report = run(&settings, &mut |_| {}).unwrap();
    assert!(report.seeds > 20, "{} seeds", report.seeds);
    for t in &report.targets {
        assert_eq!(t.inputs, 1500, "{:?}", t.target);
        assert!(t.findings.is_empty(), "{}: {:#?}", t.target, t.findings);
        // The mutants reach past the parser, and some are refused for many different reasons.
        assert!(t.outcomes.len() >= 8, "{}: {:?}", t.target, t.outcomes);
        let deep = match t.target {
            Target::Parse => "parsed",
            Target::Verify => "verified",
            Target::Validate => "valid",
        };
        assert!(
            t.outcomes.get(deep).copied().unwrap_or(0) > 0,
            "{}: {:?}",
            t.target,
            t.outcomes
        );
    }
}
