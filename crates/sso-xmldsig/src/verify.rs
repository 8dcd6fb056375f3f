//! Enveloped signature verification that returns a proof naming the very node it covers, so
//! nothing is looked up by ID again after the check.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::io::{self, Write};

use openssl::hash::Hasher;
use sso_xml::{C14nAlgorithm, Canonicalizer, Node, NodeKind, XML_NAMESPACE};

use crate::algorithm::{AlgorithmPolicy, AlgorithmRole, DigestAlgorithm, SignatureAlgorithm};
use crate::base64::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::keys::{Fingerprint, KeySpec, TrustedKeys};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const ENVELOPED_SIGNATURE: &str =
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// Canonical XML 1.1, accepted only as `SignedInfo`'s CanonicalizationMethod (never as a
/// reference transform, which SAML limits to exclusive c14n and c14n 1.0). For a whole subtree
/// it differs from 1.0 only in the `xml:*` attributes an apex inherits from its ancestors, so it
/// is accepted (and computed as 1.0) when there are none.
const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
const C14N11_WITH_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// Proof that an element carries a valid enveloped signature by a trusted key.
///
/// Only [`Verifier::verify`] makes one. It names the exact node the signature covers: read the
/// signed values from [`node`](Self::node), never by looking an ID up again.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedElement<'d> {
    node: Node<'d>,
    key: Fingerprint,
    signature_algorithm: SignatureAlgorithm,
    digest_algorithm: DigestAlgorithm,
}

impl<'d> VerifiedElement<'d> {
    /// The signed element (the `ds:Signature`'s parent), by node identity.
    pub fn node(&self) -> Node<'d> {
        self.node
    }

    /// The fingerprint of the trusted key that verified the signature.
    pub fn key(&self) -> &Fingerprint {
        &self.key
    }

    /// The signature algorithm used.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signature_algorithm
    }

    /// The reference's digest algorithm.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest_algorithm
    }
}

/// Verifies enveloped XML signatures against a set of trusted keys and an algorithm policy.
///
/// Built once per organization from its configured IdP certificates; cheap to use from many
/// threads.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: TrustedKeys,
    policy: AlgorithmPolicy,
}

impl Verifier {
    /// A verifier trusting `keys`, with the strict default [`AlgorithmPolicy`].
    pub fn new(keys: TrustedKeys) -> Self {
        Verifier {
            keys,
            policy: AlgorithmPolicy::default(),
        }
    }

    /// Use `policy` instead of the default.
    pub fn with_policy(mut self, policy: AlgorithmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The trusted keys.
    pub fn keys(&self) -> &TrustedKeys {
        &self.keys
    }

    /// The algorithm policy.
    pub fn policy(&self) -> &AlgorithmPolicy {
        &self.policy
    }

    /// Verifies the enveloped signature of `element`: the one `ds:Signature` among its children,
    /// whose one `Reference` must name `element` itself as `URI="#ID"`, the ID carried by
    /// exactly one element of the document. This is the signature profile of SAML (core 5.4,
    /// which SAML metadata adopts too): `URI=""` (the whole document) is refused, and the
    /// transforms must be exactly enveloped-signature then one canonicalization.
    ///
    /// Checks, in this order: structure, algorithms (transforms included), the reference
    /// (duplicate IDs anywhere in the document are refused), the sequence of transforms, the
    /// digest, then the signature with the
    /// trusted keys (those whose certificate the document's `KeyInfo` names first; `KeyInfo`
    /// never adds a key). Where the `ds:Signature` sits among its parent's children is the
    /// caller's rule: it depends on the schema of the signed element.
    pub fn verify<'d>(&self, element: Node<'d>) -> Result<VerifiedElement<'d>, Error> {
        let sig = parse_signature(element, &self.policy)?;
        check_reference(element, &sig)?;
        let transform_c14n = transform_sequence(sig.reference, sig.transforms, &sig.steps)?;
        check_digest(element, &sig, &transform_c14n)?;
        let key = check_signature(&sig, &self.keys, &self.policy)?;
        Ok(VerifiedElement {
            node: element,
            key,
            signature_algorithm: sig.signature_algorithm,
            digest_algorithm: sig.digest_algorithm,
        })
    }
}

