//! Cross-checks with an independent implementation, xmlsec1 (Debian package `xmlsec1`): what we
//! sign, xmlsec1 verifies; what xmlsec1 signs or encrypts, we verify or decrypt. Keys are
//! generated for each run in a temporary directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use common::*;
use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt_aead};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Node};
use sso_xmldsig::{
    AlgorithmRole, DecryptionKey, Decryptor, DigestAlgorithm, SignatureAlgorithm, Signer,
    SigningKey, Verifier,
};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "sso-xmldsig-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    xmlsec1().args(args).output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn element<'d>(doc: &'d Document, ns: &str, local: &str) -> Node<'d> {
    doc.elements().find(|e| e.is(ns, local)).unwrap()
}

fn xmlsec1_verifies(dir: &TempDir, signed: &[u8], pubkey_pem: &[u8], id_node: &str) -> bool {
    let file = dir.write("signed.xml", signed);
    let key = dir.write("pub.pem", pubkey_pem);
    let out = run(&[
        "--verify",
        "--pubkey-pem",
        path(&key),
        "--id-attr:ID",
        id_node,
        path(&file),
    ]);
    out.status.success()
}

/// Documents we sign (Response or Assertion; RSA and ECDSA; with and without a certificate in
/// KeyInfo) verify with xmlsec1 given only the public key; a tampered copy and a wrong key do
/// not.
#[test]
fn xmlsec1_verifies_what_we_sign() {
    let dir = TempDir::new("sign");
    let keys = [
        ("rsa-2048", TestKey::rsa(2048)),
        ("ec-p256", TestKey::ec(Nid::X9_62_PRIME256V1)),
        ("ec-p384", TestKey::ec(Nid::SECP384R1)),
    ];
    let other = TestKey::rsa(2048);
    let xml = sample_response(7 * 1024);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let mut checked = 0;
    for (name, key) in &keys {
        let pubkey = key.key.public_key_to_pem().unwrap();
        for (ns, local) in [(PROTOCOL, "Response"), (ASSERTION, "Assertion")] {
            for with_cert in [true, false] {
                let sk = if with_cert {
                    key.signing_key()
                } else {
                    SigningKey::from_pem(&key.key_pem()).unwrap()
                };
                let signed = Signer::new(sk).sign(element(&doc, ns, local)).unwrap();
                let id_node = format!("{ns}:{local}");
                assert!(
                    xmlsec1_verifies(&dir, &signed, &pubkey, &id_node),
                    "{name} {local} cert={with_cert}: xmlsec1 refuses our signature"
                );
                // Ours agrees.
                let back = Document::parse(&signed).unwrap();
                let target = element(&back, ns, local);
                let v = Verifier::new(key.trusted()).verify(target).unwrap();
                assert_eq!(v.node(), target);
                // xmlsec1 is not just saying yes.
                let tampered = String::from_utf8(signed.clone())
                    .unwrap()
                    .replace("jane@corp.test", "mallory@corp.test");
                assert!(!xmlsec1_verifies(
                    &dir,
                    tampered.as_bytes(),
                    &pubkey,
                    &id_node
                ));
                let other_pub = other.key.public_key_to_pem().unwrap();
                if !with_cert && name.starts_with("rsa") {
                    assert!(!xmlsec1_verifies(&dir, &signed, &other_pub, &id_node));
                }
                checked += 1;
            }
        }
    }
    // SHA-512 digest and RSA-SHA512 as well.
    let key = &keys[0].1;
    let signed = Signer::new(key.signing_key())
        .signature_algorithm(SignatureAlgorithm::RsaSha512)
        .digest_algorithm(DigestAlgorithm::Sha512)
        .inclusive_prefixes(["saml"])
        .sign(doc.root_element())
        .unwrap();
    assert!(xmlsec1_verifies(
        &dir,
        &signed,
        &key.key.public_key_to_pem().unwrap(),
        &format!("{PROTOCOL}:Response")
    ));
    println!("xmlsec1 verified {} documents we signed", checked + 1);
}

fn signature_template(sig_uri: &str, digest_uri: &str, id: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig_uri}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest_uri}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"##
    )
}

