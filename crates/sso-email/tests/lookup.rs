//! The lookup order and the miss report, one row per rule: claims in, outcome out.
//!
//! An outcome is either `match <source> <email> <value as sent>` or the miss report rendered one
//! place per line as `<source>: <reason> [<value>=<problem> ...]`.

// Helpers outside #[test] functions panic too: in a test a panic is a failed assertion.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_email::{Attribute, Claims, EMAILADDRESS_CLAIM, EmailSource, Finding, NameId, find_email};

const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const URI_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

fn render(claims: &Claims<'_>) -> String {
    match find_email(claims) {
        Ok(m) => format!(
            "match {} {} {:?}",
            m.source().code(),
            m.email(),
            m.value_as_sent()
        ),
        Err(miss) => {
            assert_eq!(miss.reason(), "no-valid-email");
            assert_eq!(miss.places().len(), 4, "a miss reports every place");
            miss.places()
                .iter()
                .map(|p| {
                    let mut line = format!("{}: {}", p.source().code(), p.reason());
                    if let Finding::Rejected(values) = p.finding() {
                        for v in values {
                            line.push_str(&format!(" {:?}={}", v.value, v.problem.reason()));
                        }
                    }
                    if let Finding::NoValues { attribute_names } = p.finding() {
                        line.push_str(&format!(" {attribute_names:?}"));
                    }
                    for name in p.friendly_name_only() {
                        line.push_str(&format!(" friendly-name-only={name}"));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

fn check(claims: &Claims<'_>, expected: &str) {
    assert_eq!(render(claims), expected.trim(), "claims: {claims:#?}");
}

fn attr<'a>(name: &'a str, values: &[&'a str]) -> Attribute<'a> {
    Attribute::new(name, values.iter().copied())
}

// ---- 1. NameID ------------------------------------------------------------------------------

#[test]
fn name_id_wins_whatever_its_format() {
    for format in [None, Some(EMAIL_FORMAT), Some(PERSISTENT)] {
        let mut name_id = NameId::new("Jane@Example.com");
        if let Some(f) = format {
            name_id = name_id.with_format(f);
        }
        check(
            &Claims::new()
                .with_name_id(name_id)
                .with_attribute(attr(EMAILADDRESS_CLAIM, &["other@example.com"])),
            r#"match name-id jane@example.com "Jane@Example.com""#,
        );
    }
}

#[test]
fn name_id_value_is_trimmed_but_kept_as_sent() {
    check(
        &Claims::new().with_name_id(NameId::new("\n  jane@example.com  \n")),
        r#"match name-id jane@example.com "\n  jane@example.com  \n""#,
    );
}

#[test]
fn name_id_that_is_not_an_email_falls_through() {
    check(
        &Claims::new()
            .with_name_id(NameId::new("a1b2c3").with_format(PERSISTENT))
            .with_attribute(attr(EMAILADDRESS_CLAIM, &["jane@example.com"])),
        r#"match emailaddress-claim jane@example.com "jane@example.com""#,
    );
}

// ---- 2. the emailaddress claim URI ----------------------------------------------------------

#[test]
fn claim_uri_before_short_names() {
    check(
        &Claims::new()
            .with_attribute(attr("email", &["c@example.com"]))
            .with_attribute(attr("emailaddress", &["b@example.com"]))
            .with_attribute(attr(EMAILADDRESS_CLAIM, &["a@example.com"])),
        r#"match emailaddress-claim a@example.com "a@example.com""#,
    );
}

#[test]
fn claim_uri_is_matched_exactly() {
    let upper = "HTTP://SCHEMAS.XMLSOAP.ORG/WS/2005/05/IDENTITY/CLAIMS/EMAILADDRESS";
    check(
        &Claims::new().with_attribute(attr(upper, &["a@example.com"])),
        "
name-id: absent
emailaddress-claim: absent
emailaddress-attribute: absent
email-attribute: absent",
    );
}

#[test]
fn name_format_does_not_matter() {
    check(
        &Claims::new().with_attribute(
            attr(EMAILADDRESS_CLAIM, &["a@example.com"]).with_name_format(URI_FORMAT),
        ),
        r#"match emailaddress-claim a@example.com "a@example.com""#,
    );
}

// ---- 3. emailaddress, any case --------------------------------------------------------------

#[test]
fn emailaddress_any_case_before_email() {
    for name in [
        "emailaddress",
        "EmailAddress",
        "EMAILADDRESS",
        "eMaIlAdDrEsS",
    ] {
        let claims = Claims::new()
            .with_attribute(attr("email", &["c@example.com"]))
            .with_attribute(attr(name, &["b@example.com"]));
        check(
            &claims,
            r#"match emailaddress-attribute b@example.com "b@example.com""#,
        );
        assert_eq!(
            find_email(&claims).unwrap().attribute_name(),
            Some(name),
            "the Name is reported as sent"
        );
    }
}

#[test]
fn emailaddress_prefix_or_suffix_is_not_a_match() {
    check(
        &Claims::new()
            .with_attribute(attr("emailaddress2", &["a@example.com"]))
            .with_attribute(attr("user.emailaddress", &["b@example.com"]))
            .with_attribute(attr(" emailaddress", &["c@example.com"])),
        "
name-id: absent
emailaddress-claim: absent
emailaddress-attribute: absent
email-attribute: absent",
    );
}

// ---- 4. email, any case ---------------------------------------------------------------------

#[test]
fn email_any_case_last() {
    for name in ["email", "Email", "EMAIL"] {
        check(
            &Claims::new()
                .with_name_id(NameId::new("not-an-email"))
                .with_attribute(attr("mail", &["m@example.com"]))
                .with_attribute(attr(name, &["d@example.com"])),
            r#"match email-attribute d@example.com "d@example.com""#,
        );
    }
}

#[test]
fn mail_and_upn_are_not_looked_at() {
    check(
        &Claims::new()
            .with_attribute(attr("mail", &["m@example.com"]))
            .with_attribute(attr(
                "urn:oid:0.9.2342.19200300.100.1.3",
                &["o@example.com"],
            ))
            .with_attribute(attr("upn", &["u@example.com"])),
        "
name-id: absent
emailaddress-claim: absent
emailaddress-attribute: absent
email-attribute: absent",
    );
}

// ---- values within a place ------------------------------------------------------------------

#[test]
fn first_valid_value_of_a_multi_valued_attribute() {
    check(
        &Claims::new().with_attribute(attr(
            "email",
            &[
                "",
                "Jane <jane@example.com>",
                "second@example.com",
                "third@example.com",
            ],
        )),
        r#"match email-attribute second@example.com "second@example.com""#,
    );
}

#[test]
fn repeated_attributes_are_read_in_document_order() {
    check(
        &Claims::new()
            .with_attribute(attr("Email", &["bad"]))
            .with_attribute(attr("email", &["first@example.com"]))
            .with_attribute(attr("EMAIL", &["second@example.com"])),
        r#"match email-attribute first@example.com "first@example.com""#,
    );
}

#[test]
fn an_invalid_earlier_place_never_hides_a_valid_later_one() {
    check(
        &Claims::new()
            .with_name_id(NameId::new("jdoe"))
            .with_attribute(attr(EMAILADDRESS_CLAIM, &["jane@localhost"]))
            .with_attribute(attr("emailaddress", &[]))
            .with_attribute(attr("email", &["jane@example.com"])),
        r#"match email-attribute jane@example.com "jane@example.com""#,
    );
}

// ---- misses: every kind at every place ------------------------------------------------------

#[test]
fn nothing_at_all() {
    check(
        &Claims::new(),
        "
name-id: absent
emailaddress-claim: absent
emailaddress-attribute: absent
email-attribute: absent",
    );
}

#[test]
fn attributes_without_values() {
    check(
        &Claims::new()
            .with_attribute(attr(EMAILADDRESS_CLAIM, &[]))
            .with_attribute(attr("EmailAddress", &[]))
            .with_attribute(attr("emailaddress", &[]))
            .with_attribute(attr("Email", &[])),
        r#"
name-id: absent
emailaddress-claim: no-values ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"]
emailaddress-attribute: no-values ["EmailAddress", "emailaddress"]
email-attribute: no-values ["Email"]"#,
    );
}

#[test]
fn every_kind_of_invalid_value_is_named() {
    check(
        &Claims::new()
            .with_name_id(NameId::new("  "))
            .with_attribute(attr(
                EMAILADDRESS_CLAIM,
                &[
                    "Jane <jane@example.com>",
                    "jane(x)@example.com",
                    "a@x.com, b@x.com",
                ],
            ))
            .with_attribute(attr(
                "emailaddress",
                &[
                    "jane",
                    "@example.com",
                    "jane@[192.0.2.1]",
                    "jane@localhost",
                    "jane@ex_ample.com",
                ],
            ))
            .with_attribute(attr(
                "email",
                &[
                    &format!("{}@example.com", "j".repeat(65)),
                    &format!("jane@{}.com", "d".repeat(64)),
                    "jane doe@example.com",
                ],
            )),
        r#"
name-id: no-valid-value "  "=empty
emailaddress-claim: no-valid-value "Jane <jane@example.com>"=display-name "jane(x)@example.com"=comment "a@x.com, b@x.com"=several-addresses
emailaddress-attribute: no-valid-value "jane"=missing-at "@example.com"=empty-local-part "jane@[192.0.2.1]"=domain-literal "jane@localhost"=domain-not-dotted "jane@ex_ample.com"=invalid-domain
email-attribute: no-valid-value "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj@example.com"=local-part-too-long "jane@dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.com"=label-too-long "jane doe@example.com"=invalid-syntax"#,
    );
}

#[test]
fn friendly_name_is_never_matched_but_is_pointed_out() {
    check(
        &Claims::new()
            .with_attribute(
                attr("urn:oid:0.9.2342.19200300.100.1.3", &["jane@example.com"])
                    .with_friendly_name("email"),
            )
            .with_attribute(
                attr("urn:example:mail", &["jane@example.com"]).with_friendly_name("EmailAddress"),
            ),
        "
name-id: absent
emailaddress-claim: absent
emailaddress-attribute: absent friendly-name-only=urn:example:mail
email-attribute: absent friendly-name-only=urn:oid:0.9.2342.19200300.100.1.3",
    );
}

#[test]
fn a_match_reports_the_places_it_skipped() {
    let claims = Claims::new()
        .with_name_id(NameId::new("a1b2c3").with_format(PERSISTENT))
        .with_attribute(attr("emailaddress", &["jane@example.com"]));
    let found = find_email(&claims).unwrap();
    let skipped: Vec<_> = found
        .skipped()
        .iter()
        .map(|p| (p.source(), p.reason()))
        .collect();
    assert_eq!(
        skipped,
        [
            (EmailSource::NameId, "no-valid-value"),
            (EmailSource::EmailAddressClaim, "absent"),
        ]
    );
    assert_eq!(found.attribute_name(), Some("emailaddress"));
    assert_eq!(found.into_email().as_str(), "jane@example.com");
}

#[test]
fn miss_message_lists_what_was_tried() {
    let claims = Claims::new()
        .with_name_id(NameId::new("jdoe"))
        .with_attribute(attr("Email", &[]))
        .with_attribute(attr("urn:x", &["a@example.com"]).with_friendly_name("email"));
    let miss = find_email(&claims).unwrap_err();
    assert_eq!(
        miss.to_string(),
        "no valid email in the assertion (no-valid-email); tried \
         name-id: \"jdoe\" (missing-at); \
         emailaddress-claim: not present; \
         emailaddress-attribute: not present; \
         email-attribute: attribute Email has no values \
         (FriendlyName matches but Name does not, not used: urn:x)"
    );
}

#[test]
fn source_codes_and_order_are_stable() {
    let codes: Vec<_> = EmailSource::ORDER.iter().map(|s| s.code()).collect();
    assert_eq!(
        codes,
        [
            "name-id",
            "emailaddress-claim",
            "emailaddress-attribute",
            "email-attribute"
        ]
    );
    assert!(EmailSource::ORDER.windows(2).all(|w| w[0] < w[1]));
}