/// What a `ds:Signature` says, read and checked against the allowlist.
struct ParsedSignature<'d> {
    signature: Node<'d>,
    signed_info: Node<'d>,
    c14n: Canonicalizer,
    /// `SignedInfo` is canonicalized with C14N 1.1 (computed as 1.0, see [`C14N11`]).
    c14n11_signed_info: bool,
    signature_algorithm: SignatureAlgorithm,
    /// The `URI` attribute, `None` when absent.
    reference_uri: Option<&'d str>,
    reference: Node<'d>,
    /// The `ds:Transforms` element and its steps, each of an allowed algorithm; their
    /// sequence is checked after the reference.
    transforms: Option<Node<'d>>,
    steps: Vec<(Node<'d>, TransformStep)>,
    digest_algorithm: DigestAlgorithm,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
    /// The `ds:KeyInfo`, read for its certificates only when they can change something.
    key_info: Option<Node<'d>>,
}

/// `prefix:local at line:column`, for error messages.
pub(crate) fn describe(n: Node<'_>) -> String {
    if n.kind() == NodeKind::Document {
        return "the document".to_owned();
    }
    match n.prefix() {
        Some(p) => format!("{p}:{} at {}", n.local_name(), n.position()),
        None => format!("{} at {}", n.local_name(), n.position()),
    }
}

fn dsig_children<'d>(parent: Node<'d>) -> Result<Vec<Node<'d>>, Error> {
    let mut out = Vec::new();
    for c in parent.child_elements() {
        if c.namespace() != Some(DSIG_NS) {
            return Err(Error::malformed(
                format!(
                    "{} is not allowed inside ds:{}",
                    describe(c),
                    parent.local_name()
                ),
                Some(c),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// The text of a value element, which must hold nothing but text: a comment or an element in a
/// DigestValue or SignatureValue would let two readers see two different values.
fn text_only(n: Node<'_>) -> Result<String, Error> {
    for c in n.children() {
        if c.kind() != NodeKind::Text {
            return Err(Error::malformed(
                format!("ds:{} may only contain text", n.local_name()),
                Some(c),
            ));
        }
    }
    Ok(n.text())
}

fn base64_value(n: Node<'_>) -> Result<Vec<u8>, Error> {
    let text = text_only(n)?;
    decode_base64(&text).ok_or_else(|| {
        Error::malformed(
            format!("ds:{} is not valid base64", n.local_name()),
            Some(n),
        )
    })
}

fn algorithm_uri<'d>(n: Node<'d>) -> Result<&'d str, Error> {
    n.attribute("Algorithm")
        .ok_or_else(|| Error::malformed(format!("ds:{} has no Algorithm", n.local_name()), Some(n)))
}

/// A canonicalization method or transform, with its InclusiveNamespaces PrefixList.
fn c14n_of(n: Node<'_>, algorithm: C14nAlgorithm) -> Result<Canonicalizer, Error> {
    let mut prefixes: Vec<String> = Vec::new();
    for c in n.child_elements() {
        if algorithm.is_exclusive()
            && c.is(EXC_C14N_NS, "InclusiveNamespaces")
            && prefixes.is_empty()
        {
            let list = c.attribute("PrefixList").unwrap_or("");
            prefixes = list.split_ascii_whitespace().map(str::to_owned).collect();
        } else {
            return Err(Error::malformed(
                format!("{} is not allowed in {}", describe(c), describe(n)),
                Some(c),
            ));
        }
    }
    Ok(Canonicalizer::new(algorithm).inclusive_prefixes(prefixes))
}

fn parse_signature<'d>(
    element: Node<'d>,
    policy: &AlgorithmPolicy,
) -> Result<ParsedSignature<'d>, Error> {
    let signature = the_signature(element)?;
    let parts = signature_parts(signature)?;
    let (c14n_method, signature_method, reference) = signed_info_parts(parts.signed_info)?;

    let c14n_uri = algorithm_uri(c14n_method)?;
    let c14n11_signed_info = matches!(c14n_uri, C14N11 | C14N11_WITH_COMMENTS);
    let c14n_alg = c14n_algorithm(c14n_uri).ok_or_else(|| {
        Error::new(ErrorKind::AlgorithmNotAllowed {
            role: AlgorithmRole::Canonicalization,
            uri: c14n_uri.to_owned(),
            allowed_by_opt_in: false,
        })
    })?;
    let c14n = c14n_of(c14n_method, c14n_alg)?;

    let signature_algorithm = policy.check_signature(algorithm_uri(signature_method)?)?;
    if let Some(c) = signature_method.child_elements().next() {
        return Err(Error::malformed(
            format!("{} is not allowed in ds:SignatureMethod", describe(c)),
            Some(c),
        ));
    }

    let parts_of_reference = reference_parts(reference)?;
    let digest_method = parts_of_reference.digest_method;
    let digest_algorithm = policy.check_digest(algorithm_uri(digest_method)?)?;
    if let Some(c) = digest_method.child_elements().next() {
        return Err(Error::malformed(
            format!("{} is not allowed in ds:DigestMethod", describe(c)),
            Some(c),
        ));
    }
    let steps = transform_steps(parts_of_reference.transforms)?;
    let digest_value = base64_value(parts_of_reference.digest_value)?;
    let signature_value = base64_value(parts.signature_value)?;

    Ok(ParsedSignature {
        signature,
        signed_info: parts.signed_info,
        c14n,
        c14n11_signed_info,
        signature_algorithm,
        reference_uri: parts_of_reference.uri,
        reference,
        transforms: parts_of_reference.transforms,
        steps,
        digest_algorithm,
        digest_value,
        signature_value,
        key_info: parts.key_info,
    })
}