/// Documents xmlsec1 signs verify with ours under the strict default policy, by node identity,
/// and a change after signing is caught.
#[test]
fn we_verify_what_xmlsec1_signs() {
    let dir = TempDir::new("xsign");
    let cases = [
        (
            TestKey::rsa(2048),
            SignatureAlgorithm::RsaSha256,
            DigestAlgorithm::Sha256,
        ),
        (
            TestKey::rsa(3072),
            SignatureAlgorithm::RsaSha384,
            DigestAlgorithm::Sha384,
        ),
        (
            TestKey::rsa(2048),
            SignatureAlgorithm::RsaSha512,
            DigestAlgorithm::Sha512,
        ),
        (
            TestKey::ec(Nid::X9_62_PRIME256V1),
            SignatureAlgorithm::EcdsaSha256,
            DigestAlgorithm::Sha256,
        ),
        (
            TestKey::ec(Nid::SECP384R1),
            SignatureAlgorithm::EcdsaSha384,
            DigestAlgorithm::Sha384,
        ),
        (
            TestKey::ec(Nid::SECP521R1),
            SignatureAlgorithm::EcdsaSha512,
            DigestAlgorithm::Sha512,
        ),
    ];
    let xml = sample_response(4 * 1024);
    for (key, sig, dig) in &cases {
        for (ns, local, id) in [
            (PROTOCOL, "Response", "_resp1"),
            (ASSERTION, "Assertion", "_assert1"),
        ] {
            // The template goes right after the element's Issuer, where SAML wants it.
            let open = xml.find(&format!("ID=\"{id}\"")).unwrap();
            let issuer_end = open + xml[open..].find("</saml:Issuer>").unwrap() + 14;
            let mut tmpl = xml.clone();
            tmpl.insert_str(issuer_end, &signature_template(sig.uri(), dig.uri(), id));
            let tmpl_file = dir.write("tmpl.xml", tmpl.as_bytes());
            let key_file = dir.write("key.pem", &key.key_pem());
            let cert_file = dir.write("cert.pem", &key.cert_pem());
            let out_file = dir.0.join("out.xml");
            let keyspec = format!("{},{}", path(&key_file), path(&cert_file));
            let o = run(&[
                "--sign",
                "--privkey-pem",
                &keyspec,
                "--id-attr:ID",
                &format!("{ns}:{local}"),
                "--output",
                path(&out_file),
                path(&tmpl_file),
            ]);
            assert!(
                o.status.success(),
                "xmlsec1 --sign failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let signed = std::fs::read(&out_file).unwrap();
            let doc = Document::parse(&signed).unwrap();
            let target = element(&doc, ns, local);
            let v = Verifier::new(key.trusted())
                .verify(target)
                .unwrap_or_else(|e| panic!("{sig} on {local}: {e}"));
            assert_eq!(v.node(), target);
            assert_eq!(v.signature_algorithm(), *sig);
            assert_eq!(v.digest_algorithm(), *dig);

            let tampered = String::from_utf8(signed)
                .unwrap()
                .replace("engineering-team-1<", "engineering-team-X<");
            let doc = Document::parse(tampered.as_bytes()).unwrap();
            let err = Verifier::new(key.trusted())
                .verify(element(&doc, ns, local))
                .unwrap_err();
            assert_eq!(err.reason(), "digest-mismatch");
        }
    }
}

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N10_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";

/// The Response of `xml` signed by xmlsec1 with this reference URI and these transforms (the
/// template right after the Response's Issuer), and whether xmlsec1 itself then verifies it.
fn xmlsec1_signed_response(
    dir: &TempDir,
    key: &TestKey,
    xml: &str,
    uri: &str,
    transforms: &[&str],
) -> (Vec<u8>, bool) {
    let list: String = transforms
        .iter()
        .map(|t| format!(r#"<ds:Transform Algorithm="{t}"/>"#))
        .collect();
    let template = format!(
        r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC}"/><ds:SignatureMethod Algorithm="{}"/><ds:Reference URI="{uri}"><ds:Transforms>{list}</ds:Transforms><ds:DigestMethod Algorithm="{}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"#,
        SignatureAlgorithm::RsaSha256.uri(),
        DigestAlgorithm::Sha256.uri()
    );
    let issuer_end = xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    let mut tmpl = xml.to_owned();
    tmpl.insert_str(issuer_end, &template);
    let tmpl_file = dir.write("profile-tmpl.xml", tmpl.as_bytes());
    let key_file = dir.write("profile-key.pem", &key.key_pem());
    let out_file = dir.0.join("profile-out.xml");
    let id_attr = format!("{PROTOCOL}:Response");
    let o = run(&[
        "--sign",
        "--privkey-pem",
        path(&key_file),
        "--id-attr:ID",
        &id_attr,
        "--output",
        path(&out_file),
        path(&tmpl_file),
    ]);
    assert!(
        o.status.success(),
        "xmlsec1 --sign failed for {uri:?} {transforms:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let signed = std::fs::read(&out_file).unwrap();
    let pubkey = key.key.public_key_to_pem().unwrap();
    let verifies = xmlsec1_verifies(dir, &signed, &pubkey, &id_attr);
    (signed, verifies)
}

/// SAML's signature profile on signatures xmlsec1 makes and verifies: `#ID` with
/// enveloped-signature then exclusive c14n or c14n 1.0 (with or without comments) is accepted;
/// the whole document (`URI=""`), C14N 1.1, and any other sequence of transforms are refused
/// with their own reason although the signature is cryptographically sound.
#[test]
fn saml_signature_profile_on_what_xmlsec1_signs() {
    let dir = TempDir::new("profile");
    let key = TestKey::rsa(2048);
    let xml = sample_response(2 * 1024);
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("#_resp1", &[ENVELOPED, EXC], None),
        ("#_resp1", &[ENVELOPED, EXC_COMMENTS], None),
        ("#_resp1", &[ENVELOPED, C14N10], None),
        ("#_resp1", &[ENVELOPED, C14N10_COMMENTS], None),
        ("", &[ENVELOPED, EXC], Some("whole-document-reference")),
        ("", &[ENVELOPED, C14N10], Some("whole-document-reference")),
        (
            "#_resp1",
            &[ENVELOPED, C14N11],
            Some("transform-not-allowed"),
        ),
        ("#_resp1", &[ENVELOPED], Some("invalid-transforms")),
        (
            "#_resp1",
            &[ENVELOPED, ENVELOPED, EXC],
            Some("invalid-transforms"),
        ),
        (
            "#_resp1",
            &[ENVELOPED, EXC, EXC],
            Some("invalid-transforms"),
        ),
    ];
    for (uri, transforms, refusal) in cases {
        let (signed, xmlsec1_ok) = xmlsec1_signed_response(&dir, &key, &xml, uri, transforms);
        assert!(
            xmlsec1_ok,
            "{uri:?} {transforms:?}: xmlsec1 does not verify its own signature"
        );
        let doc = Document::parse(&signed).unwrap();
        let outcome = Verifier::new(key.trusted()).verify(doc.root_element());
        match (refusal, outcome) {
            (None, Ok(v)) => assert_eq!(v.node(), doc.root_element()),
            (Some(reason), Err(e)) => assert_eq!(e.reason(), *reason, "{uri:?} {transforms:?}"),
            (expected, got) => panic!("{uri:?} {transforms:?}: expected {expected:?}, got {got:?}"),
        }
    }
}

fn encryption_template(content_uri: &str, transport_uri: &str) -> String {
    format!(
        r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{content_uri}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport_uri}"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#
    )
}

/// A response whose assertion sits inside `saml:EncryptedAssertion`, ready for xmlsec1 to
/// replace it with `EncryptedData`; and the exclusive c14n of that assertion.
fn encryptable_response() -> (String, Vec<u8>) {
    let xml = sample_response(3 * 1024)
        .replace(
            "<saml:Assertion ",
            "<saml:EncryptedAssertion><saml:Assertion ",
        )
        .replace(
            "</saml:Assertion>",
            "</saml:Assertion></saml:EncryptedAssertion>",
        );
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let canonical = Canonicalizer::new(C14nAlgorithm::Exclusive)
        .canonicalize_to_vec(element(&doc, ASSERTION, "Assertion"), None);
    (xml, canonical)
}

/// What xmlsec1 encrypts (RSA-OAEP-MGF1P with AES-CBC and AES-GCM) we decrypt to the same
/// assertion; RSA 1.5 is refused by name; a wrong key is the one opaque error.
#[test]
fn we_decrypt_what_xmlsec1_encrypts() {
    let dir = TempDir::new("enc");
    let sp = TestKey::rsa(2048);
    let wrong = TestKey::rsa(2048);
    let (xml, expected) = encryptable_response();
    let data_file = dir.write("data.xml", xml.as_bytes());
    let cert_file = dir.write("sp.crt", &sp.cert_pem());
    let oaep = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
    let rsa15 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
    let cases = [
        (
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "aes-128",
            oaep,
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            "aes-192",
            oaep,
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "aes-256",
            oaep,
        ),
        (
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "aes-128",
            oaep,
        ),
        (
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "aes-256",
            oaep,
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "aes-128",
            rsa15,
        ),
    ];
    for (content, session, transport) in cases {
        let tmpl = dir.write(
            "tmpl.xml",
            encryption_template(content, transport).as_bytes(),
        );
        let out_file = dir.0.join("out.xml");
        let o = run(&[
            "--encrypt",
            "--pubkey-cert-pem",
            path(&cert_file),
            "--session-key",
            session,
            "--xml-data",
            path(&data_file),
            "--node-xpath",
            "//*[local-name()='Assertion']",
            "--output",
            path(&out_file),
            path(&tmpl),
        ]);
        assert!(
            o.status.success(),
            "xmlsec1 --encrypt {content}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let encrypted = std::fs::read(&out_file).unwrap();
        let doc = Document::parse(&encrypted).unwrap();
        let ea = element(&doc, ASSERTION, "EncryptedAssertion");
        assert!(doc.elements().all(|e| !e.is(ASSERTION, "Assertion")));
        let ours = Decryptor::new(DecryptionKey::from_pkey(sp.key.clone()).unwrap());
        if transport == rsa15 {
            let err = ours.decrypt_assertion(ea).unwrap_err();
            assert_eq!(err.reason(), "encryption-algorithm-not-allowed");
            assert_eq!(
                err.refused_algorithm(),
                Some((AlgorithmRole::KeyTransport, rsa15))
            );
            continue;
        }
        let plain = ours
            .decrypt_assertion(ea)
            .unwrap_or_else(|e| panic!("{content}: {e}"));
        let got =
            Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(plain.element(), None);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{content}"
        );
        let err = Decryptor::new(DecryptionKey::from_pkey(wrong.key.clone()).unwrap())
            .decrypt_assertion(ea)
            .unwrap_err();
        assert_eq!(err.reason(), "decryption-failed");
        assert_eq!(err.refused_algorithm(), None);
    }
}

/// xmlsec1 1.2 cannot write `xmlenc11#rsa-oaep` (OAEP over SHA-256 with MGF1-SHA-256), so that
/// variant is built here with OpenSSL, as an IdP would, and decrypted; a corrupted GCM tag and a
/// corrupted CBC block fail with the same opaque error as a wrong key.
#[test]
fn xmlenc11_rsa_oaep_sha256_and_tampering() {
    let sp = TestKey::rsa(2048);
    let (xml, expected) = encryptable_response();
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let assertion = element(&doc, ASSERTION, "Assertion");
    let plaintext =
        Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(assertion, None);
    let b64 = base64::engine::general_purpose::STANDARD;

    let content_key = [7u8; 32];
    let iv = [9u8; 12];
    let mut tag = [0u8; 16];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        &content_key,
        Some(&iv),
        &[],
        &plaintext,
        &mut tag,
    )
    .unwrap();
    let mut enc = Encrypter::new(&sp.key).unwrap();
    enc.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    enc.set_rsa_oaep_md(MessageDigest::sha256()).unwrap();
    enc.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    let mut wrapped = vec![0u8; enc.encrypt_len(&content_key).unwrap()];
    let n = enc.encrypt(&content_key, &mut wrapped).unwrap();
    wrapped.truncate(n);

    let build = |cipher_value: &[u8]| {
        format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="_r"><saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>"#,
            b64.encode(&wrapped),
            b64.encode(cipher_value)
        )
    };
    let decryptor = Decryptor::new(DecryptionKey::from_pem(&sp.key_pem()).unwrap());
    let mut good = iv.to_vec();
    good.extend_from_slice(&ct);
    good.extend_from_slice(&tag);
    let text = build(&good);
    let doc = Document::parse(text.as_bytes()).unwrap();
    let plain = decryptor
        .decrypt_assertion(element(&doc, ASSERTION, "EncryptedAssertion"))
        .unwrap();
    let got =
        Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(plain.element(), None);
    assert_eq!(got, expected);

    let mut bad_tag = good.clone();
    *bad_tag.last_mut().unwrap() ^= 1;
    let mut bad_body = good.clone();
    bad_body[20] ^= 1;
    for bad in [bad_tag, bad_body] {
        let text = build(&bad);
        let doc = Document::parse(text.as_bytes()).unwrap();
        let err = decryptor
            .decrypt_assertion(element(&doc, ASSERTION, "EncryptedAssertion"))
            .unwrap_err();
        assert_eq!(err.reason(), "decryption-failed");
        assert_eq!(
            err.to_string(),
            "decryption-failed: the encrypted element could not be decrypted"
        );
    }
}
