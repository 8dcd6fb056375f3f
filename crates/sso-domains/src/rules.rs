//! Which domains an organization may hold at all: not a public suffix (the Public Suffix
//! List, compiled into the `psl` crate, so no network), and not a free-mail domain (the list
//! in `free_mail.txt`, compiled in).

use crate::error::DomainRefusal;

/// The free-mail list as shipped: see the comment at its top for the format.
const FREE_MAIL_LIST: &str = include_str!("free_mail.txt");

/// One entry of the free-mail list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry<'a> {
    /// `gmail.com`: the domain and every name under it.
    Domain(&'a str),
    /// `gmx.*`: `gmx` registered under any ICANN public suffix, and every name under those.
    UnderAnySuffix(&'a str),
}

impl Entry<'_> {
    /// Whether `domain`, whose registrable domain is `registrable` under an ICANN suffix
    /// (`icann`), falls under this entry.
    fn covers(&self, domain: &str, registrable: &str, icann: bool) -> bool {
        match *self {
            Self::Domain(entry) => is_at_or_under(domain, entry),
            Self::UnderAnySuffix(name) => {
                icann && registrable.split('.').next().is_some_and(|l| l == name)
            }
        }
    }
}

/// The entries of the free-mail list: comments and blank lines skipped.
fn entries() -> impl Iterator<Item = (&'static str, Entry<'static>)> {
    FREE_MAIL_LIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let entry = match line.strip_suffix(".*") {
                Some(name) => Entry::UnderAnySuffix(name),
                None => Entry::Domain(line),
            };
            (line, entry)
        })
}

/// `domain` is `parent` or a name under it.
fn is_at_or_under(domain: &str, parent: &str) -> bool {
    domain == parent
        || domain
            .strip_suffix(parent)
            .is_some_and(|head| head.ends_with('.'))
}

/// The form the rules compare: trimmed, without a trailing dot, ASCII lower case. Callers
/// should pass the ASCII (punycode) form, as `sso_email::Email::domain()` gives it.
fn canonical(domain: &str) -> String {
    let trimmed = domain.trim();
    trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .to_ascii_lowercase()
}

/// Whether `domain` may become an organization's verified domain at all: refused when it is a
/// public suffix (`com`, `co.uk`, `github.io`, and a single label, which the list's default
/// rule treats as a top-level domain) or a free-mail domain or a name under one (`gmail.com`,
/// `mail.yahoo.co.jp`). Every other domain still needs its proof.
///
/// ```
/// use sso_domains::check_claimable;
///
/// assert!(check_claimable("bigcorp.com").is_ok());
/// assert!(check_claimable("eng.bigcorp.co.uk").is_ok());
/// assert_eq!(check_claimable("co.uk").unwrap_err().reason(), "domain-public-suffix");
/// assert_eq!(check_claimable("github.io").unwrap_err().reason(), "domain-public-suffix");
/// assert_eq!(check_claimable("gmail.com").unwrap_err().reason(), "domain-free-mail");
/// assert_eq!(check_claimable("gmx.de").unwrap_err().reason(), "domain-free-mail");
/// ```
pub fn check_claimable(domain: &str) -> Result<(), DomainRefusal> {
    let domain = canonical(domain);
    let Some(registrable) = psl::domain(domain.as_bytes()) else {
        return Err(DomainRefusal::PublicSuffix { domain });
    };
    let icann = registrable.suffix().typ() == Some(psl::Type::Icann);
    let registrable = std::str::from_utf8(registrable.as_bytes()).unwrap_or_default();
    if let Some((entry, _)) = entries().find(|(_, e)| e.covers(&domain, registrable, icann)) {
        return Err(DomainRefusal::FreeMail {
            domain,
            entry: entry.to_owned(),
        });
    }
    Ok(())
}

/// Whether `domain` is a free-mail domain or a name under one (see [`check_claimable`]).
pub fn is_free_mail(domain: &str) -> bool {
    matches!(check_claimable(domain), Err(DomainRefusal::FreeMail { .. }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn reason(domain: &str) -> &'static str {
        match check_claimable(domain) {
            Ok(()) => "ok",
            Err(e) => e.reason(),
        }
    }

    #[test]
    fn public_suffixes_are_refused_and_names_under_them_are_not() {
        let cases = [
            ("com", "domain-public-suffix"),
            ("co.uk", "domain-public-suffix"),
            ("github.io", "domain-public-suffix"),
            ("blogspot.com", "domain-public-suffix"),
            ("s3.amazonaws.com", "domain-public-suffix"),
            // A single label is a top-level domain by the list's default rule.
            ("example", "domain-public-suffix"),
            ("localhost", "domain-public-suffix"),
            ("", "domain-public-suffix"),
            ("bigcorp.com", "ok"),
            ("BigCorp.COM.", "ok"),
            ("bigcorp.co.uk", "ok"),
            ("eng.bigcorp.com", "ok"),
            ("someone.github.io", "ok"),
            // Top-level domains outside the list (tests use `.example`) follow the default
            // rule: the name under them is registrable.
            ("acme.example", "ok"),
            ("xn--bcher-kva.example", "ok"),
        ];
        for (domain, expected) in cases {
            assert_eq!(reason(domain), expected, "{domain:?}");
        }
    }

    #[test]
    fn free_mail_domains_and_names_under_them_are_refused() {
        for domain in [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "hotmail.com",
            "hotmail.co.uk",
            "live.com",
            "yahoo.com",
            "yahoo.co.jp",
            "mail.yahoo.co.jp",
            "icloud.com",
            "me.com",
            "aol.com",
            "proton.me",
            "protonmail.com",
            "gmx.de",
            "gmx.net",
            "gmx.co.uk",
            "mail.ru",
            "yandex.ru",
            "yandex.com.tr",
            "qq.com",
            "163.com",
            "GMAIL.COM",
            "mx.gmail.com",
        ] {
            assert_eq!(reason(domain), "domain-free-mail", "{domain}");
            assert!(is_free_mail(domain), "{domain}");
        }
        // Names that merely look alike are not.
        for domain in [
            "notgmail.com",
            "gmail.com.bigcorp.com",
            "gmxfoo.de",
            "mygmx.de",
            "me.com.example",
            "bigcorp.com",
        ] {
            assert_eq!(reason(domain), "ok", "{domain}");
            assert!(!is_free_mail(domain), "{domain}");
        }
        // `name.*` needs an ICANN suffix: a page under a private suffix is not the provider.
        assert_eq!(reason("gmx.github.io"), "ok");
    }

    #[test]
    fn the_free_mail_list_is_well_formed() {
        let mut count = 0;
        for (line, entry) in entries() {
            count += 1;
            let name = match entry {
                Entry::Domain(d) => d,
                Entry::UnderAnySuffix(n) => n,
            };
            assert_eq!(line, line.to_ascii_lowercase(), "{line}: lower case");
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
                "{line}: letters, digits, '.', '-' only"
            );
            if let Entry::Domain(d) = entry {
                // A listed domain is itself claimable but for this list: not a suffix.
                assert!(
                    psl::domain(d.as_bytes()).is_some(),
                    "{line}: a public suffix"
                );
            }
        }
        assert!(count > 50, "read only {count} entries");
    }

    #[test]
    fn the_refusal_names_the_entry() {
        let refusal = check_claimable("mail.gmx.net").unwrap_err();
        assert_eq!(
            refusal,
            DomainRefusal::FreeMail {
                domain: "mail.gmx.net".into(),
                entry: "gmx.*".into(),
            }
        );
        assert!(refusal.to_string().contains("gmx.*"), "{refusal}");
    }
}
