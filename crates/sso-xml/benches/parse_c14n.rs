//! Parse + canonicalize real SAML responses, beside one RSA-2048 SHA-256 verification (the
//! floor every signed login pays anyway) measured in the same run.
//!
//! `cargo bench -p sso-xml --bench parse_c14n`; figures in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Node};

fn main() {
    divan::main();
}

const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Okta's signed response from the corpus (7.6 KB).
static SMALL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/responses/gosaml2/okta_response.xml");
    std::fs::read(path).expect("the shared corpus beside the repository")
});

/// The same response grown to about 50 KB with group attributes, as large tenants send.
static LARGE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let text = String::from_utf8(SMALL.clone()).unwrap();
    let mut extra = String::new();
    let mut i = 0;
    while text.len() + extra.len() < 50_000 {
        extra.push_str(&format!(
            "<saml2:Attribute Name=\"group{i}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified\">\
             <saml2:AttributeValue xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">\
             engineering-team-{i}@example.com</saml2:AttributeValue></saml2:Attribute>"
        ));
        i += 1;
    }
    text.replacen(
        "</saml2:AttributeStatement>",
        &(extra + "</saml2:AttributeStatement>"),
        1,
    )
    .into_bytes()
});

struct Floor {
    key: PKey<Public>,
    data: Vec<u8>,
    signature: Vec<u8>,
}

static FLOOR: LazyLock<Floor> = LazyLock::new(|| {
    let rsa = Rsa::generate(2048).unwrap();
    let private = PKey::from_rsa(rsa).unwrap();
    let data = b"<ds:SignedInfo>a typical canonical SignedInfo is about 600 bytes</ds:SignedInfo>"
        .repeat(8);
    let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
    signer.update(&data).unwrap();
    let signature = signer.sign_to_vec().unwrap();
    let key = PKey::public_key_from_der(&private.public_key_to_der().unwrap()).unwrap();
    Floor {
        key,
        data,
        signature,
    }
});

/// What a verifier canonicalizes: the signed element minus its signature, then SignedInfo.
fn canonicalize_signed_parts(doc: &Document, c: &Canonicalizer, buf: &mut Vec<u8>) {
    let root = doc.root_element();
    let signature: Option<Node<'_>> = root.child_elements().find(|e| e.is(DSIG, "Signature"));
    buf.clear();
    c.canonicalize_into(root, signature, buf);
    if let Some(si) = signature.and_then(|s| s.child_elements().find(|e| e.is(DSIG, "SignedInfo")))
    {
        c.canonicalize_into(si, None, buf);
    }
}

#[divan::bench]
fn rsa2048_sha256_verify_floor() -> bool {
    let f = &*FLOOR;
    let mut v = Verifier::new(MessageDigest::sha256(), &f.key).unwrap();
    v.update(divan::black_box(&f.data)).unwrap();
    v.verify(&f.signature).unwrap()
}

#[divan::bench(args = ["7KB", "50KB"])]
fn parse(bencher: Bencher<'_, '_>, size: &str) {
    let input: &[u8] = if size == "7KB" { &SMALL } else { &LARGE };
    bencher
        .counter(BytesCount::of_slice(input))
        .bench(|| Document::parse(divan::black_box(input)).unwrap());
}

#[divan::bench(args = ["7KB", "50KB"])]
fn c14n_exclusive(bencher: Bencher<'_, '_>, size: &str) {
    let input: &[u8] = if size == "7KB" { &SMALL } else { &LARGE };
    let doc = Document::parse(input).unwrap();
    let c = Canonicalizer::new(C14nAlgorithm::Exclusive);
    let mut buf = Vec::new();
    bencher
        .counter(BytesCount::of_slice(input))
        .bench_local(|| {
            canonicalize_signed_parts(&doc, &c, &mut buf);
            buf.len()
        });
}

#[divan::bench(args = ["7KB", "50KB"])]
fn parse_and_c14n_exclusive(bencher: Bencher<'_, '_>, size: &str) {
    let input: &[u8] = if size == "7KB" { &SMALL } else { &LARGE };
    let c = Canonicalizer::new(C14nAlgorithm::Exclusive);
    let mut buf = Vec::new();
    bencher
        .counter(BytesCount::of_slice(input))
        .bench_local(|| {
            let doc = Document::parse(divan::black_box(input)).unwrap();
            canonicalize_signed_parts(&doc, &c, &mut buf);
            buf.len()
        });
}

#[divan::bench(args = ["7KB"])]
fn xmlrs_events_only(bencher: Bencher<'_, '_>, size: &str) {
    let input: &[u8] = if size == "7KB" { &SMALL } else { &LARGE };
    bencher.counter(BytesCount::of_slice(input)).bench(|| {
        let mut config = xml::reader::ParserConfig::new()
            .whitespace_to_characters(true)
            .cdata_to_characters(true)
            .ignore_comments(false);
        config.allow_multiple_root_elements = true;
        let mut r = xml::reader::EventReader::new_with_config(divan::black_box(input), config);
        let mut n = 0;
        loop {
            match r.next().unwrap() {
                xml::reader::XmlEvent::EndDocument => break,
                _ => n += 1,
            }
        }
        n
    });
}
