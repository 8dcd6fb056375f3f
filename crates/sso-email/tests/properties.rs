//! Properties: normalization is idempotent, and the lookup order is respected.

// Helpers outside #[test] functions panic too: in a test a panic is a failed assertion.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use sso_email::{Attribute, Claims, EMAILADDRESS_CLAIM, Email, EmailSource, NameId, find_email};

/// Address-like strings: mixed case, some non-ASCII, optional surrounding whitespace, so that
/// many are valid and the rest fail in interesting ways.
fn address_like() -> impl Strategy<Value = String> {
    // Mostly short parts (likely valid), sometimes near or over the length limits.
    let local = prop_oneof![
        4 => "[A-Za-z0-9._+'\"-]{0,2}[A-Za-zÄÖÜäöüéßİK0-9]{1,20}",
        1 => "[A-Za-z0-9ÄéİK]{60,66}",
    ];
    let label = prop_oneof![
        4 => "[A-Za-z0-9ÄÖÜäöüßＡ]{1,12}(-[a-z0-9]{1,3})?",
        1 => "[A-Za-z0-9ÄÖÜäöüß]{55,64}",
    ];
    (
        "[ \t\n]{0,2}",
        local,
        prop::collection::vec(label, 1..5),
        "[ \t\n]{0,2}",
    )
        .prop_map(|(pre, local, labels, post)| format!("{pre}{local}@{}{post}", labels.join(".")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalization_is_idempotent(value in address_like()) {
        if let Ok(email) = Email::parse(&value) {
            let again = Email::parse(email.as_str());
            prop_assert_eq!(again.as_ref(), Ok(&email));
            prop_assert!(email.as_str().len() <= 254);
            prop_assert!(email.local_part().len() <= 64);
            prop_assert!(email.domain().is_ascii());
            prop_assert!(email.domain().contains('.'));
            prop_assert!(email.domain().split('.').all(|l| !l.is_empty() && l.len() <= 63));
        }
    }

    #[test]
    fn any_string_is_refused_or_normalized_without_panicking(value in any::<String>()) {
        if let Ok(email) = Email::parse(&value) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email));
        }
    }

    #[test]
    fn case_and_surrounding_whitespace_do_not_change_the_identity(
        value in address_like(),
        pad in "[ \t\r\n]{0,3}",
    ) {
        if let Ok(email) = Email::parse(&value) {
            // ASCII only: Unicode upper-casing is not reversible (ß becomes SS).
            let shouted = format!("{pad}{}{pad}", value.trim().to_ascii_uppercase());
            prop_assert_eq!(Email::parse(&shouted), Ok(email.clone()));
            let padded = format!("{pad}{value}{pad}");
            prop_assert_eq!(Email::parse(&padded), Ok(email));
        }
    }
}

/// What one place holds in a generated assertion.
#[derive(Debug, Clone)]
enum Slot {
    Absent,
    /// Values in order; `true` marks a valid one.
    Values(Vec<bool>),
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![
        Just(Slot::Absent),
        prop::collection::vec(any::<bool>(), 0..4).prop_map(Slot::Values),
    ]
}

/// Random ASCII letter case, as IdPs do.
fn recase(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_first_place_with_a_valid_value_wins(
        slots in [slot(), slot(), slot(), slot()],
        case_mask in any::<u64>(),
        order in Just(vec![1usize, 2, 3]).prop_shuffle(),
        noise in any::<bool>(),
    ) {
        // Values are named after their place and position, so the winner is recognizable.
        let values: Vec<Vec<String>> = slots
            .iter()
            .enumerate()
            .map(|(place, slot)| match slot {
                Slot::Absent => Vec::new(),
                Slot::Values(valid) => valid
                    .iter()
                    .enumerate()
                    .map(|(i, ok)| {
                        if *ok {
                            format!("p{place}v{i}@example.com")
                        } else {
                            format!("p{place}v{i}")
                        }
                    })
                    .collect(),
            })
            .collect();
        let names = [
            String::new(),
            EMAILADDRESS_CLAIM.to_owned(),
            recase("emailaddress", case_mask),
            recase("email", case_mask.rotate_left(17)),
        ];

        let mut claims = Claims::new();
        if let (Slot::Values(_), Some(first)) = (&slots[0], values[0].first()) {
            claims = claims.with_name_id(NameId::new(first));
        }
        if noise {
            claims = claims.with_attribute(Attribute::new("mail", ["noise@example.com"]));
        }
        // Document order across places is shuffled; it must not matter.
        for place in &order {
            if let Slot::Values(_) = slots[*place] {
                claims = claims.with_attribute(Attribute::new(
                    &names[*place],
                    values[*place].iter().map(String::as_str),
                ));
            }
        }

        // The NameID carries at most one value: the first generated one.
        let usable = |place: usize| -> Vec<(usize, bool)> {
            match &slots[place] {
                Slot::Absent => Vec::new(),
                Slot::Values(v) if place == 0 => v.iter().copied().enumerate().take(1).collect(),
                Slot::Values(v) => v.iter().copied().enumerate().collect(),
            }
        };
        let expected = (0..4).find_map(|place| {
            usable(place)
                .into_iter()
                .find(|(_, ok)| *ok)
                .map(|(i, _)| (place, format!("p{place}v{i}@example.com")))
        });

        match (find_email(&claims), expected) {
            (Ok(found), Some((place, email))) => {
                prop_assert_eq!(found.source(), EmailSource::ORDER[place]);
                prop_assert_eq!(found.email().as_str(), email.as_str());
                prop_assert_eq!(found.skipped().len(), place);
            }
            (Err(miss), None) => {
                let sources: Vec<_> = miss.places().iter().map(|p| p.source()).collect();
                prop_assert_eq!(sources, EmailSource::ORDER.to_vec());
            }
            (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
        }
    }
}