/// The one `ds:Signature` child of `element`.
fn the_signature(element: Node<'_>) -> Result<Node<'_>, Error> {
    if !element.is_element() {
        return Err(Error::new(ErrorKind::NoSignature {
            element: describe(element),
        }));
    }
    let mut signatures = element
        .child_elements()
        .filter(|c| c.is(DSIG_NS, "Signature"));
    match (signatures.next(), signatures.next()) {
        (None, _) => Err(Error::new(ErrorKind::NoSignature {
            element: describe(element),
        })),
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(Error::new(ErrorKind::MultipleSignatures {
            count: 2 + signatures.count(),
        })),
    }
}

/// The children of a `ds:Signature` that verification reads.
struct SignatureParts<'d> {
    signed_info: Node<'d>,
    signature_value: Node<'d>,
    key_info: Option<Node<'d>>,
}

/// Signature: SignedInfo, SignatureValue, KeyInfo?, Object*.
fn signature_parts(signature: Node<'_>) -> Result<SignatureParts<'_>, Error> {
    let kids = dsig_children(signature)?;
    let mut kids = kids.into_iter().peekable();
    let signed_info = kids
        .next()
        .filter(|n| n.local_name() == "SignedInfo")
        .ok_or_else(|| {
            Error::malformed(
                "ds:Signature must start with one ds:SignedInfo",
                Some(signature),
            )
        })?;
    let signature_value = kids
        .next()
        .filter(|n| n.local_name() == "SignatureValue")
        .ok_or_else(|| {
            Error::malformed(
                "ds:SignedInfo must be followed by one ds:SignatureValue",
                Some(signature),
            )
        })?;
    let key_info = kids.next_if(|n| n.local_name() == "KeyInfo");
    for rest in kids {
        if rest.local_name() != "Object" {
            return Err(Error::malformed(
                format!("{} is misplaced in ds:Signature", describe(rest)),
                Some(rest),
            ));
        }
    }
    Ok(SignatureParts {
        signed_info,
        signature_value,
        key_info,
    })
}

/// SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference.
fn signed_info_parts(signed_info: Node<'_>) -> Result<(Node<'_>, Node<'_>, Node<'_>), Error> {
    let si = dsig_children(signed_info)?;
    match si.as_slice() {
        [c, s, r]
            if c.local_name() == "CanonicalizationMethod"
                && s.local_name() == "SignatureMethod"
                && r.local_name() == "Reference" =>
        {
            Ok((*c, *s, *r))
        }
        [c, s, refs @ ..]
            if c.local_name() == "CanonicalizationMethod"
                && s.local_name() == "SignatureMethod"
                && refs.len() > 1
                && refs.iter().all(|r| r.local_name() == "Reference") =>
        {
            Err(Error::malformed(
                format!(
                    "ds:SignedInfo has {} ds:Reference elements; exactly one is allowed",
                    refs.len()
                ),
                Some(signed_info),
            ))
        }
        _ => Err(Error::malformed(
            "ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference, \
             in that order",
            Some(signed_info),
        )),
    }
}

/// What a `ds:Reference` holds.
struct ReferenceParts<'d> {
    uri: Option<&'d str>,
    transforms: Option<Node<'d>>,
    digest_method: Node<'d>,
    digest_value: Node<'d>,
}

