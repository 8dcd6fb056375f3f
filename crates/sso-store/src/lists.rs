//! Paged listings by a text key and bulk changes: the cursors (opaque text on the wire), the
//! page-size clamp and the bound on one bulk change.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use sso_email::Email;

use crate::error::StoreError;
use crate::events::MAX_PAGE;
use crate::ids::ProjectId;

/// The most items one bulk change ([`Store::upsert_projects`](crate::Store::upsert_projects),
/// and the members added in one call above the store) may hold.
pub const MAX_BATCH: usize = 1000;

/// A page size in 1 to [`MAX_PAGE`]; other values are clamped.
pub(crate) fn clamp_page(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}

/// `key` as lower-case hex behind `prefix`: any text becomes a token of `[0-9a-z.]`.
fn encode(prefix: &str, key: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2 * key.len());
    out.push_str(prefix);
    for byte in key.bytes() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The key of a token [`encode`] wrote with `prefix`, at most `max_bytes` long; `None` for
/// anything else.
fn decode(prefix: &str, token: &str, max_bytes: usize) -> Option<String> {
    let hex = token.strip_prefix(prefix)?.as_bytes();
    if hex.len() % 2 != 0 || hex.len() / 2 > max_bytes {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = hex
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some(nibble(*high)? << 4 | nibble(*low)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn bad_cursor(what: &'static str) -> StoreError {
    StoreError::invalid(what, "not a token this service issued")
}

/// Where a listing of members continues: after this email, in byte order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberCursor {
    pub(crate) email: Email,
}

impl MemberCursor {
    pub(crate) fn after(email: &Email) -> Self {
        Self {
            email: email.clone(),
        }
    }
}

const MEMBER_PREFIX: &str = "m1.";

impl fmt::Display for MemberCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(MEMBER_PREFIX, self.email.as_str()))
    }
}

impl FromStr for MemberCursor {
    type Err = StoreError;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let key = decode(MEMBER_PREFIX, token, 254).ok_or_else(|| bad_cursor("member cursor"))?;
        // Only a normalized email is a key this service wrote.
        match Email::parse(&key) {
            Ok(email) if email.as_str() == key => Ok(Self { email }),
            _ => Err(bad_cursor("member cursor")),
        }
    }
}

/// Where a listing of projects continues: after this id, in byte order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectCursor {
    pub(crate) id: ProjectId,
}

impl ProjectCursor {
    pub(crate) fn after(id: &ProjectId) -> Self {
        Self { id: id.clone() }
    }
}

const PROJECT_PREFIX: &str = "p1.";

impl fmt::Display for ProjectCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(PROJECT_PREFIX, self.id.as_str()))
    }
}

impl FromStr for ProjectCursor {
    type Err = StoreError;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        decode(PROJECT_PREFIX, token, crate::ids::MAX_PROJECT_ID_BYTES)
            .and_then(|key| ProjectId::parse(&key).ok())
            .map(|id| Self { id })
            .ok_or_else(|| bad_cursor("project cursor"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_opaque_text() {
        let member = MemberCursor::after(&Email::parse("jane.doe@example.com").unwrap());
        let text = member.to_string();
        assert!(text.starts_with("m1.") && !text.contains('@'), "{text}");
        assert_eq!(text.parse::<MemberCursor>().unwrap(), member);

        let project = ProjectCursor::after(&ProjectId::parse("Wiki / ü 2").unwrap());
        let text = project.to_string();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'.'),
            "{text}"
        );
        assert_eq!(text.parse::<ProjectCursor>().unwrap(), project);
    }

    #[test]
    fn foreign_tokens_are_invalid_input() {
        let not_normalized = encode(MEMBER_PREFIX, "Jane@Example.com");
        let too_long = encode(PROJECT_PREFIX, &"x".repeat(201));
        let control = encode(PROJECT_PREFIX, "a\nb");
        for bad in [
            "",
            "m1.",
            "m1.zz",
            "m1.616",
            "p1.61",
            "1740819600123456.42",
            not_normalized.as_str(),
        ] {
            assert_eq!(
                bad.parse::<MemberCursor>().unwrap_err().reason(),
                "invalid-input",
                "{bad}"
            );
        }
        for bad in [
            "",
            "p1.",
            "p1.ff",
            "m1.61",
            too_long.as_str(),
            control.as_str(),
        ] {
            assert_eq!(
                bad.parse::<ProjectCursor>().unwrap_err().reason(),
                "invalid-input",
                "{bad}"
            );
        }
    }
}
