//! Every check of `validate`, both the pass and the failure, on responses signed (and
//! encrypted) by an independent implementation: xmlsec1 (Debian package `xmlsec1`) fills the
//! signature and encryption templates written here. Nothing in this file signs with our own
//! signer.
//!
//! A [`Doc`] is a SAML Response template whose every element and attribute can be changed,
//! removed or duplicated; [`Doc::build`] places empty `ds:Signature` templates on the Assertion,
//! the Response or both and has xmlsec1 fill them (assertion first). Keys are RSA-2048 with
//! self-signed certificates, generated once per run; each distinct document is signed once and
//! cached for every test that uses it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use sso_assertion::{
    Certificate, ConnectionConfig, MAX_RESPONSE_BYTES, RequiredSignature, ServiceProvider, SpKey,
    ValidationContext, ValidationError, ValidationErrorKind, VerifiedAssertion, validate,
};
use sso_certgen::CertifiedKey;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

const IDP: &str = "https://idp.example.org/metadata";
const SP: &str = "https://sso.example.com/saml/2/metadata/org_42";
const ACS: &str = "https://sso.example.com/saml/2/acs/org_42";
const REQ: &str = "_req-7f3a";
const OTHER_REQ: &str = "_req-other";
const RESPONSE_ID: &str = "_resp-1";
const ASSERTION_ID: &str = "_assert-1";

// Paths inside the Response template.
const A: &str = "Assertion";
const A_ISSUER: &str = "Assertion/Issuer";
const SUBJECT: &str = "Assertion/Subject";
const NAME_ID: &str = "Assertion/Subject/NameID";
const SC: &str = "Assertion/Subject/SubjectConfirmation";
const SCD: &str = "Assertion/Subject/SubjectConfirmation/SubjectConfirmationData";
const SCD2: &str = "Assertion/Subject/SubjectConfirmation[1]/SubjectConfirmationData";
const CONDITIONS: &str = "Assertion/Conditions";
const AR: &str = "Assertion/Conditions/AudienceRestriction";
const AUTHN: &str = "Assertion/AuthnStatement";
const ATTRS: &str = "Assertion/AttributeStatement";

/// The instant every test validates at (unless a case says otherwise).
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_748_779_200).unwrap() // 2025-06-01T12:00:00Z
}

/// `now` plus `secs`, as an xs:dateTime.
fn t(secs: i64) -> String {
    (now() + Duration::seconds(secs)).format(&Rfc3339).unwrap()
}

const MIN: i64 = 60;
/// The default clock skew, in seconds.
const SKEW: i64 = 3 * MIN;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

struct TestKey {
    name: &'static str,
    key_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    cert: Certificate,
}

fn generate(name: &'static str) -> TestKey {
    let made = CertifiedKey::self_signed(name).unwrap();
    TestKey {
        name,
        key_pem: made.key_pem().as_bytes().to_vec(),
        cert_pem: made.certificate_pem().as_bytes().to_vec(),
        cert: Certificate::from_der(made.certificate_der()).unwrap(),
    }
}

/// The IdP's signing key: the one certificate the connection trusts.
fn idp_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| generate("idp.example.org"))
}

/// A signing key the connection does not trust (or trusts as the other key of a rollover).
fn other_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| generate("other.example.net"))
}

/// The SP's key pair, for encrypted assertions.
fn sp_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| generate("sso.example.com"))
}

/// Another SP key: decrypting with it fails.
fn wrong_sp_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| generate("wrong-sp.example.com"))
}

// ---------------------------------------------------------------------------------------------
// xmlsec1
// ---------------------------------------------------------------------------------------------

fn xmlsec1() -> Command {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("xmlsec1")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        found,
        "xmlsec1 is required for these tests: install the Debian package `xmlsec1` \
         (apt-get install xmlsec1)"
    );
    Command::new("xmlsec1")
}

/// A scratch directory for one xmlsec1 run, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sso-assertion-checks-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One xmlsec1 operation on a document.
#[derive(Clone, Debug)]
enum Step {
    /// Fill the `ds:Signature` template this XPath selects, with this key.
    Sign(String, &'static TestKey),
    /// Replace the element this XPath selects with `EncryptedData` for this SP certificate.
    Encrypt(String, &'static TestKey),
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn run_step(xml: &[u8], step: &Step) -> Vec<u8> {
    let dir = Scratch::new();
    let input = dir.write("in.xml", xml);
    let output = dir.0.join("out.xml").to_str().unwrap().to_owned();
    let mut cmd = xmlsec1();
    match step {
        Step::Sign(xpath, key) => {
            let keyspec = format!(
                "{},{}",
                dir.write("key.pem", &key.key_pem),
                dir.write("cert.pem", &key.cert_pem)
            );
            cmd.args(["--sign", "--privkey-pem", &keyspec]);
            cmd.args(["--id-attr:ID", &format!("{ASSERTION}:Assertion")]);
            cmd.args(["--id-attr:ID", &format!("{PROTOCOL}:Response")]);
            cmd.args(["--node-xpath", xpath, "--output", &output, &input]);
        }
        Step::Encrypt(xpath, key) => {
            let cert = dir.write("sp.crt", &key.cert_pem);
            let tmpl = dir.write("tmpl.xml", ENCRYPTION_TEMPLATE.as_bytes());
            cmd.args(["--encrypt", "--pubkey-cert-pem", &cert]);
            cmd.args(["--session-key", "aes-256", "--xml-data", &input]);
            cmd.args(["--node-xpath", xpath, "--output", &output, &tmpl]);
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "xmlsec1 {step:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
    std::fs::read(&output).unwrap()
}

const ENCRYPTION_TEMPLATE: &str = r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#;

/// Runs `steps` over `xml` with xmlsec1, once per distinct input for the whole test run.
fn xmlsec1_pipeline(xml: &str, steps: &[Step]) -> Arc<Vec<u8>> {
    type Cache = Mutex<HashMap<String, Arc<OnceLock<Arc<Vec<u8>>>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = format!("{steps:?}\n{xml}");
    let slot = CACHE
        .get_or_init(Cache::default)
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .clone();
    slot.get_or_init(|| {
        let mut bytes = xml.as_bytes().to_vec();
        for step in steps {
            bytes = run_step(&bytes, step);
        }
        Arc::new(bytes)
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Part {
    El(El),
    Text(String),
    /// Markup written as is (comments, look-alike namespaces...).
    Raw(String),
}

/// One element of a template.
#[derive(Clone, Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Part>,
}

fn el(name: &str) -> El {
    El {
        name: name.to_owned(),
        attrs: Vec::new(),
        children: Vec::new(),
    }
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if !attr => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `Name` or `Name[i]` (the i-th such child, from 0).
fn segment(seg: &str) -> (&str, usize) {
    match seg.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().unwrap()),
        None => (seg, 0),
    }
}

impl El {
    fn a(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_attr(name, value.into());
        self
    }

    fn c(mut self, child: El) -> Self {
        self.children.push(Part::El(child));
        self
    }

    fn t(mut self, text: &str) -> Self {
        self.children.push(Part::Text(text.to_owned()));
        self
    }

    fn local(&self) -> &str {
        self.name.rsplit(':').next().unwrap()
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set_attr(&mut self, name: &str, value: String) {
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_owned(), value)),
        }
    }

    /// Index in `children` of the `nth` child element named `local`.
    fn child_index(&self, local: &str, nth: usize) -> Option<usize> {
        self.children
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p, Part::El(e) if e.local() == local))
            .nth(nth)
            .map(|(i, _)| i)
    }

    fn at(&mut self, path: &str) -> &mut El {
        let mut cur = self;
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let (local, nth) = segment(seg);
            let i = cur
                .child_index(local, nth)
                .unwrap_or_else(|| panic!("template has no {path:?} ({seg:?} missing)"));
            cur = match &mut cur.children[i] {
                Part::El(e) => e,
                _ => unreachable!(),
            };
        }
        cur
    }

    /// The parent of `path` and the index of `path` among its children.
    fn parent_of(&mut self, path: &str) -> (&mut El, usize) {
        let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
        let p = self.at(parent);
        let (local, nth) = segment(last);
        let i = p
            .child_index(local, nth)
            .unwrap_or_else(|| panic!("template has no {path:?}"));
        (p, i)
    }

    fn write(&self, out: &mut String) {
        write!(out, "<{}", self.name).unwrap();
        for (k, v) in &self.attrs {
            write!(out, " {k}=\"{}\"", escape(v, true)).unwrap();
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Part::El(e) => e.write(out),
                Part::Text(s) => out.push_str(&escape(s, false)),
                Part::Raw(s) => out.push_str(s),
            }
        }
        write!(out, "</{}>", self.name).unwrap();
    }
}

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";

