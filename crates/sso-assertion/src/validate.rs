use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_xml::{Document, Limits, Node};
use sso_xmldsig::{DecryptionKey, Decryptor, VerifiedElement};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{ConnectionConfig, RequiredSignature};
use crate::ns;
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
            K::NotAResponse => "not-a-response",
            K::MalformedResponse => "malformed-response",
            K::StatusNotSuccess => "status-not-success",
            K::NoAssertion => "no-assertion",
            K::MultipleAssertions => "multiple-assertions",
            K::Signature(code) => code,
            K::UnexpectedSignature => "unexpected-signature",
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
    let limits = Limits {
        max_input_bytes: MAX_RESPONSE_BYTES,
        ..Limits::default()
    };
    let doc = Document::parse_with(&xml, &limits)
        .map_err(|e| ValidationError::new(K::InvalidXml(e.reason()), e.to_string()))?;
    let response = doc.root_element();
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

    // Exactly one assertion in the whole document, as a direct child of the Response.
    let mut candidates = doc.elements().filter(is_assertion_like);
    let (Some(assertion_el), None) = (candidates.next(), candidates.next()) else {
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
    let encrypted = assertion_el.is(ns::ASSERTION, "EncryptedAssertion");
    if !(assertion_el.is(ns::ASSERTION, "Assertion") || encrypted)
        || assertion_el.parent() != Some(response)
    {
        return Err(ValidationError::new(
            K::MultipleAssertions,
            format!(
                "the assertion at {} is not a SAML 2.0 Assertion directly inside the Response",
                assertion_el.position()
            ),
        ));
    }

    let verifier = &config.verifier;
    let verify = |el: Node<'_>, what: &str| -> Result<String> {
        verifier
            .verify(el)
            .map(|v: VerifiedElement<'_>| v.key().to_string())
            .map_err(|e| {
                ValidationError::new(K::Signature(e.reason()), format!("{what} signature: {e}"))
            })
    };

    // Every signature present must verify, and only these two places may hold one.
    let response_sig = signature_child(response);
    let assertion_sig = if encrypted {
        None
    } else {
        signature_child(assertion_el)
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
    let mut signing_key = None;
    let response_signed = match response_sig {
        Some(_) => {
            signing_key = Some(verify(response, "the Response")?);
            true
        }
        None => false,
    };
    let destination = response.attribute("Destination");
    match destination {
        Some(d) if d != config.sp.acs_url => {
            return Err(ValidationError::new(
                K::WrongDestination,
                format!(
                    "Destination is {d:?}; this connection's ACS URL is {:?}",
                    config.sp.acs_url
                ),
            ));
        }
        None if response_signed => {
            return Err(ValidationError::new(
                K::MissingDestination,
                "a signed Response must name its Destination",
            ));
        }
        _ => {}
    }
    if let Some(issuer) = saml_child(response, "Issuer") {
        check_issuer(issuer, config, "Response")?;
    }

    // Decrypt after the outer signature has been checked.
    let decrypted;
    let assertion = if encrypted {
        let key = config.sp.key.as_ref().ok_or_else(|| {
            ValidationError::new(
                K::NoDecryptionKey,
                "the assertion is encrypted and this connection has no SP key",
            )
        })?;
        let dkey = DecryptionKey::from_pkey(key.private_key.clone())
            .map_err(|e| ValidationError::new(K::DecryptionFailed, e.to_string()))?;
        decrypted = Decryptor::new(dkey)
            .with_limits(limits)
            .decrypt_assertion(assertion_el)
            .map_err(|e| decryption_error(&e))?;
        let inner = decrypted.element();
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
        inner
    } else {
        assertion_el
    };

    let inner_sig = signature_child(assertion);
    if encrypted {
        let doc = assertion.document();
        for sig in doc.elements().filter(|e| e.is(ns::DSIG, "Signature")) {
            if Some(sig) != inner_sig {
                return Err(ValidationError::new(
                    K::UnexpectedSignature,
                    format!(
                        "a ds:Signature in the decrypted assertion at {} does not sign it",
                        sig.position()
                    ),
                ));
            }
        }
    }
    let assertion_signed = match inner_sig {
        Some(_) => {
            signing_key = Some(verify(assertion, "the Assertion")?);
            true
        }
        None => false,
    };
    let covered = match config.required_signature {
        RequiredSignature::Either => response_signed || assertion_signed,
        RequiredSignature::Assertion => assertion_signed,
        RequiredSignature::Response => response_signed,
        RequiredSignature::Both => response_signed && assertion_signed,
    };
    let Some(signing_key) = signing_key.filter(|_| covered) else {
        return Err(ValidationError::new(
            K::Unsigned,
            format!(
                "no verified signature covers the assertion as this connection requires ({:?}; response signed: {response_signed}, assertion signed: {assertion_signed})",
                config.required_signature
            ),
        ));
    };

    read_assertion(
        assertion,
        response,
        config,
        ctx,
        SignedParts {
            response: response_signed,
            assertion: assertion_signed,
        },
        signing_key,
        encrypted,
    )
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

fn check_issuer(issuer: Node<'_>, config: &ConnectionConfig, whose: &str) -> Result<()> {
    if let Some(format) = issuer.attribute("Format") {
        if format != NAMEID_ENTITY {
            return Err(ValidationError::new(
                K::WrongIssuer,
                format!("the {whose} Issuer has Format {format:?}, not entity"),
            ));
        }
    }
    let value = issuer.text();
    if value.trim() != config.idp_entity_id {
        return Err(ValidationError::new(
            K::WrongIssuer,
            format!(
                "the {whose} Issuer is {:?}; this connection's IdP is {:?}",
                value.trim(),
                config.idp_entity_id
            ),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn read_assertion(
    assertion: Node<'_>,
    response: Node<'_>,
    config: &ConnectionConfig,
    ctx: &ValidationContext<'_>,
    signed: SignedParts,
    signing_key: String,
    encrypted: bool,
) -> Result<VerifiedAssertion> {
    let now = ctx.now;
    let skew = config.clock_skew;
    if assertion.attribute("Version") != Some("2.0") {
        return Err(ValidationError::new(
            K::Malformed,
            format!(
                "Assertion Version is {:?}, not \"2.0\"",
                assertion.attribute("Version")
            ),
        ));
    }
    let assertion_id = assertion
        .attribute("ID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::new(K::Malformed, "the Assertion has no ID"))?
        .to_owned();
    let issuer = saml_child(assertion, "Issuer")
        .ok_or_else(|| ValidationError::new(K::MissingIssuer, "the Assertion has no Issuer"))?;
    check_issuer(issuer, config, "Assertion")?;

    // Conditions.
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
    let restrictions: Vec<Node<'_>> = saml_children(conditions, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(ValidationError::new(
            K::MissingAudience,
            "the Conditions hold no AudienceRestriction",
        ));
    }
    for r in &restrictions {
        let audiences: Vec<String> = saml_children(*r, "Audience")
            .map(|a| a.text().trim().to_owned())
            .collect();
        if !audiences.iter().any(|a| a == &config.sp.entity_id) {
            return Err(ValidationError::new(
                K::WrongAudience,
                format!(
                    "the audience is {audiences:?}; this connection's SP entity ID is {:?}",
                    config.sp.entity_id
                ),
            ));
        }
    }

    // Subject.
    let subject = saml_child(assertion, "Subject")
        .ok_or_else(|| ValidationError::new(K::MissingSubject, "the Assertion has no Subject"))?;
    let name_id = match (
        saml_child(subject, "NameID"),
        saml_child(subject, "EncryptedID"),
    ) {
        (Some(el), None) => read_name_id(el),
        (None, Some(enc)) => {
            let key = config.sp.key.as_ref().ok_or_else(|| {
                ValidationError::new(
                    K::NoDecryptionKey,
                    "the NameID is encrypted and this connection has no SP key",
                )
            })?;
            let dkey = DecryptionKey::from_pkey(key.private_key.clone())
                .map_err(|e| ValidationError::new(K::DecryptionFailed, e.to_string()))?;
            let decrypted = Decryptor::new(dkey)
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
        if q != &config.sp.entity_id {
            return Err(ValidationError::new(
                K::WrongSpNameQualifier,
                format!(
                    "the NameID's SPNameQualifier is {q:?}; this SP is {:?}",
                    config.sp.entity_id
                ),
            ));
        }
    }

    // InResponseTo, on the Response and on the bearer confirmation. The Response's says which
    // request is answered only when a verified signature covers the Response: otherwise anyone
    // could wrap a signed unsolicited assertion in a Response naming a request of ours.
    let response_irt = response.attribute("InResponseTo").filter(|s| !s.is_empty());
    let mut confirmation_error = None;
    let mut confirmed: Option<(OffsetDateTime, Option<String>)> = None;
    for sc in saml_children(subject, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(CM_BEARER) {
            continue;
        }
        match check_confirmation(sc, config, now) {
            Ok(found) => {
                confirmed = Some(found);
                break;
            }
            Err(e) => confirmation_error = Some(e),
        }
    }
    let (confirmation_expiry, confirmation_irt) = match (confirmed, confirmation_error) {
        (Some(found), _) => found,
        (None, Some(e)) => return Err(e),
        (None, None) => {
            return Err(ValidationError::new(
                K::NoBearerConfirmation,
                "the Subject has no bearer SubjectConfirmation",
            ));
        }
    };
    let in_response_to = match (response_irt, confirmation_irt.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(ValidationError::new(
                K::WrongInResponseTo,
                format!("the Response answers {a:?} but its confirmation answers {b:?}"),
            ));
        }
        (_, Some(b)) => Some(b.to_owned()),
        (Some(a), None) if signed.response => Some(a.to_owned()),
        _ => None,
    };
    // Every InResponseTo present must name an outstanding request, signed or not.
    for id in response_irt.into_iter().chain(confirmation_irt.as_deref()) {
        if ctx.outstanding_requests.is_empty() {
            return Err(ValidationError::new(
                K::UnexpectedInResponseTo,
                format!(
                    "the response answers request {id:?}, and no request is outstanding for this connection"
                ),
            ));
        }
        if !ctx.outstanding_requests.contains(&id) {
            return Err(ValidationError::new(
                K::WrongInResponseTo,
                format!(
                    "the response answers request {id:?}, which this connection did not send or already used"
                ),
            ));
        }
    }
    if in_response_to.is_none() && !config.allow_unsolicited {
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

    // AuthnStatement.
    let authn = saml_child(assertion, "AuthnStatement").ok_or_else(|| {
        ValidationError::new(
            K::MissingAuthnStatement,
            "the Assertion has no AuthnStatement",
        )
    })?;
    let authn_instant = parse_time(authn, "AuthnInstant")?;
    let session_not_on_or_after = parse_time(authn, "SessionNotOnOrAfter")?;
    if let Some(s) = session_not_on_or_after {
        if now.saturating_sub(skew) >= s {
            return Err(ValidationError::new(
                K::SessionExpired,
                format!(
                    "the IdP session ended at {} (now {})",
                    time_str(s),
                    time_str(now)
                ),
            ));
        }
    }

    // Attributes, in document order.
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

    // Another bearer confirmation may stay usable after the one used now: remember the
    // assertion until the last of them ends.
    let latest_confirmation = saml_children(subject, "SubjectConfirmation")
        .filter(|sc| sc.attribute("Method") == Some(CM_BEARER))
        .filter_map(|sc| saml_child(sc, "SubjectConfirmationData"))
        .filter_map(|data| parse_time(data, "NotOnOrAfter").ok().flatten())
        .max();
    let remember_until = [
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
    .saturating_add(skew);
    Ok(VerifiedAssertion {
        issuer: config.idp_entity_id.clone(),
        assertion_id,
        name_id,
        attributes,
        authn_instant,
        session_index: authn.attribute("SessionIndex").map(str::to_owned),
        session_not_on_or_after,
        remember_until,
        in_response_to,
        signed,
        signing_key,
        encrypted,
    })
}

fn read_name_id(el: Node<'_>) -> NameId {
    NameId {
        value: el.text().trim().to_owned(),
        format: el.attribute("Format").map(str::to_owned),
        sp_name_qualifier: el.attribute("SPNameQualifier").map(str::to_owned),
        name_qualifier: el.attribute("NameQualifier").map(str::to_owned),
    }
}

/// A bearer confirmation that is usable now: its expiry and its InResponseTo.
fn check_confirmation(
    sc: Node<'_>,
    config: &ConnectionConfig,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, Option<String>)> {
    let data = saml_child(sc, "SubjectConfirmationData").ok_or_else(|| {
        ValidationError::new(
            K::NoBearerConfirmation,
            "the bearer SubjectConfirmation has no SubjectConfirmationData",
        )
    })?;
    match data.attribute("Recipient") {
        Some(r) if r == config.sp.acs_url => {}
        Some(r) => {
            return Err(ValidationError::new(
                K::WrongRecipient,
                format!(
                    "the confirmation's Recipient is {r:?}; this connection's ACS URL is {:?}",
                    config.sp.acs_url
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
    if now.saturating_sub(config.clock_skew) >= expiry {
        return Err(ValidationError::new(
            K::ConfirmationExpired,
            format!(
                "the bearer confirmation expired at {} (now {})",
                time_str(expiry),
                time_str(now)
            ),
        ));
    }
    if let Some(nb) = parse_time(data, "NotBefore")? {
        if now.saturating_add(config.clock_skew) < nb {
            return Err(ValidationError::new(
                K::NotYetValid,
                format!("the bearer confirmation is valid from {}", time_str(nb)),
            ));
        }
    }
    Ok((
        expiry,
        data.attribute("InResponseTo")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
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
