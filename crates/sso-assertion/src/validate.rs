//! Response validation: every check the SAML 2.0 Web Browser SSO profile asks of an SP, as
//! named steps over one validation context, so the one way to a [`VerifiedAssertion`] stays
//! readable check by check.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_xml::{Document, ErrorKind as XmlErrorKind, Limits, Node};
use sso_xmldsig::{DecryptedElement, DecryptionKey, Decryptor, Fingerprint, VerifiedElement};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{ConnectionConfig, RequiredSignature};
use crate::ns;
use crate::placement::check_signature_place;
use crate::verified::{Attribute, NameId, SignedParts, VerifiedAssertion};

/// The largest response accepted, before and after base64 decoding.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// What the caller knows at the moment a response arrives.
#[derive(Clone, Copy, Debug)]
pub struct ValidationContext<'a> {
    /// The current time (injected, so tests and replays of incidents can fix it).
    pub now: OffsetDateTime,
    /// IDs of the AuthnRequests this connection has outstanding.
    pub outstanding_requests: &'a [&'a str],
}

impl<'a> ValidationContext<'a> {
    /// A context at `now` with these outstanding request IDs.
    pub fn new(now: OffsetDateTime, outstanding_requests: &'a [&'a str]) -> Self {
        ValidationContext {
            now,
            outstanding_requests,
        }
    }
}

/// Why a response was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// Larger than [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// Neither XML nor base64 of XML.
    InvalidEncoding,
    /// Refused by the hardened XML parser; the inner reason says why.
    InvalidXml(&'static str),
    /// The XML declaration names an encoding other than UTF-8 (in any letter case), even when
    /// every byte is ASCII: one encoding means one way to read every byte.
    UnsupportedEncoding,
    /// The root is not a SAML 2.0 `samlp:Response`.
    NotAResponse,
    /// `Version` is not `2.0`, or `ID` or `IssueInstant` is missing.
    MalformedResponse,
    /// The IdP reported a failure.
    StatusNotSuccess,
    /// No Assertion or EncryptedAssertion.
    NoAssertion,
    /// More than one Assertion or EncryptedAssertion anywhere, or one out of place.
    MultipleAssertions,
    /// A signature failed; the inner reason is the signature layer's code.
    Signature(&'static str),
    /// A `ds:Signature` somewhere other than on the Response or the Assertion.
    UnexpectedSignature,
    /// The Response's or the Assertion's `ds:Signature` is not where the SAML schema puts it:
    /// right after the `saml:Issuer` (first, when a Response has no Issuer).
    MisplacedSignature,
    /// No verified signature covers the assertion (or not the one the connection requires).
    Unsigned,
    /// An encrypted assertion arrived and the connection has no SP key.
    NoDecryptionKey,
    /// Decryption failed (deliberately unspecific).
    DecryptionFailed,
    /// The encrypted element uses a key transport or content algorithm outside the allowlist
    /// (RSA 1.5, 3DES): checked from the document alone, so naming it reveals nothing.
    EncryptionAlgorithmNotAllowed,
    /// A required Issuer is missing.
    MissingIssuer,
    /// The Issuer is not this connection's IdP.
    WrongIssuer,
    /// The Destination is missing on a signed Response.
    MissingDestination,
    /// The Destination is not this connection's ACS URL.
    WrongDestination,
    /// No Conditions.
    MissingConditions,
    /// Conditions' NotBefore is in the future.
    NotYetValid,
    /// Conditions' NotOnOrAfter has passed.
    Expired,
    /// No AudienceRestriction.
    MissingAudience,
    /// An AudienceRestriction does not name this SP.
    WrongAudience,
    /// No Subject or no NameID.
    MissingSubject,
    /// The NameID's SPNameQualifier names another SP.
    WrongSpNameQualifier,
    /// No usable bearer SubjectConfirmation.
    NoBearerConfirmation,
    /// The bearer confirmation's Recipient is missing or not the ACS URL.
    WrongRecipient,
    /// The bearer confirmation has no NotOnOrAfter, or it has passed.
    ConfirmationExpired,
    /// InResponseTo names no outstanding request, or Response and confirmation disagree.
    WrongInResponseTo,
    /// InResponseTo is present and no request is outstanding.
    UnexpectedInResponseTo,
    /// An unsolicited response and the connection does not accept them.
    Unsolicited,
    /// No AuthnStatement.
    MissingAuthnStatement,
    /// The AuthnStatement's SessionNotOnOrAfter has passed.
    SessionExpired,
    /// A value that must be a dateTime, or some other required part, is malformed.
    Malformed,
}

/// A refused response: a stable reason and a message for the org's admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    kind: ValidationErrorKind,
    detail: String,
}

