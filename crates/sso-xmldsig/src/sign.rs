//! Enveloped signatures for what we send (AuthnRequests, and responses of test and
//! development IdPs), checked by the same verifier and by xmlsec1 in the tests.

use std::fmt;

use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use sso_xml::escape::{xml_attribute, xml_text};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Node, NodeKind};

use crate::algorithm::{DigestAlgorithm, SignatureAlgorithm};
use crate::base64::encode_base64;
use crate::error::Error;
use crate::keys::{Curve, KeySpec};
use crate::verify::{DSIG_NS, ENVELOPED_SIGNATURE, compute_digest, describe, id_index};

const SAML_ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// A private key to sign with, and optionally the certificate to publish in `KeyInfo`.
#[derive(Clone)]
pub struct SigningKey {
    key: PKey<Private>,
    spec: KeySpec,
    certificate: Option<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("spec", &self.spec)
            .field("certificate", &self.certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An RSA (at least 2048 bits) or ECDSA (P-256, P-384, P-521) private key in PEM, PKCS#1,
    /// SEC1 or PKCS#8.
    pub fn from_pem(private_key_pem: &[u8]) -> Result<SigningKey, Error> {
        let key = PKey::private_key_from_pem(private_key_pem)
            .map_err(|e| Error::invalid_key(format!("unreadable PEM private key: {e}")))?;
        SigningKey::from_pkey(key)
    }

    /// A key already loaded with `openssl`.
    pub fn from_pkey(key: PKey<Private>) -> Result<SigningKey, Error> {
        let spec = KeySpec::of(&key).map_err(Error::invalid_key)?;
        if let KeySpec::Rsa { bits } = spec {
            if bits < 2048 {
                return Err(Error::invalid_key(format!(
                    "RSA key of {bits} bits; signing needs at least 2048"
                )));
            }
        }
        Ok(SigningKey {
            key,
            spec,
            certificate: None,
        })
    }

    /// Publish this PEM certificate in the signature's `KeyInfo`. It must hold this key's public
    /// half.
    pub fn with_certificate_pem(mut self, certificate_pem: &[u8]) -> Result<SigningKey, Error> {
        let cert = X509::from_pem(certificate_pem)
            .map_err(|e| Error::invalid_key(format!("unreadable PEM certificate: {e}")))?;
        let public = cert
            .public_key()
            .map_err(|e| Error::invalid_key(format!("certificate public key: {e}")))?;
        if !public.public_eq(&self.key) {
            return Err(Error::invalid_key(
                "the certificate does not hold this private key's public key",
            ));
        }
        self.certificate = Some(
            cert.to_der()
                .map_err(|e| Error::invalid_key(format!("certificate: {e}")))?,
        );
        Ok(self)
    }

    /// The signature algorithm this key signs with by default: RSA-SHA256, or ECDSA with the
    /// digest that matches the curve.
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.spec {
            KeySpec::Rsa { .. } => SignatureAlgorithm::RsaSha256,
            KeySpec::Ec { curve: Curve::P256 } => SignatureAlgorithm::EcdsaSha256,
            KeySpec::Ec { curve: Curve::P384 } => SignatureAlgorithm::EcdsaSha384,
            KeySpec::Ec { curve: Curve::P521 } => SignatureAlgorithm::EcdsaSha512,
        }
    }
}

/// Signs one element of a document with an enveloped signature: exclusive c14n, the
/// enveloped-signature transform, RSA PKCS#1 v1.5 or ECDSA with SHA-2.
///
/// The signature goes right after the element's `saml:Issuer` child when it has one (where SAML
/// requires it), else first. The result is the whole document serialized again, ready to send;
/// nothing else of the document changes meaning (no XML declaration is written; namespace
/// declarations stay where they were).
#[derive(Clone, Debug)]
pub struct Signer {
    key: SigningKey,
    signature_algorithm: SignatureAlgorithm,
    digest_algorithm: DigestAlgorithm,
    inclusive_prefixes: Vec<String>,
}

