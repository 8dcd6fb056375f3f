//! `cargo xtask tidy`: the structural rules as a check that names file and line. Crates keep
//! to the layer table in ARCHITECTURE.md, every module under `crates/*/src` says why it exists
//! in a `//!` line, and no non-test function is longer than [`MAX_FUNCTION_LINES`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::layers::{self, Crate, Violation};
use crate::scan;

/// The longest a non-test function may be, from its `fn` line to its closing brace.
pub const MAX_FUNCTION_LINES: usize = 120;

/// Migrations are written once and never changed, so their length is not a design choice.
const LONG_FUNCTIONS_ALLOWED_UNDER: &str = "crates/sso-store/src/migration/";

/// Where the layer table lives.
const ARCHITECTURE: &str = "ARCHITECTURE.md";

/// Every violation in the workspace at `root`, sorted by file and line.
pub fn run(root: &Path) -> Result<Vec<Violation>, String> {
    let mut out = layer_violations(root)?;
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(root, &root.join(dir), &mut files)?;
    }
    for path in &files {
        let source = fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"))?;
        if is_module_file(path) && !has_module_doc(&source) {
            out.push(Violation {
                path: path.clone(),
                line: 1,
                message: "module has no `//!` doc saying why it exists".into(),
            });
        }
        if !path.starts_with(LONG_FUNCTIONS_ALLOWED_UNDER) && !is_integration_test(path) {
            out.extend(long_functions(path, &source));
        }
    }
    out.sort();
    Ok(out)
}

fn layer_violations(root: &Path) -> Result<Vec<Violation>, String> {
    let text =
        fs::read_to_string(root.join(ARCHITECTURE)).map_err(|e| format!("{ARCHITECTURE}: {e}"))?;
    let Some(rows) = layers::layer_table(&text) else {
        return Ok(vec![Violation {
            path: ARCHITECTURE.into(),
            line: 1,
            message: "no layer table (a `| crate | kind | may depend on |` table)".into(),
        }]);
    };
    let crates = workspace_crates(root)?;
    Ok(layers::check(ARCHITECTURE, &rows, &crates))
}

/// The workspace members: the root manifest's `members`, where `dir/*` means every
/// directory in `dir` with a `Cargo.toml`.
fn workspace_crates(root: &Path) -> Result<Vec<Crate>, String> {
    let text =
        fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let members = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("members"))
        .and_then(|l| l.trim_start().strip_prefix('='))
        .ok_or("Cargo.toml: no one-line `members = [...]`")?;
    let mut dirs = Vec::new();
    for member in members.split('"').skip(1).step_by(2) {
        match member.strip_suffix("/*") {
            Some(parent) => {
                let mut found: Vec<String> = fs::read_dir(root.join(parent))
                    .map_err(|e| format!("{parent}: {e}"))?
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join("Cargo.toml").is_file())
                    .map(|e| format!("{parent}/{}", e.file_name().to_string_lossy()))
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            None => dirs.push(member.to_owned()),
        }
    }
    dirs.into_iter()
        .map(|dir| {
            let path = format!("{dir}/Cargo.toml");
            let text = fs::read_to_string(root.join(&path)).map_err(|e| format!("{path}: {e}"))?;
            Ok(Crate {
                manifest: layers::manifest(&text),
                path: dir,
            })
        })
        .collect()
}

/// `.rs` files under `dir`, as paths relative to `root` with `/`, skipping build output and
/// installed packages.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                rust_files(root, &path, out)?;
            }
        } else if name.ends_with(".rs") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// An integration test file (`crates/NAME/tests/...` or the system tests' `tests/tests/...`):
/// all of it is test code, like a `#[cfg(test)]` module. The system tests' support library
/// (`tests/src`) is not.
fn is_integration_test(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["crates", _, "tests", ..] | ["tests", "tests", ..]
    )
}

/// A module of a crate: `crates/NAME/src/...rs`.
fn is_module_file(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some("crates") && parts.next().is_some() && parts.next() == Some("src")
}

/// Whether the module opens with an inner doc comment: the first line that is not blank, a
/// plain `//` comment or an inner attribute is `//!` (or `/*!`).
fn has_module_doc(source: &str) -> bool {
    source
        .lines()
        .map(str::trim_start)
        .find(|l| {
            !(l.is_empty() || l.starts_with("#!") || (l.starts_with("//") && !l.starts_with("//!")))
        })
        .is_some_and(|l| l.starts_with("//!") || l.starts_with("/*!"))
}

fn long_functions(path: &str, source: &str) -> Vec<Violation> {
    let functions = match scan::functions(source) {
        Ok(functions) => functions,
        Err(line) => {
            return vec![Violation {
                path: path.to_owned(),
                line,
                message: "braces do not balance here as the tidy scanner reads them".into(),
            }];
        }
    };
    functions
        .into_iter()
        .filter(|f| f.lines > MAX_FUNCTION_LINES)
        .map(|f| Violation {
            path: path.to_owned(),
            line: f.line,
            message: format!(
                "fn `{}` is {} lines (at most {MAX_FUNCTION_LINES} outside tests): split it into named steps",
                f.name, f.lines
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_docs_come_first() {
        assert!(has_module_doc("//! Why.\n\nuse x;\n"));
        assert!(has_module_doc(
            "\n// SPDX: x\n#![forbid(unsafe_code)]\n//! Why.\n"
        ));
        assert!(has_module_doc("/*! Why. */\n"));
        assert!(!has_module_doc("use x;\n//! Late.\n"));
        assert!(!has_module_doc("/// Item doc.\nfn f() {}\n"));
        assert!(!has_module_doc(""));
    }

    #[test]
    fn integration_tests_are_test_code() {
        assert!(is_integration_test("crates/sso-store/tests/store.rs"));
        assert!(is_integration_test("tests/tests/login_flow.rs"));
        assert!(!is_integration_test("tests/src/lib.rs"));
        assert!(!is_integration_test("crates/sso-store/src/tests.rs"));
        assert!(!is_integration_test("crates/sso-xml/benches/parse.rs"));
    }

    #[test]
    fn only_crate_sources_are_modules() {
        assert!(is_module_file("crates/sso-xml/src/c14n.rs"));
        assert!(is_module_file("crates/sso-xml/src/a/b.rs"));
        assert!(!is_module_file("crates/sso-xml/tests/corpus.rs"));
        assert!(!is_module_file("crates/sso-grpc/build.rs"));
        assert!(!is_module_file("xtask/src/main.rs"));
    }

    #[test]
    fn long_functions_are_named_with_their_line() {
        let body = "    x();\n".repeat(MAX_FUNCTION_LINES - 2);
        let fits = format!("fn fits() {{\n{body}}}\n");
        assert_eq!(long_functions("a.rs", &fits), []);
        let long = format!("\nfn long() {{\n{body}    y();\n}}\n");
        assert_eq!(
            long_functions("a.rs", &long)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "a.rs:2: fn `long` is 121 lines (at most 120 outside tests): split it into named steps"
            ]
        );
    }
}
