//! The known attacks on XML signatures, applied to a SAML response signed in the test: each
//! mutated document must be refused with the right reason when the attacker's element is
//! verified, and no element carrying attacker content may ever verify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::sync::OnceLock;

use base64::Engine as _;
use common::*;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Signer as OsslSigner;
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Node};
use sso_xmldsig::{
    AlgorithmPolicy, DSIG_NS, Signer, SigningKey, TrustedKey, TrustedKeys, Verifier,
};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const EVIL: &str = "mallory@evil.test";

struct Fixture {
    idp: TestKey,
    attacker: TestKey,
    /// The response with its assertion signed.
    assertion_signed: String,
    /// The response with the response signed.
    response_signed: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let idp = TestKey::rsa(2048);
        let attacker = TestKey::rsa(2048);
        let xml = sample_response(4 * 1024);
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let assertion = first(&doc, ASSERTION, "Assertion");
        let assertion_signed =
            String::from_utf8(Signer::new(idp.signing_key()).sign(assertion).unwrap()).unwrap();
        let response_signed = String::from_utf8(
            Signer::new(idp.signing_key())
                .sign(doc.root_element())
                .unwrap(),
        )
        .unwrap();
        Fixture {
            idp,
            attacker,
            assertion_signed,
            response_signed,
        }
    })
}

fn first<'d>(doc: &'d Document, ns: &str, local: &str) -> Node<'d> {
    doc.elements().find(|e| e.is(ns, local)).unwrap()
}

/// The byte range of the first `<open ...>...</close>` element at or after `from`.
fn span(s: &str, open: &str, close: &str, from: usize) -> (usize, usize) {
    let start = from
        + s[from..]
            .find(open)
            .unwrap_or_else(|| panic!("{open} not found"));
    let end = start + s[start..].find(close).unwrap() + close.len();
    (start, end)
}

fn part<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let (a, b) = span(s, open, close, 0);
    &s[a..b]
}

fn signature_of(s: &str) -> &str {
    part(s, "<ds:Signature", "</ds:Signature>")
}

fn without_signature(s: &str) -> String {
    s.replacen(signature_of(s), "", 1)
}

fn evil(s: &str) -> String {
    s.replace("jane@corp.test", EVIL)
}

fn verifier() -> Verifier {
    Verifier::new(fixture().idp.trusted())
}

/// Verifies the element the attacker wants used (the one naming the evil user, else the first
/// `ns:local`), expecting `reason`; then checks that nothing holding attacker content verifies.
fn refused(name: &str, xml: &str, ns: &str, local: &str, reason: &str) {
    let doc = Document::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let candidates: Vec<Node<'_>> = doc.elements().filter(|e| e.is(ns, local)).collect();
    let target = candidates
        .iter()
        .copied()
        .find(|e| e.text().contains(EVIL))
        .unwrap_or(candidates[0]);
    match verifier().verify(target) {
        Ok(_) => panic!("{name}: the attacker's {local} verified"),
        Err(e) => assert_eq!(e.reason(), reason, "{name}: {e}"),
    }
    never_verifies_evil(name, &doc);
    println!("{name}: refused with {reason}");
}

fn never_verifies_evil(name: &str, doc: &Document) {
    for e in doc.elements() {
        if let Ok(v) = verifier().verify(e) {
            assert!(
                !v.node().text().contains(EVIL),
                "{name}: {:?} with attacker content verified",
                v.node()
            );
        }
    }
}

#[test]
fn baseline_both_fixtures_verify() {
    let f = fixture();
    let doc = Document::parse(f.assertion_signed.as_bytes()).unwrap();
    let a = first(&doc, ASSERTION, "Assertion");
    assert_eq!(verifier().verify(a).unwrap().node(), a);
    let doc = Document::parse(f.response_signed.as_bytes()).unwrap();
    assert_eq!(
        verifier().verify(doc.root_element()).unwrap().node(),
        doc.root_element()
    );
}

// ---- Signature wrapping (XSW1-8 as named by SAML Raider / Somorovsky et al.) ----