/// Reference: its URI, then Transforms?, DigestMethod, DigestValue.
fn reference_parts(reference: Node<'_>) -> Result<ReferenceParts<'_>, Error> {
    let uri = reference.attribute("URI");
    let rk = dsig_children(reference)?;
    match rk.as_slice() {
        [t, m, v]
            if t.local_name() == "Transforms"
                && m.local_name() == "DigestMethod"
                && v.local_name() == "DigestValue" =>
        {
            Ok(ReferenceParts {
                uri,
                transforms: Some(*t),
                digest_method: *m,
                digest_value: *v,
            })
        }
        [m, v] if m.local_name() == "DigestMethod" && v.local_name() == "DigestValue" => {
            Ok(ReferenceParts {
                uri,
                transforms: None,
                digest_method: *m,
                digest_value: *v,
            })
        }
        _ => Err(Error::malformed(
            "ds:Reference must hold Transforms?, DigestMethod and DigestValue, in that order",
            Some(reference),
        )),
    }
}

/// Fingerprints of the certificates in `KeyInfo`: only a hint to find the trusted key, so an
/// unreadable one is simply no hint.
fn key_info_hints(key_info: Option<Node<'_>>) -> Vec<Fingerprint> {
    let mut hints = Vec::new();
    if let Some(ki) = key_info {
        for x509 in ki.child_elements().filter(|c| c.is(DSIG_NS, "X509Data")) {
            for cert in x509
                .child_elements()
                .filter(|c| c.is(DSIG_NS, "X509Certificate"))
            {
                if let Some(der) = decode_base64(&cert.text()) {
                    hints.push(Fingerprint::of(&der));
                }
            }
        }
    }
    hints
}

/// One step of a `ds:Transforms` list whose algorithm is allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TransformStep {
    Enveloped,
    C14n(C14nAlgorithm),
}

fn invalid_transforms(detail: String) -> Error {
    Error::new(ErrorKind::InvalidTransforms { detail })
}

/// The steps of `ds:Transforms`, each of an allowed algorithm: enveloped-signature, exclusive
/// c14n or c14n 1.0, with or without comments. Anything else (XPath, XSLT, base64, C14N 1.1)
/// is named as such (`transform-not-allowed`), wherever it stands in the list.
fn transform_steps(transforms: Option<Node<'_>>) -> Result<Vec<(Node<'_>, TransformStep)>, Error> {
    let mut steps = Vec::new();
    let Some(t) = transforms else {
        return Ok(steps);
    };
    for tr in dsig_children(t)? {
        if tr.local_name() != "Transform" {
            return Err(Error::malformed(
                format!("{} is not allowed in ds:Transforms", describe(tr)),
                Some(tr),
            ));
        }
        let uri = algorithm_uri(tr)?;
        let step = if uri == ENVELOPED_SIGNATURE {
            TransformStep::Enveloped
        } else if let Some(alg) = C14nAlgorithm::from_uri(uri) {
            TransformStep::C14n(alg)
        } else {
            return Err(Error::new(ErrorKind::TransformNotAllowed {
                uri: uri.to_owned(),
            }));
        };
        steps.push((tr, step));
    }
    Ok(steps)
}

