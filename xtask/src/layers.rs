//! The layer rule: each crate's `[dependencies]` on workspace crates must be allowed by the
//! layer table in ARCHITECTURE.md, which lists crates from the bottom layer up.

use std::fmt;

/// A broken rule, at a file and line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// The kind that may only be a dev-dependency of anything but other test support.
pub const TEST_SUPPORT: &str = "test support";
const KINDS: &[&str] = &["library", "binary", "tool", TEST_SUPPORT];

/// One row of the layer table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub kind: String,
    pub allowed: Vec<String>,
    pub line: usize,
}

/// The rows of the first table in `markdown` whose header is `| crate | kind | may depend on |`,
/// in order, or `None` when there is no such table.
pub fn layer_table(markdown: &str) -> Option<Vec<Row>> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('`', ""))
            .collect()
    };
    let mut lines = markdown.lines().enumerate();
    lines.find(|(_, l)| {
        l.trim_start().starts_with('|') && cells(l) == ["crate", "kind", "may depend on"]
    })?;
    lines.next(); // the |---| separator
    let mut rows = Vec::new();
    for (i, line) in lines {
        if !line.trim_start().starts_with('|') {
            break;
        }
        let [name, kind, allowed] = <[String; 3]>::try_from(cells(line)).ok()?;
        rows.push(Row {
            name,
            kind,
            allowed: allowed
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty() && *d != "-" && *d != "—")
                .map(str::to_owned)
                .collect(),
            line: i + 1,
        });
    }
    Some(rows)
}

/// What the layer check needs of a `Cargo.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    /// Package names in `[dependencies]` and `[target.*.dependencies]`, with their lines.
    pub dependencies: Vec<(String, usize)>,
}

/// Reads the package name and the normal dependencies of a `Cargo.toml`: enough TOML for
/// manifests (`name = ...`, `name.workspace = true`, `[dependencies.name]`, `package = ...`
/// renames); dev- and build-dependencies are not read.
pub fn manifest(toml: &str) -> Manifest {
    let mut out = Manifest::default();
    let mut section = String::new();
    for (i, raw) in toml.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or_default().trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.trim().to_owned();
            // `[dependencies.name]`: the dependency is the header itself.
            if let Some(name) = dependency_table(&section) {
                out.dependencies.push((name.to_owned(), i + 1));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        let value = value.trim();
        if section == "package" && key == "name" {
            out.name = value.trim_matches('"').to_owned();
        } else if is_dependencies(&section) {
            let name = key.split('.').next().unwrap_or(key).trim_matches('"');
            let name = renamed(value).unwrap_or(name);
            out.dependencies.push((name.to_owned(), i + 1));
        } else if key == "package" && dependency_table(&section).is_some() {
            if let Some(last) = out.dependencies.last_mut() {
                last.0 = value.trim_matches('"').to_owned();
            }
        }
    }
    out
}

fn is_dependencies(section: &str) -> bool {
    section == "dependencies"
        || (section.starts_with("target.") && section.ends_with(".dependencies"))
}

/// The dependency a `[dependencies.name]` header names.
fn dependency_table(section: &str) -> Option<&str> {
    let (table, name) = section.rsplit_once('.')?;
    is_dependencies(table).then_some(name.trim_matches('"'))
}

/// `package = "x"` in an inline table.
fn renamed(value: &str) -> Option<&str> {
    let rest = value
        .split("package")
        .nth(1)?
        .trim_start()
        .strip_prefix('=')?;
    rest.trim_start().strip_prefix('"')?.split('"').next()
}

/// A workspace crate: its manifest and where it is (relative to the root).
#[derive(Clone, Debug)]
pub struct Crate {
    pub manifest: Manifest,
    pub path: String,
}

