//! The mutation engine: byte-level havoc, splicing, and structure-aware edits made on the text
//! (whole elements and attributes cut, copied and moved by their tag boundaries) plus the
//! hostile constructs XML parsers and signature verifiers have fallen to. No coverage feedback:
//! the structure and the dictionaries stand in for it.

use std::ops::Range;

use crate::rng::Rng;
use crate::scan::{self, Element};
use crate::targets::{ACS_URL, IDP_ENTITY_ID, REQUEST_ID, SP_ENTITY_ID};

/// Mutants never grow past this: a quarter over the 1 MiB parser limit, to probe the limit
/// itself without spending time on inputs that are only refused for size.
pub const MAX_LEN: usize = (1 << 20) + (1 << 18);

/// Elements looked at per mutation, at most.
const MAX_ELEMENTS: usize = 50_000;

const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// Element names that matter to SAML, XML-DSig and xmlenc.
const NAMES: &[&str] = &[
    "ds:Signature",
    "ds:SignedInfo",
    "ds:SignatureValue",
    "ds:Reference",
    "ds:Transforms",
    "ds:Transform",
    "ds:DigestMethod",
    "ds:DigestValue",
    "ds:KeyInfo",
    "ds:X509Data",
    "ds:X509Certificate",
    "ds:Object",
    "ds:CanonicalizationMethod",
    "ds:SignatureMethod",
    "ds:RetrievalMethod",
    "ec:InclusiveNamespaces",
    "Signature",
    "saml:Assertion",
    "saml:EncryptedAssertion",
    "saml:Issuer",
    "saml:Subject",
    "saml:NameID",
    "saml:EncryptedID",
    "saml:Conditions",
    "saml:AudienceRestriction",
    "saml:Audience",
    "saml:SubjectConfirmation",
    "saml:SubjectConfirmationData",
    "saml:AuthnStatement",
    "saml:AttributeStatement",
    "saml:Attribute",
    "saml:AttributeValue",
    "samlp:Response",
    "samlp:Status",
    "samlp:StatusCode",
    "samlp:StatusMessage",
    "samlp:Extensions",
    "xenc:EncryptedData",
    "xenc:EncryptedKey",
    "xenc:EncryptionMethod",
    "xenc:CipherData",
    "xenc:CipherValue",
    "xenc:OAEPparams",
    "Assertion",
    "Response",
    "a",
];

const ATTR_NAMES: &[&str] = &[
    "ID",
    "Id",
    "id",
    "xml:id",
    "URI",
    "Algorithm",
    "PrefixList",
    "Version",
    "Destination",
    "InResponseTo",
    "Recipient",
    "NotBefore",
    "NotOnOrAfter",
    "SessionNotOnOrAfter",
    "AuthnInstant",
    "IssueInstant",
    "Format",
    "SPNameQualifier",
    "Method",
    "Value",
    "Name",
    "Type",
    "xml:lang",
    "xml:space",
    "xml:base",
];

const URIS: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2000/09/xmldsig#base64",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "http://www.w3.org/TR/1999/REC-xslt-19991116",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmlenc#sha512",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
    "http://www.w3.org/2009/xmlenc11#mgf1sha256",
    "http://www.w3.org/2001/04/xmlenc#Element",
    "http://www.w3.org/2001/04/xmlenc#EncryptedKey",
    "urn:oasis:names:tc:SAML:2.0:status:Success",
    "urn:oasis:names:tc:SAML:2.0:status:Requester",
    "urn:oasis:names:tc:SAML:2.0:cm:bearer",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol",
    DSIG,
];

