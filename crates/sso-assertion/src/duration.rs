//! `xs:duration` as metadata's `cacheDuration` carries it (`PT6H`, `P1D`, `P1Y2M3DT4H5M6.5S`),
//! read strictly and within bounds: the text comes from whoever serves the metadata.

use time::Duration;

/// The longest duration text accepted. Real values are a handful of characters.
pub const MAX_DURATION_TEXT: usize = 64;

/// The longest duration accepted: 100 years (of 365 days).
pub const MAX_DURATION: Duration = Duration::days(36_500);

/// A year counts as 365 days and a month as 28: the shortest they can be, so that a refresh
/// planned from a cache duration is never late.
const DAYS_PER_YEAR: u64 = 365;
const DAYS_PER_MONTH: u64 = 28;

/// Why a text is not an acceptable `xs:duration`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing, or only whitespace.
    #[error("the duration is empty")]
    Empty,
    /// Longer than [`MAX_DURATION_TEXT`].
    #[error("the duration is {0} characters long; at most {MAX_DURATION_TEXT} are accepted")]
    TooLong(usize),
    /// A negative duration (`-P1D`): no lifetime can be negative.
    #[error("the duration is negative")]
    Negative,
    /// Not the `PnYnMnDTnHnMnS` form.
    #[error("not an xs:duration (PnYnMnDTnHnMnS): {0}")]
    Syntax(&'static str),
    /// Longer than [`MAX_DURATION`] (or too large to compute).
    #[error("the duration is longer than 100 years")]
    OutOfRange,
}

/// The components in the order they must appear, with their length in seconds (`None` for
/// seconds, the one component that may have a fraction).
const DATE_PART: [(u8, u64); 3] = [
    (b'Y', DAYS_PER_YEAR * 86_400),
    (b'M', DAYS_PER_MONTH * 86_400),
    (b'D', 86_400),
];
const TIME_PART: [(u8, u64); 3] = [(b'H', 3_600), (b'M', 60), (b'S', 1)];

/// Parses an `xs:duration` (leading and trailing whitespace collapsed away, as the type
/// says). Years count 365 days and months 28 (see the module). Only the seconds may have a
/// fraction; digits past the nanosecond are dropped.
pub fn parse_xs_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.len() > MAX_DURATION_TEXT {
        return Err(DurationError::TooLong(text.len()));
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let rest = text
        .strip_prefix('P')
        .ok_or(DurationError::Syntax("it must start with P"))?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(DurationError::Syntax("T must be followed by a time")),
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut seconds: u64 = 0;
    let mut nanos: u32 = 0;
    let mut components = read_part(date, &DATE_PART, &mut seconds, &mut nanos)?;
    if let Some(time) = time {
        components += read_part(time, &TIME_PART, &mut seconds, &mut nanos)?;
    }
    if components == 0 {
        return Err(DurationError::Syntax("no component"));
    }
    let seconds = i64::try_from(seconds).map_err(|_| DurationError::OutOfRange)?;
    let total = Duration::new(seconds, i32::try_from(nanos).unwrap_or(0));
    if total > MAX_DURATION {
        return Err(DurationError::OutOfRange);
    }
    Ok(total)
}

/// Reads `<digits><designator>` pairs of one part, designators in the order of `units`,
/// adding each to `seconds` (and a fraction of seconds to `nanos`). Returns how many there
/// were.
fn read_part(
    mut part: &str,
    units: &[(u8, u64)],
    seconds: &mut u64,
    nanos: &mut u32,
) -> Result<usize, DurationError> {
    let mut next_unit = 0;
    let mut count = 0;
    while !part.is_empty() {
        let end = part
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or(DurationError::Syntax("a number without its designator"))?;
        let (number, after) = part.split_at(end);
        let designator = after.as_bytes().first().copied().unwrap_or(0);
        let offset = units
            .iter()
            .skip(next_unit)
            .position(|(d, _)| *d == designator)
            .ok_or(DurationError::Syntax(
                "unknown, repeated or misplaced designator",
            ))?;
        let index = next_unit + offset;
        let unit = units
            .get(index)
            .map(|(_, s)| *s)
            .ok_or(DurationError::Syntax("unknown designator"))?;
        let (whole, fraction) = match number.split_once('.') {
            Some(_) if unit != 1 => {
                return Err(DurationError::Syntax("only seconds may have a fraction"));
            }
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (number, None),
        };
        if whole.is_empty() || fraction.is_some_and(|f| f.is_empty() || f.contains('.')) {
            return Err(DurationError::Syntax("a component needs digits"));
        }
        let value: u64 = whole.parse().map_err(|_| DurationError::OutOfRange)?;
        *seconds = value
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or(DurationError::OutOfRange)?;
        if let Some(fraction) = fraction {
            *nanos = fraction_nanos(fraction);
        }
        next_unit = index + 1;
        count += 1;
        part = after.get(1..).unwrap_or("");
    }
    Ok(count)
}

/// The first nine digits of a fraction of a second, as nanoseconds.
fn fraction_nanos(digits: &str) -> u32 {
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = digits
            .as_bytes()
            .get(i)
            .map_or(0, |d| u32::from(d.saturating_sub(b'0')));
        nanos = nanos * 10 + digit;
    }
    nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_cache_durations() {
        assert_eq!(parse_xs_duration("PT6H"), Ok(Duration::hours(6)));
        assert_eq!(parse_xs_duration("P1D"), Ok(Duration::days(1)));
        assert_eq!(parse_xs_duration(" PT30M\n"), Ok(Duration::minutes(30)));
        assert_eq!(parse_xs_duration("PT0S"), Ok(Duration::ZERO));
        assert_eq!(
            parse_xs_duration("P1Y2M3DT4H5M6.5S"),
            Ok(Duration::days(365 + 56 + 3)
                + Duration::hours(4)
                + Duration::minutes(5)
                + Duration::milliseconds(6_500))
        );
        assert_eq!(
            parse_xs_duration("PT1.1234567891S"),
            Ok(Duration::new(1, 123_456_789))
        );
        assert_eq!(
            parse_xs_duration("PT1421926751S"),
            Ok(Duration::seconds(1_421_926_751))
        );
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "P",
            "PT",
            "6H",
            "P1H",
            "PT1D",
            "P1DT",
            "P1M1Y",
            "P1D1D",
            "PT1.5M",
            "P1.5D",
            "PT.5S",
            "PT1.S",
            "PT1..5S",
            "P1",
            "PTS",
            "P-1D",
            "P 1D",
            "p1d",
            "P1DT1H1M1S1",
            "P١D",
            "PT1HT1M",
        ] {
            assert!(
                matches!(parse_xs_duration(text), Err(DurationError::Syntax(_))),
                "{text:?}: {:?}",
                parse_xs_duration(text)
            );
        }
        assert_eq!(parse_xs_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_xs_duration("  "), Err(DurationError::Empty));
        assert_eq!(parse_xs_duration("-P1D"), Err(DurationError::Negative));
    }

    #[test]
    fn hostile_sizes_are_typed_errors() {
        assert_eq!(
            parse_xs_duration("P99999999999999999999999999D"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            parse_xs_duration("P18446744073709551615Y"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            parse_xs_duration("PT9223372036854775807S"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(parse_xs_duration("P101Y"), Err(DurationError::OutOfRange));
        assert_eq!(parse_xs_duration("P100Y"), Ok(MAX_DURATION));
        let long = format!("PT{}S", "1".repeat(100));
        assert_eq!(parse_xs_duration(&long), Err(DurationError::TooLong(103)));
    }
}
