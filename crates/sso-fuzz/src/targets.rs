//! The fuzz targets and the fixed configuration they run with: trusted keys, the connection an
//! SP would have, the clock, and the synthetic documents signed (and encrypted) with those keys.

use std::fmt;
use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::{MessageDigest, hash};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt_aead};
use openssl::x509::X509;
use sso_assertion::{
    Certificate, ConnectionConfig, ServiceProvider, SpKey, ValidationContext, validate,
};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Limits, Node};
use sso_xmldsig::{
    AlgorithmPolicy, DecryptionKey, Decryptor, Signer, SigningKey, TrustedKey, TrustedKeys,
    Verifier,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::rng::{Rng, hash64};

/// The IdP of the fixed connection.
pub const IDP_ENTITY_ID: &str = "https://idp.fuzz.invalid/metadata";
/// The SP entity ID of the fixed connection.
pub const SP_ENTITY_ID: &str = "https://sp.fuzz.invalid/saml/2/metadata/org_fuzz";
/// The ACS URL of the fixed connection.
pub const ACS_URL: &str = "https://sp.fuzz.invalid/saml/2/acs/org_fuzz";
/// The one outstanding AuthnRequest.
pub const REQUEST_ID: &str = "_req-fuzz-1";
/// The validation clock.
pub const NOW: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);

const OUTSTANDING: &[&str] = &[REQUEST_ID];

// Throwaway keys made for this fuzzer alone (self-signed, no other use): the trusted IdP keys
// and the SP decryption key.
const IDP_RSA_KEY: &[u8] = include_bytes!("../keys/idp-rsa.key");
const IDP_RSA_CERT: &[u8] = include_bytes!("../keys/idp-rsa.crt");
const IDP_EC_KEY: &[u8] = include_bytes!("../keys/idp-ec.key");
const IDP_EC_CERT: &[u8] = include_bytes!("../keys/idp-ec.crt");
const SP_KEY: &[u8] = include_bytes!("../keys/sp-rsa.key");
const SP_CERT: &[u8] = include_bytes!("../keys/sp-rsa.crt");

/// What is fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `Document::parse`, then every canonicalization of the document and of a few subtrees.
    Parse,
    /// Parsing, then `Verifier::verify` on the root and on every element holding a
    /// `ds:Signature`, and `Decryptor` on encrypted elements.
    Verify,
    /// `sso_assertion::validate` with a fixed connection and clock.
    Validate,
}

impl Target {
    /// Every target, in the order `all` runs them.
    pub const ALL: [Target; 3] = [Target::Parse, Target::Verify, Target::Validate];

    /// The target's name on the command line and in finding file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Parse => "parse",
            Target::Verify => "verify",
            Target::Validate => "validate",
        }
    }

    /// The target named `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The stable reason code of the refusal, or what succeeded (`parsed`, `verified`,
    /// `valid`, ...).
    pub label: &'static str,
    /// Whether the input parsed (the runner keeps some such mutants to mutate further).
    pub parsed: bool,
    /// A broken invariant, when there is one: a finding even without a panic.
    pub violation: Option<String>,
}

impl Outcome {
    fn new(label: &'static str, parsed: bool) -> Self {
        Outcome {
            label,
            parsed,
            violation: None,
        }
    }
}

/// Counts canonical output without keeping it, and stops the writer past a bound.
struct Meter {
    written: u64,
    cap: u64,
}

