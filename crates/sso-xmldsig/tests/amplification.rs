//! Namespace amplification: exclusive c14n renders a namespace declaration again on every
//! element that uses it when no output ancestor did, so a document can have a canonical form
//! many times its size. Verification bounds it (16 times the document, plus 1 MiB) and stops
//! canonicalizing there, for the reference digest and for SignedInfo. Found by the fuzzer
//! (crates/sso-fuzz).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use openssl::hash::{MessageDigest, hash};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document};
use sso_xmldsig::{DSIG_NS, TrustedKeys, Verifier};

/// Twenty long namespaces declared on the root (which does not use them), then `count`
/// elements that each use all twenty.
fn amplifier(count: usize) -> (String, String) {
    let decls: String = (0..20)
        .map(|i| format!(" xmlns:p{i}=\"urn:{}{i}\"", "u".repeat(200)))
        .collect();
    let uses: String = (0..20).map(|i| format!(" p{i}:x=\"\"")).collect();
    (decls, format!("<e{uses}/>").repeat(count))
}

fn signature(digest: &str, in_signed_info: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">\
         <ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"\">{in_signed_info}</ec:InclusiveNamespaces>\
         </ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#_r\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
    )
}

fn verify_quickly(xml: &str) -> sso_xmldsig::Error {
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let started = Instant::now();
    let e = Verifier::new(TrustedKeys::new())
        .verify(doc.root_element())
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    e
}

#[test]
fn the_reference_digest_stops_at_the_bound() {
    let (decls, body) = amplifier(5000);
    let xml = format!("<r ID=\"_r\"{decls}>{body}{}</r>", signature("AAAA", ""));
    // ~800 KB of document, ~21 MB of canonical form.
    let e = verify_quickly(&xml);
    assert_eq!(e.reason(), "malformed-signature", "{e}");
    assert!(
        e.to_string().contains("canonical form is larger than"),
        "{e}"
    );
}

#[test]
fn signed_info_stops_at_the_bound() {
    // The amplifier hides in SignedInfo (inside InclusiveNamespaces), and the reference digest
    // is right, so SignedInfo is the next thing canonicalized.
    let (decls, body) = amplifier(5000);
    let unsigned = format!("<r ID=\"_r\"{decls}>{}</r>", signature("DIGEST", &body));
    let doc = Document::parse(unsigned.as_bytes()).unwrap();
    let root = doc.root_element();
    let sig = root.child_elements().next().unwrap();
    let c14n = Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(root, Some(sig));
    let digest = base64::engine::general_purpose::STANDARD
        .encode(hash(MessageDigest::sha256(), &c14n).unwrap());
    let xml = unsigned.replace("DIGEST", &digest);
    let e = verify_quickly(&xml);
    assert_eq!(e.reason(), "malformed-signature", "{e}");
    assert!(
        e.to_string().contains("SignedInfo cannot be canonicalized"),
        "{e}"
    );
}