const VALUES: &[&str] = &[
    "",
    " ",
    "#",
    "#_",
    "#_a1",
    "#_r1",
    "#xpointer(/)",
    "#xpointer(id('_a1'))",
    "_a1",
    "_r1",
    "2.0",
    "1.0",
    "#default",
    "#default ds saml xs",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999999+00:00",
    "0000-01-01T00:00:00Z",
    "0000-01-01T00:00:00+23:59",
    "1970-01-01T00:00:00Z",
    "2030-01-01T00:00:00Z",
    "2029-12-31T23:58:00Z",
    "2030-01-01T00:03:00Z",
    "2030-02-30T00:00:00Z",
    "2030-01-01T24:00:00Z",
    "2030-01-01T00:00:60Z",
    "2030-01-01T00:00:00",
    "2030-01-01",
    "-2030-01-01T00:00:00Z",
    "+12030-01-01T00:00:00Z",
    "user@example.com",
    "&lt;&amp;&gt;&quot;&apos;",
    "&#0;",
    "&#x110000;",
    "\u{10FFFF}\u{FEFF}\u{200B}",
    "é",
    "\t\r\n",
    IDP_ENTITY_ID,
    SP_ENTITY_ID,
    ACS_URL,
    REQUEST_ID,
];

const NS_DECLS: &[&str] = &[
    " xmlns=\"\"",
    " xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
    " xmlns=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
    " xmlns=\"http://www.w3.org/2000/09/xmldsig#\"",
    " xmlns:ds=\"urn:evil\"",
    " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"",
    " xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
    " xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
    " xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
    " xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
    " xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"",
    " xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
    " xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
    " xmlns:xml=\"urn:not-xml\"",
    " xmlns:xmlns=\"urn:x\"",
    " xmlns:p=\"\"",
    " xmlns:p=\"relative\"",
    " xmlns:p=\"urn:p\"",
    " xmlns:a=\"urn:a\" xmlns:b=\"urn:a\"",
    " xml:lang=\"en\"",
    " xml:space=\"preserve\"",
    " xml:base=\"http://evil.example/\"",
    " xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"",
];

/// Tokens for byte-level insertion.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "&",
    "\"",
    "'",
    "/",
    "=",
    ":",
    "]]>",
    "-->",
    "<!--",
    "--",
    "<?",
    "?>",
    "<![CDATA[",
    "<!DOCTYPE",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#x9;",
    "&#xD;",
    "&#x10FFFF;",
    "&#xD800;",
    "&#99999999999999999999;",
    "&unknown;",
    "&#;",
    "&#x;",
    "\r",
    "\r\n",
    "\0",
    "\u{FEFF}",
    "xmlns",
    "xmlns:",
    "xml:",
    "ds:",
    "saml:",
    "#",
    "</a>",
    "<a>",
    "<a/>",
];

/// Bytes that are not UTF-8, or are but should not be.
const BAD_BYTES: &[&[u8]] = &[
    b"\xFF",
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xE2\x82",
    b"\xEF\xBB\xBF",
    b"\xEF\xBF\xBE",
    b"\x1B",
];

const CHAR_REFS: &[&str] = &[
    "&#0;",
    "&#x0;",
    "&#x1;",
    "&#xB;",
    "&#xD;",
    "&#xD800;",
    "&#xFFFE;",
    "&#x110000;",
    "&#99999999999999999999;",
    "&#-1;",
    "&#x;",
    "&unknown;",
    "&amp;amp;",
    "&",
    "&lt;!--",
    "&#60;x/&#62;",
];

const DOCTYPES: &[&str] = &[
    "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>",
    "<!DOCTYPE r SYSTEM \"file:///etc/passwd\">",
    "<!DOCTYPE r PUBLIC \"-//X//DTD X//EN\" \"http://127.0.0.1/x.dtd\">",
    "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1/p\"> %p;]>",
    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///dev/zero\">]>",
    "<!DOCTYPE r [<!ATTLIST r ID ID #IMPLIED><!ATTLIST a ID ID #IMPLIED>]>",
    "<!DOCTYPE r [<!ENTITY x \"<evil/>\">]>",
    "<!DOCTYPE r [<!ELEMENT r ANY>]>",
    "<!DOCTYPE r [",
    "<!DOCTYPE>",
    "<!doctype r>",
];

const XML_DECLS: &[&str] = &[
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
    "<?xml version=\"1.0\" encoding=\"x-unknown\"?>",
    "<?xml version=\"1.1\"?>",
    "<?xml version=\"2.0\"?>",
    "<?xml ?>",
    "<?xml?>",
    "<?XML version=\"1.0\"?>",
    "<?xml-stylesheet href=\"x.xsl\"?>",
    " <?xml version=\"1.0\"?>",
    "\u{FEFF}<?xml version=\"1.0\"?>",
    "<!-- c --><?xml version=\"1.0\"?>",
];