impl Signer {
    /// A signer with the key's default algorithm and a SHA-256 reference digest.
    pub fn new(key: SigningKey) -> Self {
        Signer {
            signature_algorithm: key.default_algorithm(),
            key,
            digest_algorithm: DigestAlgorithm::Sha256,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// Sign with `algorithm` (SHA-2 only; it must fit the key).
    pub fn signature_algorithm(mut self, algorithm: SignatureAlgorithm) -> Self {
        self.signature_algorithm = algorithm;
        self
    }

    /// Digest the reference with `algorithm` (SHA-2 only).
    pub fn digest_algorithm(mut self, algorithm: DigestAlgorithm) -> Self {
        self.digest_algorithm = algorithm;
        self
    }

    /// An InclusiveNamespaces PrefixList for the reference's exclusive c14n transform.
    pub fn inclusive_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inclusive_prefixes = prefixes
            .into_iter()
            .map(|p| p.as_ref().to_owned())
            .collect();
        self
    }

    /// Signs `element` (which must carry an `ID` attribute unique in its document and no
    /// signature yet) and returns the whole document, serialized, with the signature in place.
    pub fn sign(&self, element: Node<'_>) -> Result<Vec<u8>, Error> {
        if self.signature_algorithm.digest() == DigestAlgorithm::Sha1
            || self.digest_algorithm == DigestAlgorithm::Sha1
        {
            return Err(Error::signing("SHA-1 is never used to sign"));
        }
        if self.signature_algorithm.family() != self.key.spec.family() {
            return Err(Error::signing(format!(
                "{} does not fit this key",
                self.signature_algorithm
            )));
        }
        if !element.is_element() {
            return Err(Error::signing("only an element can be signed"));
        }
        let id = element
            .attribute("ID")
            .ok_or_else(|| Error::signing(format!("{} has no ID attribute", describe(element))))?;
        id_index(element.document().root_element(), Some(id))
            .map_err(|e| Error::signing(format!("cannot sign: {e}")))?;
        if element.child_elements().any(|c| c.is(DSIG_NS, "Signature")) {
            return Err(Error::signing(format!(
                "{} already has a ds:Signature",
                describe(element)
            )));
        }

        // The digest of the element as it is now equals the digest of the signed element minus
        // its signature: the signature is inserted between two existing nodes, touching no text.
        let transform = Canonicalizer::new(C14nAlgorithm::Exclusive)
            .inclusive_prefixes(&self.inclusive_prefixes);
        let digest = compute_digest(&transform, element, None, self.digest_algorithm)
            .map_err(Error::signing)?;

        let prefix_list = if self.inclusive_prefixes.is_empty() {
            String::new()
        } else {
            format!(
                "<ec:InclusiveNamespaces xmlns:ec=\"{}\" PrefixList=\"{}\"/>",
                C14nAlgorithm::Exclusive.uri(),
                xml_attribute(&self.inclusive_prefixes.join(" "))
            )
        };
        let escaped_id = xml_attribute(id);
        let signed_info = format!(
            "<ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
             <ds:SignatureMethod Algorithm=\"{sig}\"/>\
             <ds:Reference URI=\"#{escaped_id}\">\
             <ds:Transforms>\
             <ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"/>\
             <ds:Transform Algorithm=\"{c14n}\">{prefix_list}</ds:Transform>\
             </ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{dig}\"/>\
             <ds:DigestValue>{digest}</ds:DigestValue>\
             </ds:Reference>\
             </ds:SignedInfo>",
            c14n = C14nAlgorithm::Exclusive.uri(),
            sig = self.signature_algorithm.uri(),
            dig = self.digest_algorithm.uri(),
            digest = encode_base64(&digest),
        );

        // Exclusive c14n of SignedInfo depends only on the namespaces it uses (ds), so it can be
        // computed on SignedInfo alone, parsed with the same parser as everything else.
        let standalone = Document::parse(
            format!("<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}</ds:Signature>").as_bytes(),
        )
        .map_err(|e| Error::signing(format!("internal SignedInfo does not parse: {e}")))?;
        let si_node = standalone
            .root_element()
            .child_elements()
            .next()
            .ok_or_else(|| Error::signing("internal SignedInfo is missing"))?;
        let canonical =
            Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(si_node, None);
        let value = self.sign_bytes(&canonical)?;

        let key_info = match &self.key.certificate {
            Some(der) => format!(
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate>\
                 </ds:X509Data></ds:KeyInfo>",
                encode_base64(der)
            ),
            None => String::new(),
        };
        let signature = format!(
            "<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{}\
             </ds:SignatureValue>{key_info}</ds:Signature>",
            encode_base64(&value)
        );

        let mut out = String::new();
        serialize(
            element.document().document_node(),
            Some((element, &signature)),
            &mut out,
        );
        Ok(out.into_bytes())
    }

    fn sign_bytes(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let md = self.signature_algorithm.digest().message_digest();
        let mut signer = openssl::sign::Signer::new(md, &self.key.key)
            .map_err(|e| Error::signing(e.to_string()))?;
        signer
            .update(data)
            .map_err(|e| Error::signing(e.to_string()))?;
        let sig = signer
            .sign_to_vec()
            .map_err(|e| Error::signing(e.to_string()))?;
        match self.key.spec {
            KeySpec::Rsa { .. } => Ok(sig),
            KeySpec::Ec { curve } => {
                // OpenSSL writes DER; XML-DSig wants r || s, each padded to the field size.
                let parsed = EcdsaSig::from_der(&sig).map_err(|e| Error::signing(e.to_string()))?;
                let n = i32::try_from(curve.field_len()).unwrap_or(66);
                let mut raw = parsed
                    .r()
                    .to_vec_padded(n)
                    .map_err(|e| Error::signing(e.to_string()))?;
                raw.extend(
                    parsed
                        .s()
                        .to_vec_padded(n)
                        .map_err(|e| Error::signing(e.to_string()))?,
                );
                Ok(raw)
            }
        }
    }
}

/// Writes `node` as XML with the same infoset as it was parsed with, inserting `insert.1` into
/// the element `insert.0` (after a leading `saml:Issuer`, else first). The tree's depth is
/// bounded by the parser's limits, so recursion is bounded too.
fn serialize(node: Node<'_>, insert: Option<(Node<'_>, &str)>, out: &mut String) {
    match node.kind() {
        NodeKind::Document => {
            for c in node.children() {
                if c.kind() == NodeKind::Text {
                    continue;
                }
                serialize(c, insert, out);
                if !c.is_element() {
                    out.push('\n');
                }
            }
        }
        NodeKind::Text => xml_text(&node.text()).push_to(out),
        NodeKind::Comment => {
            out.push_str("<!--");
            out.push_str(&node.text());
            out.push_str("-->");
        }
        NodeKind::ProcessingInstruction => {
            out.push_str("<?");
            out.push_str(node.local_name());
            let data = node.text();
            if !data.is_empty() {
                out.push(' ');
                out.push_str(&data);
            }
            out.push_str("?>");
        }
        NodeKind::Element => {
            out.push('<');
            qname(node.prefix(), node.local_name(), out);
            for (prefix, uri) in node.namespace_declarations() {
                match prefix {
                    Some(p) => {
                        out.push_str(" xmlns:");
                        out.push_str(p);
                    }
                    None => out.push_str(" xmlns"),
                }
                out.push_str("=\"");
                xml_attribute(uri).push_to(out);
                out.push('"');
            }
            for a in node.attributes() {
                out.push(' ');
                qname(a.prefix(), a.local_name(), out);
                out.push_str("=\"");
                xml_attribute(a.value()).push_to(out);
                out.push('"');
            }
            out.push('>');
            let here = insert.filter(|(e, _)| *e == node).map(|(_, s)| s);
            let after_issuer = here.is_some()
                && node
                    .child_elements()
                    .next()
                    .is_some_and(|c| c.is(SAML_ASSERTION_NS, "Issuer"));
            if let (Some(sig), false) = (here, after_issuer) {
                out.push_str(sig);
            }
            let mut first_element = true;
            for c in node.children() {
                serialize(c, insert, out);
                if c.is_element() && first_element {
                    first_element = false;
                    if let (Some(sig), true) = (here, after_issuer) {
                        out.push_str(sig);
                    }
                }
            }
            out.push_str("</");
            qname(node.prefix(), node.local_name(), out);
            out.push('>');
        }
    }
}

fn qname(prefix: Option<&str>, local: &str, out: &mut String) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}