/// The one sequence of transforms SAML allows (core 5.4.4): the enveloped-signature transform
/// (the signature lies inside the element it signs), then one canonicalization. Anything else
/// is `invalid-transforms`: no `Transforms`, one missing, repeated, out of order, more than
/// two. Returns the canonicalization of the reference.
///
/// A same-document reference selects its nodes without comments (XML-DSig 4.4.3.3), so a
/// `#WithComments` canonicalization transform outputs no comments either.
fn transform_sequence(
    reference: Node<'_>,
    transforms: Option<Node<'_>>,
    steps: &[(Node<'_>, TransformStep)],
) -> Result<Canonicalizer, Error> {
    let Some(t) = transforms else {
        return Err(invalid_transforms(format!(
            "the ds:Reference at {} has no ds:Transforms",
            reference.position()
        )));
    };
    let [
        (enveloped, TransformStep::Enveloped),
        (c14n, TransformStep::C14n(alg)),
    ] = steps
    else {
        return Err(invalid_transforms(format!(
            "{} (ds:Transforms at {})",
            sequence_problem(steps),
            t.position()
        )));
    };
    if let Some(c) = enveloped.child_elements().next() {
        return Err(Error::malformed(
            format!(
                "{} is not allowed in the enveloped-signature transform",
                describe(c)
            ),
            Some(c),
        ));
    }
    let without_comments = match alg {
        C14nAlgorithm::InclusiveWithComments => C14nAlgorithm::Inclusive,
        C14nAlgorithm::ExclusiveWithComments => C14nAlgorithm::Exclusive,
        other => *other,
    };
    c14n_of(*c14n, without_comments)
}

/// What is wrong with a sequence of allowed transforms that is not enveloped-signature then
/// one canonicalization.
fn sequence_problem(steps: &[(Node<'_>, TransformStep)]) -> String {
    let enveloped = steps
        .iter()
        .filter(|(_, s)| *s == TransformStep::Enveloped)
        .count();
    let c14n = steps.len() - enveloped;
    match (steps.len(), enveloped, c14n) {
        (0, _, _) => "ds:Transforms is empty".to_owned(),
        (n, e, c) if n > 2 => {
            format!("{n} transforms (enveloped-signature {e} times, canonicalization {c} times)")
        }
        (_, 2, _) => "enveloped-signature is repeated".to_owned(),
        (_, _, 2) => "two canonicalization transforms".to_owned(),
        (_, 0, _) => "no enveloped-signature transform".to_owned(),
        (_, _, 0) => "no canonicalization transform after enveloped-signature".to_owned(),
        _ => "the canonicalization comes before enveloped-signature".to_owned(),
    }
}

/// A `SignedInfo` canonicalization URI: the four c14n 1.0 algorithms, and C14N 1.1 as
/// inclusive 1.0.
fn c14n_algorithm(uri: &str) -> Option<C14nAlgorithm> {
    match uri {
        C14N11 => Some(C14nAlgorithm::Inclusive),
        C14N11_WITH_COMMENTS => Some(C14nAlgorithm::InclusiveWithComments),
        other => C14nAlgorithm::from_uri(other),
    }
}

/// Whether C14N 1.1 and 1.0 could differ on the subtree at `apex`: when an ancestor carries an
/// `xml:*` attribute (1.0 copies them all onto the apex, 1.1 only some, and fixes `xml:base`).
fn check_c14n11(apex: Node<'_>) -> Result<(), Error> {
    let mut cur = apex.parent_element();
    while let Some(a) = cur {
        if a.attributes()
            .any(|at| at.namespace() == Some(XML_NAMESPACE))
        {
            return Err(Error::new(ErrorKind::AlgorithmNotAllowed {
                role: AlgorithmRole::Canonicalization,
                uri: format!(
                    "{C14N11} (with xml:* attributes inherited from {})",
                    describe(a)
                ),
                allowed_by_opt_in: false,
            }));
        }
        cur = a.parent_element();
    }
    Ok(())
}

/// The ID-typed attributes we recognize: SAML's `ID`, the common `Id` and `id`, `wsu:Id` and
/// `xml:id`. All of them count for uniqueness, so no second element can answer to an ID that
/// another reader would resolve differently.
fn ids<'d>(n: Node<'d>) -> Vec<&'d str> {
    let mut out: Vec<&'d str> = Vec::new();
    for a in n.attributes() {
        let is_id = match a.namespace() {
            None => matches!(a.local_name(), "ID" | "Id" | "id"),
            Some(ns) => {
                (ns == WSU_NS && a.local_name() == "Id")
                    || (ns == XML_NAMESPACE && a.local_name() == "id")
            }
        };
        if is_id && !out.contains(&a.value()) {
            out.push(a.value());
        }
    }
    out
}

/// Every ID of the document, refusing duplicates.
pub(crate) fn id_index<'d>(
    root: Node<'d>,
    referenced: Option<&str>,
) -> Result<HashMap<&'d str, Node<'d>>, Error> {
    let doc = root.document();
    let mut index: HashMap<&'d str, Node<'d>> = HashMap::new();
    let mut duplicates: HashMap<&'d str, usize> = HashMap::new();
    for e in doc.elements() {
        for id in ids(e) {
            if index.insert(id, e).is_some() {
                *duplicates.entry(id).or_insert(1) += 1;
            }
        }
    }
    // Name the referenced ID first when it is one of the duplicates.
    let dup = referenced
        .and_then(|r| duplicates.get_key_value(r))
        .or_else(|| duplicates.iter().min_by_key(|(k, _)| **k));
    if let Some((id, count)) = dup {
        return Err(Error::new(ErrorKind::DuplicateId {
            id: (*id).to_owned(),
            count: *count,
        }));
    }
    Ok(index)
}

/// Whether an ID can be compared as a plain string. `xs:ID` values are NCNames, but real IdPs
/// also start them with a digit, so only what could be markup, XPointer or XPath syntax (quotes,
/// brackets, slashes, whitespace...) is refused. Resolution is an exact string comparison.
fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(
                    c,
                    '\'' | '"'
                        | '<'
                        | '>'
                        | '&'
                        | '('
                        | ')'
                        | '['
                        | ']'
                        | '/'
                        | '='
                        | '#'
                        | ','
                        | '*'
                        | '@'
                        | '|'
                )
        })
}