/// XSW1: an evil Response (new ID) wraps the signature, whose Object holds the original
/// Response; the reference still names the original.
#[test]
fn xsw1_response_clone_inside_signature() {
    let s = &fixture().response_signed;
    let sig = signature_of(s);
    let original = without_signature(s);
    let body = original.split_once('>').unwrap().1.trim_end();
    let body = &body[..body.len() - "</samlp:Response>".len()];
    let root_open = evil(s.split_once('>').unwrap().0).replace("ID=\"_resp1\"", "ID=\"_evil\"");
    let sig_with_object = sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
    );
    let xml = format!(
        "{root_open}>{sig_with_object}{}</samlp:Response>",
        evil(body)
    );
    // The evil body repeats the assertion's ID: refused for that first.
    refused("XSW1", &xml, PROTOCOL, "Response", "duplicate-id");
    let body = evil(body).replace("_assert1", "_evil_a");
    let xml = format!("{root_open}>{sig_with_object}{body}</samlp:Response>");
    refused(
        "XSW1 (fresh IDs)",
        &xml,
        PROTOCOL,
        "Response",
        "wrong-reference",
    );
}

/// XSW2: as XSW1 with the original Response placed before the signature (a detached
/// signature).
#[test]
fn xsw2_response_clone_before_signature() {
    let s = &fixture().response_signed;
    let sig = signature_of(s);
    let original = without_signature(s);
    let body = without_signature(s);
    let body = body.split_once('>').unwrap().1.trim_end();
    let body = &body[..body.len() - "</samlp:Response>".len()];
    let root_open = evil(s.split_once('>').unwrap().0).replace("ID=\"_resp1\"", "ID=\"_evil\"");
    let xml = format!("{root_open}>{original}{sig}{}</samlp:Response>", evil(body));
    refused("XSW2", &xml, PROTOCOL, "Response", "duplicate-id");
    let body = evil(body).replace("_assert1", "_evil_a");
    let xml = format!("{root_open}>{original}{sig}{body}</samlp:Response>");
    refused(
        "XSW2 (fresh IDs)",
        &xml,
        PROTOCOL,
        "Response",
        "wrong-reference",
    );
}

fn signed_assertion() -> (&'static str, String, String) {
    let s = &fixture().assertion_signed;
    let a = part(s, "<saml:Assertion ", "</saml:Assertion>");
    (s, a.to_owned(), without_signature(a))
}

/// XSW3: an unsigned evil copy of the assertion (new ID) is inserted before the signed one.
#[test]
fn xsw3_evil_assertion_before_signed_one() {
    let (s, signed, unsigned) = signed_assertion();
    let evil_a = evil(&unsigned).replace("ID=\"_assert1\"", "ID=\"_evil\"");
    let xml = s.replacen(&signed, &format!("{evil_a}{signed}"), 1);
    refused("XSW3", &xml, ASSERTION, "Assertion", "no-signature");
}

/// XSW4: the evil assertion (new ID) wraps the original signed assertion.
#[test]
fn xsw4_evil_assertion_wraps_signed_one() {
    let (s, signed, unsigned) = signed_assertion();
    let evil_a = evil(&unsigned).replace("ID=\"_assert1\"", "ID=\"_evil\"");
    let wrapped = evil_a.replacen(
        "</saml:Assertion>",
        &format!("{signed}</saml:Assertion>"),
        1,
    );
    let xml = s.replacen(&signed, &wrapped, 1);
    refused("XSW4", &xml, ASSERTION, "Assertion", "no-signature");
}

/// XSW5: the evil assertion keeps the original ID and signature; the original (unsigned copy)
/// is appended at the end of the response.
#[test]
fn xsw5_signature_kept_original_appended() {
    let (s, signed, unsigned) = signed_assertion();
    let xml = s.replacen(&signed, &evil(&signed), 1).replacen(
        "</samlp:Response>",
        &format!("{unsigned}</samlp:Response>"),
        1,
    );
    refused("XSW5", &xml, ASSERTION, "Assertion", "duplicate-id");
    // With the IDs made distinct, the signature names the other element.
    let xml = s.replacen(
        &signed,
        &evil(&signed).replace("ID=\"_assert1\"", "ID=\"_evil\""),
        1,
    );
    let xml = xml.replacen(
        "</samlp:Response>",
        &format!("{unsigned}</samlp:Response>"),
        1,
    );
    refused(
        "XSW5 (fresh ID)",
        &xml,
        ASSERTION,
        "Assertion",
        "wrong-reference",
    );
}

