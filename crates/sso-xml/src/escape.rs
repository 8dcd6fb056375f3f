//! The one owner of XML and HTML escaping: what canonicalization writes, what the signer
//! writes around a signature, and what HTML pages and forms show.
//!
//! Three forms, each a fixed table of ASCII characters and their replacements; every other
//! character, multi-byte UTF-8 included, is written as it is.
//!
//! | form | `&` | `<` | `>` | `"` | `'` | tab | LF | CR |
//! |---|---|---|---|---|---|---|---|---|
//! | [`xml_text`] | `&amp;` | `&lt;` | `&gt;` | | | | | `&#xD;` |
//! | [`xml_attribute`] | `&amp;` | `&lt;` | | `&quot;` | | `&#x9;` | `&#xA;` | `&#xD;` |
//! | [`html`] | `&amp;` | `&lt;` | `&gt;` | `&quot;` | `&#39;` | | | |
//!
//! The two XML forms are Canonical XML 1.0's rules for text nodes and attribute values
//! (section 5.2, shared by exclusive c14n): canonical output must match every other
//! implementation byte for byte, so they may never change. They also serialize a document
//! without changing what a parser reads back: a literal CR would become LF by end-of-line
//! handling, a literal tab or newline in an attribute would become a space by attribute-value
//! normalization, and `>` in text keeps `]]>` out. Attribute values are always written between
//! double quotes, so `'` needs no escape there.
//!
//! The HTML form is for text and attribute values of pages and auto-submitting forms. A value
//! may sit in an attribute quoted either way, so `'` is escaped too, as `&#39;` (which every
//! HTML parser knows; `&apos;` is not HTML 4).
//!
//! ```
//! use sso_xml::escape;
//!
//! assert_eq!(escape::xml_text("a<b>&\r\n'").to_string(), "a&lt;b&gt;&amp;&#xD;\n'");
//! assert_eq!(escape::xml_attribute("\"x\"\t>").to_string(), "&quot;x&quot;&#x9;>");
//! assert_eq!(escape::html("<a href='x'>").to_string(), "&lt;a href=&#39;x&#39;&gt;");
//! ```

use std::fmt;

/// Text content under Canonical XML 1.0's rules (see the [module](self) table).
pub fn xml_text(s: &str) -> Escaped<'_> {
    Escaped {
        s,
        form: Form::XmlText,
    }
}

/// A double-quoted attribute value under Canonical XML 1.0's rules (see the [module](self)
/// table).
pub fn xml_attribute(s: &str) -> Escaped<'_> {
    Escaped {
        s,
        form: Form::XmlAttribute,
    }
}

/// HTML text or an attribute value quoted either way (see the [module](self) table).
pub fn html(s: &str) -> Escaped<'_> {
    Escaped {
        s,
        form: Form::Html,
    }
}

/// A string and the form to escape it in; written by [`Display`](fmt::Display) or appended to
/// a buffer, never allocating on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a> {
    s: &'a str,
    form: Form,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    XmlText,
    XmlAttribute,
    Html,
}

impl Escaped<'_> {
    /// Appends the escaped string to `out`.
    pub fn push_to(self, out: &mut String) {
        self.each_piece(|piece| out.push_str(piece));
    }

    /// Appends the escaped string to `out` as UTF-8 bytes.
    pub fn extend_bytes(self, out: &mut Vec<u8>) {
        self.each_piece(|piece| out.extend_from_slice(piece.as_bytes()));
    }

    /// Calls `put` with runs of unchanged input and replacements, in order. The table is chosen
    /// once, outside the loop, so each form's loop is as tight as a hand-written one.
    #[inline]
    fn each_piece(self, put: impl FnMut(&str)) {
        match self.form {
            Form::XmlText => split(self.s, XML_TEXT_SPECIAL, xml_text_replacement, put),
            Form::XmlAttribute => split(
                self.s,
                XML_ATTRIBUTE_SPECIAL,
                xml_attribute_replacement,
                put,
            ),
            Form::Html => split(self.s, HTML_SPECIAL, html_replacement, put),
        }
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut result = Ok(());
        self.each_piece(|piece| {
            if result.is_ok() {
                result = f.write_str(piece);
            }
        });
        result
    }
}

/// The bytes each form replaces (what its replacement function answers for), so that a block
/// of input can be tested for all of them at once.
const XML_TEXT_SPECIAL: [u8; 4] = [b'&', b'<', b'>', b'\r'];
const XML_ATTRIBUTE_SPECIAL: [u8; 6] = [b'&', b'<', b'"', b'\t', b'\n', b'\r'];
const HTML_SPECIAL: [u8; 5] = [b'&', b'<', b'>', b'"', b'\''];

/// Canonical XML 1.0, 5.2, text nodes.
fn xml_text_replacement(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    }
}

/// Canonical XML 1.0, 5.2, attribute nodes.
fn xml_attribute_replacement(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    }
}

fn html_replacement(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&#39;"),
        _ => None,
    }
}

/// Bytes checked at once for anything to replace: most text (base64, identifiers, URLs) has
/// nothing to escape, and a block is tested without a branch per byte.
const BLOCK: usize = 32;