impl ValidationError {
    fn new(kind: ValidationErrorKind, detail: impl Into<String>) -> Self {
        ValidationError {
            kind,
            detail: detail.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ValidationErrorKind {
        &self.kind
    }

    /// What an admin needs to fix it.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// A stable, machine-readable reason code. Signature failures carry the signature layer's
    /// code (`digest-mismatch`, `untrusted-key`, ...), XML refusals `invalid-xml`.
    pub fn reason(&self) -> &'static str {
        use ValidationErrorKind as K;
        match &self.kind {
            K::TooLarge => "response-too-large",
            K::InvalidEncoding => "invalid-encoding",
            K::InvalidXml(_) => "invalid-xml",
            K::UnsupportedEncoding => "unsupported-encoding",
            K::NotAResponse => "not-a-response",
            K::MalformedResponse => "malformed-response",
            K::StatusNotSuccess => "status-not-success",
            K::NoAssertion => "no-assertion",
            K::MultipleAssertions => "multiple-assertions",
            K::Signature(code) => code,
            K::UnexpectedSignature => "unexpected-signature",
            K::MisplacedSignature => "misplaced-signature",
            K::Unsigned => "unsigned-assertion",
            K::NoDecryptionKey => "no-decryption-key",
            K::DecryptionFailed => "decryption-failed",
            K::EncryptionAlgorithmNotAllowed => "encryption-algorithm-not-allowed",
            K::MissingIssuer => "missing-issuer",
            K::WrongIssuer => "wrong-issuer",
            K::MissingDestination => "missing-destination",
            K::WrongDestination => "wrong-destination",
            K::MissingConditions => "missing-conditions",
            K::NotYetValid => "not-yet-valid",
            K::Expired => "expired",
            K::MissingAudience => "missing-audience",
            K::WrongAudience => "wrong-audience",
            K::MissingSubject => "missing-subject",
            K::WrongSpNameQualifier => "wrong-spnamequalifier",
            K::NoBearerConfirmation => "no-bearer-confirmation",
            K::WrongRecipient => "wrong-recipient",
            K::ConfirmationExpired => "confirmation-expired",
            K::WrongInResponseTo => "wrong-in-response-to",
            K::UnexpectedInResponseTo => "unexpected-in-response-to",
            K::Unsolicited => "unsolicited-response",
            K::MissingAuthnStatement => "missing-authn-statement",
            K::SessionExpired => "session-expired",
            K::Malformed => "malformed-assertion",
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason(), self.detail)
    }
}

impl std::error::Error for ValidationError {}

type Result<T> = std::result::Result<T, ValidationError>;
use ValidationErrorKind as K;

/// The longest base64 text of a response within [`MAX_RESPONSE_BYTES`], whitespace aside.
const MAX_BASE64_BYTES: usize = MAX_RESPONSE_BYTES.div_ceil(3) * 4;

/// The bytes of the XML: raw XML as is, otherwise base64 (whitespace ignored) as the HTTP-POST
/// binding carries it.
fn decode_input(raw: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    // Room for line breaks in the base64 (76-character lines add 2.6%), still bounded before
    // anything is copied; the exact limits follow.
    if raw.len() > 2 * MAX_BASE64_BYTES {
        return Err(ValidationError::new(
            K::TooLarge,
            format!("{} bytes; the limit is {MAX_RESPONSE_BYTES}", raw.len()),
        ));
    }
    let body = raw
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(raw)
        .trim_ascii_start();
    if body.first() == Some(&b'<') {
        if raw.len() > MAX_RESPONSE_BYTES {
            return Err(ValidationError::new(
                K::TooLarge,
                format!("{} bytes; the limit is {MAX_RESPONSE_BYTES}", raw.len()),
            ));
        }
        return Ok(std::borrow::Cow::Borrowed(raw));
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.len() > MAX_BASE64_BYTES {
        return Err(ValidationError::new(
            K::TooLarge,
            format!(
                "{} bytes of base64; the limit is {MAX_RESPONSE_BYTES} bytes decoded",
                compact.len()
            ),
        ));
    }
    let decoded = STANDARD.decode(&compact).map_err(|e| {
        ValidationError::new(K::InvalidEncoding, format!("neither XML nor base64: {e}"))
    })?;
    if decoded.len() > MAX_RESPONSE_BYTES {
        return Err(ValidationError::new(
            K::TooLarge,
            format!(
                "{} bytes decoded; the limit is {MAX_RESPONSE_BYTES}",
                decoded.len()
            ),
        ));
    }
    Ok(std::borrow::Cow::Owned(decoded))
}

fn parse_time(node: Node<'_>, attr: &str) -> Result<Option<OffsetDateTime>> {
    match node.attribute(attr) {
        None => Ok(None),
        Some(v) => OffsetDateTime::parse(v.trim(), &Rfc3339)
            .map(Some)
            .map_err(|e| {
                ValidationError::new(
                    K::Malformed,
                    format!(
                        "{}@{attr} {v:?} at {} is not a dateTime: {e}",
                        node.local_name(),
                        node.position()
                    ),
                )
            }),
    }
}

fn saml_children<'d>(node: Node<'d>, local: &'static str) -> impl Iterator<Item = Node<'d>> + 'd {
    node.child_elements()
        .filter(move |c| c.is(ns::ASSERTION, local))
}

fn saml_child<'d>(node: Node<'d>, local: &'static str) -> Option<Node<'d>> {
    saml_children(node, local).next()
}

fn signature_child<'d>(node: Node<'d>) -> Option<Node<'d>> {
    node.child_elements().find(|c| c.is(ns::DSIG, "Signature"))
}