fn insert(data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(data.len());
    data.splice(at..at, bytes.iter().copied());
}

fn replace(data: &mut Vec<u8>, range: Range<usize>, bytes: &[u8]) {
    let end = range.end.min(data.len());
    let start = range.start.min(end);
    data.splice(start..end, bytes.iter().copied());
}

fn room(data: &[u8], max_len: usize) -> usize {
    max_len.saturating_sub(data.len())
}

/// Where an attribute can be added to `e`'s open tag.
fn attr_point(data: &[u8], e: &Element) -> usize {
    let gt = e.open_end.saturating_sub(1);
    if gt > 0 && data.get(gt - 1) == Some(&b'/') {
        gt - 1
    } else {
        gt
    }
}

/// A place inside `e`'s content (or just before/after it, for empty-element tags).
fn content_point(rng: &mut Rng, e: &Element) -> usize {
    if e.is_empty_tag() {
        if rng.one_in(2) { e.start } else { e.end }
    } else if rng.one_in(2) {
        e.open_end
    } else {
        e.close_start
    }
}

fn pick_element<'a>(rng: &mut Rng, els: &'a [Element]) -> Option<&'a Element> {
    // Small elements are more often the interesting ones (values, methods), big ones the
    // containers; take either kind about equally.
    if rng.one_in(2) {
        rng.pick(els)
    } else {
        let a = rng.pick(els)?;
        let b = rng.pick(els)?;
        Some(if a.end - a.start <= b.end - b.start {
            a
        } else {
            b
        })
    }
}

fn numbered(n: usize, limit: usize, f: impl Fn(usize) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let s = f(i);
        if out.len() + s.len() > limit {
            break;
        }
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn repeated(unit: &[u8], n: usize, limit: usize) -> Vec<u8> {
    let n = n.min(limit / unit.len().max(1));
    unit.repeat(n)
}

/// A count around one of the limits the parser enforces, or simply large.
fn limit_count(rng: &mut Rng, limits: &[usize]) -> usize {
    let base = rng.pick(limits).copied().unwrap_or(64);
    match rng.below(4) {
        0 => base,
        1 => base + 1,
        2 => base.saturating_sub(1),
        _ => base.saturating_mul(rng.range(2, 1000)),
    }
}

/// Applies between one and a handful of mutations to `data`, taking material from `other`;
/// the result is at most `max_len` bytes (see [`MAX_LEN`]).
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) {
    let rounds = 1 + rng.small(7);
    for _ in 0..rounds {
        let applied = match rng.below(100) {
            0..=29 => byte_level(rng, data, other, max_len),
            30..=64 => structural(rng, data, other, max_len),
            _ => hostile(rng, data, max_len),
        };
        if !applied {
            byte_level(rng, data, other, max_len);
        }
        data.truncate(max_len);
    }
}