/// XSW6: the evil assertion keeps the signature; the original assertion is placed inside that
/// signature.
#[test]
fn xsw6_original_inside_signature() {
    let (s, signed, unsigned) = signed_assertion();
    let sig = signature_of(&signed);
    let evil_a = evil(&signed).replacen(
        sig,
        &sig.replace(
            "</ds:Signature>",
            &format!("<ds:Object>{unsigned}</ds:Object></ds:Signature>"),
        ),
        1,
    );
    let xml = s.replacen(&signed, &evil_a, 1);
    refused("XSW6", &xml, ASSERTION, "Assertion", "duplicate-id");
}

/// XSW7: the original assertion hides in an Extensions element; the evil one keeps the ID and
/// the signature.
#[test]
fn xsw7_original_in_extensions() {
    let (s, signed, unsigned) = signed_assertion();
    let ext = format!("<samlp:Extensions>{unsigned}</samlp:Extensions>");
    let xml = s.replacen(&signed, &format!("{ext}{}", evil(&signed)), 1);
    refused("XSW7", &xml, ASSERTION, "Assertion", "duplicate-id");
}

/// XSW8: the evil assertion keeps the signature, and the original assertion goes into a
/// ds:Object of that signature, with its own signature removed.
#[test]
fn xsw8_original_in_object() {
    let (s, signed, unsigned) = signed_assertion();
    let sig = signature_of(&signed);
    let new_sig = sig.replace(
        "</ds:KeyInfo>",
        &format!("</ds:KeyInfo><ds:Object>{unsigned}</ds:Object>"),
    );
    let evil_a = evil(&signed).replacen(sig, &new_sig, 1);
    let xml = s.replacen(&signed, &evil_a, 1);
    refused("XSW8", &xml, ASSERTION, "Assertion", "duplicate-id");
    // Same with the evil copy renamed: the signature now names the hidden original.
    let xml = s.replacen(
        &signed,
        &evil_a.replacen("ID=\"_assert1\"", "ID=\"_evil\"", 1),
        1,
    );
    refused(
        "XSW8 (fresh ID)",
        &xml,
        ASSERTION,
        "Assertion",
        "wrong-reference",
    );
}

// ---- Structure ----

#[test]
fn removed_signature() {
    let (s, signed, unsigned) = signed_assertion();
    let xml = evil(&s.replacen(&signed, &unsigned, 1));
    refused(
        "removed signature",
        &xml,
        ASSERTION,
        "Assertion",
        "no-signature",
    );
}

#[test]
fn signature_moved_to_another_element() {
    let (s, signed, unsigned) = signed_assertion();
    let sig = signature_of(&signed);
    let xml = s.replacen(&signed, &unsigned, 1).replacen(
        "</samlp:Status>",
        &format!("</samlp:Status>{sig}"),
        1,
    );
    // The Response now carries a signature over the assertion, not over itself.
    refused(
        "moved signature (Response)",
        &evil(&xml),
        PROTOCOL,
        "Response",
        "wrong-reference",
    );
    refused(
        "moved signature (Assertion)",
        &evil(&xml),
        ASSERTION,
        "Assertion",
        "no-signature",
    );
}

#[test]
fn duplicate_ids() {
    let (s, _, _) = signed_assertion();
    // Another element answering to the signed ID.
    let xml = s.replacen(
        "<samlp:Status>",
        "<samlp:Extensions><x ID=\"_assert1\"/></samlp:Extensions><samlp:Status>",
        1,
    );
    refused(
        "duplicate ID of the signed element",
        &xml,
        ASSERTION,
        "Assertion",
        "duplicate-id",
    );
    // Same value in another ID-like attribute.
    let xml = s.replacen("<samlp:Status>", "<samlp:Status Id=\"_assert1\">", 1);
    refused(
        "duplicate Id attribute",
        &xml,
        ASSERTION,
        "Assertion",
        "duplicate-id",
    );
    // Any duplicate anywhere in the document.
    let xml = s.replacen(
        "<samlp:Status>",
        "<samlp:Extensions><x ID=\"dup\"/><y ID=\"dup\"/></samlp:Extensions><samlp:Status>",
        1,
    );
    refused(
        "unrelated duplicate IDs",
        &xml,
        ASSERTION,
        "Assertion",
        "duplicate-id",
    );
}