fn is_assertion_like(n: &Node<'_>) -> bool {
    n.is_element() && matches!(n.local_name(), "Assertion" | "EncryptedAssertion")
}

fn time_str(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Validates one SAML response for `config` at `ctx.now`.
///
/// Every check of the SAML 2.0 Web Browser SSO profile that an SP must make is made here, except
/// the replay check, which needs shared storage: the result says what to remember
/// ([`VerifiedAssertion::assertion_id`], [`VerifiedAssertion::remember_until`]).
pub fn validate(
    raw: &[u8],
    config: &ConnectionConfig,
    ctx: &ValidationContext<'_>,
) -> Result<VerifiedAssertion> {
    let xml = decode_input(raw)?;
    let mut v = Validation::new(config, ctx);
    let doc = Document::parse_with(&xml, &v.limits).map_err(|e| {
        let kind = match e.kind() {
            XmlErrorKind::UnsupportedEncoding(_) => K::UnsupportedEncoding,
            _ => K::InvalidXml(e.reason()),
        };
        ValidationError::new(kind, e.to_string())
    })?;
    let response = check_response(doc.root_element())?;
    let found = the_one_assertion(&doc, response)?;
    check_signature_places(&doc, response, found)?;
    let response_key = v.verify_signature(response, "the Response")?;
    v.check_destination(response, response_key.is_some())?;
    if let Some(issuer) = saml_child(response, "Issuer") {
        v.check_issuer(issuer, "Response")?;
    }
    // Decrypt after the outer signature has been checked.
    let decrypted;
    let assertion = if found.encrypted {
        decrypted = v.decrypt_assertion(found.element)?;
        let inner = decrypted.element();
        check_decrypted_signature_places(inner)?;
        inner
    } else {
        found.element
    };
    let assertion_key = v.verify_signature(assertion, "the Assertion")?;
    let coverage = v.coverage(response_key, assertion_key)?;
    v.read_assertion(assertion, response, coverage, found.encrypted)
}

/// One validation in progress: what every step reads (the connection, the caller's moment and
/// outstanding requests, the parser limits), and what the steps share: the SP key's decryptor,
/// made at most once however many elements (EncryptedAssertion, EncryptedID) are encrypted.
struct Validation<'v> {
    config: &'v ConnectionConfig,
    now: OffsetDateTime,
    outstanding_requests: &'v [&'v str],
    limits: Limits,
    decryptor: Option<Decryptor>,
}

/// The one assertion of a response, as it stands in the response (maybe still encrypted).
#[derive(Clone, Copy)]
struct FoundAssertion<'d> {
    element: Node<'d>,
    encrypted: bool,
}

/// Which verified signatures cover the assertion, and the key that made the innermost one.
#[derive(Clone, Copy)]
struct Coverage {
    signed: SignedParts,
    key: Fingerprint,
}

/// The usable bearer confirmation: when it ends and which request it answers.
struct Confirmation {
    expiry: OffsetDateTime,
    in_response_to: Option<String>,
}

/// What the AuthnStatement says about the IdP's session.
struct Authn<'d> {
    instant: Option<OffsetDateTime>,
    session_index: Option<&'d str>,
    session_not_on_or_after: Option<OffsetDateTime>,
}