fn check_reference(element: Node<'_>, sig: &ParsedSignature<'_>) -> Result<(), Error> {
    let Some(uri) = sig.reference_uri else {
        return Err(Error::new(ErrorKind::UnsupportedReference { uri: None }));
    };
    if uri.is_empty() {
        return Err(Error::new(ErrorKind::WholeDocumentReference {
            signed: describe(element),
        }));
    }
    let unsupported = || {
        Error::new(ErrorKind::UnsupportedReference {
            uri: Some(uri.to_owned()),
        })
    };
    // Anything but `#` and a plain ID: external URIs, XPointer (`#xpointer(...)`), markup.
    let id = uri
        .strip_prefix('#')
        .filter(|id| is_plain_id(id))
        .ok_or_else(unsupported)?;
    let root = element.document().root_element();
    let index = id_index(root, Some(id))?;
    let Some(target) = index.get(id) else {
        return Err(Error::new(ErrorKind::ReferenceNotFound {
            id: id.to_owned(),
        }));
    };
    if *target != element {
        return Err(Error::new(ErrorKind::WrongReference {
            id: id.to_owned(),
            referenced: describe(*target),
            signed: describe(element),
        }));
    }
    Ok(())
}

/// The digest of `element` (which `check_reference` proved is the one the reference names and
/// the signature's parent) minus its signature.
fn check_digest(
    element: Node<'_>,
    sig: &ParsedSignature<'_>,
    transform_c14n: &Canonicalizer,
) -> Result<(), Error> {
    let digest = compute_digest(
        transform_c14n,
        element,
        Some(sig.signature),
        sig.digest_algorithm,
    )
    .map_err(|e| Error::malformed(format!("digest computation failed: {e}"), None))?;
    let matches =
        digest.len() == sig.digest_value.len() && openssl::memcmp::eq(&digest, &sig.digest_value);
    if !matches {
        return Err(Error::new(ErrorKind::DigestMismatch {
            reference: sig.reference_uri.unwrap_or_default().to_owned(),
            algorithm: sig.digest_algorithm,
        }));
    }
    Ok(())
}

/// The largest canonical form computed of a document: this many times its input, plus
/// [`CANONICAL_SLACK`]. Escaping turns one byte into at most six, but exclusive c14n renders a
/// namespace declaration again on every element that uses it when no output ancestor did, so
/// one long namespace URI over many elements would make gigabytes of a 1 MiB response for the
/// digest to hash (namespace amplification). Real documents stay near their own size.
const CANONICAL_EXPANSION: usize = 16;
const CANONICAL_SLACK: usize = 1 << 20;

fn canonical_bound(node: Node<'_>) -> usize {
    node.document()
        .input_len()
        .saturating_mul(CANONICAL_EXPANSION)
        .saturating_add(CANONICAL_SLACK)
}