/// What the signatures a [`Doc`] places on the Assertion and the Response look like: the
/// reference URI (`None`: `#` and the element's ID) and the transforms.
#[derive(Clone, Debug)]
struct Shape {
    uri: Option<&'static str>,
    transforms: &'static [&'static str],
}

const SAML_SHAPE: Shape = Shape {
    uri: None,
    transforms: &[ENVELOPED, EXC_C14N],
};

/// Where a [`Doc`] places the signature among the signed element's children.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// Right after the Issuer (first without one), where SAML puts it.
    AfterIssuer,
    /// The first child, before the Issuer.
    First,
    /// Right after the first child element named so.
    After(&'static str),
    /// The last child.
    Last,
}

/// An empty enveloped-signature template over `#id`: exclusive c14n, RSA-SHA256, SHA-256.
fn signature_template(id: &str, key_info: bool, object: Option<&El>) -> El {
    shaped_signature_template(id, &SAML_SHAPE, key_info, object)
}

/// An empty signature template over `#id` (or the shape's URI) with the shape's transforms.
fn shaped_signature_template(id: &str, shape: &Shape, key_info: bool, object: Option<&El>) -> El {
    let alg = |name: &str, uri: &str| el(name).a("Algorithm", uri);
    let mut transforms = el("ds:Transforms");
    for t in shape.transforms {
        transforms = transforms.c(alg("ds:Transform", t));
    }
    let uri = shape.uri.map_or_else(|| format!("#{id}"), str::to_owned);
    let mut sig = el("ds:Signature")
        .a("xmlns:ds", DSIG)
        .c(el("ds:SignedInfo")
            .c(alg(
                "ds:CanonicalizationMethod",
                "http://www.w3.org/2001/10/xml-exc-c14n#",
            ))
            .c(alg(
                "ds:SignatureMethod",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            ))
            .c(el("ds:Reference")
                .a("URI", uri)
                .c(transforms)
                .c(alg(
                    "ds:DigestMethod",
                    "http://www.w3.org/2001/04/xmlenc#sha256",
                ))
                .c(el("ds:DigestValue"))))
        .c(el("ds:SignatureValue"));
    if key_info {
        sig = sig.c(el("ds:KeyInfo").c(el("ds:X509Data")));
    }
    if let Some(o) = object {
        sig = sig.c(el("ds:Object").c(o.clone()));
    }
    sig
}

/// XPath of the element at `path` (relative to the root).
fn xpath(path: &str) -> String {
    let mut x = String::from("/*");
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let (local, nth) = segment(seg);
        write!(x, "/*[local-name()='{local}'][{}]", nth + 1).unwrap();
    }
    x
}

fn signature_xpath(parent: &str, which: &str) -> String {
    format!(
        "{}/*[local-name()='Signature' and namespace-uri()='{DSIG}'][{which}]",
        xpath(parent)
    )
}

/// Where the signatures go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signed {
    None,
    Assertion,
    Response,
    Both,
}

/// A SAML Response template, the signatures to place on it and the encryption to apply.
#[derive(Clone, Debug)]
struct Doc {
    root: El,
    signed: Signed,
    key: &'static TestKey,
    key_info: bool,
    /// Wrap the Assertion in `EncryptedAssertion` and have xmlsec1 encrypt it (after signing it).
    encrypt_assertion: bool,
    /// Wrap the NameID in `EncryptedID` and have xmlsec1 encrypt it (before signing).
    encrypt_name_id: bool,
    /// Extra signature templates appended to these parents (signed first), referencing `#id`.
    extra_signatures: Vec<(String, String)>,
    /// Content of a `ds:Object` in the assertion's signature.
    signature_object: Option<El>,
    /// Text before the root element.
    prolog: String,
    /// Where the Assertion's and the Response's signatures go.
    place: Place,
    /// What they look like.
    shape: Shape,
}

fn default_response() -> El {
    let assertion = el("saml:Assertion")
        .a("ID", ASSERTION_ID)
        .a("Version", "2.0")
        .a("IssueInstant", t(-10))
        .c(el("saml:Issuer").t(IDP))
        .c(el("saml:Subject")
            .c(el("saml:NameID")
                .a("Format", EMAIL)
                .a("SPNameQualifier", SP)
                .a("NameQualifier", IDP)
                .t("jane@corp.example"))
            .c(el("saml:SubjectConfirmation").a("Method", BEARER).c(el(
                "saml:SubjectConfirmationData",
            )
            .a("Recipient", ACS)
            .a("NotOnOrAfter", t(5 * MIN))
            .a("InResponseTo", REQ))))
        .c(el("saml:Conditions")
            .a("NotBefore", t(-MIN))
            .a("NotOnOrAfter", t(10 * MIN))
            .c(el("saml:AudienceRestriction").c(el("saml:Audience").t(SP))))
        .c(el("saml:AuthnStatement")
            .a("AuthnInstant", t(-20))
            .a("SessionIndex", "_session-1")
            .a("SessionNotOnOrAfter", t(8 * 60 * MIN))
            .c(el("saml:AuthnContext").c(el("saml:AuthnContextClassRef")
                .t("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"))))
        .c(el("saml:AttributeStatement")
            .c(el("saml:Attribute")
                .a("Name", "email")
                .a("NameFormat", BASIC)
                .a("FriendlyName", "mail")
                .c(el("saml:AttributeValue").t("jane@corp.example")))
            .c(el("saml:Attribute")
                .a("Name", "groups")
                .c(el("saml:AttributeValue").t("eng"))
                .c(el("saml:AttributeValue").t("ops")))
            .c(el("saml:Attribute")
                .a("Name", "groups")
                .c(el("saml:AttributeValue").t("admins"))));
    el("samlp:Response")
        .a("xmlns:samlp", PROTOCOL)
        .a("xmlns:saml", ASSERTION)
        .a("ID", RESPONSE_ID)
        .a("Version", "2.0")
        .a("IssueInstant", t(-10))
        .a("Destination", ACS)
        .a("InResponseTo", REQ)
        .c(el("saml:Issuer").a("Format", ENTITY).t(IDP))
        .c(el("samlp:Status").c(el("samlp:StatusCode").a("Value", SUCCESS)))
        .c(assertion)
}

/// The happy path: everything right, the assertion signed.
fn doc() -> Doc {
    Doc {
        root: default_response(),
        signed: Signed::Assertion,
        key: idp_key(),
        key_info: true,
        encrypt_assertion: false,
        encrypt_name_id: false,
        extra_signatures: Vec::new(),
        signature_object: None,
        prolog: String::new(),
        place: Place::AfterIssuer,
        shape: SAML_SHAPE,
    }
}

impl Doc {
    /// Sets (or adds) attribute `name` of the element at `path`.
    fn set(mut self, path: &str, name: &str, value: impl Into<String>) -> Self {
        self.root.at(path).set_attr(name, value.into());
        self
    }

    /// Removes attribute `name` of the element at `path`.
    fn unset(mut self, path: &str, name: &str) -> Self {
        let e = self.root.at(path);
        let before = e.attrs.len();
        e.attrs.retain(|(k, _)| k != name);
        assert_ne!(before, e.attrs.len(), "{path} has no @{name}");
        self
    }

    /// Removes the element at `path`.
    fn remove(mut self, path: &str) -> Self {
        let (p, i) = self.root.parent_of(path);
        p.children.remove(i);
        self
    }

    /// Inserts a copy of the element at `path` right after it.
    fn dup(mut self, path: &str) -> Self {
        let (p, i) = self.root.parent_of(path);
        let copy = p.children[i].clone();
        p.children.insert(i + 1, copy);
        self
    }

    /// Replaces the content of the element at `path` with `text`.
    fn text(mut self, path: &str, text: &str) -> Self {
        self.root.at(path).children = vec![Part::Text(text.to_owned())];
        self
    }

    /// Replaces the content of the element at `path` with raw markup.
    fn raw(mut self, path: &str, markup: &str) -> Self {
        self.root.at(path).children = vec![Part::Raw(markup.to_owned())];
        self
    }

    /// Appends `child` to the element at `path`.
    fn push(mut self, path: &str, child: El) -> Self {
        self.root.at(path).children.push(Part::El(child));
        self
    }

    /// Appends raw markup to the element at `path`.
    fn push_raw(mut self, path: &str, markup: &str) -> Self {
        self.root
            .at(path)
            .children
            .push(Part::Raw(markup.to_owned()));
        self
    }

    /// Inserts `child` before the element at `path`.
    fn before(mut self, path: &str, child: El) -> Self {
        let (p, i) = self.root.parent_of(path);
        p.children.insert(i, Part::El(child));
        self
    }

    fn signed(mut self, signed: Signed) -> Self {
        self.signed = signed;
        self
    }

    fn key(mut self, key: &'static TestKey) -> Self {
        self.key = key;
        self
    }

    fn key_info(mut self, key_info: bool) -> Self {
        self.key_info = key_info;
        self
    }

