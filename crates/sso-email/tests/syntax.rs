//! Which single values are a valid email, and their normalized form. One table, one `check`.

// Helpers outside #[test] functions panic too: in a test a panic is a failed assertion.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_email::Email;

/// (value as sent, normalized email or `!reason`)
const CASES: &[(&str, &str)] = &[
    // Plain addresses, normalized.
    ("jane@example.com", "jane@example.com"),
    ("Jane.Doe@Example.COM", "jane.doe@example.com"),
    ("  jane@example.com\t\n", "jane@example.com"),
    ("jane+sso@sub.example.co.uk", "jane+sso@sub.example.co.uk"),
    ("o'brien@example.com", "o'brien@example.com"),
    ("\"Jane Doe\"@example.com", "\"jane doe\"@example.com"),
    ("jane@bücher.example", "jane@xn--bcher-kva.example"),
    ("jane@BÜCHER.example", "jane@xn--bcher-kva.example"),
    ("jane@xn--bcher-kva.example", "jane@xn--bcher-kva.example"),
    ("JOSÉ@example.com", "josé@example.com"),
    ("a@b.co", "a@b.co"),
    // Empty.
    ("", "!empty"),
    ("   \t ", "!empty"),
    // Not one plain address.
    ("Jane Doe <jane@example.com>", "!display-name"),
    ("<jane@example.com>", "!display-name"),
    ("\"Jane\" <jane@example.com>", "!display-name"),
    ("jane(work)@example.com", "!comment"),
    ("jane@example.com (Jane)", "!comment"),
    ("jane@example.com, john@example.com", "!several-addresses"),
    ("jane@example.com;john@example.com", "!several-addresses"),
    ("jane@example.com john@example.com", "!several-addresses"),
    // Syntax.
    ("jane", "!missing-at"),
    ("jane.example.com", "!missing-at"),
    ("@example.com", "!empty-local-part"),
    ("jane@", "!invalid-domain"),
    ("jane doe@example.com", "!invalid-syntax"),
    ("jane..doe@example.com", "!invalid-syntax"),
    (".jane@example.com", "!invalid-syntax"),
    ("\"jane@example.com", "!invalid-syntax"),
    ("mailto:jane@example.com", "!invalid-syntax"),
    // Domains.
    ("jane@[192.0.2.1]", "!domain-literal"),
    ("jane@[IPv6:2001:db8::1]", "!domain-literal"),
    ("jane@localhost", "!domain-not-dotted"),
    ("jane@EXAMPLE", "!domain-not-dotted"),
    ("jane@example..com", "!invalid-domain"),
    ("jane@example.com.", "!invalid-domain"),
    ("jane@.example.com", "!invalid-domain"),
    ("jane@-example.com", "!invalid-syntax"),
    ("jane@exa_mple.com", "!invalid-domain"),
    ("jane@exa!mple.com", "!invalid-domain"),
    ("jane@xn--zz.example", "!invalid-domain"),
];

fn check(value: &str, expected: &str) {
    let got = match Email::parse(value) {
        Ok(email) => email.as_str().to_owned(),
        Err(e) => format!("!{}", e.reason()),
    };
    assert_eq!(got, expected, "value {value:?}");
}

#[test]
fn table() {
    for (value, expected) in CASES {
        check(value, expected);
    }
}

#[test]
fn length_limits() {
    let label63 = "a".repeat(63);
    let label64 = "a".repeat(64);
    let local64 = "j".repeat(64);
    let local65 = "j".repeat(65);

    check(
        &format!("{local64}@example.com"),
        &format!("{local64}@example.com"),
    );
    check(&format!("{local65}@example.com"), "!local-part-too-long");
    check(
        &format!("jane@{label63}.com"),
        &format!("jane@{label63}.com"),
    );
    check(&format!("jane@{label64}.com"), "!label-too-long");

    // 254 octets in all is the most; 255 is too long.
    let domain = |len: usize| {
        let mut labels = Vec::new();
        let mut left = len;
        while left > 0 {
            let take = left.min(63);
            labels.push("d".repeat(take));
            left -= take;
            left = left.saturating_sub(1); // the dot
        }
        labels.join(".")
    };
    let at_limit = format!("{local64}@{}", domain(254 - 65));
    assert_eq!(at_limit.len(), 254);
    check(&at_limit, &at_limit);
    let over = format!("{local64}@{}", domain(255 - 65));
    assert_eq!(over.len(), 255);
    check(&over, "!address-too-long");

    // A Unicode label is measured in its ASCII (punycode) form.
    let long_unicode = format!("jane@{}.example", "ü".repeat(60));
    check(&long_unicode, "!label-too-long");
}

#[test]
fn parts_and_display() {
    let email: Email = "Jane@Bücher.Example".parse().unwrap();
    assert_eq!(email.local_part(), "jane");
    assert_eq!(email.domain(), "xn--bcher-kva.example");
    assert_eq!(email.to_string(), "jane@xn--bcher-kva.example");

    // A quoted local part may hold '@': the domain is after the last one.
    let quoted = Email::parse("\"a@b\"@example.com").unwrap();
    assert_eq!(quoted.local_part(), "\"a@b\"");
    assert_eq!(quoted.domain(), "example.com");

    let err = Email::parse("jane").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not an email address: has no @ (missing-at)"
    );
}