/// The root is a SAML 2.0 Response with an ID, and the IdP reports success.
fn check_response(response: Node<'_>) -> Result<Node<'_>> {
    if !response.is(ns::PROTOCOL, "Response") {
        return Err(ValidationError::new(
            K::NotAResponse,
            format!(
                "the root element is {{{}}}{}, not a SAML 2.0 protocol Response",
                response.namespace().unwrap_or(""),
                response.local_name()
            ),
        ));
    }
    if response.attribute("Version") != Some("2.0") {
        return Err(ValidationError::new(
            K::MalformedResponse,
            format!(
                "Response Version is {:?}, not \"2.0\"",
                response.attribute("Version")
            ),
        ));
    }
    if response.attribute("ID").is_none_or(str::is_empty) {
        return Err(ValidationError::new(
            K::MalformedResponse,
            "the Response has no ID",
        ));
    }
    check_status(response)?;
    Ok(response)
}

/// Exactly one assertion in the whole document, as a direct child of the Response.
fn the_one_assertion<'d>(doc: &'d Document, response: Node<'d>) -> Result<FoundAssertion<'d>> {
    let mut candidates = doc.elements().filter(is_assertion_like);
    let (Some(element), None) = (candidates.next(), candidates.next()) else {
        let count = doc.elements().filter(is_assertion_like).count();
        return Err(if count == 0 {
            ValidationError::new(K::NoAssertion, "the Response holds no Assertion")
        } else {
            ValidationError::new(
                K::MultipleAssertions,
                format!(
                    "the document holds {count} Assertion or EncryptedAssertion elements; exactly one is accepted"
                ),
            )
        });
    };
    let encrypted = element.is(ns::ASSERTION, "EncryptedAssertion");
    if !(element.is(ns::ASSERTION, "Assertion") || encrypted) || element.parent() != Some(response)
    {
        return Err(ValidationError::new(
            K::MultipleAssertions,
            format!(
                "the assertion at {} is not a SAML 2.0 Assertion directly inside the Response",
                element.position()
            ),
        ));
    }
    Ok(FoundAssertion { element, encrypted })
}

/// Only the Response and the (plaintext) Assertion may hold a signature, each where the SAML
/// schema puts it (right after the Issuer): every other `ds:Signature` in the document, and
/// one of theirs out of place, is refused before any is verified.
fn check_signature_places(
    doc: &Document,
    response: Node<'_>,
    found: FoundAssertion<'_>,
) -> Result<()> {
    let response_sig = signature_child(response);
    let assertion_sig = if found.encrypted {
        None
    } else {
        signature_child(found.element)
    };
    for sig in doc.elements().filter(|e| e.is(ns::DSIG, "Signature")) {
        if Some(sig) != response_sig && Some(sig) != assertion_sig {
            return Err(ValidationError::new(
                K::UnexpectedSignature,
                format!(
                    "a ds:Signature at {} signs neither the Response nor the Assertion",
                    sig.position()
                ),
            ));
        }
    }
    if let Some(sig) = response_sig {
        in_place(response, sig)?;
    }
    if let Some(sig) = assertion_sig {
        in_place(found.element, sig)?;
    }
    Ok(())
}

/// `signature` stands where the schema of `element` puts it.
fn in_place(element: Node<'_>, signature: Node<'_>) -> Result<()> {
    check_signature_place(element, signature)
        .map_err(|detail| ValidationError::new(K::MisplacedSignature, detail))
}

/// In a decrypted assertion's document, only the assertion's own signature may appear, right
/// after its Issuer.
fn check_decrypted_signature_places(assertion: Node<'_>) -> Result<()> {
    let own = signature_child(assertion);
    for sig in assertion
        .document()
        .elements()
        .filter(|e| e.is(ns::DSIG, "Signature"))
    {
        if Some(sig) != own {
            return Err(ValidationError::new(
                K::UnexpectedSignature,
                format!(
                    "a ds:Signature in the decrypted assertion at {} does not sign it",
                    sig.position()
                ),
            ));
        }
    }
    match own {
        Some(sig) => in_place(assertion, sig),
        None => Ok(()),
    }
}

impl<'v> Validation<'v> {
    fn new(config: &'v ConnectionConfig, ctx: &ValidationContext<'v>) -> Self {
        Validation {
            config,
            now: ctx.now,
            outstanding_requests: ctx.outstanding_requests,
            limits: Limits {
                max_input_bytes: MAX_RESPONSE_BYTES,
                ..Limits::default()
            },
            decryptor: None,
        }
    }

    /// The key that made `element`'s own signature, `None` when it carries none. A signature
    /// present must verify; the proof is for this very node, not for an ID looked up again.
    fn verify_signature(&self, element: Node<'_>, what: &str) -> Result<Option<Fingerprint>> {
        if signature_child(element).is_none() {
            return Ok(None);
        }
        self.config
            .verifier
            .verify(element)
            .map(|verified: VerifiedElement<'_>| Some(*verified.key()))
            .map_err(|e| {
                ValidationError::new(K::Signature(e.reason()), format!("{what} signature: {e}"))
            })
    }

    /// The Destination names this connection's ACS URL; a signed Response must name one.
    fn check_destination(&self, response: Node<'_>, response_signed: bool) -> Result<()> {
        match response.attribute("Destination") {
            Some(d) if d != self.config.sp.acs_url => Err(ValidationError::new(
                K::WrongDestination,
                format!(
                    "Destination is {d:?}; this connection's ACS URL is {:?}",
                    self.config.sp.acs_url
                ),
            )),
            None if response_signed => Err(ValidationError::new(
                K::MissingDestination,
                "a signed Response must name its Destination",
            )),
            _ => Ok(()),
        }
    }

    fn check_issuer(&self, issuer: Node<'_>, whose: &str) -> Result<()> {
        if let Some(format) = issuer.attribute("Format") {
            if format != NAMEID_ENTITY {
                return Err(ValidationError::new(
                    K::WrongIssuer,
                    format!("the {whose} Issuer has Format {format:?}, not entity"),
                ));
            }
        }
        let value = issuer.text();
        if value.trim() != self.config.idp_entity_id {
            return Err(ValidationError::new(
                K::WrongIssuer,
                format!(
                    "the {whose} Issuer is {:?}; this connection's IdP is {:?}",
                    value.trim(),
                    self.config.idp_entity_id
                ),
            ));
        }
        Ok(())
    }

    /// The SP key's decryptor, made on first use. `what` names what is encrypted, for the
    /// refusal when this connection has no SP key.
    fn decryptor(&mut self, what: &str) -> Result<&Decryptor> {
        let decryptor = match self.decryptor.take() {
            Some(decryptor) => decryptor,
            None => {
                let key = self.config.sp.key.as_ref().ok_or_else(|| {
                    ValidationError::new(
                        K::NoDecryptionKey,
                        format!("{what} is encrypted and this connection has no SP key"),
                    )
                })?;
                let key = DecryptionKey::from_pkey(key.private_key.clone())
                    .map_err(|e| ValidationError::new(K::DecryptionFailed, e.to_string()))?;
                Decryptor::new(key).with_limits(self.limits.clone())
            }
        };
        Ok(self.decryptor.insert(decryptor))
    }

    /// The plaintext of an EncryptedAssertion, which must hold exactly one assertion.
    fn decrypt_assertion(&mut self, encrypted: Node<'_>) -> Result<DecryptedElement> {
        let decrypted = self
            .decryptor("the assertion")?
            .decrypt_assertion(encrypted)
            .map_err(|e| decryption_error(&e))?;
        let count = decrypted
            .document()
            .elements()
            .filter(is_assertion_like)
            .count();
        if count != 1 {
            return Err(ValidationError::new(
                K::MultipleAssertions,
                format!(
                    "the decrypted assertion holds {count} Assertion elements; exactly one is accepted"
                ),
            ));
        }
        Ok(decrypted)
    }

    /// The signatures cover the assertion as the connection requires; the key is the
    /// Assertion's when it is signed, the Response's otherwise.
    fn coverage(
        &self,
        response_key: Option<Fingerprint>,
        assertion_key: Option<Fingerprint>,
    ) -> Result<Coverage> {
        let signed = SignedParts {
            response: response_key.is_some(),
            assertion: assertion_key.is_some(),
        };
        let covered = match self.config.required_signature {
            RequiredSignature::Either => signed.response || signed.assertion,
            RequiredSignature::Assertion => signed.assertion,
            RequiredSignature::Response => signed.response,
            RequiredSignature::Both => signed.response && signed.assertion,
        };
        let Some(key) = assertion_key.or(response_key).filter(|_| covered) else {
            return Err(ValidationError::new(
                K::Unsigned,
                format!(
                    "no verified signature covers the assertion as this connection requires ({:?}; response signed: {}, assertion signed: {})",
                    self.config.required_signature, signed.response, signed.assertion
                ),
            ));
        };
        Ok(Coverage { signed, key })
    }

    /// The checks of the covered assertion, in order, and the values read from it.
    fn read_assertion(
        &mut self,
        assertion: Node<'_>,
        response: Node<'_>,
        coverage: Coverage,
        encrypted: bool,
    ) -> Result<VerifiedAssertion> {
        let assertion_id = self.check_assertion_header(assertion)?;
        let not_on_or_after = self.check_conditions(assertion)?;
        let subject = saml_child(assertion, "Subject").ok_or_else(|| {
            ValidationError::new(K::MissingSubject, "the Assertion has no Subject")
        })?;
        let name_id = self.read_subject(subject)?;
        let confirmation = self.check_bearer_confirmation(subject)?;
        let in_response_to = self.check_in_response_to(
            response,
            confirmation.in_response_to,
            coverage.signed.response,
        )?;
        let authn = self.check_authn_statement(assertion)?;
        let attributes = read_attributes(assertion)?;
        let remember_until = self.remember_until(subject, not_on_or_after, confirmation.expiry);
        Ok(VerifiedAssertion {
            issuer: self.config.idp_entity_id.clone(),
            assertion_id: assertion_id.to_owned(),
            name_id,
            attributes,
            authn_instant: authn.instant,
            session_index: authn.session_index.map(str::to_owned),
            session_not_on_or_after: authn.session_not_on_or_after,
            remember_until,
            in_response_to,
            signed: coverage.signed,
            signing_key: coverage.key,
            encrypted,
        })
    }

    /// Version 2.0, an ID, and this connection's IdP as Issuer. Returns the ID.
    fn check_assertion_header<'d>(&self, assertion: Node<'d>) -> Result<&'d str> {
        if assertion.attribute("Version") != Some("2.0") {
            return Err(ValidationError::new(
                K::Malformed,
                format!(
                    "Assertion Version is {:?}, not \"2.0\"",
                    assertion.attribute("Version")
                ),
            ));
        }
        let id = assertion
            .attribute("ID")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ValidationError::new(K::Malformed, "the Assertion has no ID"))?;
        let issuer = saml_child(assertion, "Issuer")
            .ok_or_else(|| ValidationError::new(K::MissingIssuer, "the Assertion has no Issuer"))?;
        self.check_issuer(issuer, "Assertion")?;
        Ok(id)
    }

    /// The Conditions hold now (skew allowed) and name this SP as audience. Returns their
    /// NotOnOrAfter.
    fn check_conditions(&self, assertion: Node<'_>) -> Result<Option<OffsetDateTime>> {
        let (now, skew) = (self.now, self.config.clock_skew);
        let conditions = saml_child(assertion, "Conditions").ok_or_else(|| {
            ValidationError::new(K::MissingConditions, "the Assertion has no Conditions")
        })?;
        let not_before = parse_time(conditions, "NotBefore")?;
        let not_on_or_after = parse_time(conditions, "NotOnOrAfter")?;
        if let Some(nb) = not_before {
            if now.saturating_add(skew) < nb {
                return Err(ValidationError::new(
                    K::NotYetValid,
                    format!(
                        "the assertion is valid from {} (now {}, skew {skew})",
                        time_str(nb),
                        time_str(now)
                    ),
                ));
            }
        }
        if let Some(noa) = not_on_or_after {
            if now.saturating_sub(skew) >= noa {
                return Err(ValidationError::new(
                    K::Expired,
                    format!(
                        "the assertion expired at {} (now {}, skew {skew})",
                        time_str(noa),
                        time_str(now)
                    ),
                ));
            }
        }
        self.check_audience(conditions)?;
        Ok(not_on_or_after)
    }

    /// At least one AudienceRestriction, and every one names this SP.
    fn check_audience(&self, conditions: Node<'_>) -> Result<()> {
        let mut restrictions = saml_children(conditions, "AudienceRestriction").peekable();
        if restrictions.peek().is_none() {
            return Err(ValidationError::new(
                K::MissingAudience,
                "the Conditions hold no AudienceRestriction",
            ));
        }
        for r in restrictions {
            let audiences: Vec<String> = saml_children(r, "Audience")
                .map(|a| a.text().trim().to_owned())
                .collect();
            if !audiences.iter().any(|a| a == &self.config.sp.entity_id) {
                return Err(ValidationError::new(
                    K::WrongAudience,
                    format!(
                        "the audience is {audiences:?}; this connection's SP entity ID is {:?}",
                        self.config.sp.entity_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The Subject's NameID (decrypted from an EncryptedID with the same decryptor as the
    /// assertion): present, not empty, and qualified for this SP if qualified at all.
    fn read_subject(&mut self, subject: Node<'_>) -> Result<NameId> {
        let name_id = match (
            saml_child(subject, "NameID"),
            saml_child(subject, "EncryptedID"),
        ) {
            (Some(el), None) => read_name_id(el),
            (None, Some(enc)) => {
                let decrypted = self
                    .decryptor("the NameID")?
                    .decrypt_element(enc)
                    .map_err(|e| decryption_error(&e))?;
                let el = decrypted.element();
                if !el.is(ns::ASSERTION, "NameID") {
                    return Err(ValidationError::new(
                        K::MissingSubject,
                        "the EncryptedID does not hold a NameID",
                    ));
                }
                read_name_id(el)
            }
            (Some(_), Some(_)) => {
                return Err(ValidationError::new(
                    K::MissingSubject,
                    "the Subject holds both a NameID and an EncryptedID",
                ));
            }
            (None, None) => {
                return Err(ValidationError::new(
                    K::MissingSubject,
                    "the Subject has no NameID",
                ));
            }
        };
        if name_id.value.is_empty() {
            return Err(ValidationError::new(
                K::MissingSubject,
                "the NameID is empty",
            ));
        }
        if let Some(q) = &name_id.sp_name_qualifier {
            if q != &self.config.sp.entity_id {
                return Err(ValidationError::new(
                    K::WrongSpNameQualifier,
                    format!(
                        "the NameID's SPNameQualifier is {q:?}; this SP is {:?}",
                        self.config.sp.entity_id
                    ),
                ));
            }
        }
        Ok(name_id)
    }

    /// The first usable bearer SubjectConfirmation; when none is, the last one's refusal.
    fn check_bearer_confirmation(&self, subject: Node<'_>) -> Result<Confirmation> {
        let mut refusal = None;
        for sc in saml_children(subject, "SubjectConfirmation") {
            if sc.attribute("Method") != Some(CM_BEARER) {
                continue;
            }
            match self.check_confirmation(sc) {
                Ok(found) => return Ok(found),
                Err(e) => refusal = Some(e),
            }
        }
        Err(refusal.unwrap_or_else(|| {
            ValidationError::new(
                K::NoBearerConfirmation,
                "the Subject has no bearer SubjectConfirmation",
            )
        }))
    }

    /// A bearer confirmation that is usable now: its expiry and its InResponseTo.
    fn check_confirmation(&self, sc: Node<'_>) -> Result<Confirmation> {
        let data = saml_child(sc, "SubjectConfirmationData").ok_or_else(|| {
            ValidationError::new(
                K::NoBearerConfirmation,
                "the bearer SubjectConfirmation has no SubjectConfirmationData",
            )
        })?;
        match data.attribute("Recipient") {
            Some(r) if r == self.config.sp.acs_url => {}
            Some(r) => {
                return Err(ValidationError::new(
                    K::WrongRecipient,
                    format!(
                        "the confirmation's Recipient is {r:?}; this connection's ACS URL is {:?}",
                        self.config.sp.acs_url
                    ),
                ));
            }
            None => {
                return Err(ValidationError::new(
                    K::WrongRecipient,
                    "the bearer confirmation has no Recipient",
                ));
            }
        }
        let Some(expiry) = parse_time(data, "NotOnOrAfter")? else {
            return Err(ValidationError::new(
                K::ConfirmationExpired,
                "the bearer confirmation has no NotOnOrAfter",
            ));
        };
        if self.now.saturating_sub(self.config.clock_skew) >= expiry {
            return Err(ValidationError::new(
                K::ConfirmationExpired,
                format!(
                    "the bearer confirmation expired at {} (now {})",
                    time_str(expiry),
                    time_str(self.now)
                ),
            ));
        }
        if let Some(nb) = parse_time(data, "NotBefore")? {
            if self.now.saturating_add(self.config.clock_skew) < nb {
                return Err(ValidationError::new(
                    K::NotYetValid,
                    format!("the bearer confirmation is valid from {}", time_str(nb)),
                ));
            }
        }
        Ok(Confirmation {
            expiry,
            in_response_to: data
                .attribute("InResponseTo")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        })
    }

    /// The request this response answers, from the bearer confirmation, or from the Response
    /// only when a verified signature covers the Response: otherwise anyone could wrap a signed
    /// unsolicited assertion in a Response naming a request of ours. Every InResponseTo present
    /// must name an outstanding request, signed or not; none at all is an unsolicited response.
    fn check_in_response_to(
        &self,
        response: Node<'_>,
        confirmation_irt: Option<String>,
        response_signed: bool,
    ) -> Result<Option<String>> {
        let response_irt = response.attribute("InResponseTo").filter(|s| !s.is_empty());
        if let (Some(a), Some(b)) = (response_irt, confirmation_irt.as_deref()) {
            if a != b {
                return Err(ValidationError::new(
                    K::WrongInResponseTo,
                    format!("the Response answers {a:?} but its confirmation answers {b:?}"),
                ));
            }
        }
        for id in response_irt.into_iter().chain(confirmation_irt.as_deref()) {
            if self.outstanding_requests.is_empty() {
                return Err(ValidationError::new(
                    K::UnexpectedInResponseTo,
                    format!(
                        "the response answers request {id:?}, and no request is outstanding for this connection"
                    ),
                ));
            }
            if !self.outstanding_requests.contains(&id) {
                return Err(ValidationError::new(
                    K::WrongInResponseTo,
                    format!(
                        "the response answers request {id:?}, which this connection did not send or already used"
                    ),
                ));
            }
        }
        let in_response_to = match (confirmation_irt, response_irt) {
            (Some(b), _) => Some(b),
            (None, Some(a)) if response_signed => Some(a.to_owned()),
            _ => None,
        };
        if in_response_to.is_none() && !self.config.allow_unsolicited {
            return Err(ValidationError::new(
                K::Unsolicited,
                match response_irt {
                    Some(id) => format!(
                        "the Response names request {id:?}, but no signature covers the Response and the assertion's bearer confirmation names no request; this connection does not accept unsolicited responses (the IdP should sign the Response or put InResponseTo in SubjectConfirmationData)"
                    ),
                    None => "an IdP-initiated (unsolicited) response, and this connection does not accept them".to_owned(),
                },
            ));
        }
        Ok(in_response_to)
    }

    /// An AuthnStatement whose IdP session has not ended.
    fn check_authn_statement<'d>(&self, assertion: Node<'d>) -> Result<Authn<'d>> {
        let authn = saml_child(assertion, "AuthnStatement").ok_or_else(|| {
            ValidationError::new(
                K::MissingAuthnStatement,
                "the Assertion has no AuthnStatement",
            )
        })?;
        let instant = parse_time(authn, "AuthnInstant")?;
        let session_not_on_or_after = parse_time(authn, "SessionNotOnOrAfter")?;
        if let Some(s) = session_not_on_or_after {
            if self.now.saturating_sub(self.config.clock_skew) >= s {
                return Err(ValidationError::new(
                    K::SessionExpired,
                    format!(
                        "the IdP session ended at {} (now {})",
                        time_str(s),
                        time_str(self.now)
                    ),
                ));
            }
        }
        Ok(Authn {
            instant,
            session_index: authn.attribute("SessionIndex"),
            session_not_on_or_after,
        })
    }

    /// Until when to remember the assertion ID against replay. Another bearer confirmation may
    /// stay usable after the one used now: remember the assertion until the last of them ends.
    fn remember_until(
        &self,
        subject: Node<'_>,
        not_on_or_after: Option<OffsetDateTime>,
        confirmation_expiry: OffsetDateTime,
    ) -> OffsetDateTime {
        let latest_confirmation = saml_children(subject, "SubjectConfirmation")
            .filter(|sc| sc.attribute("Method") == Some(CM_BEARER))
            .filter_map(|sc| saml_child(sc, "SubjectConfirmationData"))
            .filter_map(|data| parse_time(data, "NotOnOrAfter").ok().flatten())
            .max();
        [
            not_on_or_after,
            Some(confirmation_expiry),
            latest_confirmation,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(confirmation_expiry)
        // A far-future NotOnOrAfter (year 9999) must not overflow: remembering it "forever" is
        // the right answer.
        .saturating_add(self.config.clock_skew)
    }
}

/// The attributes, in document order; each must have a Name.
fn read_attributes(assertion: Node<'_>) -> Result<Vec<Attribute>> {
    let mut attributes = Vec::new();
    for statement in saml_children(assertion, "AttributeStatement") {
        for a in saml_children(statement, "Attribute") {
            let Some(name) = a.attribute("Name") else {
                return Err(ValidationError::new(
                    K::Malformed,
                    format!("an Attribute at {} has no Name", a.position()),
                ));
            };
            attributes.push(Attribute {
                name: name.to_owned(),
                name_format: a.attribute("NameFormat").map(str::to_owned),
                friendly_name: a.attribute("FriendlyName").map(str::to_owned),
                values: saml_children(a, "AttributeValue")
                    .map(|v| v.text())
                    .collect(),
            });
        }
    }
    Ok(attributes)
}

fn read_name_id(el: Node<'_>) -> NameId {
    NameId {
        value: el.text().trim().to_owned(),
        format: el.attribute("Format").map(str::to_owned),
        sp_name_qualifier: el.attribute("SPNameQualifier").map(str::to_owned),
        name_qualifier: el.attribute("NameQualifier").map(str::to_owned),
    }
}

fn check_status(response: Node<'_>) -> Result<()> {
    let status = response
        .child_elements()
        .find(|c| c.is(ns::PROTOCOL, "Status"))
        .ok_or_else(|| ValidationError::new(K::StatusNotSuccess, "the Response has no Status"))?;
    let code = status
        .child_elements()
        .find(|c| c.is(ns::PROTOCOL, "StatusCode"))
        .ok_or_else(|| ValidationError::new(K::StatusNotSuccess, "the Status has no StatusCode"))?;
    let value = code.attribute("Value").unwrap_or("");
    if value == STATUS_SUCCESS {
        return Ok(());
    }
    let sub: Vec<&str> = code
        .child_elements()
        .filter(|c| c.is(ns::PROTOCOL, "StatusCode"))
        .filter_map(|c| c.attribute("Value"))
        .collect();
    let message = status
        .child_elements()
        .find(|c| c.is(ns::PROTOCOL, "StatusMessage"))
        .map(|m| m.text());
    Err(ValidationError::new(
        K::StatusNotSuccess,
        format!(
            "the IdP answered {value}{}{}",
            if sub.is_empty() {
                String::new()
            } else {
                format!(" ({})", sub.join(", "))
            },
            message
                .map(|m| format!(": {}", m.trim()))
                .unwrap_or_default()
        ),
    ))
}

/// A decryptor failure as a validation error: a refused algorithm by name, anything else as
/// the one opaque `decryption-failed`.
fn decryption_error(e: &sso_xmldsig::DecryptionError) -> ValidationError {
    let kind = if e.refused_algorithm().is_some() {
        ValidationErrorKind::EncryptionAlgorithmNotAllowed
    } else {
        ValidationErrorKind::DecryptionFailed
    };
    ValidationError::new(kind, e.to_string())
}
