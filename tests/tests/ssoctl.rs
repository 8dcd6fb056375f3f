//! `ssoctl` as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::process::{Command, Stdio};

use system_tests::binary;

fn ssoctl(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(binary("ssoctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssoctl starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn c14n_of_a_file_exclusive_inclusive_and_comments() {
    let dir = std::env::temp_dir().join(format!("ssoctl-c14n-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("doc.xml");
    std::fs::write(
        &input,
        "<?xml version=\"1.0\"?>\r\n<n0:a xmlns:n0=\"urn:n0\" xmlns:n1=\"urn:n1\">\
         <n1:b z=\"&#x9;\" y='\"'><!-- note --><c/></n1:b></n0:a>",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["xml", "c14n"];
        args.extend_from_slice(extra);
        args.push(input.to_str().unwrap());
        let out = ssoctl(&args, b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["--exclusive"]),
        "<n0:a xmlns:n0=\"urn:n0\"><n1:b xmlns:n1=\"urn:n1\" y=\"&quot;\" z=\"&#x9;\"><c></c></n1:b></n0:a>"
    );
    assert_eq!(
        run(&["--inclusive", "--with-comments"]),
        "<n0:a xmlns:n0=\"urn:n0\" xmlns:n1=\"urn:n1\"><n1:b y=\"&quot;\" z=\"&#x9;\"><!-- note --><c></c></n1:b></n0:a>"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn c14n_reads_stdin_and_sorts_attributes() {
    let out = ssoctl(
        &["xml", "c14n", "--inclusive", "-"],
        b"<a xmlns:b=\"urn:b\" z=\"1\" a=\"2\"><!--c--><b:c/></a>",
    );
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        b"<a xmlns:b=\"urn:b\" a=\"2\" z=\"1\"><b:c></b:c></a>"
    );

    let out = ssoctl(
        &["xml", "c14n", "--inclusive-prefixes", "b", "-"],
        b"<a xmlns:b=\"urn:b\"><c/></a>",
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"<a xmlns:b=\"urn:b\"><c></c></a>");
}

#[test]
fn c14n_refuses_a_doctype_with_its_reason() {
    let out = ssoctl(
        &["xml", "c14n", "-"],
        b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("doctype-forbidden"), "{err}");
}

#[test]
fn c14n_reports_a_missing_file() {
    let out = ssoctl(&["xml", "c14n", "/nonexistent/response.xml"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/response.xml"));
}