/// Every escaped character is ASCII, so each split point is a character boundary and every
/// run is a valid `&str` (bytes of a multi-byte character are all 0x80 or above).
#[inline]
fn split<const N: usize>(
    s: &str,
    special: [u8; N],
    replacement: impl Fn(u8) -> Option<&'static str>,
    mut put: impl FnMut(&str),
) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if let Some(block) = bytes.get(i..i + BLOCK) {
            // Comparisons without a branch, which the compiler does 16 or 32 bytes at a time.
            let found = block.iter().fold(0u8, |found, &b| {
                special
                    .iter()
                    .fold(found, |found, &c| found | u8::from(b == c))
            });
            if found == 0 {
                i += BLOCK;
                continue;
            }
        }
        if let Some(rep) = replacement(b) {
            put(s.get(start..i).unwrap_or_default());
            put(rep);
            start = i + 1;
        }
        i += 1;
    }
    put(s.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ASCII character, so a change to any table shows here.
    fn all_ascii() -> String {
        (0u8..128).map(char::from).collect()
    }

    fn changed(escaped: &str, original: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in original.chars() {
            let plain = c.to_string();
            let one = match escaped {
                "text" => xml_text(&plain).to_string(),
                "attribute" => xml_attribute(&plain).to_string(),
                _ => html(&plain).to_string(),
            };
            if one != plain {
                out.push(format!("{c:?}->{one}"));
            }
        }
        out
    }

    #[test]
    fn each_form_escapes_exactly_its_table() {
        let ascii = all_ascii();
        assert_eq!(
            changed("text", &ascii),
            ["'\\r'->&#xD;", "'&'->&amp;", "'<'->&lt;", "'>'->&gt;"]
        );
        assert_eq!(
            changed("attribute", &ascii),
            [
                "'\\t'->&#x9;",
                "'\\n'->&#xA;",
                "'\\r'->&#xD;",
                "'\"'->&quot;",
                "'&'->&amp;",
                "'<'->&lt;"
            ]
        );
        assert_eq!(
            changed("html", &ascii),
            [
                "'\"'->&quot;",
                "'&'->&amp;",
                "'\\''->&#39;",
                "'<'->&lt;",
                "'>'->&gt;"
            ]
        );
    }

    #[test]
    fn multibyte_text_passes_through_between_replacements() {
        let s = "é<ü>&😀\"'\r";
        assert_eq!(xml_text(s).to_string(), "é&lt;ü&gt;&amp;😀\"'&#xD;");
        assert_eq!(xml_attribute(s).to_string(), "é&lt;ü>&amp;😀&quot;'&#xD;");
        assert_eq!(html(s).to_string(), "é&lt;ü&gt;&amp;😀&quot;&#39;\r");
        assert_eq!(html("").to_string(), "");
        assert_eq!(html("plain").to_string(), "plain");
    }

    #[test]
    fn every_writer_writes_the_same() {
        let s = "a<b c=\"d\">'e'&\t\n\r</b>ü";
        for e in [xml_text(s), xml_attribute(s), html(s)] {
            let mut string = String::from("x");
            e.push_to(&mut string);
            let mut bytes = b"x".to_vec();
            e.extend_bytes(&mut bytes);
            assert_eq!(string.as_bytes(), bytes);
            assert_eq!(string, format!("x{e}"));
        }
    }

    #[test]
    fn the_block_test_knows_every_replaced_byte() {
        for b in 0..=u8::MAX {
            assert_eq!(
                XML_TEXT_SPECIAL.contains(&b),
                xml_text_replacement(b).is_some()
            );
            assert_eq!(
                XML_ATTRIBUTE_SPECIAL.contains(&b),
                xml_attribute_replacement(b).is_some()
            );
            assert_eq!(HTML_SPECIAL.contains(&b), html_replacement(b).is_some());
        }
    }

    #[test]
    fn replacements_are_found_wherever_they_stand_in_a_block() {
        // Every position around and across the blocks checked at once, by each form, against
        // escaping one character at a time.
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 3] {
            for at in 0..len {
                for special in ['&', '<', '>', '"', '\'', '\t', '\n', '\r', 'é'] {
                    let mut s: String = "x".repeat(len);
                    s.replace_range(at..=at, &special.to_string());
                    for form in ["text", "attribute", "html"] {
                        let whole = match form {
                            "text" => xml_text(&s).to_string(),
                            "attribute" => xml_attribute(&s).to_string(),
                            _ => html(&s).to_string(),
                        };
                        let one_by_one: String = s
                            .chars()
                            .map(|c| {
                                let c = c.to_string();
                                match form {
                                    "text" => xml_text(&c).to_string(),
                                    "attribute" => xml_attribute(&c).to_string(),
                                    _ => html(&c).to_string(),
                                }
                            })
                            .collect();
                        assert_eq!(whole, one_by_one, "{form} {s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn html_escapes_what_a_page_or_form_shows() {
        // The cases the HTTP page and the HTTP-POST form tested with their own escapers.
        assert_eq!(
            html("<a href=\"x\">&'").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