    fn encrypted(mut self) -> Self {
        self.encrypt_assertion = true;
        self
    }

    fn encrypted_name_id(mut self) -> Self {
        self.encrypt_name_id = true;
        self
    }

    fn extra_signature(mut self, parent: &str, reference: &str) -> Self {
        self.extra_signatures
            .push((parent.to_owned(), reference.to_owned()));
        self
    }

    fn signature_object(mut self, content: El) -> Self {
        self.signature_object = Some(content);
        self
    }

    fn prolog(mut self, prolog: &str) -> Self {
        self.prolog = prolog.to_owned();
        self
    }

    fn place(mut self, place: Place) -> Self {
        self.place = place;
        self
    }

    fn shape(mut self, uri: Option<&'static str>, transforms: &'static [&'static str]) -> Self {
        self.shape = Shape { uri, transforms };
        self
    }

    /// The template as xmlsec1 receives it, and what xmlsec1 is to do with it.
    fn template(&self) -> (String, Vec<Step>) {
        let mut root = self.root.clone();
        let mut steps = Vec::new();
        // Where a template path ends up once the assertion is wrapped for encryption.
        let real = |path: &str| match path.strip_prefix(A) {
            Some(rest) if self.encrypt_assertion && (rest.is_empty() || rest.starts_with('/')) => {
                format!("EncryptedAssertion/{path}")
            }
            _ => path.to_owned(),
        };
        if self.encrypt_name_id {
            let (p, i) = root.parent_of(NAME_ID);
            let Part::El(name_id) = p.children.remove(i) else {
                unreachable!()
            };
            p.children
                .insert(i, Part::El(el("saml:EncryptedID").c(name_id)));
            steps.push(Step::Encrypt(
                xpath(&real("Assertion/Subject/EncryptedID/NameID")),
                sp_key(),
            ));
        }
        for (parent, reference) in &self.extra_signatures {
            root.at(parent)
                .children
                .push(Part::El(signature_template(reference, false, None)));
            steps.push(Step::Sign(
                signature_xpath(&real(parent), "last()"),
                self.key,
            ));
        }
        let place = |e: &mut El, sig: El| {
            let at = match self.place {
                Place::AfterIssuer => e.child_index("Issuer", 0).map_or(0, |i| i + 1),
                Place::First => 0,
                Place::After(local) => e.child_index(local, 0).unwrap() + 1,
                Place::Last => e.children.len(),
            };
            e.children.insert(at, Part::El(sig));
        };
        if matches!(self.signed, Signed::Assertion | Signed::Both) {
            let a = root.at(A);
            let id = a.attr("ID").unwrap_or_default().to_owned();
            place(
                a,
                shaped_signature_template(
                    &id,
                    &self.shape,
                    self.key_info,
                    self.signature_object.as_ref(),
                ),
            );
        }
        if self.encrypt_assertion {
            let (p, i) = root.parent_of(A);
            let Part::El(a) = p.children.remove(i) else {
                unreachable!()
            };
            p.children
                .insert(i, Part::El(el("saml:EncryptedAssertion").c(a)));
        }
        if matches!(self.signed, Signed::Assertion | Signed::Both) {
            steps.push(Step::Sign(signature_xpath(&real(A), "1"), self.key));
        }
        if self.encrypt_assertion {
            steps.push(Step::Encrypt(xpath(&real(A)), sp_key()));
        }
        if matches!(self.signed, Signed::Response | Signed::Both) {
            let id = root.attr("ID").unwrap_or_default().to_owned();
            place(
                &mut root,
                shaped_signature_template(&id, &self.shape, self.key_info, None),
            );
            steps.push(Step::Sign(signature_xpath("", "1"), self.key));
        }
        let mut xml = self.prolog.clone();
        root.write(&mut xml);
        (xml, steps)
    }

    /// The document as the IdP sends it: signed (and encrypted) by xmlsec1.
    fn build(&self) -> Vec<u8> {
        let (xml, steps) = self.template();
        xmlsec1_pipeline(&xml, &steps).to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// Running cases
// ---------------------------------------------------------------------------------------------

/// One document, the connection settings and context it is validated with, and the verdict.
struct Case {
    name: String,
    doc: Doc,
    required: RequiredSignature,
    unsolicited: bool,
    skew: Option<Duration>,
    sp_key: Option<&'static TestKey>,
    trusted: Vec<&'static TestKey>,
    outstanding: Vec<&'static str>,
    at: OffsetDateTime,
    /// Bytes to send instead of the built document.
    transform: Option<fn(Vec<u8>) -> Vec<u8>>,
    /// `None`: accepted; otherwise the reason code.
    expect: Option<&'static str>,
}

fn case(name: &str, doc: Doc, expect: Option<&'static str>) -> Case {
    Case {
        name: name.to_owned(),
        doc,
        required: RequiredSignature::Either,
        unsolicited: false,
        skew: None,
        sp_key: None,
        trusted: vec![idp_key()],
        outstanding: vec![REQ],
        at: now(),
        transform: None,
        expect,
    }
}

fn ok(name: &str, doc: Doc) -> Case {
    case(name, doc, None)
}

fn fails(name: &str, doc: Doc, reason: &'static str) -> Case {
    case(name, doc, Some(reason))
}

impl Case {
    fn required(mut self, r: RequiredSignature) -> Self {
        self.required = r;
        self
    }
    fn unsolicited(mut self) -> Self {
        self.unsolicited = true;
        self
    }
    fn skew(mut self, skew: Duration) -> Self {
        self.skew = Some(skew);
        self
    }
    fn sp_key(mut self, key: &'static TestKey) -> Self {
        self.sp_key = Some(key);
        self
    }
    fn trust(mut self, keys: &[&'static TestKey]) -> Self {
        self.trusted = keys.to_vec();
        self
    }
    fn outstanding(mut self, ids: &[&'static str]) -> Self {
        self.outstanding = ids.to_vec();
        self
    }
    fn at(mut self, secs: i64) -> Self {
        self.at = now() + Duration::seconds(secs);
        self
    }
    fn transform(mut self, f: fn(Vec<u8>) -> Vec<u8>) -> Self {
        self.transform = Some(f);
        self
    }

    fn config(&self) -> ConnectionConfig {
        let mut sp = ServiceProvider::new(SP, ACS);
        if let Some(k) = self.sp_key {
            sp = sp.with_key(
                SpKey::from_pem(&k.key_pem, std::str::from_utf8(&k.cert_pem).unwrap()).unwrap(),
            );
        }
        let certs = self.trusted.iter().map(|k| k.cert.clone()).collect();
        let mut config =
            ConnectionConfig::new(IDP, certs, Vec::new(), sp).required_signature(self.required);
        if let Some(s) = self.skew {
            config = config.clock_skew(s);
        }
        config.dangerous().allow_unsolicited(self.unsolicited);
        config
    }

    fn bytes(&self) -> Vec<u8> {
        let built = self.doc.build();
        match self.transform {
            Some(f) => f(built),
            None => built,
        }
    }

    fn outcome(&self) -> Result<VerifiedAssertion, ValidationError> {
        let ctx = ValidationContext::new(self.at, &self.outstanding);
        validate(&self.bytes(), &self.config(), &ctx)
    }
}

/// Runs every case and reports all mismatches at once.
fn run(cases: Vec<Case>) {
    let total = cases.len();
    let mut failures = Vec::new();
    for c in cases {
        match (c.outcome(), c.expect) {
            (Ok(_), None) => {}
            (Err(e), Some(reason)) if e.reason() == reason => {
                if e.detail().is_empty() {
                    failures.push(format!("{}: {reason} without a detail", c.name));
                }
            }
            (Ok(_), Some(reason)) => {
                failures.push(format!("{}: accepted, expected {reason}", c.name));
            }
            (Err(e), expect) => failures.push(format!(
                "{}: refused {e}, expected {}",
                c.name,
                expect.unwrap_or("acceptance")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        total,
        failures.join("\n")
    );
}

fn accepted(c: &Case) -> VerifiedAssertion {
    c.outcome()
        .unwrap_or_else(|e| panic!("{}: refused {e}", c.name))
}

fn refused(c: &Case) -> ValidationError {
    match c.outcome() {
        Ok(_) => panic!("{}: accepted", c.name),
        Err(e) => e,
    }
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(s.contains(from), "{from:?} not in the document");
    s.replace(from, to).into_bytes()
}

/// A second, distinct assertion (for the "exactly one" checks).
fn second_assertion() -> El {
    default_response()
        .at(A)
        .clone()
        .a("ID", "_assert-2")
        .a("IssueInstant", t(-5))
}

// ---------------------------------------------------------------------------------------------
// The happy path
// ---------------------------------------------------------------------------------------------

/// Every field of the `VerifiedAssertion`, read from the signed assertion.
#[test]
fn happy_path_fields() {
    let v = accepted(&ok("assertion signed", doc()));
    assert_eq!(v.issuer(), IDP);
    assert_eq!(v.assertion_id(), ASSERTION_ID);
    let n = v.name_id();
    assert_eq!(n.value, "jane@corp.example");
    assert_eq!(n.format.as_deref(), Some(EMAIL));
    assert_eq!(n.sp_name_qualifier.as_deref(), Some(SP));
    assert_eq!(n.name_qualifier.as_deref(), Some(IDP));
    let attrs: Vec<_> = v
        .attributes()
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.name_format.as_deref(),
                a.friendly_name.as_deref(),
                a.values.clone(),
            )
        })
        .collect();
    assert_eq!(
        attrs,
        [
            (
                "email",
                Some(BASIC),
                Some("mail"),
                vec!["jane@corp.example".to_owned()]
            ),
            (
                "groups",
                None,
                None,
                vec!["eng".to_owned(), "ops".to_owned()]
            ),
            ("groups", None, None, vec!["admins".to_owned()]),
        ]
    );
    assert_eq!(
        v.attribute_values("groups").collect::<Vec<_>>(),
        ["eng", "ops", "admins"]
    );
    assert_eq!(v.authn_instant(), Some(now() - Duration::seconds(20)));
    assert_eq!(v.session_index(), Some("_session-1"));
    assert_eq!(
        v.session_not_on_or_after(),
        Some(now() + Duration::hours(8))
    );
    assert_eq!(v.in_response_to(), Some(REQ));
    assert!(v.is_solicited());
    assert!(v.signed_parts().assertion);
    assert!(!v.signed_parts().response);
    assert_eq!(v.signing_key(), idp_key().cert.fingerprint());
    assert!(!v.was_encrypted());
    assert_eq!(
        v.remember_until(),
        now() + Duration::minutes(10) + Duration::minutes(3)
    );

    let v = accepted(&ok("response signed", doc().signed(Signed::Response)));
    assert!(v.signed_parts().response && !v.signed_parts().assertion);
    assert_eq!(v.name_id().value, "jane@corp.example");
    let v = accepted(&ok("both signed", doc().signed(Signed::Both)));
    assert!(v.signed_parts().response && v.signed_parts().assertion);
    assert_eq!(v.assertion_id(), ASSERTION_ID);
    assert_eq!(v.signing_key(), idp_key().cert.fingerprint());
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

fn to_base64(bytes: Vec<u8>) -> Vec<u8> {
    // As an HTTP-POST form carries it: 76-character lines.
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    b64.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

/// A document of about `total` bytes: the signed assertion carries the padding.
fn padded(total: usize) -> Doc {
    let chunk = 100_000;
    let mut d = doc();
    let base = d.build().len();
    let mut attr = el("saml:Attribute").a("Name", "padding");
    let mut left = total.saturating_sub(base + 200);
    while left > 0 {
        let n = left.min(chunk);
        attr = attr.c(el("saml:AttributeValue").t(&"x".repeat(n)));
        left -= n;
    }
    d = d.push(ATTRS, attr);
    d
}

#[test]
fn input_encoding_and_size() {
    let with_bom: fn(Vec<u8>) -> Vec<u8> = |b| [b"\xEF\xBB\xBF".as_slice(), &b].concat();
    let with_doctype: fn(Vec<u8>) -> Vec<u8> = |b| {
        let s = String::from_utf8(b).unwrap();
        let (decl, rest) = s.split_once('\n').unwrap();
        format!("{decl}\n<!DOCTYPE samlp:Response [<!ENTITY x \"y\">]>\n{rest}").into_bytes()
    };
    let under = padded(MAX_RESPONSE_BYTES - 4096);
    let over = padded(MAX_RESPONSE_BYTES + 4096);
    assert!(under.build().len() <= MAX_RESPONSE_BYTES);
    assert!(over.build().len() > MAX_RESPONSE_BYTES);
    run(vec![
        ok("raw XML", doc()),
        ok("base64 as POSTed", doc()).transform(to_base64),
        ok("base64, response signed", doc().signed(Signed::Response)).transform(to_base64),
        ok("UTF-8 byte order mark", doc()).transform(with_bom),
        fails("neither XML nor base64", doc(), "invalid-encoding")
            .transform(|_| b"this is !! not base64".to_vec()),
        fails("DOCTYPE", doc(), "invalid-xml").transform(with_doctype),
        fails(
            "ISO-8859-1 document",
            doc()
                .prolog("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n")
                .raw(NAME_ID, "j&#252;rgen@corp.example"),
            "unsupported-encoding",
        )
        .transform(|b| {
            assert!(b.contains(&0xFC), "xmlsec1 wrote the NameID in ISO-8859-1");
            b
        }),
        ok("just under 1 MiB", under.clone()),
        ok("just under 1 MiB, base64", under).transform(to_base64),
        fails("over 1 MiB", over.clone(), "response-too-large"),
        fails("3 MiB of base64", doc(), "response-too-large").transform(|_| vec![b'A'; 3 << 20]),
        fails("over 1 MiB, base64", over, "response-too-large").transform(to_base64),
        fails("not a Response: AuthnRequest root", doc(), "not-a-response").transform(|b| {
            replace(
                &replace(&b, "<samlp:Response ", "<samlp:AuthnRequest "),
                "</samlp:Response>",
                "</samlp:AuthnRequest>",
            )
        }),
        fails(
            "not a Response: SAML 1.1 protocol namespace",
            doc().set("", "xmlns:samlp", "urn:oasis:names:tc:SAML:1.0:protocol"),
            "not-a-response",
        ),
    ]);
}

/// The signed bytes with their XML declaration replaced by one declaring `encoding` (`None`:
/// no declaration). Every byte of the body is ASCII, so it reads the same in every encoding
/// declared here: only the declaration differs.
fn declaring(bytes: Vec<u8>, encoding: Option<&str>) -> Vec<u8> {
    let s = String::from_utf8(bytes).unwrap();
    assert!(s.is_ascii(), "the signed response is ASCII");
    let body = s
        .strip_prefix("<?xml")
        .map_or(s.as_str(), |rest| &rest[rest.find("?>").unwrap() + 2..]);
    let declaration = encoding.map_or(String::new(), |e| {
        format!("<?xml version=\"1.0\" encoding=\"{e}\"?>")
    });
    format!("{declaration}{body}").into_bytes()
}

/// Only UTF-8 may be declared, in any letter case ("utf8" is not its name), even when every
/// byte is ASCII and would read the same in the declared encoding: one encoding, one way to
/// read every byte. The refusal is `unsupported-encoding`, raw or base64.
#[test]
fn declared_encoding() {
    run(vec![
        ok("no declaration", doc()).transform(|b| declaring(b, None)),
        ok("UTF-8", doc()).transform(|b| declaring(b, Some("UTF-8"))),
        ok("utf-8", doc()).transform(|b| declaring(b, Some("utf-8"))),
        ok("Utf-8, base64", doc()).transform(|b| to_base64(declaring(b, Some("Utf-8")))),
        fails("ISO-8859-1, ASCII body", doc(), "unsupported-encoding")
            .transform(|b| declaring(b, Some("ISO-8859-1"))),
        fails("US-ASCII, ASCII body", doc(), "unsupported-encoding")
            .transform(|b| declaring(b, Some("US-ASCII"))),
        fails("us-ascii, base64", doc(), "unsupported-encoding")
            .transform(|b| to_base64(declaring(b, Some("us-ascii")))),
        fails("windows-1252", doc(), "unsupported-encoding")
            .transform(|b| declaring(b, Some("windows-1252"))),
        fails("utf8", doc(), "unsupported-encoding").transform(|b| declaring(b, Some("utf8"))),
        fails(
            "UTF-16 declared over UTF-8 bytes",
            doc(),
            "unsupported-encoding",
        )
        .transform(|b| declaring(b, Some("UTF-16"))),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Response: Version, ID, Status
// ---------------------------------------------------------------------------------------------

#[test]
fn version_and_id() {
    run(vec![
        ok("Version 2.0 on both", doc().signed(Signed::Both)),
        fails(
            "Response Version 1.1",
            doc().set("", "Version", "1.1"),
            "malformed-response",
        ),
        fails(
            "Response Version missing",
            doc().unset("", "Version"),
            "malformed-response",
        ),
        fails(
            "Response Version 2.0 on a signed Response, 1.0 on the Assertion",
            doc().set(A, "Version", "1.0").signed(Signed::Both),
            "malformed-assertion",
        ),
        fails(
            "Assertion Version missing",
            doc().unset(A, "Version").signed(Signed::Response),
            "malformed-assertion",
        ),
        fails(
            "Response ID missing",
            doc().unset("", "ID"),
            "malformed-response",
        ),
        fails(
            "Assertion ID missing (Response signed)",
            doc().unset(A, "ID").signed(Signed::Response),
            "malformed-assertion",
        ),
    ]);
}

#[test]
fn status() {
    let failure = |d: Doc| {
        d.remove(A)
            .raw(
                "Status",
                "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">\
                 <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/>\
                 </samlp:StatusCode><samlp:StatusMessage>User cancelled the sign-in\
                 </samlp:StatusMessage>",
            )
            .signed(Signed::Response)
    };
    run(vec![
        ok("Success", doc().signed(Signed::Response)),
        fails(
            "Responder/AuthnFailed",
            failure(doc()),
            "status-not-success",
        ),
        fails(
            "Responder, unsigned",
            failure(doc()).signed(Signed::None),
            "status-not-success",
        ),
        fails(
            "Requester with an assertion",
            doc().set(
                "Status/StatusCode",
                "Value",
                "urn:oasis:names:tc:SAML:2.0:status:Requester",
            ),
            "status-not-success",
        ),
        fails("no Status", doc().remove("Status"), "status-not-success"),
        fails(
            "Status without StatusCode",
            doc().remove("Status/StatusCode"),
            "status-not-success",
        ),
    ]);
    let e = refused(&fails("detail", failure(doc()), "status-not-success"));
    assert!(
        e.detail()
            .contains("urn:oasis:names:tc:SAML:2.0:status:Responder")
            && e.detail()
                .contains("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
            && e.detail().contains("User cancelled the sign-in"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Exactly one assertion
// ---------------------------------------------------------------------------------------------

#[test]
fn exactly_one_assertion() {
    let extensions = el("samlp:Extensions").c(second_assertion());
    let lookalike = r#"<evil:Assertion xmlns:evil="urn:oasis:names:tc:SAML:2.0:assertion-evil" ID="_assert-evil" Version="2.0"><evil:Issuer>https://idp.example.org/metadata</evil:Issuer></evil:Assertion>"#;
    run(vec![
        ok("one Assertion", doc()),
        ok("one EncryptedAssertion", doc().encrypted()).sp_key(sp_key()),
        fails(
            "no Assertion",
            doc().remove(A).signed(Signed::Response),
            "no-assertion",
        ),
        fails(
            "two Assertions in the Response",
            doc().push("", second_assertion()),
            "multiple-assertions",
        ),
        fails(
            "a second Assertion in Extensions",
            doc().before("Status", extensions),
            "multiple-assertions",
        ),
        fails(
            "a second Assertion in Extensions, Response signed",
            doc()
                .before("Status", el("samlp:Extensions").c(second_assertion()))
                .signed(Signed::Both),
            "multiple-assertions",
        ),
        fails(
            "a second Assertion in Advice",
            doc().before(
                "Assertion/AuthnStatement",
                el("saml:Advice").c(second_assertion()),
            ),
            "multiple-assertions",
        ),
        fails(
            "a second Assertion in an AttributeValue",
            doc().push(
                "Assertion/AttributeStatement/Attribute/AttributeValue",
                second_assertion(),
            ),
            "multiple-assertions",
        ),
        fails(
            "a second Assertion in the signature's ds:Object",
            doc().signature_object(second_assertion()),
            "multiple-assertions",
        ),
        fails(
            "a look-alike namespace Assertion beside the real one",
            doc().push_raw("", lookalike),
            "multiple-assertions",
        ),
        fails(
            "the only Assertion in a look-alike namespace",
            doc()
                .set(
                    A,
                    "xmlns:saml",
                    "urn:oasis:names:tc:SAML:2.0:assertion-evil",
                )
                .signed(Signed::Response),
            "multiple-assertions",
        ),
        fails(
            "EncryptedAssertion and Assertion",
            doc().encrypted().push("", second_assertion()),
            "multiple-assertions",
        )
        .sp_key(sp_key()),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

/// Where the signature is, against what the connection requires.
#[test]
fn required_signature_matrix() {
    use RequiredSignature as R;
    let table = [
        (R::Either, [false, true, true, true]),
        (R::Assertion, [false, true, false, true]),
        (R::Response, [false, false, true, true]),
        (R::Both, [false, false, false, true]),
    ];
    let mut cases = Vec::new();
    for (required, verdicts) in table {
        for (signed, pass) in [
            Signed::None,
            Signed::Assertion,
            Signed::Response,
            Signed::Both,
        ]
        .into_iter()
        .zip(verdicts)
        {
            let name = format!("{signed:?} signed, {required:?} required");
            let c = if pass {
                ok(&name, doc().signed(signed))
            } else {
                fails(&name, doc().signed(signed), "unsigned-assertion")
            };
            cases.push(c.required(required));
        }
    }
    run(cases);
}

#[test]
fn every_signature_must_verify() {
    let tamper_name: fn(Vec<u8>) -> Vec<u8> = |b| {
        replace(
            &b,
            ">jane@corp.example</saml:NameID>",
            ">mallory@corp.example</saml:NameID>",
        )
    };
    let tamper_response: fn(Vec<u8>) -> Vec<u8> = |b| {
        replace(
            &b,
            &format!("Destination=\"{ACS}\""),
            &format!(
                "Destination=\"{ACS}\" Consent=\"urn:oasis:names:tc:SAML:2.0:consent:obtained\""
            ),
        )
    };
    let tamper_signature_value: fn(Vec<u8>) -> Vec<u8> = |b| {
        let s = String::from_utf8(b).unwrap();
        let start = s.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len() + 10;
        let mut s = s.into_bytes();
        s[start] = if s[start] == b'A' { b'B' } else { b'A' };
        s
    };
    run(vec![
        ok("assertion signed", doc()),
        fails("assertion tampered after signing", doc(), "digest-mismatch").transform(tamper_name),
        fails(
            "response-signed, assertion tampered",
            doc().signed(Signed::Response),
            "digest-mismatch",
        )
        .transform(tamper_name),
        fails(
            "both signed, assertion tampered",
            doc().signed(Signed::Both),
            "digest-mismatch",
        )
        .transform(tamper_name),
        fails(
            "both signed, Response tampered outside the assertion",
            doc().signed(Signed::Both),
            "digest-mismatch",
        )
        .transform(tamper_response),
        ok(
            "assertion signed, unsigned Response changed outside the assertion",
            doc(),
        )
        .transform(tamper_response),
        fails("SignatureValue changed", doc(), "signature-invalid")
            .transform(tamper_signature_value),
        fails(
            "assertion signed by an untrusted key (KeyInfo names it)",
            doc().key(other_key()),
            "untrusted-key",
        ),
        fails(
            "response signed by an untrusted key (KeyInfo names it)",
            doc().signed(Signed::Response).key(other_key()),
            "untrusted-key",
        ),
        fails(
            "signed by an untrusted key, no KeyInfo",
            doc().key(other_key()).key_info(false),
            "signature-invalid",
        ),
        ok(
            "signed by the trusted key, no KeyInfo",
            doc().key_info(false),
        ),
        ok("rollover: the second trusted key signs", doc()).trust(&[other_key(), idp_key()]),
        ok(
            "rollover: the first trusted key signs",
            doc().key(other_key()),
        )
        .trust(&[other_key(), idp_key()]),
    ]);
}

#[test]
fn signatures_only_on_response_and_assertion() {
    run(vec![
        ok(
            "signatures on Response and Assertion",
            doc().signed(Signed::Both),
        ),
        fails(
            "a signature in the Response's Extensions",
            doc()
                .before("Status", el("samlp:Extensions"))
                .extra_signature("Extensions", ASSERTION_ID),
            "unexpected-signature",
        ),
        fails(
            "a signature inside the Subject",
            doc().extra_signature(SUBJECT, ASSERTION_ID),
            "unexpected-signature",
        ),
        fails(
            "a second signature on the Assertion",
            doc().extra_signature(A, ASSERTION_ID),
            "unexpected-signature",
        ),
        fails(
            "a signature in an AttributeValue",
            doc().extra_signature(
                "Assertion/AttributeStatement/Attribute/AttributeValue",
                ASSERTION_ID,
            ),
            "unexpected-signature",
        ),
        fails(
            "a signature in Status, Response signed",
            doc()
                .signed(Signed::Response)
                .extra_signature("Status", RESPONSE_ID),
            "unexpected-signature",
        ),
    ]);
}

/// Where the SAML schema puts a signature: right after the Issuer of the element it signs
/// (first, when a Response has no Issuer). Anywhere else is `misplaced-signature`, though
/// xmlsec1 made each of these signatures and each covers its element.
#[test]
fn signature_place() {
    run(vec![
        ok("assertion: right after its Issuer", doc()),
        ok(
            "response: right after its Issuer",
            doc().signed(Signed::Response),
        ),
        ok(
            "response without Issuer: first",
            doc().signed(Signed::Response).remove("Issuer"),
        ),
        fails(
            "assertion: last child",
            doc().place(Place::Last),
            "misplaced-signature",
        ),
        fails(
            "assertion: after the Subject",
            doc().place(Place::After("Subject")),
            "misplaced-signature",
        ),
        fails(
            "assertion: before the Issuer",
            doc().place(Place::First),
            "misplaced-signature",
        ),
        fails(
            "response: last child",
            doc().signed(Signed::Response).place(Place::Last),
            "misplaced-signature",
        ),
        fails(
            "response: after Status",
            doc().signed(Signed::Response).place(Place::After("Status")),
            "misplaced-signature",
        ),
        fails(
            "response: before the Issuer",
            doc().signed(Signed::Response).place(Place::First),
            "misplaced-signature",
        ),
        fails(
            "both signed, both last",
            doc().signed(Signed::Both).place(Place::Last),
            "misplaced-signature",
        ),
        fails(
            "encrypted assertion, its signature last inside",
            doc().encrypted().place(Place::Last),
            "misplaced-signature",
        )
        .sp_key(sp_key()),
    ]);
    let e = refused(&fails(
        "response: last child",
        doc().signed(Signed::Response).place(Place::Last),
        "misplaced-signature",
    ));
    assert!(
        e.detail()
            .contains("follows saml:Issuer, samlp:Status, saml:Assertion"),
        "{e}"
    );
}

/// SAML's signature profile through `validate`, on signatures xmlsec1 makes: the reference is
/// `#` and the signed element's ID, the transforms enveloped-signature then exclusive c14n or
/// c14n 1.0.
#[test]
fn reference_and_transforms() {
    run(vec![
        ok(
            "exclusive c14n with comments",
            doc().shape(None, &[ENVELOPED, EXC_C14N_COMMENTS]),
        ),
        ok("c14n 1.0", doc().shape(None, &[ENVELOPED, C14N])),
        ok(
            "response signed, c14n 1.0",
            doc()
                .signed(Signed::Response)
                .shape(None, &[ENVELOPED, C14N]),
        ),
        fails(
            "assertion: URI=\"\"",
            doc().shape(Some(""), &[ENVELOPED, EXC_C14N]),
            "whole-document-reference",
        ),
        fails(
            "response: URI=\"\"",
            doc()
                .signed(Signed::Response)
                .shape(Some(""), &[ENVELOPED, EXC_C14N]),
            "whole-document-reference",
        ),
        fails(
            "assertion: the Response's ID",
            doc().shape(Some("#_resp-1"), &[ENVELOPED, EXC_C14N]),
            "wrong-reference",
        ),
        fails(
            "no canonicalization transform",
            doc().shape(None, &[ENVELOPED]),
            "invalid-transforms",
        ),
        fails(
            "enveloped-signature twice",
            doc().shape(None, &[ENVELOPED, ENVELOPED, EXC_C14N]),
            "invalid-transforms",
        ),
        fails(
            "two canonicalizations",
            doc().shape(None, &[ENVELOPED, EXC_C14N, C14N]),
            "invalid-transforms",
        ),
        fails(
            "C14N 1.1",
            doc().shape(None, &[ENVELOPED, C14N11]),
            "transform-not-allowed",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Encrypted assertions
// ---------------------------------------------------------------------------------------------

#[test]
fn encrypted_assertion() {
    run(vec![
        ok("encrypted, assertion signed inside", doc().encrypted()).sp_key(sp_key()),
        ok(
            "encrypted, Response signed",
            doc().encrypted().signed(Signed::Response),
        )
        .sp_key(sp_key()),
        ok(
            "encrypted, both signed",
            doc().encrypted().signed(Signed::Both),
        )
        .sp_key(sp_key())
        .required(RequiredSignature::Both),
        fails(
            "encrypted, no SP key",
            doc().encrypted(),
            "no-decryption-key",
        ),
        fails(
            "encrypted for another SP key",
            doc().encrypted(),
            "decryption-failed",
        )
        .sp_key(wrong_sp_key()),
        fails(
            "encrypted, unsigned",
            doc().encrypted().signed(Signed::None),
            "unsigned-assertion",
        )
        .sp_key(sp_key()),
        fails(
            "encrypted, a second signature inside the encrypted assertion",
            doc().encrypted().extra_signature(SUBJECT, ASSERTION_ID),
            "unexpected-signature",
        )
        .sp_key(sp_key()),
        ok("EncryptedID, SP key", doc().encrypted_name_id()).sp_key(sp_key()),
        fails(
            "EncryptedID, no SP key",
            doc().encrypted_name_id(),
            "no-decryption-key",
        ),
    ]);
    let v = accepted(&ok("fields", doc().encrypted()).sp_key(sp_key()));
    assert!(v.was_encrypted());
    assert!(v.signed_parts().assertion && !v.signed_parts().response);
    assert_eq!(v.name_id().value, "jane@corp.example");
    assert_eq!(v.assertion_id(), ASSERTION_ID);
    let v = accepted(&ok("EncryptedID", doc().encrypted_name_id()).sp_key(sp_key()));
    assert_eq!(v.name_id().value, "jane@corp.example");
    assert_eq!(v.name_id().sp_name_qualifier.as_deref(), Some(SP));
}

// ---------------------------------------------------------------------------------------------
// Issuer and Destination
// ---------------------------------------------------------------------------------------------

#[test]
fn issuer() {
    run(vec![
        ok("Assertion Issuer without Format", doc()),
        ok(
            "Assertion Issuer with entity Format",
            doc().set(A_ISSUER, "Format", ENTITY),
        ),
        fails(
            "Assertion Issuer missing",
            doc().remove(A_ISSUER),
            "missing-issuer",
        ),
        fails(
            "Assertion Issuer missing, Response signed",
            doc().remove(A_ISSUER).signed(Signed::Response),
            "missing-issuer",
        ),
        fails(
            "Assertion Issuer wrong",
            doc().text(A_ISSUER, "https://idp.evil.example/metadata"),
            "wrong-issuer",
        ),
        fails(
            "Assertion Issuer with emailAddress Format",
            doc().set(A_ISSUER, "Format", EMAIL),
            "wrong-issuer",
        ),
        ok(
            "Response Issuer missing",
            doc().remove("Issuer").signed(Signed::Both),
        ),
        ok(
            "Response Issuer without Format",
            doc().unset("Issuer", "Format"),
        ),
        fails(
            "Response Issuer wrong",
            doc().text("Issuer", "https://idp.evil.example/metadata"),
            "wrong-issuer",
        ),
        fails(
            "Response Issuer wrong, Response signed",
            doc()
                .text("Issuer", "https://idp.evil.example/metadata")
                .signed(Signed::Response),
            "wrong-issuer",
        ),
        fails(
            "Response Issuer with a wrong Format",
            doc().set(
                "Issuer",
                "Format",
                "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            ),
            "wrong-issuer",
        ),
    ]);
}

#[test]
fn destination() {
    run(vec![
        ok("signed Response to our ACS", doc().signed(Signed::Response)),
        fails(
            "signed Response without Destination",
            doc().unset("", "Destination").signed(Signed::Response),
            "missing-destination",
        ),
        fails(
            "both signed, no Destination",
            doc().unset("", "Destination").signed(Signed::Both),
            "missing-destination",
        ),
        fails(
            "signed Response to another ACS",
            doc()
                .set(
                    "",
                    "Destination",
                    "https://sso.example.com/saml/2/acs/org_43",
                )
                .signed(Signed::Response),
            "wrong-destination",
        ),
        ok(
            "unsigned Response without Destination",
            doc().unset("", "Destination"),
        ),
        fails(
            "unsigned Response to another ACS",
            doc().set("", "Destination", "https://sp.evil.example/acs"),
            "wrong-destination",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

#[test]
fn conditions_time() {
    run(vec![
        fails(
            "Conditions missing",
            doc().remove(CONDITIONS),
            "missing-conditions",
        ),
        ok(
            "no NotBefore, no NotOnOrAfter",
            doc()
                .unset(CONDITIONS, "NotBefore")
                .unset(CONDITIONS, "NotOnOrAfter"),
        ),
        ok(
            "NotBefore 2 minutes ahead (within skew)",
            doc().set(CONDITIONS, "NotBefore", t(2 * MIN)),
        ),
        ok(
            "NotBefore exactly now + skew",
            doc().set(CONDITIONS, "NotBefore", t(SKEW)),
        ),
        fails(
            "NotBefore beyond the skew",
            doc().set(CONDITIONS, "NotBefore", t(SKEW + 1)),
            "not-yet-valid",
        ),
        fails(
            "NotBefore 10 minutes ahead",
            doc().set(CONDITIONS, "NotBefore", t(10 * MIN)),
            "not-yet-valid",
        ),
        ok(
            "NotBefore now, no skew",
            doc().set(CONDITIONS, "NotBefore", t(0)),
        )
        .skew(Duration::ZERO),
        fails(
            "NotBefore one second ahead, no skew",
            doc().set(CONDITIONS, "NotBefore", t(1)),
            "not-yet-valid",
        )
        .skew(Duration::ZERO),
        ok(
            "NotOnOrAfter passed 2 minutes ago (within skew)",
            doc().set(CONDITIONS, "NotOnOrAfter", t(-2 * MIN)),
        ),
        ok(
            "NotOnOrAfter one second inside the skew",
            doc().set(CONDITIONS, "NotOnOrAfter", t(-SKEW + 1)),
        ),
        fails(
            "NotOnOrAfter exactly now - skew",
            doc().set(CONDITIONS, "NotOnOrAfter", t(-SKEW)),
            "expired",
        ),
        fails(
            "NotOnOrAfter an hour ago",
            doc().set(CONDITIONS, "NotOnOrAfter", t(-60 * MIN)),
            "expired",
        ),
        fails(
            "validated after the assertion expired",
            doc().signed(Signed::Both),
            "expired",
        )
        .at(10 * MIN + SKEW),
        fails(
            "NotOnOrAfter now, no skew",
            doc().set(CONDITIONS, "NotOnOrAfter", t(0)),
            "expired",
        )
        .skew(Duration::ZERO),
        fails(
            "NotBefore not a dateTime",
            doc().set(CONDITIONS, "NotBefore", "yesterday"),
            "malformed-assertion",
        ),
    ]);
}

#[test]
fn audience() {
    let other_sp = "https://sso.example.com/saml/2/metadata/org_43";
    run(vec![
        ok("one restriction naming us", doc()),
        fails(
            "AudienceRestriction missing",
            doc().remove(AR),
            "missing-audience",
        ),
        fails(
            "one restriction naming another SP",
            doc().text(
                "Assertion/Conditions/AudienceRestriction/Audience",
                other_sp,
            ),
            "wrong-audience",
        ),
        fails(
            "two restrictions, the second lacks us",
            doc().dup(AR).text(
                "Assertion/Conditions/AudienceRestriction[1]/Audience",
                other_sp,
            ),
            "wrong-audience",
        ),
        fails(
            "two restrictions, the first lacks us",
            doc().dup(AR).text(
                "Assertion/Conditions/AudienceRestriction/Audience",
                other_sp,
            ),
            "wrong-audience",
        ),
        ok("two restrictions, both name us", doc().dup(AR)),
        ok(
            "several audiences including us",
            doc()
                .before(
                    "Assertion/Conditions/AudienceRestriction/Audience",
                    el("saml:Audience").t(other_sp),
                )
                .push(AR, el("saml:Audience").t("urn:another:sp")),
        ),
        fails(
            "an AudienceRestriction with no Audience",
            doc().remove("Assertion/Conditions/AudienceRestriction/Audience"),
            "wrong-audience",
        ),
        fails(
            "audience matches only without the trailing slash",
            doc().text(
                "Assertion/Conditions/AudienceRestriction/Audience",
                &format!("{SP}/"),
            ),
            "wrong-audience",
        ),
        fails(
            "audience differs in letter case",
            doc().text(
                "Assertion/Conditions/AudienceRestriction/Audience",
                &SP.to_uppercase(),
            ),
            "wrong-audience",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Subject and NameID
// ---------------------------------------------------------------------------------------------

#[test]
fn subject_and_name_id() {
    run(vec![
        fails("Subject missing", doc().remove(SUBJECT), "missing-subject"),
        fails("NameID missing", doc().remove(NAME_ID), "missing-subject"),
        fails("NameID empty", doc().raw(NAME_ID, ""), "missing-subject"),
        fails(
            "NameID only whitespace",
            doc().text(NAME_ID, " \n "),
            "missing-subject",
        ),
        fails(
            "NameID only a comment",
            doc().raw(NAME_ID, "<!-- jane@corp.example -->"),
            "missing-subject",
        ),
        ok("SPNameQualifier is us", doc()),
        ok(
            "no SPNameQualifier",
            doc().unset(NAME_ID, "SPNameQualifier"),
        ),
        fails(
            "SPNameQualifier names another SP",
            doc().set(
                NAME_ID,
                "SPNameQualifier",
                "https://sso.example.com/saml/2/metadata/org_43",
            ),
            "wrong-spnamequalifier",
        ),
        fails(
            "NameID and EncryptedID together",
            doc().push(SUBJECT, el("saml:EncryptedID").c(el("saml:NameID").t("x"))),
            "missing-subject",
        ),
    ]);
    // A comment splits the text, never truncates it.
    let v = accepted(&ok(
        "comment inside NameID",
        doc().raw(NAME_ID, "jane@corp.example<!-- -->.evil.example"),
    ));
    assert_eq!(v.name_id().value, "jane@corp.example.evil.example");
    let v = accepted(&ok(
        "comment inside NameID, Response signed",
        doc()
            .raw(NAME_ID, "jane<!--x-->@corp.example")
            .signed(Signed::Response),
    ));
    assert_eq!(v.name_id().value, "jane@corp.example");
    let v = accepted(&ok(
        "NameID with surrounding whitespace",
        doc().text(NAME_ID, "\n  jane@corp.example\n"),
    ));
    assert_eq!(v.name_id().value, "jane@corp.example");
}

// ---------------------------------------------------------------------------------------------
// Bearer SubjectConfirmation
// ---------------------------------------------------------------------------------------------

#[test]
fn bearer_confirmation() {
    let hok = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
    run(vec![
        ok("one bearer confirmation", doc()),
        fails(
            "no SubjectConfirmation",
            doc().remove(SC),
            "no-bearer-confirmation",
        ),
        fails(
            "only a holder-of-key confirmation",
            doc().set(SC, "Method", hok),
            "no-bearer-confirmation",
        ),
        fails(
            "only a sender-vouches confirmation",
            doc().set(
                SC,
                "Method",
                "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches",
            ),
            "no-bearer-confirmation",
        ),
        fails(
            "bearer without SubjectConfirmationData",
            doc().remove(SCD),
            "no-bearer-confirmation",
        ),
        fails(
            "Recipient is another ACS",
            doc().set(SCD, "Recipient", "https://sp.evil.example/acs"),
            "wrong-recipient",
        ),
        fails(
            "Recipient missing",
            doc().unset(SCD, "Recipient"),
            "wrong-recipient",
        ),
        fails(
            "confirmation NotOnOrAfter missing",
            doc().unset(SCD, "NotOnOrAfter"),
            "confirmation-expired",
        ),
        fails(
            "confirmation NotOnOrAfter passed",
            doc().set(SCD, "NotOnOrAfter", t(-SKEW)),
            "confirmation-expired",
        ),
        ok(
            "confirmation NotOnOrAfter passed within the skew",
            doc().set(SCD, "NotOnOrAfter", t(-2 * MIN)),
        ),
        fails(
            "validated after the confirmation expired",
            doc().set(CONDITIONS, "NotOnOrAfter", t(60 * MIN)),
            "confirmation-expired",
        )
        .at(5 * MIN + SKEW),
        fails(
            "confirmation NotBefore beyond the skew",
            doc().set(SCD, "NotBefore", t(SKEW + 1)),
            "not-yet-valid",
        ),
        fails(
            "confirmation NotOnOrAfter not a dateTime",
            doc().set(SCD, "NotOnOrAfter", "soon"),
            "malformed-assertion",
        ),
        ok(
            "a second bearer confirmation is valid while the first is not",
            doc()
                .dup(SC)
                .set(SCD, "Recipient", "https://sp.evil.example/acs"),
        ),
        ok(
            "the first is valid, the second expired",
            doc().dup(SC).set(SCD2, "NotOnOrAfter", t(-60 * MIN)),
        ),
        ok(
            "holder-of-key first, then bearer",
            doc().dup(SC).set(SC, "Method", hok).unset(SCD, "Recipient"),
        ),
        fails(
            "two bearer confirmations, neither valid",
            doc()
                .dup(SC)
                .set(SCD, "Recipient", "https://sp.evil.example/acs")
                .unset(SCD2, "NotOnOrAfter"),
            "confirmation-expired",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// InResponseTo
// ---------------------------------------------------------------------------------------------

#[test]
fn in_response_to() {
    let unsolicited = || doc().unset("", "InResponseTo").unset(SCD, "InResponseTo");
    run(vec![
        ok("matches the outstanding request", doc()),
        ok("matches one of several outstanding", doc()).outstanding(&[OTHER_REQ, REQ]),
        fails("names an unknown request", doc(), "wrong-in-response-to").outstanding(&[OTHER_REQ]),
        fails(
            "present, nothing outstanding",
            doc(),
            "unexpected-in-response-to",
        )
        .outstanding(&[]),
        fails(
            "present, nothing outstanding, unsolicited allowed",
            doc(),
            "unexpected-in-response-to",
        )
        .outstanding(&[])
        .unsolicited(),
        fails(
            "absent, unsolicited refused",
            unsolicited(),
            "unsolicited-response",
        )
        .outstanding(&[]),
        fails(
            "absent while a request is outstanding, unsolicited refused",
            unsolicited(),
            "unsolicited-response",
        ),
        ok("absent, unsolicited allowed", unsolicited())
            .outstanding(&[])
            .unsolicited(),
        ok(
            "absent while a request is outstanding, unsolicited allowed",
            unsolicited(),
        )
        .unsolicited(),
        fails(
            "Response and confirmation disagree",
            doc().set(SCD, "InResponseTo", OTHER_REQ),
            "wrong-in-response-to",
        )
        .outstanding(&[REQ, OTHER_REQ]),
        fails(
            "Response and confirmation disagree, both signed",
            doc()
                .set("", "InResponseTo", OTHER_REQ)
                .signed(Signed::Both),
            "wrong-in-response-to",
        )
        .outstanding(&[REQ, OTHER_REQ]),
        ok("only on the confirmation", doc().unset("", "InResponseTo")),
        ok(
            "only on a signed Response",
            doc().unset(SCD, "InResponseTo").signed(Signed::Response),
        ),
        fails(
            "only on a signed Response, unknown",
            doc().unset(SCD, "InResponseTo").signed(Signed::Response),
            "wrong-in-response-to",
        )
        .outstanding(&[OTHER_REQ]),
        // The Response's InResponseTo is not covered by the assertion's signature: it cannot
        // turn a signed unsolicited assertion into an answer to our request.
        fails(
            "only on an unsigned Response",
            doc().unset(SCD, "InResponseTo"),
            "unsolicited-response",
        ),
        fails(
            "only on an unsigned Response, unknown",
            doc().unset(SCD, "InResponseTo"),
            "wrong-in-response-to",
        )
        .outstanding(&[OTHER_REQ])
        .unsolicited(),
        ok(
            "only on an unsigned Response, unsolicited allowed",
            doc().unset(SCD, "InResponseTo"),
        )
        .unsolicited(),
    ]);
    let v = accepted(
        &ok("unsolicited allowed", unsolicited())
            .outstanding(&[])
            .unsolicited(),
    );
    assert!(!v.is_solicited());
    assert_eq!(v.in_response_to(), None);
    let v = accepted(&ok(
        "only on the confirmation",
        doc().unset("", "InResponseTo"),
    ));
    assert_eq!(v.in_response_to(), Some(REQ));
    let v = accepted(
        &ok(
            "only on an unsigned Response, unsolicited allowed",
            doc().unset(SCD, "InResponseTo"),
        )
        .unsolicited(),
    );
    assert!(!v.is_solicited(), "an unsigned InResponseTo counted");
}

// ---------------------------------------------------------------------------------------------
// AuthnStatement and attributes
// ---------------------------------------------------------------------------------------------

#[test]
fn authn_statement() {
    run(vec![
        ok("AuthnStatement with SessionNotOnOrAfter", doc()),
        fails(
            "AuthnStatement missing",
            doc().remove(AUTHN),
            "missing-authn-statement",
        ),
        ok(
            "no SessionNotOnOrAfter",
            doc().unset(AUTHN, "SessionNotOnOrAfter"),
        ),
        ok(
            "SessionNotOnOrAfter passed within the skew",
            doc().set(AUTHN, "SessionNotOnOrAfter", t(-2 * MIN)),
        ),
        fails(
            "SessionNotOnOrAfter passed",
            doc().set(AUTHN, "SessionNotOnOrAfter", t(-SKEW)),
            "session-expired",
        ),
        fails(
            "AuthnInstant not a dateTime",
            doc().set(AUTHN, "AuthnInstant", "2025-06-01 12:00"),
            "malformed-assertion",
        ),
    ]);
    let v = accepted(&ok(
        "no SessionNotOnOrAfter",
        doc().unset(AUTHN, "SessionNotOnOrAfter"),
    ));
    assert_eq!(v.session_not_on_or_after(), None);
}

#[test]
fn attributes() {
    let attr = |name: &str, values: &[&str]| {
        values
            .iter()
            .fold(el("saml:Attribute").a("Name", name), |a, v| {
                a.c(el("saml:AttributeValue").t(v))
            })
    };
    let d = doc()
        .push(ATTRS, attr("email", &["second@corp.example"]))
        .push(ATTRS, attr("groups", &["viewers", "ops"]))
        .push(
            A,
            el("saml:AttributeStatement")
                .c(attr("groups", &["last"]))
                .c(attr("empty", &[])),
        );
    let v = accepted(&ok("several Attributes with the same Name", d));
    assert_eq!(
        v.attribute_values("groups").collect::<Vec<_>>(),
        ["eng", "ops", "admins", "viewers", "ops", "last"]
    );
    assert_eq!(
        v.attribute_values("email").collect::<Vec<_>>(),
        ["jane@corp.example", "second@corp.example"]
    );
    assert_eq!(
        v.attributes()
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        [
            "email", "groups", "groups", "email", "groups", "groups", "empty"
        ]
    );
    assert!(v.attributes().last().unwrap().values.is_empty());
    let v = accepted(&ok(
        "a comment inside an AttributeValue",
        doc().raw(
            "Assertion/AttributeStatement/Attribute/AttributeValue",
            "jane@corp<!-- x -->.example",
        ),
    ));
    assert_eq!(
        v.attribute_values("email").next(),
        Some("jane@corp.example")
    );
    run(vec![
        ok("no AttributeStatement", doc().remove(ATTRS)),
        fails(
            "an Attribute without Name",
            doc().unset("Assertion/AttributeStatement/Attribute", "Name"),
            "malformed-assertion",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Replay bookkeeping
// ---------------------------------------------------------------------------------------------

#[test]
fn remember_until_is_the_latest_not_on_or_after_plus_skew() {
    let rows: Vec<(&str, Doc, i64)> = vec![
        ("Conditions later than the confirmation", doc(), 10 * MIN),
        (
            "confirmation later than Conditions",
            doc().set(CONDITIONS, "NotOnOrAfter", t(2 * MIN)),
            5 * MIN,
        ),
        (
            "no Conditions NotOnOrAfter",
            doc().unset(CONDITIONS, "NotOnOrAfter"),
            5 * MIN,
        ),
        (
            "no Conditions NotOnOrAfter, a later second bearer confirmation",
            doc()
                .unset(CONDITIONS, "NotOnOrAfter")
                .dup(SC)
                .set(SCD2, "NotOnOrAfter", t(60 * MIN)),
            60 * MIN,
        ),
    ];
    for (name, d, latest) in rows {
        let v = accepted(&ok(name, d.clone()));
        assert_eq!(
            v.remember_until(),
            now() + Duration::seconds(latest + SKEW),
            "{name}"
        );
        // No instant at which the assertion is still accepted lies after remember_until.
        for secs in (0..=latest + SKEW + MIN).step_by(30) {
            let at = now() + Duration::seconds(secs);
            if accepted_at(&d, secs) {
                assert!(
                    at <= v.remember_until(),
                    "{name}: accepted at +{secs}s, remembered only until {}",
                    v.remember_until()
                );
            }
        }
    }
    let v = accepted(&ok("custom skew", doc()).skew(Duration::seconds(30)));
    assert_eq!(v.remember_until(), now() + Duration::seconds(10 * MIN + 30));
}

fn accepted_at(d: &Doc, secs: i64) -> bool {
    ok("replay", d.clone()).at(secs).outcome().is_ok()
}

/// A refusal carries its kind, its code and a detail an admin can act on.
#[test]
fn refusals_name_the_problem() {
    let e = refused(&fails("x", doc().remove(CONDITIONS), "missing-conditions"));
    assert_eq!(e.kind(), &ValidationErrorKind::MissingConditions);
    assert!(e.to_string().starts_with("missing-conditions: "));
    let e = refused(&fails("x", doc().key(other_key()), "untrusted-key"));
    assert_eq!(e.kind(), &ValidationErrorKind::Signature("untrusted-key"));
    assert!(
        e.detail()
            .contains(&other_key().cert.fingerprint().to_string())
            && e.detail()
                .contains(&idp_key().cert.fingerprint().to_string()),
        "the detail names the presented and the trusted certificates: {e}"
    );
    let e = refused(&fails(
        "x",
        doc().set(SCD, "Recipient", "https://sp.evil.example/acs"),
        "wrong-recipient",
    ));
    assert!(
        e.detail().contains("https://sp.evil.example/acs") && e.detail().contains(ACS),
        "{e}"
    );
    let e = refused(&fails(
        "x",
        doc().unset(SCD, "InResponseTo"),
        "unsolicited-response",
    ));
    assert!(e.detail().contains(REQ), "{e}");
}