/// A writer that refuses to take more than `left` bytes in all; the canonicalizer stops at
/// the first refusal.
struct Capped<W> {
    inner: W,
    left: usize,
    bound: usize,
}

impl<W: Write> Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            self.left = 0;
            return Err(io::Error::other(format!(
                "the canonical form is larger than {} bytes ({CANONICAL_EXPANSION} times the document)",
                self.bound
            )));
        }
        self.left -= buf.len();
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The canonical form of `node` minus `exclude`, refused past [`canonical_bound`].
fn canonicalize_capped(
    c14n: &Canonicalizer,
    node: Node<'_>,
    exclude: Option<Node<'_>>,
    out: impl Write,
) -> io::Result<()> {
    let bound = canonical_bound(node);
    let mut capped = Capped {
        inner: out,
        left: bound,
        bound,
    };
    c14n.canonicalize(node, exclude, &mut capped)
}

pub(crate) fn compute_digest(
    c14n: &Canonicalizer,
    node: Node<'_>,
    exclude: Option<Node<'_>>,
    algorithm: DigestAlgorithm,
) -> Result<Vec<u8>, String> {
    let mut hasher = Hasher::new(algorithm.message_digest()).map_err(|e| e.to_string())?;
    canonicalize_capped(c14n, node, exclude, &mut hasher).map_err(|e| e.to_string())?;
    let out = hasher.finish().map_err(|e| e.to_string())?;
    debug_assert_eq!(out.len(), algorithm.output_len());
    Ok(out.to_vec())
}

fn check_signature(
    sig: &ParsedSignature<'_>,
    keys: &TrustedKeys,
    policy: &AlgorithmPolicy,
) -> Result<Fingerprint, Error> {
    let algorithm = sig.signature_algorithm;
    if sig.c14n11_signed_info {
        check_c14n11(sig.signed_info)?;
    }
    let mut signed_info = Vec::new();
    canonicalize_capped(&sig.c14n, sig.signed_info, None, &mut signed_info).map_err(|e| {
        Error::malformed(
            format!("ds:SignedInfo cannot be canonicalized: {e}"),
            Some(sig.signed_info),
        )
    })?;
    // The certificates KeyInfo names are a hint, decoded and hashed only when they can change
    // something: the order of several candidate keys, or the reason for a refusal.
    let hints = OnceCell::new();
    let presented = || {
        hints
            .get_or_init(|| key_info_hints(sig.key_info))
            .as_slice()
    };
    let mut candidates: Vec<_> = keys
        .iter()
        .filter(|k| k.spec().family() == algorithm.family())
        .collect();
    if candidates.len() > 1 {
        // Keys the document names come first; the others are still tried (KeyInfo is a hint).
        candidates.sort_by_key(|k| !presented().contains(k.fingerprint()));
    }

    let untrusted = || {
        Error::new(ErrorKind::UntrustedKey {
            presented: presented().first().copied(),
            trusted: keys.fingerprints(),
            algorithm,
        })
    };
    if candidates.is_empty() {
        return Err(untrusted());
    }

    let mut tried = Vec::new();
    let mut weak = None;
    let mut detail = None;
    for key in candidates {
        if let KeySpec::Rsa { bits } = key.spec() {
            if bits < policy.min_rsa_bits() {
                weak.get_or_insert(Error::new(ErrorKind::WeakKey {
                    fingerprint: *key.fingerprint(),
                    bits,
                    minimum: policy.min_rsa_bits(),
                }));
                continue;
            }
        }
        tried.push(*key.fingerprint());
        match key.verify(algorithm, &signed_info, &sig.signature_value) {
            Ok(true) => return Ok(*key.fingerprint()),
            Ok(false) => {}
            Err(d) => detail = Some(d),
        }
    }
    if tried.is_empty() {
        if let Some(w) = weak {
            return Err(w);
        }
    }
    let presented_untrusted =
        !presented().is_empty() && presented().iter().all(|p| keys.find(p).is_none());
    if presented_untrusted {
        return Err(untrusted());
    }
    Err(Error::new(ErrorKind::SignatureInvalid {
        algorithm,
        tried,
        detail,
    }))
}