/// Every layer violation: the table's own consistency, crates missing from it, and
/// dependencies it does not allow. `table_path` names ARCHITECTURE.md in the messages.
pub fn check(table_path: &str, rows: &[Row], crates: &[Crate]) -> Vec<Violation> {
    let mut out = Vec::new();
    let at = |line: usize, message: String| Violation {
        path: table_path.to_owned(),
        line,
        message,
    };
    for (i, row) in rows.iter().enumerate() {
        let below = rows.get(..i).unwrap_or_default();
        if below.iter().any(|r| r.name == row.name) {
            out.push(at(row.line, format!("`{}` is listed twice", row.name)));
        }
        if !KINDS.contains(&row.kind.as_str()) {
            out.push(at(
                row.line,
                format!("kind `{}` is none of {}", row.kind, KINDS.join(", ")),
            ));
        }
        if !crates.iter().any(|c| c.manifest.name == row.name) {
            out.push(at(
                row.line,
                format!("`{}` is not a workspace crate", row.name),
            ));
        }
        for dep in &row.allowed {
            match below.iter().find(|r| &r.name == dep) {
                None => out.push(at(
                    row.line,
                    format!(
                        "`{}` may depend on `{dep}`, which is not listed above it (a crate depends only on crates below it)",
                        row.name
                    ),
                )),
                Some(r) if r.kind == TEST_SUPPORT && row.kind != TEST_SUPPORT => out.push(at(
                    row.line,
                    format!(
                        "`{}` may depend on `{dep}`, which is test support (a dev-dependency only)",
                        row.name
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    for krate in crates {
        let manifest_path = format!("{}/Cargo.toml", krate.path);
        let Some(row) = rows.iter().find(|r| r.name == krate.manifest.name) else {
            out.push(Violation {
                path: manifest_path,
                line: 1,
                message: format!(
                    "`{}` has no row in {table_path}'s layer table",
                    krate.manifest.name
                ),
            });
            continue;
        };
        for (dep, line) in &krate.manifest.dependencies {
            let internal = crates.iter().any(|c| &c.manifest.name == dep);
            if internal && !row.allowed.contains(dep) {
                let allowed = if row.allowed.is_empty() {
                    "no workspace crate".to_owned()
                } else {
                    row.allowed.join(", ")
                };
                out.push(Violation {
                    path: manifest_path.clone(),
                    line: *line,
                    message: format!(
                        "`{}` depends on `{dep}`, which {table_path}'s layer table does not allow (allowed: {allowed})",
                        row.name
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
Intro.

| crate | kind | may depend on |
|---|---|---|
| `low` | library | — |
| `mid` | library | `low` |
| `kit` | test support | `mid` |
| `top` | binary | `low`, `mid` |

After.
";

    fn krate(name: &str, deps: &[&str]) -> Crate {
        Crate {
            manifest: Manifest {
                name: name.to_owned(),
                dependencies: deps
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ((*d).to_owned(), i + 10))
                    .collect(),
            },
            path: format!("crates/{name}"),
        }
    }

    fn messages(rows: &[Row], crates: &[Crate]) -> Vec<String> {
        check("ARCHITECTURE.md", rows, crates)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_the_table_in_order_with_lines() {
        let rows = layer_table(TABLE).unwrap();
        let names: Vec<(&str, &str, Vec<String>, usize)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.kind.as_str(), r.allowed.clone(), r.line))
            .collect();
        assert_eq!(
            names,
            [
                ("low", "library", vec![], 5),
                ("mid", "library", vec!["low".to_owned()], 6),
                ("kit", "test support", vec!["mid".to_owned()], 7),
                ("top", "binary", vec!["low".to_owned(), "mid".to_owned()], 8),
            ]
        );
        assert_eq!(layer_table("| a | b |\n|---|---|\n"), None);
    }

    #[test]
    fn allowed_dependencies_pass() {
        let rows = layer_table(TABLE).unwrap();
        let crates = [
            krate("low", &["serde"]),
            krate("mid", &["low"]),
            krate("kit", &["mid"]),
            krate("top", &["low", "mid", "tokio"]),
        ];
        assert_eq!(messages(&rows, &crates), Vec::<String>::new());
    }

    #[test]
    fn a_dependency_the_table_does_not_allow_is_named_with_its_line() {
        let rows = layer_table(TABLE).unwrap();
        let crates = [
            krate("low", &["mid"]),
            krate("mid", &[]),
            krate("kit", &[]),
            krate("top", &["kit"]),
            krate("new", &[]),
        ];
        assert_eq!(
            messages(&rows, &crates),
            [
                "crates/low/Cargo.toml:10: `low` depends on `mid`, which ARCHITECTURE.md's layer table does not allow (allowed: no workspace crate)",
                "crates/top/Cargo.toml:10: `top` depends on `kit`, which ARCHITECTURE.md's layer table does not allow (allowed: low, mid)",
                "crates/new/Cargo.toml:1: `new` has no row in ARCHITECTURE.md's layer table",
            ]
        );
    }

    #[test]
    fn the_table_itself_must_go_upwards_and_keep_test_support_out() {
        let rows = layer_table(
            "| crate | kind | may depend on |\n|---|---|---|\n\
             | a | library | b |\n| b | library | |\n| t | test support | |\n\
             | c | binary | t |\n| c | gadget | |\n",
        )
        .unwrap();
        let crates = [
            krate("a", &[]),
            krate("b", &[]),
            krate("t", &[]),
            krate("c", &[]),
        ];
        assert_eq!(
            messages(&rows, &crates),
            [
                "ARCHITECTURE.md:3: `a` may depend on `b`, which is not listed above it (a crate depends only on crates below it)",
                "ARCHITECTURE.md:6: `c` may depend on `t`, which is test support (a dev-dependency only)",
                "ARCHITECTURE.md:7: `c` is listed twice",
                "ARCHITECTURE.md:7: kind `gadget` is none of library, binary, tool, test support",
            ]
        );
        let gone = messages(&rows, &crates[..3]);
        assert!(gone.contains(&"ARCHITECTURE.md:6: `c` is not a workspace crate".to_owned()));
    }

    #[test]
    fn manifests_list_normal_dependencies_only() {
        let toml = r#"[package]
name = "demo"
version.workspace = true

[dependencies]
sso-xml.workspace = true
sso-email = { workspace = true, features = ["assertion"] }
"quoted" = "1"
renamed = { package = "sso-real", path = "../x" } # a comment
long = { version = "1", features = [
    "a",
] }

[dev-dependencies]
sso-testkit.workspace = true

[build-dependencies]
protox = "1"

[target.'cfg(unix)'.dependencies]
nix = "1"

[dependencies.table-form]
package = "sso-table"
version = "1"
"#;
        let m = manifest(toml);
        assert_eq!(m.name, "demo");
        let deps: Vec<(&str, usize)> = m
            .dependencies
            .iter()
            .map(|(n, l)| (n.as_str(), *l))
            .collect();
        assert_eq!(
            deps,
            [
                ("sso-xml", 6),
                ("sso-email", 7),
                ("quoted", 8),
                ("sso-real", 9),
                ("long", 10),
                ("nix", 21),
                ("sso-table", 23),
            ]
        );
    }
}
