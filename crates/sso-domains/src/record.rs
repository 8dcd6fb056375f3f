//! The TXT record that proves a claim: its name, its value, the claim's random token, and
//! how the values found at the name are read.

use std::fmt;

use crate::error::TokenError;

/// The label the record lives under: the record of `bigcorp.com` is
/// `_sso-verification.bigcorp.com`. Only this name is looked up, never the domain's apex: an
/// underscore label is no host name, so the record cannot collide with anything the domain
/// serves, and it can be delegated with a CNAME.
pub const RECORD_LABEL: &str = "_sso-verification";

/// What a record's value starts with; the token follows: `sso-verification=<token>`.
pub const VALUE_PREFIX: &str = "sso-verification=";

/// Random bytes in a token: 128 bits, so a token cannot be guessed.
const TOKEN_BYTES: usize = 16;

/// The TXT values read at one name, at most: more are ignored (a proof needs one).
pub(crate) const MAX_VALUES: usize = 64;

/// The longest TXT value read, in bytes (strings of one record concatenated); a longer one
/// cannot be a verification value and is skipped.
pub(crate) const MAX_VALUE_LEN: usize = 1024;

/// The name of the record that proves a claim on `domain` (ASCII, as
/// `sso_email::Email::domain()` gives it): `_sso-verification.<domain>`.
pub fn record_name(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    format!("{RECORD_LABEL}.{domain}")
}

/// A claim's token: 32 lower-case hex digits from OpenSSL's random source. Not a secret (it
/// is published in DNS); what proves ownership is that it appears at the domain's name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A new random token.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token as stored: exactly 32 lower-case hex digits.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let ok = text.len() == TOKEN_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(TokenError::Malformed)
        }
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The TXT value to publish: `sso-verification=<token>`.
    pub fn record_value(&self) -> String {
        format!("{VALUE_PREFIX}{}", self.0)
    }
}

impl fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimToken({})", self.0)
    }
}

/// What the TXT values at a record's name say about one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finding {
    /// A value carries the claim's token.
    Proven,
    /// There are verification values, none with this token (other claims' tokens, or stale
    /// ones): how many.
    OtherTokens(usize),
    /// No verification value at all.
    Nothing,
}

/// Reads the TXT values at the name: `sso-verification=` (any letter case) followed by the
/// token (any letter case, surrounding blanks ignored) proves the claim. Other TXT values
/// (SPF, other services' proofs) are ignored; so are values past [`MAX_VALUES`] or longer than
/// [`MAX_VALUE_LEN`].
pub(crate) fn read_values<I, V>(values: I, token: &ClaimToken) -> Finding
where
    I: IntoIterator<Item = V>,
    V: AsRef<[u8]>,
{
    let mut others = 0;
    for value in values.into_iter().take(MAX_VALUES) {
        let value = value.as_ref();
        if value.len() > MAX_VALUE_LEN {
            continue;
        }
        let Some(claimed) = verification_token(value) else {
            continue;
        };
        if claimed.eq_ignore_ascii_case(token.as_str().as_bytes()) {
            return Finding::Proven;
        }
        others += 1;
    }
    if others == 0 {
        Finding::Nothing
    } else {
        Finding::OtherTokens(others)
    }
}

/// The token part of a verification value, blanks trimmed; `None` for any other value.
fn verification_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let prefix = VALUE_PREFIX.as_bytes();
    let head = value.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    value.get(prefix.len()..).map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tokens_are_random_hex_and_parse_back() {
        let a = ClaimToken::generate().unwrap();
        let b = ClaimToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(ClaimToken::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.record_value(), format!("sso-verification={a}"));
        for bad in [
            "",
            "abc",
            &a.as_str().to_ascii_uppercase(),
            &format!("{a}0"),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert_eq!(ClaimToken::parse(bad), Err(TokenError::Malformed), "{bad}");
        }
    }

    #[test]
    fn the_record_name_is_under_the_domain() {
        assert_eq!(record_name("BigCorp.com."), "_sso-verification.bigcorp.com");
    }

    #[test]
    fn values_are_read_for_this_token_only() {
        let token = ClaimToken::parse("00112233445566778899aabbccddeeff").unwrap();
        let other = "sso-verification=ffeeddccbbaa99887766554433221100";
        let cases: [(Vec<&str>, Finding); 7] = [
            (vec![], Finding::Nothing),
            (
                vec!["v=spf1 -all", "google-site-verification=x"],
                Finding::Nothing,
            ),
            (vec![other], Finding::OtherTokens(1)),
            (vec![other, "v=spf1 -all", other], Finding::OtherTokens(2)),
            (
                vec![other, "sso-verification=00112233445566778899aabbccddeeff"],
                Finding::Proven,
            ),
            (
                vec!["  SSO-Verification= 00112233445566778899AABBCCDDEEFF "],
                Finding::Proven,
            ),
            // The token must be the whole value, not a prefix of it.
            (
                vec!["sso-verification=00112233445566778899aabbccddeeff00"],
                Finding::OtherTokens(1),
            ),
        ];
        for (values, expected) in cases {
            assert_eq!(read_values(&values, &token), expected, "{values:?}");
        }
    }

    #[test]
    fn reading_is_bounded() {
        let token = ClaimToken::parse("00112233445566778899aabbccddeeff").unwrap();
        let proof = token.record_value();
        // Past the first MAX_VALUES values nothing is read.
        let mut values = vec!["x".to_owned(); MAX_VALUES];
        values.push(proof.clone());
        assert_eq!(read_values(&values, &token), Finding::Nothing);
        // An overlong value is skipped.
        let long = format!("{proof}{}", " ".repeat(MAX_VALUE_LEN));
        assert_eq!(read_values([long], &token), Finding::Nothing);
    }
}