impl Write for Meter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written = self.written.saturating_add(buf.len() as u64);
        if self.written > self.cap {
            return Err(io::Error::other("canonical output over the fuzz bound"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The largest canonical form `sso-xml` may make of `input_len` bytes. Escaping grows a byte to
/// at most six, and exclusive c14n renders a namespace again on each element that uses it, but
/// the parser's namespace budget (128 units per input byte plus 1 MiB, each binding's bytes
/// counted for every element it is in scope at) bounds those renderings. Past this, the
/// parser's bound failed. (The verifier caps what it canonicalizes much lower, at 16 times.)
pub fn c14n_bound(input_len: usize) -> u64 {
    192 * input_len as u64 + (2 << 20)
}

/// How many signed elements one input may ask the verify target to check: each check reads the
/// whole document, and the service itself checks at most two per response.
const MAX_VERIFY_PER_INPUT: usize = 16;

/// Everything the targets need, built once.
pub struct Harness {
    strict: Verifier,
    lenient: Verifier,
    decryptor: Decryptor,
    config: ConnectionConfig,
    rsa_signer: Signer,
    ec_signer: Signer,
    sp_cert: X509,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

fn err(what: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Harness {
    /// Loads the fixed keys and configuration.
    pub fn new() -> Result<Harness, String> {
        let keys = TrustedKeys::new()
            .with(TrustedKey::from_certificate_pem(IDP_RSA_CERT).map_err(|e| e.to_string())?)
            .with(TrustedKey::from_certificate_pem(IDP_EC_CERT).map_err(|e| e.to_string())?);
        let strict = Verifier::new(keys.clone());
        let lenient =
            Verifier::new(keys).with_policy(AlgorithmPolicy::strict().dangerous().allow_sha1());
        let decryptor = Decryptor::new(DecryptionKey::from_pem(SP_KEY).map_err(|e| e.to_string())?);

        let cert_text = |pem: &[u8]| String::from_utf8_lossy(pem).into_owned();
        let certificates = vec![
            Certificate::from_pem_or_base64(&cert_text(IDP_RSA_CERT))
                .map_err(|e| err("IdP RSA certificate")(e.to_string()))?,
            Certificate::from_pem_or_base64(&cert_text(IDP_EC_CERT))
                .map_err(|e| err("IdP EC certificate")(e.to_string()))?,
        ];
        let sp_key = SpKey::from_pem(SP_KEY, &cert_text(SP_CERT))
            .map_err(|e| err("SP key")(e.to_string()))?;
        let sp = ServiceProvider::new(SP_ENTITY_ID, ACS_URL).with_key(sp_key);
        let mut config = ConnectionConfig::new(IDP_ENTITY_ID, certificates, Vec::new(), sp);
        // IdP-initiated responses too, so mutants that lose InResponseTo still go deep.
        config.dangerous().allow_unsolicited(true);

        let rsa_signer = Signer::new(SigningKey::from_pem(IDP_RSA_KEY).map_err(|e| e.to_string())?);
        let ec_signer = Signer::new(SigningKey::from_pem(IDP_EC_KEY).map_err(|e| e.to_string())?);
        let sp_cert = X509::from_pem(SP_CERT).map_err(|e| err("SP certificate")(e.to_string()))?;
        Ok(Harness {
            strict,
            lenient,
            decryptor,
            config,
            rsa_signer,
            ec_signer,
            sp_cert,
        })
    }

    /// Runs `target` on `input`. Panics are the caller's to catch.
    pub fn run(&self, target: Target, input: &[u8]) -> Outcome {
        match target {
            Target::Parse => self.parse(input),
            Target::Verify => self.verify(input),
            Target::Validate => self.validate(input),
        }
    }

    fn parse(&self, input: &[u8]) -> Outcome {
        // Choices below depend on the input alone, so a saved finding replays exactly.
        let mut rng = Rng::new(hash64(input));
        let limits = if rng.one_in(4) {
            tight_limits(&mut rng)
        } else {
            Limits::default()
        };
        let doc = match Document::parse_with(input, &limits) {
            Ok(doc) => doc,
            Err(e) => return Outcome::new(e.reason(), false),
        };
        let elements: Vec<Node<'_>> = doc.elements().collect();
        let bound = c14n_bound(input.len());
        let mut outcome = Outcome::new("parsed", true);
        for alg in C14nAlgorithm::ALL {
            let mut subjects = vec![(doc.document_node(), None)];
            for _ in 0..2 {
                let Some(&apex) = rng.pick(&elements) else {
                    break;
                };
                let inner: Vec<Node<'_>> = apex.descendants().take(4096).collect();
                let exclude = if rng.one_in(2) {
                    rng.pick(&inner).copied()
                } else {
                    None
                };
                subjects.push((apex, exclude));
            }
            for (node, exclude) in subjects {
                let mut c = Canonicalizer::new(alg);
                if alg.is_exclusive() && rng.one_in(2) {
                    let mut prefixes: Vec<String> = node
                        .namespace_declarations()
                        .filter_map(|(p, _)| p.map(str::to_owned))
                        .collect();
                    prefixes.extend(["#default".to_owned(), "xml".to_owned(), "nope".to_owned()]);
                    let keep: Vec<String> =
                        prefixes.into_iter().filter(|_| rng.one_in(2)).collect();
                    c = c.inclusive_prefixes(keep);
                }
                let mut meter = Meter {
                    written: 0,
                    cap: bound,
                };
                let result = c.canonicalize(node, exclude, &mut meter);
                if result.is_err() && meter.written > bound {
                    outcome.violation = Some(format!(
                        "{alg:?} canonical form of {} ({} bytes of input) passed {bound} bytes",
                        describe(node),
                        input.len()
                    ));
                    return outcome;
                }
                // The buffered and the streaming writers must agree.
                if meter.written <= 1 << 16 && rng.one_in(4) {
                    let vec = c.canonicalize_to_vec(node, exclude);
                    if vec.len() as u64 != meter.written {
                        outcome.violation = Some(format!(
                            "canonicalize_to_vec wrote {} bytes, canonicalize {}",
                            vec.len(),
                            meter.written
                        ));
                        return outcome;
                    }
                }
            }
        }
        // The tree's accessors on a few nodes.
        for _ in 0..3 {
            let Some(&n) = rng.pick(&elements) else {
                break;
            };
            let _ = (n.text(), n.attributes().count(), n.position());
            for (prefix, _) in n.namespace_declarations() {
                let _ = n.lookup_namespace(prefix);
            }
            let _ = n
                .attribute("ID")
                .or_else(|| n.attribute_ns(sso_xml::XML_NAMESPACE, "id"));
            if let Some(p) = n.parent() {
                if !p.contains(n) {
                    outcome.violation = Some(format!("{} does not contain its child", describe(p)));
                }
            }
        }
        outcome
    }

    fn verify(&self, input: &[u8]) -> Outcome {
        let doc = match Document::parse(input) {
            Ok(doc) => doc,
            Err(e) => return Outcome::new(e.reason(), false),
        };
        let lenient = hash64(input) & 1 == 1;
        let verifier = if lenient { &self.lenient } else { &self.strict };
        let root = doc.root_element();
        let mut candidates = vec![root];
        candidates.extend(
            doc.elements()
                .filter(|e| *e != root && has_signature_child(*e))
                .take(MAX_VERIFY_PER_INPUT - 1),
        );
        let mut outcome = Outcome::new("no-signature", true);
        for el in candidates {
            match verifier.verify(el) {
                Ok(v) => {
                    if v.node() != el {
                        outcome.violation = Some(format!(
                            "verify({}) vouched for {}",
                            describe(el),
                            describe(v.node())
                        ));
                    }
                    outcome.label = "verified";
                }
                Err(e) if outcome.label != "verified" => outcome.label = e.reason(),
                Err(_) => {}
            }
        }
        for enc in doc
            .elements()
            .filter(|e| {
                matches!(
                    e.local_name(),
                    "EncryptedAssertion" | "EncryptedID" | "EncryptedAttribute"
                )
            })
            .take(4)
        {
            if self.decryptor.decrypt_element(enc).is_ok() && outcome.label != "verified" {
                outcome.label = "decrypted";
            }
        }
        outcome
    }

    fn validate(&self, input: &[u8]) -> Outcome {
        let ctx = ValidationContext::new(NOW, OUTSTANDING);
        match validate(input, &self.config, &ctx) {
            Ok(v) => {
                let mut outcome = Outcome::new("valid", true);
                let parts = v.signed_parts();
                if v.issuer() != IDP_ENTITY_ID || !(parts.response || parts.assertion) {
                    outcome.violation = Some(format!(
                        "accepted an assertion from {:?} signed {parts:?}",
                        v.issuer()
                    ));
                }
                outcome
            }
            Err(e) => {
                let parsed = !matches!(
                    e.reason(),
                    "invalid-xml"
                        | "unsupported-encoding"
                        | "invalid-encoding"
                        | "response-too-large"
                );
                Outcome::new(e.reason(), parsed)
            }
        }
    }

    /// Signs what `input` lets us sign, the way an IdP would: the assertion, the response, or
    /// both (in that order). Whatever cannot be signed is left as it is.
    pub fn resign(&self, input: &[u8], rng: &mut Rng) -> Vec<u8> {
        let signer = if rng.one_in(4) {
            &self.ec_signer
        } else {
            &self.rsa_signer
        };
        let mut out = input.to_vec();
        let (assertion, response) = match rng.below(3) {
            0 => (true, false),
            1 => (false, true),
            _ => (true, true),
        };
        if assertion {
            if let Some(signed) = sign_where(&out, signer, |d| {
                d.elements().find(|e| e.local_name() == "Assertion")
            }) {
                out = signed;
            }
        }
        if response {
            if let Some(signed) = sign_where(&out, signer, |d| Some(d.root_element())) {
                out = signed;
            }
        }
        out
    }

    /// An unsigned response that passes every check but the signature one.
    pub fn response_template(&self) -> String {
        response_xml(&assertion_xml(""))
    }

    /// Documents built with the fixed keys, so that mutants reach the code behind a good
    /// signature, a good digest and a successful decryption.
    pub fn synthetic_seeds(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = vec![
            b"<r/>".to_vec(),
            br#"<?xml version="1.0" encoding="UTF-8"?><!-- before --><a:r xmlns:a="urn:a" xmlns="urn:d" xml:lang="en" a:x="1" b='"&lt;&#9;&#xD;'><b xmlns:c="urn:c" c:y="2">t&amp;<![CDATA[<c>]]><!-- c --><?pi data?></b><d xmlns=""/></a:r><?after?>"#.to_vec(),
            br#"<r xmlns:n1="urn:1" xmlns:n2="urn:2"><n1:a xmlns:n1="urn:3" n2:b="x"><n2:c xml:space="preserve"> </n2:c></n1:a></r>"#.to_vec(),
        ];
        let template = self.response_template();
        out.push(template.clone().into_bytes());
        let mut rng = Rng::new(1);
        for _ in 0..6 {
            out.push(self.resign(template.as_bytes(), &mut rng));
        }
        // Signed with InclusiveNamespaces and SHA-512.
        if let Some(signed) = sign_where(
            template.as_bytes(),
            &self
                .rsa_signer
                .clone()
                .inclusive_prefixes(["xs", "#default"])
                .digest_algorithm(sso_xmldsig::DigestAlgorithm::Sha512),
            |d| d.elements().find(|e| e.local_name() == "Assertion"),
        ) {
            out.push(signed);
        }
        // An encrypted, signed assertion in a signed response.
        if let Some(encrypted) = self.encrypted_response() {
            out.push(encrypted.clone());
            if let Some(signed) =
                sign_where(&encrypted, &self.rsa_signer, |d| Some(d.root_element()))
            {
                out.push(signed);
            }
        }
        // The same as the HTTP-POST binding carries it.
        if let Some(signed) = out.get(4) {
            out.push(STANDARD.encode(signed).into_bytes());
        }
        out
    }

    fn encrypted_response(&self) -> Option<Vec<u8>> {
        let standalone = assertion_xml(" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"");
        let signed = sign_where(standalone.as_bytes(), &self.rsa_signer, |d| {
            Some(d.root_element())
        })?;
        let plaintext = match signed.strip_prefix(b"<?xml") {
            Some(rest) => rest
                .windows(2)
                .position(|w| w == b"?>")
                .and_then(|p| rest.get(p + 2..))
                .unwrap_or(rest)
                .to_vec(),
            None => signed,
        };
        // Fixed key, IV and OAEP seed: a fuzz seed must be the same on every run.
        let key = [0x42u8; 32];
        let iv = [0x24u8; 12];
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key,
            Some(&iv),
            &[],
            &plaintext,
            &mut tag,
        )
        .ok()?;
        let data = [&iv[..], &ct, &tag].concat();
        let rsa = self.sp_cert.public_key().ok()?.rsa().ok()?;
        let k = rsa.size() as usize;
        let em = oaep_sha1_encode(&key, k)?;
        let mut wrapped = vec![0u8; k];
        let n = rsa.public_encrypt(&em, &mut wrapped, Padding::NONE).ok()?;
        wrapped.truncate(n);
        let encrypted = format!(
            "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
             Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
             <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\
             <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
             <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\">\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/></xenc:EncryptionMethod>\
             <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>\
             </xenc:EncryptedKey></ds:KeyInfo>\
             <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>\
             </xenc:EncryptedData></saml:EncryptedAssertion>",
            STANDARD.encode(&wrapped),
            STANDARD.encode(&data)
        );
        Some(response_xml(&encrypted).into_bytes())
    }
}

fn has_signature_child(e: Node<'_>) -> bool {
    e.child_elements()
        .any(|c| c.is(sso_xmldsig::DSIG_NS, "Signature"))
}

fn describe(n: Node<'_>) -> String {
    format!("{} at {}", n.local_name(), n.position())
}

fn sign_where(
    input: &[u8],
    signer: &Signer,
    which: impl Fn(&Document) -> Option<Node<'_>>,
) -> Option<Vec<u8>> {
    let doc = Document::parse(input).ok()?;
    let el = which(&doc)?;
    signer.sign(el).ok()
}

fn tight_limits(rng: &mut Rng) -> Limits {
    Limits {
        max_input_bytes: rng.range(16, 1 << 20),
        max_depth: rng.range(1, 70),
        max_attributes: rng.range(0, 70),
        max_namespaces: rng.range(0, 130),
        max_text_len: rng.range(0, 1 << 16),
        max_name_len: rng.range(1, 300),
        max_nodes: rng.range(1, 5000),
    }
}

fn assertion_xml(extra_ns: &str) -> String {
    format!(
        r#"<saml:Assertion{extra_ns} xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" Version="2.0" IssueInstant="2029-12-31T23:59:00Z"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" SPNameQualifier="{SP_ENTITY_ID}">user@example.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2030-01-01T00:05:00Z" Recipient="{ACS_URL}" InResponseTo="{REQUEST_ID}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2029-12-31T23:55:00Z" NotOnOrAfter="2030-01-01T00:05:00Z"><saml:AudienceRestriction><saml:Audience>{SP_ENTITY_ID}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2029-12-31T23:59:00Z" SessionIndex="_s1" SessionNotOnOrAfter="2030-01-01T08:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">user@example.com</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue>b</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#
    )
}

fn response_xml(assertion: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2029-12-31T23:59:00Z" Destination="{ACS_URL}" InResponseTo="{REQUEST_ID}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#
    )
}

/// MGF1 with SHA-1.
fn mgf1_sha1(seed: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len + 20);
    let mut counter: u32 = 0;
    while out.len() < len {
        let block = hash(
            MessageDigest::sha1(),
            &[seed, &counter.to_be_bytes()].concat(),
        )
        .ok()?;
        out.extend_from_slice(&block);
        counter += 1;
    }
    out.truncate(len);
    Some(out)
}

/// EME-OAEP encoding (RFC 8017, 7.1.1) with SHA-1 and a fixed seed, for a deterministic
/// encrypted seed document. Never use a fixed seed outside a fuzzer.
fn oaep_sha1_encode(message: &[u8], k: usize) -> Option<Vec<u8>> {
    const H: usize = 20;
    let db_len = k.checked_sub(H + 1)?;
    let ps_len = k.checked_sub(message.len() + 2 * H + 2)?;
    let mut db = hash(MessageDigest::sha1(), b"").ok()?.to_vec();
    db.resize(H + ps_len, 0);
    db.push(1);
    db.extend_from_slice(message);
    let seed = [0x5Au8; H];
    let db_mask = mgf1_sha1(&seed, db_len)?;
    let masked_db: Vec<u8> = db.iter().zip(&db_mask).map(|(a, b)| a ^ b).collect();
    let seed_mask = mgf1_sha1(&masked_db, H)?;
    let masked_seed: Vec<u8> = seed.iter().zip(&seed_mask).map(|(a, b)| a ^ b).collect();
    let mut em = vec![0u8];
    em.extend_from_slice(&masked_seed);
    em.extend_from_slice(&masked_db);
    Some(em)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn synthetic_seeds_reach_the_good_paths() {
        let h = Harness::new().unwrap();
        let seeds = h.synthetic_seeds();
        let labels =
            |t: Target| -> Vec<&'static str> { seeds.iter().map(|s| h.run(t, s).label).collect() };
        let verify = labels(Target::Verify);
        assert!(
            verify.iter().filter(|l| **l == "verified").count() >= 5,
            "{verify:?}"
        );
        let validate = labels(Target::Validate);
        // Signed in every way, encrypted, and base64: each is accepted.
        assert!(
            validate.iter().filter(|l| **l == "valid").count() >= 8,
            "{validate:?}"
        );
        // All but the base64 one parse (or meet one of the tight limits the target tries).
        let parse = labels(Target::Parse);
        assert!(
            parse.iter().filter(|l| **l == "parsed").count() >= seeds.len() - 4,
            "{parse:?}"
        );
        for t in Target::ALL {
            for s in &seeds {
                assert_eq!(h.run(t, s).violation, None);
            }
        }
    }

    #[test]
    fn the_encrypted_seed_decrypts() {
        let h = Harness::new().unwrap();
        let enc = h.encrypted_response().unwrap();
        let doc = Document::parse(&enc).unwrap();
        let ea = doc
            .elements()
            .find(|e| e.local_name() == "EncryptedAssertion")
            .unwrap();
        let out = h.decryptor.decrypt_assertion(ea).unwrap();
        assert_eq!(out.element().attribute("ID"), Some("_a1"));
    }
}