fn byte_level(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) -> bool {
    let len = data.len();
    match rng.below(9) {
        0 => {
            for _ in 0..=rng.small(8) {
                let i = rng.below(len);
                if let Some(b) = data.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            let i = rng.below(len);
            if let Some(b) = data.get_mut(i) {
                *b = rng.byte();
            }
        }
        2 => {
            let n = 1 + rng.small(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            insert(data, rng.below(len + 1), &bytes);
        }
        3 => {
            let token = rng.pick(TOKENS).copied().unwrap_or("<");
            let at = rng.below(len + 1);
            if rng.one_in(3) {
                replace(data, at..at + token.len(), token.as_bytes());
            } else {
                insert(data, at, token.as_bytes());
            }
        }
        4 => {
            let bad = rng.pick(BAD_BYTES).copied().unwrap_or(b"\xFF");
            insert(data, rng.below(len + 1), bad);
        }
        5 => {
            let at = rng.below(len);
            let n = 1 + rng.small(len.saturating_sub(at).min(4096));
            replace(data, at..at + n, b"");
        }
        6 => {
            let at = rng.below(len);
            let n = 1 + rng.small(len.saturating_sub(at).min(4096));
            let chunk: Vec<u8> = data.get(at..(at + n).min(len)).unwrap_or_default().to_vec();
            let times = 1 + rng.small(64);
            let chunk = repeated(&chunk, times, room(data, max_len));
            insert(data, rng.below(len + 1), &chunk);
        }
        7 => {
            // Splice: our head with the other input's tail.
            if other.is_empty() {
                return false;
            }
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            let tail = other.get(from..).unwrap_or_default();
            let take = tail.len().min(room(data, max_len));
            data.extend_from_slice(tail.get(..take).unwrap_or_default());
        }
        _ => {
            // A chunk of the other input, inserted or overwriting.
            if other.is_empty() {
                return false;
            }
            let from = rng.below(other.len());
            let n = 1 + rng.small(other.len() - from);
            let chunk = other.get(from..from + n).unwrap_or_default().to_vec();
            let at = rng.below(len + 1);
            if rng.one_in(2) {
                replace(data, at..at + chunk.len(), &chunk);
            } else if chunk.len() <= room(data, max_len) {
                insert(data, at, &chunk);
            }
        }
    }
    true
}

fn structural(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) -> bool {
    let els = scan::elements(data, MAX_ELEMENTS);
    let Some(e) = pick_element(rng, &els).cloned() else {
        return false;
    };
    match rng.below(16) {
        // Remove an element.
        0 => replace(data, e.start..e.end, b""),
        // Duplicate an element next to itself.
        1 => {
            let copy = data.get(e.start..e.end).unwrap_or_default().to_vec();
            if copy.len() > room(data, max_len) {
                return false;
            }
            let at = if rng.one_in(2) { e.end } else { e.start };
            insert(data, at, &copy);
        }
        // Move an element into or next to another.
        2 => {
            let Some(dest) = pick_element(rng, &els).cloned() else {
                return false;
            };
            let copy = data.get(e.start..e.end).unwrap_or_default().to_vec();
            let at = content_point(rng, &dest);
            if (e.start..e.end).contains(&at) {
                return false;
            }
            replace(data, e.start..e.end, b"");
            let at = if at >= e.end { at - copy.len() } else { at };
            insert(data, at, &copy);
        }
        // Copy an element into another (XSW-style wrapping and shadowing).
        3 => {
            let Some(dest) = pick_element(rng, &els).cloned() else {
                return false;
            };
            let copy = data.get(e.start..e.end).unwrap_or_default().to_vec();
            if copy.len() > room(data, max_len) {
                return false;
            }
            let at = content_point(rng, &dest);
            insert(data, at, &copy);
        }
        // Replace an element with one from the other input, or insert one.
        4 | 5 => {
            let theirs = scan::elements(other, MAX_ELEMENTS);
            let Some(t) = pick_element(rng, &theirs) else {
                return false;
            };
            let copy = other.get(t.start..t.end).unwrap_or_default();
            if copy.len() > room(data, max_len) + (e.end - e.start) {
                return false;
            }
            if rng.one_in(2) {
                replace(data, e.start..e.end, copy);
            } else {
                let at = content_point(rng, &e);
                insert(data, at, copy);
            }
        }
        // Wrap an element in a new parent.
        6 => {
            let name = rng.pick(NAMES).copied().unwrap_or("a");
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            insert(data, e.end, close.as_bytes());
            insert(data, e.start, open.as_bytes());
        }
        // Unwrap: the element's content takes its place.
        7 => {
            if e.is_empty_tag() {
                return false;
            }
            let inner = data
                .get(e.open_end..e.close_start)
                .unwrap_or_default()
                .to_vec();
            replace(data, e.start..e.end, &inner);
        }
        // Rename an element (open and close tag alike).
        8 => {
            let name = rng.pick(NAMES).copied().unwrap_or("a");
            let name = match rng.below(4) {
                0 => scan::local(name.as_bytes()).to_vec(),
                1 => {
                    let p = rng.pick(&["p:", "ns0:", "xml:", "xmlns:", ":"]).copied();
                    [p.unwrap_or("").as_bytes(), scan::local(name.as_bytes())].concat()
                }
                _ => name.as_bytes().to_vec(),
            };
            if !e.is_empty_tag() {
                replace(
                    data,
                    e.close_start + 2..e.close_start + 2 + e.name.len(),
                    &name,
                );
            }
            replace(data, e.name.clone(), &name);
        }
        // Empty an element, or give it text.
        9 => {
            if e.is_empty_tag() {
                return false;
            }
            let text = rng.pick(VALUES).copied().unwrap_or("");
            replace(data, e.open_end..e.close_start, text.as_bytes());
        }
        // Attributes: remove, duplicate, move, change the value, add one.
        _ => return attribute_edit(rng, data, &els, &e),
    }
    true
}

fn attribute_edit(rng: &mut Rng, data: &mut Vec<u8>, els: &[Element], e: &Element) -> bool {
    let attrs = scan::attributes(data, e);
    let chosen = rng.pick(&attrs).cloned();
    match (rng.below(6), chosen) {
        (0, Some(a)) => {
            // Remove, with the whitespace before it.
            let mut start = a.span.start;
            while start > e.name.end && data.get(start - 1).is_some_and(u8::is_ascii_whitespace) {
                start -= 1;
            }
            replace(data, start..a.span.end, b"");
        }
        (1, Some(a)) => {
            // Duplicate in place (a duplicate attribute), perhaps with another value.
            let mut copy = b" ".to_vec();
            copy.extend_from_slice(data.get(a.name.clone()).unwrap_or_default());
            copy.extend_from_slice(b"=\"");
            if rng.one_in(2) {
                copy.extend_from_slice(data.get(a.value.clone()).unwrap_or_default());
            } else {
                copy.extend_from_slice(rng.pick(VALUES).copied().unwrap_or("").as_bytes());
            }
            copy.push(b'"');
            insert(data, a.span.end, &copy);
        }
        (2, Some(a)) => {
            // Move to (or copy onto) another element.
            let Some(dest) = pick_element(rng, els).cloned() else {
                return false;
            };
            let mut copy = b" ".to_vec();
            copy.extend_from_slice(data.get(a.span.clone()).unwrap_or_default());
            let at = attr_point(data, &dest);
            let moving = rng.one_in(2);
            if moving && at >= a.span.start && at < a.span.end {
                return false;
            }
            insert(data, at, &copy);
            if moving {
                let shift = if at <= a.span.start { copy.len() } else { 0 };
                replace(data, a.span.start + shift..a.span.end + shift, b"");
            }
        }
        (3, Some(a)) => {
            let value: Vec<u8> = match rng.below(4) {
                0 => rng.pick(URIS).copied().unwrap_or("").as_bytes().to_vec(),
                1 => {
                    // Another attribute's value from anywhere in the document (IDs, URIs).
                    let other = pick_element(rng, els)
                        .map(|o| scan::attributes(data, o))
                        .and_then(|oa| rng.pick(&oa).cloned());
                    match other {
                        Some(o) => {
                            let mut v = data.get(o.value).unwrap_or_default().to_vec();
                            if rng.one_in(2) {
                                v.insert(0, b'#');
                            }
                            v
                        }
                        None => return false,
                    }
                }
                _ => rng.pick(VALUES).copied().unwrap_or("").as_bytes().to_vec(),
            };
            replace(data, a.value, &value);
        }
        _ => {
            let name = rng.pick(ATTR_NAMES).copied().unwrap_or("ID");
            let value = if rng.one_in(2) {
                rng.pick(VALUES).copied().unwrap_or("")
            } else {
                rng.pick(URIS).copied().unwrap_or("")
            };
            let attr = format!(" {name}=\"{value}\"");
            let at = attr_point(data, e);
            insert(data, at, attr.as_bytes());
        }
    }
    true
}

fn hostile(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let els = scan::elements(data, MAX_ELEMENTS);
    let e = pick_element(rng, &els).cloned();
    let room = room(data, max_len);
    match (rng.below(15), e) {
        (0, _) => return doctype(rng, data),
        (1, Some(e)) => return deep_nesting(rng, data, &e, room),
        (2, Some(e)) => {
            // Many attributes on one element: distinct, namespaced, or one name repeated.
            let n = limit_count(rng, &[64, 65, 1000]);
            let attrs = match rng.below(3) {
                0 => numbered(n, room, |i| format!(" a{i}=\"{i}\"")),
                1 => numbered(n, room, |i| format!(" xmlns:n{i}=\"urn:n\" n{i}:a=\"{i}\"")),
                _ => repeated(b" a=\"1\"", n, room),
            };
            let at = attr_point(data, &e);
            insert(data, at, &attrs);
        }
        (3, Some(e)) => {
            // Many namespace bindings in scope.
            let n = limit_count(rng, &[127, 128, 129, 3000]);
            let decls = if rng.one_in(2) {
                numbered(n, room, |i| format!(" xmlns:n{i}=\"urn:n{i}\""))
            } else {
                // The same prefixes bound to other URIs at every level below.
                numbered(n, room, |i| format!(" xmlns:n{}=\"urn:m{i}\"", i % 8))
            };
            let at = attr_point(data, &e);
            insert(data, at, &decls);
        }
        (4, _) => return markup_in_text(rng, data),
        (5, _) => return cdata(rng, data),
        (6, Some(e)) => {
            let decl = rng.pick(NS_DECLS).copied().unwrap_or(" xmlns=\"\"");
            let at = attr_point(data, &e);
            insert(data, at, decl.as_bytes());
        }
        (7, Some(e)) => return duplicate_id(rng, data, &els, &e),
        (8, Some(e)) => return extra_signature(rng, data, &els, &e, max_len),
        (9, Some(e)) => return long_values(rng, data, &e, room),
        (10, Some(e)) => {
            // Flood: many copies of one (small) element, up to the node limit and past it.
            let unit = data.get(e.start..e.end).unwrap_or_default().to_vec();
            if unit.is_empty() {
                return false;
            }
            let n = limit_count(rng, &[100, 5000, 100_000]);
            let copies = repeated(&unit, n, room);
            insert(data, e.end, &copies);
        }
        (11, Some(e)) => return namespace_amplification(rng, data, &e, room),
        (12, _) => {
            let r = rng.pick(CHAR_REFS).copied().unwrap_or("&#0;");
            let at = match rng.pick(&scan::text_runs(data, 256)).cloned() {
                Some(run) if rng.one_in(2) => rng.range(run.start, run.end),
                _ => rng.below(data.len() + 1),
            };
            insert(data, at, r.as_bytes());
        }
        (13, _) => return xml_declaration(rng, data),
        (_, _) => return around_root(rng, data),
    }
    true
}

/// A DOCTYPE (external, internal subset, entities), with an entity reference in a text when it
/// declares entities.
fn doctype(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let dt = rng.pick(DOCTYPES).copied().unwrap_or("<!DOCTYPE r>");
    let at = if data.starts_with(b"<?xml") {
        data.windows(2)
            .position(|w| w == b"?>")
            .map_or(0, |p| p + 2)
    } else if rng.one_in(4) {
        rng.below(data.len() + 1)
    } else {
        0
    };
    insert(data, at, dt.as_bytes());
    if dt.contains("ENTITY") {
        if let Some(r) = rng.pick(&scan::text_runs(data, 64)).cloned() {
            let name = rng.pick(&["&a;", "&d;", "&x;", "&p;"]).copied();
            insert(data, r.start, name.unwrap_or("&a;").as_bytes());
        }
    }
    true
}

/// Deep nesting, plain or with a namespace declaration at every level.
fn deep_nesting(rng: &mut Rng, data: &mut Vec<u8>, e: &Element, room: usize) -> bool {
    let n = limit_count(rng, &[64, 65, 128, 100_000]);
    let (open, close): (&[u8], &[u8]) = match rng.below(3) {
        0 => (b"<d>", b"</d>"),
        1 => (b"<p:d xmlns:p=\"urn:p\">", b"</p:d>"),
        _ => (
            b"<ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"x\">",
            b"</ds:Object>",
        ),
    };
    let n = n.min(room / (open.len() + close.len()));
    let mut nest = open.repeat(n);
    nest.extend_from_slice(&close.repeat(n));
    let at = content_point(rng, e);
    insert(data, at, &nest);
    true
}

/// A comment, PI or empty CDATA inside a text value (NameID truncation attacks).
fn markup_in_text(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let Some(r) = rng.pick(&scan::text_runs(data, 256)).cloned() else {
        return false;
    };
    let piece = rng
        .pick(&[
            "<!---->",
            "<!-- c -->",
            "<?pi x?>",
            "<![CDATA[]]>",
            "<x/>",
            "<!--<a>-->",
        ])
        .copied()
        .unwrap_or("<!---->");
    insert(data, rng.range(r.start, r.end), piece.as_bytes());
    true
}

/// CDATA sections around, inside or half-open in a text value.
fn cdata(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let runs = scan::text_runs(data, 256);
    let Some(r) = rng.pick(&runs).cloned() else {
        return false;
    };
    match rng.below(3) {
        0 => {
            insert(data, r.end, b"]]>");
            insert(data, r.start, b"<![CDATA[");
        }
        1 => insert(data, rng.range(r.start, r.end), b"]]>"),
        _ => insert(data, rng.range(r.start, r.end), b"<![CDATA[<a>&amp;</a>"),
    }
    true
}

/// Long names and values around the length limits.
fn long_values(rng: &mut Rng, data: &mut Vec<u8>, e: &Element, room: usize) -> bool {
    let len = limit_count(rng, &[256, 4096, 512 << 10]).min(room.saturating_sub(64));
    let filler = match rng.below(3) {
        0 => repeated(b"a", len, len),
        1 => repeated(b"&amp;", len / 5, len),
        _ => repeated(b"\t\"\r", len / 3, len),
    };
    let filler = if rng.one_in(3) {
        filler
            .iter()
            .map(|b| if *b == b'"' { b'x' } else { *b })
            .collect()
    } else {
        filler
    };
    match rng.below(5) {
        0 => {
            let mut a = b" ".to_vec();
            a.extend_from_slice(&repeated(b"n", len.min(4096), len));
            a.extend_from_slice(b"=\"v\"");
            insert(data, attr_point(data, e), &a);
        }
        1 => {
            let attrs = scan::attributes(data, e);
            let Some(a) = rng.pick(&attrs) else {
                return false;
            };
            let v: Vec<u8> = filler
                .iter()
                .map(|b| if *b == b'"' || *b == b'\'' { b'q' } else { *b })
                .collect();
            replace(data, a.value.clone(), &v);
        }
        2 => {
            let mut c = b"<!--".to_vec();
            c.extend_from_slice(&repeated(b"c", len, len));
            c.extend_from_slice(b"-->");
            insert(data, content_point(rng, e), &c);
        }
        3 => {
            let name = repeated(b"n", len.min(4096), len);
            let mut t = b"<".to_vec();
            t.extend_from_slice(&name);
            t.extend_from_slice(b"/>");
            insert(data, content_point(rng, e), &t);
        }
        _ => {
            let text: Vec<u8> = filler
                .iter()
                .map(|b| if *b == b'"' { b'q' } else { *b })
                .collect();
            insert(data, content_point(rng, e), &text);
        }
    }
    true
}

/// Namespace amplification: one long namespace URI, declared on an element that does not use it,
/// and many children that do. Exclusive c14n renders it on each child.
fn namespace_amplification(rng: &mut Rng, data: &mut Vec<u8>, e: &Element, room: usize) -> bool {
    if e.is_empty_tag() {
        return false;
    }
    let uri_len = rng
        .pick(&[100usize, 4096, 65_536, 400_000])
        .copied()
        .unwrap_or(100);
    let uri_len = uri_len.min(room / 2);
    let mut decl = b" xmlns:zq=\"urn:".to_vec();
    decl.extend_from_slice(&repeated(b"u", uri_len, uri_len));
    decl.push(b'"');
    let n = rng.pick(&[10usize, 1000, 100_000]).copied().unwrap_or(10);
    let kids = if rng.one_in(2) {
        repeated(b"<zq:e/>", n, room.saturating_sub(decl.len()))
    } else {
        repeated(b"<e zq:a=\"\"/>", n, room.saturating_sub(decl.len()))
    };
    insert(data, e.open_end, &kids);
    insert(data, attr_point(data, e), &decl);
    true
}

/// An XML declaration replaced or added (encodings, versions, standalone).
fn xml_declaration(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let decl = rng.pick(XML_DECLS).copied().unwrap_or("<?xml?>");
    if data.starts_with(b"<?xml") && rng.one_in(2) {
        let end = data
            .windows(2)
            .position(|w| w == b"?>")
            .map_or(0, |p| p + 2);
        replace(data, 0..end, decl.as_bytes());
    } else {
        insert(data, 0, decl.as_bytes());
    }
    true
}

/// Around the root: a second root, text or markup after it, junk before it.
fn around_root(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let piece: &[u8] = rng
        .pick(&[
            &b"<second/>"[..],
            b"text",
            b"<!-- after -->",
            b"<?pi after?>",
            b"\xEF\xBB\xBF",
            b"   \n",
            b"]]>",
            b"</r>",
        ])
        .copied()
        .unwrap_or(b"");
    let at = if rng.one_in(2) { data.len() } else { 0 };
    insert(data, at, piece);
    true
}

const ID_NAMES: &[&str] = &["ID", "Id", "id", "xml:id", "wsu:Id"];

fn duplicate_id(rng: &mut Rng, data: &mut Vec<u8>, els: &[Element], dest: &Element) -> bool {
    // An ID value that some element carries, given to another element too.
    let mut values: Vec<Vec<u8>> = Vec::new();
    for e in els.iter().take(2000) {
        for a in scan::attributes(data, e) {
            let name = data.get(a.name.clone()).unwrap_or_default();
            if matches!(scan::local(name), b"ID" | b"Id" | b"id") {
                values.push(data.get(a.value).unwrap_or_default().to_vec());
            }
        }
    }
    let Some(value) = rng.pick(&values).cloned() else {
        return false;
    };
    let name = rng.pick(ID_NAMES).copied().unwrap_or("ID");
    let mut attr = format!(" {name}=\"").into_bytes();
    attr.extend_from_slice(&value);
    attr.push(b'"');
    if name == "wsu:Id" {
        attr.extend_from_slice(format!(" xmlns:wsu=\"{WSU}\"").as_bytes());
    }
    insert(data, attr_point(data, dest), &attr);
    true
}

fn extra_signature(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    els: &[Element],
    dest: &Element,
    max_len: usize,
) -> bool {
    let signatures: Vec<&Element> = els
        .iter()
        .filter(|e| scan::local(data.get(e.name.clone()).unwrap_or_default()) == b"Signature")
        .collect();
    let copy = match rng.pick(&signatures) {
        Some(s) if rng.below(4) != 0 => data.get(s.start..s.end).unwrap_or_default().to_vec(),
        _ => {
            let id = rng.pick(&["_r1", "_a1", "", "x"]).copied().unwrap_or("");
            format!(
                "<ds:Signature xmlns:ds=\"{DSIG}\"><ds:SignedInfo>\
                 <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
                 <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
                 <ds:Reference URI=\"#{id}\"><ds:Transforms>\
                 <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
                 <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
                 <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
                 <ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue>\
                 </ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue>\
                 </ds:Signature>"
            )
            .into_bytes()
        }
    };
    if copy.len() > room(data, max_len) {
        return false;
    }
    insert(data, content_point(rng, dest), &copy);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bounded() {
        let seed =
            br#"<r xmlns:a="urn:a" ID="_r1"><a:x ID="_a1" y='2'>hi<!-- c --></a:x><b/>text</r>"#;
        let run = |s: u64| {
            let mut rng = Rng::new(s);
            let mut outs = Vec::new();
            for _ in 0..300 {
                let mut d = seed.to_vec();
                mutate(&mut rng, &mut d, seed, MAX_LEN);
                assert!(d.len() <= MAX_LEN);
                outs.push(d);
            }
            outs
        };
        let a = run(11);
        assert_eq!(a, run(11));
        assert_ne!(a, run(12));
        // Mutations do change things, and not always the same way.
        assert!(a.iter().filter(|d| d.as_slice() != seed).count() > 250);
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 200);
    }

    #[test]
    fn survives_empty_and_garbage_input() {
        let mut rng = Rng::new(5);
        for seed in [&b""[..], b"<", b"\xFF\xFE", b"<a", b"<a></b>"] {
            for _ in 0..200 {
                let mut d = seed.to_vec();
                mutate(&mut rng, &mut d, b"", 4096);
                assert!(d.len() <= 4096);
            }
        }
    }
}
