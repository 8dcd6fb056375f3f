//! Filter parser and evaluator tests: the RFC's examples, the IdPs' filters, hostile input.

use serde_json::json;

use super::*;

fn parse(f: &str) -> Filter {
    match parse_filter(f) {
        Ok(filter) => filter,
        Err(e) => panic!("{f}: {e}"),
    }
}

fn room() -> Budget {
    Budget::new(1_000_000)
}

fn path(name: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.into(),
        sub: None,
    }
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "x-score": 7,
        ENTERPRISE_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m-1"}},
        "meta": {
            "resourceType": "User",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3\""
        }
    })
}

fn check(f: &str, expected: bool) {
    assert_eq!(
        matches(&parse(f), &user(), USER_SCHEMA, &room()),
        expected,
        "{f}"
    );
}

#[test]
fn parses_comparisons_and_literals() {
    assert_eq!(
        parse(r#"userName eq "bjensen""#),
        Filter::Compare(
            path("userName"),
            CompareOp::Eq,
            Literal::String("bjensen".into()),
            Case::Ignore
        )
    );
    assert_eq!(
        parse("active EQ true"),
        Filter::Compare(
            path("active"),
            CompareOp::Eq,
            Literal::Bool(true),
            Case::Ignore
        )
    );
    assert_eq!(
        parse("x-score ge -1.5e2"),
        Filter::Compare(
            path("x-score"),
            CompareOp::Ge,
            Literal::Number(-150.0),
            Case::Ignore
        )
    );
    assert_eq!(
        parse("manager eq null"),
        Filter::Compare(path("manager"), CompareOp::Eq, Literal::Null, Case::Ignore)
    );
    assert_eq!(parse("title pr"), Filter::Present(path("title")));
    assert_eq!(
        parse(r#"userName eq "a\"b\\c\u00e9\n""#),
        Filter::Compare(
            path("userName"),
            CompareOp::Eq,
            Literal::String("a\"b\\cé\n".into()),
            Case::Ignore
        )
    );
}

#[test]
fn parses_paths_with_urns_and_sub_attributes() {
    let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O'Malley""#);
    let Filter::Compare(p, CompareOp::Co, _, Case::Ignore) = f else {
        panic!("not a comparison");
    };
    assert_eq!(p.urn.as_deref(), Some(USER_SCHEMA));
    assert_eq!(
        (p.name.as_str(), p.sub.as_deref()),
        ("name", Some("familyName"))
    );
    let f = parse("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:manager.value pr");
    let Filter::Present(p) = f else {
        panic!("not pr");
    };
    assert_eq!(p.urn.as_deref(), Some(ENTERPRISE_SCHEMA));
    assert_eq!(
        (p.name.as_str(), p.sub.as_deref()),
        ("manager", Some("value"))
    );
    let p = parse_attr_path("urn:example:custom:1.0:User:badge");
    assert_eq!(
        p.ok().and_then(|p| p.urn),
        Some("urn:example:custom:1.0:User".to_owned())
    );
}

#[test]
fn logic_is_flat_and_precedence_is_and_before_or() {
    let f = parse(r#"a eq "1" or b eq "2" and c eq "3" or d pr"#);
    let Filter::Or(terms) = f else {
        panic!("not or");
    };
    assert_eq!(terms.len(), 3);
    assert!(matches!(terms.get(1), Some(Filter::And(t)) if t.len() == 2));
    let long = vec![r#"a eq "1""#; 300].join(" and ");
    assert!(matches!(parse(&long), Filter::And(t) if t.len() == 300));
}

#[test]
fn evaluates_the_rfc_examples() {
    check(r#"userName eq "bjensen@example.com""#, true);
    check(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#, true);
    check(r#"name.familyName co "ens""#, true);
    check(r#"userName sw "bj""#, true);
    check(r#"userName ew ".COM""#, true);
    check("title pr", true);
    check("nickName pr", false);
    check(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false);
    check(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true);
    check(r#"meta.lastModified lt "2011-05-13T06:42:34+02:00""#, false);
    check(r#"meta.lastModified le "2012-01-01T00:00:00Z""#, true);
    check(r#"title pr and userType eq "Employee""#, true);
    check(r#"title pr or userType eq "Intern""#, true);
    check(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        true,
    );
    check(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        false,
    );
    check(
        r#"emails[type eq "work" and value co "@example.com"]"#,
        true,
    );
    check(
        r#"emails[type eq "home" and value co "@example.com"]"#,
        false,
    );
    check(
        r#"emails[type eq "work" and value co "@example.com"] or emails[type eq "xmpp"]"#,
        true,
    );
    check("active eq true", true);
    check("active eq false", false);
    check("x-score gt 6", true);
    check("x-score lt 6.5", false);
    check("nickName eq null", true);
    check("nickName ne null", false);
    check(r#"nickName ne "x""#, true);
}

#[test]
fn case_rules_are_settled_when_parsed() {
    let case = |f: &str| match parse(f) {
        Filter::Compare(_, _, _, case) => case,
        Filter::ValuePath(_, inner) => match *inner {
            Filter::Compare(_, _, _, case) => case,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(case(r#"ID eq "x""#), Case::Exact);
    assert_eq!(case(r#"members[value eq "x"]"#), Case::Exact);
    assert_eq!(case(r#"emails[value eq "x"]"#), Case::Ignore);
    assert_eq!(case(r#"meta.location eq "x""#), Case::Exact);
    assert_eq!(
        case(r#"urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "x""#),
        Case::Exact
    );
}

#[test]
fn case_exact_attributes_compare_exactly() {
    check(r#"externalId eq "Ext-1""#, true);
    check(r#"externalId eq "ext-1""#, false);
    check(r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false);
    check(r#"meta.version eq "W/\"3\"""#, true);
    let group = json!({"members": [{"value": "AbC"}]});
    let f = parse(r#"members[value eq "abc"]"#);
    assert!(!matches(&f, &group, GROUP_SCHEMA, &room()));
    let f = parse(r#"members.value eq "AbC""#);
    assert!(matches(&f, &group, GROUP_SCHEMA, &room()));
}

#[test]
fn extension_attributes_resolve_inside_their_object() {
    check(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        true,
    );
    check(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m-1""#,
        true,
    );
    check("employeeNumber pr", false);
    check(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr",
        true,
    );
}

#[test]
fn lookups_narrow_only_on_indexed_equality() {
    let l = |f: &str| lookup(&parse(f), USER_SCHEMA, "userName");
    assert_eq!(l(r#"userName eq "x""#), Lookup::Name("x".into()));
    assert_eq!(
        l(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#),
        Lookup::Name("x".into())
    );
    assert_eq!(l(r#"id eq "1""#), Lookup::Id("1".into()));
    assert_eq!(l(r#"externalId eq "e""#), Lookup::ExternalId("e".into()));
    assert_eq!(
        l(r#"active eq true and externalId eq "e""#),
        Lookup::ExternalId("e".into())
    );
    assert_eq!(l(r#"userName eq "x" or userName eq "y""#), Lookup::All);
    assert_eq!(l(r#"not (userName eq "x")"#), Lookup::All);
    assert_eq!(l(r#"userName co "x""#), Lookup::All);
    assert_eq!(l(r#"displayName eq "x""#), Lookup::All);
    assert_eq!(l("userName eq null"), Lookup::All);
    let g = lookup(
        &parse(r#"displayName eq "Eng""#),
        GROUP_SCHEMA,
        "displayName",
    );
    assert_eq!(g, Lookup::Name("Eng".into()));
}

#[test]
fn parses_patch_paths() {
    let p = parse_path(r#"emails[type eq "work"].value"#);
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.attr, path("emails"));
    assert_eq!(p.sub.as_deref(), Some("value"));
    assert!(p.filter.is_some());
    let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager");
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.attr.urn.as_deref(), Some(ENTERPRISE_SCHEMA));
    assert_eq!(p.attr.name, "manager");
    let p = parse_path(ENTERPRISE_SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.attr.name, "");
    for bad in [
        "",
        "emails[type eq \"work\"]value",
        "emails[type eq \"work\"].value.x",
        "name.givenName[x pr]",
        "emails[type eq \"work\"] extra",
        "a.b.c",
        "emails[",
        "members[value eq \"x\"",
    ] {
        assert!(parse_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn refuses_malformed_filters() {
    for bad in [
        "",
        "userName",
        "userName eq",
        r#"userName eq "unterminated"#,
        r#"userName eq "bad \q escape""#,
        "userName eq \"raw\u{1}control\"",
        r#"userName xx "a""#,
        r#"userName eq bare"#,
        r#"userName co 5"#,
        r#"active gt true"#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"not userName eq "a""#,
        r#"emails[type eq "work" and value[x pr]]"#,
        r#"emails[type eq "work""#,
        r#"1abc eq "x""#,
        r#"user name eq "x""#,
        r#"userName eq "a" "b""#,
        "x eq nan",
        "x eq inf",
        "x eq 1e999",
        r#"userName eq "\ud800""#,
        "urn:: pr",
        "émail eq \"x\"",
        "[",
        ")",
    ] {
        assert!(parse_filter(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hostile_inputs_are_bounded() {
    let deep_ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse_filter(&deep_ok).is_ok());
    let too_deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_filter(&too_deep).is_err());
    let nots = format!(
        "{}a pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_filter(&nots).is_err());
    let many_opens = "(".repeat(MAX_FILTER_LEN);
    assert!(parse_filter(&many_opens).is_err());
    let huge = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
    assert!(parse_filter(&huge).is_err());
    let long_name = format!("{} pr", "a".repeat(200));
    assert!(parse_filter(&long_name).is_err());
    let unicode = r#"displayName eq "日本語 ✓ 𝄞""#;
    let f = parse(unicode);
    assert!(matches(
        &f,
        &json!({"displayName": "日本語 ✓ 𝄞"}),
        GROUP_SCHEMA,
        &room()
    ));
    let split_surrogates = r#"displayName eq "\ud834\udd1e""#;
    assert!(matches(
        &parse(split_surrogates),
        &json!({"displayName": "𝄞"}),
        GROUP_SCHEMA,
        &room()
    ));
}

#[test]
fn evaluation_stops_when_the_budget_is_spent() {
    let many: Vec<Value> = (0..1000).map(|i| json!({"value": i.to_string()})).collect();
    let doc = json!({"emails": many});
    let f = parse(r#"emails[value eq "999"]"#);
    let enough = Budget::new(2001);
    assert!(matches(&f, &doc, USER_SCHEMA, &enough));
    assert!(!enough.exhausted());
    let short = Budget::new(500);
    assert!(!matches(&f, &doc, USER_SCHEMA, &short));
    assert!(short.exhausted());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A small deterministic generator: the same inputs every run, biased toward the grammar.
    let alphabet: Vec<char> = "ab ()[]\"\\.:,-+eE0123456789 eqnotandorprcosw\u{e9}\u{1F600}\u{0}"
        .chars()
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let doc = user();
    for _ in 0..20_000 {
        let len = usize::try_from(next() % 64).unwrap_or(0);
        let input: String = (0..len)
            .map(|_| {
                let i = usize::try_from(next()).unwrap_or(0) % alphabet.len();
                alphabet.get(i).copied().unwrap_or('a')
            })
            .collect();
        if let Ok(f) = parse_filter(&input) {
            let _ = matches(&f, &doc, USER_SCHEMA, &room());
            let _ = lookup(&f, USER_SCHEMA, "userName");
        }
        let _ = parse_path(&input);
    }
}