#[test]
fn two_signatures() {
    let (s, signed, _) = signed_assertion();
    let sig = signature_of(&signed);
    let xml = s.replacen(sig, &format!("{sig}{sig}"), 1);
    refused(
        "two signatures",
        &xml,
        ASSERTION,
        "Assertion",
        "multiple-signatures",
    );
}

#[test]
fn second_signed_info_or_reference() {
    let (s, signed, _) = signed_assertion();
    let sig = signature_of(&signed);
    let si = part(sig, "<ds:SignedInfo>", "</ds:SignedInfo>");
    let xml = s.replacen(si, &format!("{si}{si}"), 1);
    refused(
        "second SignedInfo",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
    let r = part(sig, "<ds:Reference ", "</ds:Reference>");
    let xml = s.replacen(r, &format!("{r}{r}"), 1);
    refused(
        "second Reference",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
    let xml = s.replacen("<ds:SignedInfo>", "<ds:Object/><ds:SignedInfo>", 1);
    refused(
        "Object before SignedInfo",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
}

#[test]
fn comment_in_digest_value() {
    let (s, _, _) = signed_assertion();
    let xml = s.replacen("<ds:DigestValue>", "<ds:DigestValue><!-- c -->", 1);
    refused(
        "comment in DigestValue",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
    let xml = s.replacen("<ds:SignatureValue>", "<ds:SignatureValue><?pi x?>", 1);
    refused(
        "PI in SignatureValue",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
}

#[test]
fn references_elsewhere() {
    let (s, _, _) = signed_assertion();
    for (uri, reason) in [
        ("#_resp1", "wrong-reference"),
        ("#_nowhere", "reference-not-found"),
        ("", "whole-document-reference"),
        ("#", "unsupported-reference"),
        ("_assert1", "unsupported-reference"),
        ("#xpointer(/)", "unsupported-reference"),
        ("#xpointer(id('_assert1'))", "unsupported-reference"),
        ("https://evil.test/assertion.xml", "unsupported-reference"),
        ("#a'b", "unsupported-reference"),
        ("#_assert1 ", "unsupported-reference"),
    ] {
        let xml = s.replacen("URI=\"#_assert1\"", &format!("URI=\"{uri}\""), 1);
        refused(
            &format!("Reference URI {uri:?}"),
            &xml,
            ASSERTION,
            "Assertion",
            reason,
        );
    }
    let xml = s.replacen(" URI=\"#_assert1\"", "", 1);
    refused(
        "no Reference URI",
        &xml,
        ASSERTION,
        "Assertion",
        "unsupported-reference",
    );
}

/// `URI=""` names the whole document: refused on the root element too, where it would cover
/// the Response, with its own reason (SAML requires `#ID`).
#[test]
fn whole_document_reference_on_the_root() {
    let s = &fixture().response_signed;
    let xml = s.replacen("URI=\"#_resp1\"", "URI=\"\"", 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let e = verifier().verify(doc.root_element()).unwrap_err();
    assert_eq!(e.reason(), "whole-document-reference", "{e}");
    assert!(e.to_string().contains("samlp:Response"), "{e}");
}

/// The digest of another element (the Response, canonicalized the same way) in place of the
/// assertion's.
#[test]
fn digest_of_a_different_element() {
    let (s, _, _) = signed_assertion();
    let doc = Document::parse(s.as_bytes()).unwrap();
    let other = first(&doc, PROTOCOL, "Status");
    let c = Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(other, None);
    let d = base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(&c));
    let old = part(s, "<ds:DigestValue>", "</ds:DigestValue>");
    let xml = s.replacen(old, &format!("<ds:DigestValue>{d}</ds:DigestValue>"), 1);
    refused(
        "digest of another element",
        &xml,
        ASSERTION,
        "Assertion",
        "digest-mismatch",
    );
}

// ---- Content changes ----

#[test]
fn edits_after_signing() {
    let (s, _, _) = signed_assertion();
    refused(
        "text edit",
        &evil(s),
        ASSERTION,
        "Assertion",
        "digest-mismatch",
    );
    let xml = s.replacen("engineering-team-0<", "engineering-team-0 <", 1);
    refused("one space", &xml, ASSERTION, "Assertion", "digest-mismatch");
    let xml = s.replacen(
        "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"",
        "",
        1,
    );
    refused(
        "attribute removed",
        &xml,
        ASSERTION,
        "Assertion",
        "digest-mismatch",
    );
    let xml = s.replacen("<saml:AttributeStatement>", "<saml:AttributeStatement><saml:Attribute Name=\"role\"><saml:AttributeValue>admin</saml:AttributeValue></saml:Attribute>", 1);
    refused(
        "element added",
        &xml,
        ASSERTION,
        "Assertion",
        "digest-mismatch",
    );
}

/// Rebinding the prefix the signed content uses (on the assertion itself, or outside it on the
/// Response) changes what the names mean, and exclusive c14n renders the binding in use.
#[test]
fn namespace_prefix_rebinding() {
    let (s, _, _) = signed_assertion();
    let xml = s.replacen(
        "<saml:Assertion ",
        "<saml:Assertion xmlns:saml=\"urn:evil:assertion\" ",
        1,
    );
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let a = doc
        .elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    assert_eq!(
        verifier().verify(a).unwrap_err().reason(),
        "digest-mismatch"
    );
    let xml = s.replacen(
        "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
        "xmlns:saml=\"urn:evil:assertion\"",
        1,
    );
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let a = doc
        .elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    assert_eq!(
        verifier().verify(a).unwrap_err().reason(),
        "digest-mismatch"
    );
    // A default namespace declared outside the signed content changes nothing that is signed.
    let xml = s.replacen(
        "<samlp:Response ",
        "<samlp:Response xmlns=\"urn:unused\" ",
        1,
    );
    let doc = Document::parse(xml.as_bytes()).unwrap();
    verifier()
        .verify(first(&doc, ASSERTION, "Assertion"))
        .unwrap();
}

/// A comment inside the NameID is not part of exclusive c14n, so the signature still holds; the
/// text read from the verified node is the whole value (invariant 6), never a truncation.
#[test]
fn comment_in_name_id_keeps_the_whole_value() {
    let (s, _, _) = signed_assertion();
    let xml = s.replacen("jane@corp.test", "jane@corp.test<!---->.evil.test", 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let a = first(&doc, ASSERTION, "Assertion");
    // The digest covers the text nodes, which now differ from what was signed.
    assert_eq!(
        verifier().verify(a).unwrap_err().reason(),
        "digest-mismatch"
    );
    let xml = s.replacen("jane@corp.test", "jane@<!-- x -->corp.test", 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let v = verifier()
        .verify(first(&doc, ASSERTION, "Assertion"))
        .unwrap();
    let name_id = v
        .node()
        .descendants()
        .find(|e| e.is(ASSERTION, "NameID"))
        .unwrap();
    assert_eq!(name_id.text(), "jane@corp.test");
}

// ---- Keys and algorithms ----

/// The attacker signs their assertion with their own key and ships their certificate in
/// KeyInfo: it is not trusted. Without the certificate it is simply an invalid signature.
#[test]
fn attacker_key() {
    let f = fixture();
    let xml = sample_response(4 * 1024);
    let doc = Document::parse(evil(&xml).as_bytes()).unwrap();
    let signed = Signer::new(f.attacker.signing_key())
        .sign(first(&doc, ASSERTION, "Assertion"))
        .unwrap();
    refused(
        "attacker key in KeyInfo",
        std::str::from_utf8(&signed).unwrap(),
        ASSERTION,
        "Assertion",
        "untrusted-key",
    );
    let bare = SigningKey::from_pem(&f.attacker.key_pem()).unwrap();
    let signed = Signer::new(bare)
        .sign(first(&doc, ASSERTION, "Assertion"))
        .unwrap();
    refused(
        "attacker key, no KeyInfo",
        std::str::from_utf8(&signed).unwrap(),
        ASSERTION,
        "Assertion",
        "signature-invalid",
    );
    // The IdP's own certificate in KeyInfo over an attacker signature does not help either.
    let s = std::str::from_utf8(&signed).unwrap();
    let idp_cert = base64::engine::general_purpose::STANDARD.encode(f.idp.cert.to_der().unwrap());
    let xml = s.replacen(
        "</ds:SignatureValue>",
        &format!("</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{idp_cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"),
        1,
    );
    refused(
        "IdP cert in KeyInfo, attacker signature",
        &xml,
        ASSERTION,
        "Assertion",
        "signature-invalid",
    );
}

/// HMAC with the IdP's public certificate as the shared secret (key confusion): HMAC is never
/// accepted.
#[test]
fn hmac_key_confusion() {
    let f = fixture();
    let (s, _, _) = signed_assertion();
    let hmac_uri = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
    let xml = evil(s).replacen(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        hmac_uri,
        1,
    );
    // Recompute the digest and an HMAC over SignedInfo, as an attacker would.
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let a = first(&doc, ASSERTION, "Assertion");
    let sig = a
        .child_elements()
        .find(|e| e.is(DSIG_NS, "Signature"))
        .unwrap();
    let c = Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(a, Some(sig));
    let d = base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(&c));
    let old = part(&xml, "<ds:DigestValue>", "</ds:DigestValue>");
    let xml = xml.replacen(old, &format!("<ds:DigestValue>{d}</ds:DigestValue>"), 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let si = doc
        .elements()
        .find(|e| e.is(DSIG_NS, "SignedInfo"))
        .unwrap();
    let si_c = Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(si, None);
    let secret = PKey::hmac(&f.idp.cert.to_pem().unwrap()).unwrap();
    let mut h = OsslSigner::new(MessageDigest::sha256(), &secret).unwrap();
    h.update(&si_c).unwrap();
    let mac = base64::engine::general_purpose::STANDARD.encode(h.sign_to_vec().unwrap());
    let old = part(&xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let xml = xml.replacen(
        old,
        &format!("<ds:SignatureValue>{mac}</ds:SignatureValue>"),
        1,
    );
    refused(
        "HMAC key confusion",
        &xml,
        ASSERTION,
        "Assertion",
        "algorithm-not-allowed",
    );
}

#[test]
fn sha1_and_unknown_algorithms() {
    let (s, _, _) = signed_assertion();
    for (from, to) in [
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        ),
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha1",
        ),
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        ),
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        ),
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "urn:unknown",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2001/04/xmlenc#sha384",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2001/04/xmldsig-more#md5",
        ),
        (
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11-unknown\"",
        ),
    ] {
        let xml = s.replacen(from, to, 1);
        refused(
            &format!("algorithm {to}"),
            &xml,
            ASSERTION,
            "Assertion",
            "algorithm-not-allowed",
        );
    }
}

/// Transforms whose algorithm is outside the allowlist are named (`transform-not-allowed`),
/// wherever they stand in the list.
#[test]
fn extra_transforms() {
    let (s, _, _) = signed_assertion();
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";
    assert!(s.contains(exc));
    for extra in [
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"/>",
    ] {
        for xml in [
            s.replacen(exc, &format!("{exc}{extra}"), 1),
            s.replacen(exc, extra, 1),
            s.replacen(ENVELOPED, &format!("{extra}{ENVELOPED}"), 1),
        ] {
            refused(
                "extra transform",
                &xml,
                ASSERTION,
                "Assertion",
                "transform-not-allowed",
            );
        }
    }
    // C14N 1.1 is not among the canonicalizations SAML allows for the reference.
    for c14n11 in [
        "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    ] {
        let xml = s.replacen(exc, &format!("<ds:Transform Algorithm=\"{c14n11}\"/>"), 1);
        refused(
            "C14N 1.1",
            &xml,
            ASSERTION,
            "Assertion",
            "transform-not-allowed",
        );
    }
}

const ENVELOPED: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";

/// Allowed transforms in any shape other than enveloped-signature then one canonicalization:
/// `invalid-transforms`, with what is wrong in the detail.
#[test]
fn transform_sequence() {
    let (s, _, _) = signed_assertion();
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";
    let inclusive = "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>";
    let both = format!("{ENVELOPED}{exc}");
    assert!(s.contains(&both));
    let transforms = |list: &str| s.replacen(&both, list, 1);
    for (name, xml, detail) in [
        (
            "no Transforms element",
            s.replacen(&format!("<ds:Transforms>{both}</ds:Transforms>"), "", 1),
            "has no ds:Transforms",
        ),
        ("empty Transforms", transforms(""), "ds:Transforms is empty"),
        (
            "no enveloped-signature",
            transforms(exc),
            "no enveloped-signature transform",
        ),
        (
            "no canonicalization",
            transforms(ENVELOPED),
            "no canonicalization transform",
        ),
        (
            "canonicalization first",
            transforms(&format!("{exc}{ENVELOPED}")),
            "comes before enveloped-signature",
        ),
        (
            "enveloped-signature twice",
            transforms(&format!("{ENVELOPED}{ENVELOPED}")),
            "enveloped-signature is repeated",
        ),
        (
            "two canonicalizations",
            transforms(&format!("{exc}{inclusive}")),
            "two canonicalization transforms",
        ),
        (
            "enveloped, enveloped, c14n",
            transforms(&format!("{ENVELOPED}{both}")),
            "3 transforms (enveloped-signature 2 times",
        ),
        (
            "enveloped, c14n, c14n",
            transforms(&format!("{both}{exc}")),
            "3 transforms",
        ),
        (
            "enveloped, c14n, enveloped",
            transforms(&format!("{both}{ENVELOPED}")),
            "3 transforms",
        ),
        (
            "the pair twice",
            transforms(&format!("{both}{both}")),
            "4 transforms",
        ),
    ] {
        refused(name, &xml, ASSERTION, "Assertion", "invalid-transforms");
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let e = verifier()
            .verify(first(&doc, ASSERTION, "Assertion"))
            .unwrap_err();
        assert!(e.to_string().contains(detail), "{name}: {e}");
    }
}

#[test]
fn tampered_values() {
    let (s, _, _) = signed_assertion();
    let old = part(s, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(&old[19..old.len() - 20]).unwrap();
    raw[10] ^= 1;
    let xml = s.replacen(
        old,
        &format!(
            "<ds:SignatureValue>{}</ds:SignatureValue>",
            b64.encode(&raw)
        ),
        1,
    );
    refused(
        "flipped signature bit",
        &xml,
        ASSERTION,
        "Assertion",
        "signature-invalid",
    );
    raw.pop();
    let xml = s.replacen(
        old,
        &format!(
            "<ds:SignatureValue>{}</ds:SignatureValue>",
            b64.encode(&raw)
        ),
        1,
    );
    refused(
        "short signature",
        &xml,
        ASSERTION,
        "Assertion",
        "signature-invalid",
    );
    let xml = s.replacen(old, "<ds:SignatureValue>not base64!</ds:SignatureValue>", 1);
    refused(
        "signature not base64",
        &xml,
        ASSERTION,
        "Assertion",
        "malformed-signature",
    );
    let dv = part(s, "<ds:DigestValue>", "</ds:DigestValue>");
    let xml = s.replacen(dv, "<ds:DigestValue>AAAA</ds:DigestValue>", 1);
    refused(
        "short digest",
        &xml,
        ASSERTION,
        "Assertion",
        "digest-mismatch",
    );
}

/// ECDSA: the DER form (what OpenSSL writes) is refused where XML-DSig requires `r || s`.
#[test]
fn ecdsa_der_value_refused() {
    let key = TestKey::ec(Nid::X9_62_PRIME256V1);
    let xml = sample_response(2048);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let signed = String::from_utf8(
        Signer::new(key.signing_key())
            .sign(doc.root_element())
            .unwrap(),
    )
    .unwrap();
    let verify = |xml: &str| {
        let doc = Document::parse(xml.as_bytes()).unwrap();
        Verifier::new(key.trusted())
            .verify(doc.root_element())
            .map(|_| ())
    };
    verify(&signed).unwrap();
    let old = part(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64.decode(&old[19..old.len() - 20]).unwrap();
    let r = openssl::bn::BigNum::from_slice(&raw[..32]).unwrap();
    let s = openssl::bn::BigNum::from_slice(&raw[32..]).unwrap();
    let der = openssl::ecdsa::EcdsaSig::from_private_components(r, s)
        .unwrap()
        .to_der()
        .unwrap();
    let xml = signed.replacen(
        old,
        &format!("<ds:SignatureValue>{}</ds:SignatureValue>", b64.encode(der)),
        1,
    );
    assert_eq!(verify(&xml).unwrap_err().reason(), "signature-invalid");
}

/// Keys: none trusted, a weak key under the strict policy, a key of the wrong family.
#[test]
fn key_policy() {
    let (s, _, _) = signed_assertion();
    let doc = Document::parse(s.as_bytes()).unwrap();
    let a = first(&doc, ASSERTION, "Assertion");
    let err = Verifier::new(TrustedKeys::new()).verify(a).unwrap_err();
    assert_eq!(err.reason(), "untrusted-key");

    let small = TestKey::rsa(1024);
    let small_signed = {
        // Sign with OpenSSL directly: our signer refuses keys under 2048 bits.
        assert_eq!(
            SigningKey::from_pem(&small.key_pem()).unwrap_err().reason(),
            "invalid-key"
        );
        let k = TestKey::rsa(2048);
        let unsigned = sample_response(2048);
        let udoc = Document::parse(unsigned.as_bytes()).unwrap();
        let signed = String::from_utf8(
            Signer::new(k.signing_key())
                .sign(first(&udoc, ASSERTION, "Assertion"))
                .unwrap(),
        )
        .unwrap();
        (k, signed)
    };
    let strict = Verifier::new(small.trusted());
    let doc2 = Document::parse(small_signed.1.as_bytes()).unwrap();
    let err = strict
        .verify(first(&doc2, ASSERTION, "Assertion"))
        .unwrap_err();
    assert_eq!(err.reason(), "weak-key");
    let legacy = Verifier::new(small.trusted())
        .with_policy(AlgorithmPolicy::default().dangerous().allow_rsa_1024());
    let err = legacy
        .verify(first(&doc2, ASSERTION, "Assertion"))
        .unwrap_err();
    // Signed by another key whose certificate the document carries.
    assert_eq!(err.reason(), "untrusted-key");

    let ec = TestKey::ec(Nid::X9_62_PRIME256V1);
    let err = Verifier::new(ec.trusted()).verify(a).unwrap_err();
    assert_eq!(err.reason(), "untrusted-key");

    // Rollover: the right key among several verifies; the proof names it.
    let keys = TrustedKeys::new()
        .with(TrustedKey::from_certificate_pem(&ec.cert_pem()).unwrap())
        .with(TrustedKey::from_certificate_pem(&fixture().attacker.cert_pem()).unwrap())
        .with(TrustedKey::from_certificate_pem(&fixture().idp.cert_pem()).unwrap());
    let v = Verifier::new(keys).verify(a).unwrap();
    assert_eq!(
        v.key(),
        TrustedKey::from_certificate_pem(&fixture().idp.cert_pem())
            .unwrap()
            .fingerprint()
    );
}

/// Error messages carry what an administrator needs.
#[test]
fn error_detail() {
    let f = fixture();
    let xml = sample_response(2048);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let signed = Signer::new(f.attacker.signing_key())
        .sign(doc.root_element())
        .unwrap();
    let doc = Document::parse(&signed).unwrap();
    let err = verifier().verify(doc.root_element()).unwrap_err();
    let text = err.to_string();
    let idp_fp = TrustedKey::from_certificate_pem(&f.idp.cert_pem())
        .unwrap()
        .fingerprint()
        .to_string();
    let attacker_fp = TrustedKey::from_certificate_pem(&f.attacker.cert_pem())
        .unwrap()
        .fingerprint()
        .to_string();
    assert!(text.starts_with("untrusted-key: "), "{text}");
    assert!(
        text.contains(&idp_fp) && text.contains(&attacker_fp),
        "{text}"
    );
    assert_eq!(idp_fp.len(), 32 * 3 - 1);
}
