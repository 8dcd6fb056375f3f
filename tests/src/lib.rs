//! Harness for whole-system tests: build the workspace's binaries once and run them as a user
//! would.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared test corpus beside the repository.
pub fn corpus_dir() -> PathBuf {
    repo_root().join("../shared/corpus")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Path to a workspace binary, built (once per test process) in the debug profile.
///
/// # Panics
/// When the build fails: the test cannot run without its binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--bins",
                "--workspace",
                "--exclude",
                "xtask",
            ])
            .current_dir(repo_root())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "building the workspace binaries failed: {status:?}"
        );
    });
    target_dir().join("debug").join(name)
}
