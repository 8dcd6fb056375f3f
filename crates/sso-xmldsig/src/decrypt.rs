//! xmlenc decryption of EncryptedAssertion and EncryptedID; past the algorithm check every
//! failure is one opaque error, so a response cannot be used as a decryption oracle.

use std::fmt;

use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode, decrypt_aead};
use sso_xml::{Document, Limits, Node, NodeId, NodeKind};

use crate::algorithm::AlgorithmRole;
use crate::base64::decode_base64;
use crate::error::{DecryptionError, Error};
use crate::keys::KeySpec;
use crate::verify::DSIG_NS;

/// The xmlenc namespace.
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const SAML_ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";
/// At most this many `EncryptedKey` elements are tried (one per recipient in practice).
const MAX_ENCRYPTED_KEYS: usize = 8;

/// The service provider's RSA private key, to unwrap the content key of encrypted assertions.
#[derive(Clone)]
pub struct DecryptionKey {
    key: PKey<Private>,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("bits", &self.key.bits())
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// An RSA private key in PEM (PKCS#1 or PKCS#8).
    pub fn from_pem(private_key_pem: &[u8]) -> Result<DecryptionKey, Error> {
        let key = PKey::private_key_from_pem(private_key_pem)
            .map_err(|e| Error::invalid_key(format!("unreadable PEM private key: {e}")))?;
        DecryptionKey::from_pkey(key)
    }

    /// A key already loaded with `openssl`.
    pub fn from_pkey(key: PKey<Private>) -> Result<DecryptionKey, Error> {
        match KeySpec::of(&key).map_err(Error::invalid_key)? {
            KeySpec::Rsa { .. } => Ok(DecryptionKey { key }),
            KeySpec::Ec { .. } => Err(Error::invalid_key(
                "key transport needs an RSA key (RSA-OAEP)",
            )),
        }
    }
}

/// A decrypted element, in a new [`Document`] parsed by `sso-xml` with the same limits as the
/// message it came from.
///
/// The plaintext is parsed inside a wrapper element that declares the namespaces in scope where
/// the encrypted element stood, as if it had been decrypted in place (the plaintext may use a
/// prefix declared outside it). [`element`](Self::element) is the decrypted element; the
/// wrapper is its parent.
#[derive(Debug)]
pub struct DecryptedElement {
    document: Document,
    element: NodeId,
}

impl DecryptedElement {
    /// The document holding the decrypted element.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The decrypted element (for an `EncryptedAssertion`, the `saml:Assertion`).
    pub fn element(&self) -> Node<'_> {
        self.document
            .node(self.element)
            .unwrap_or_else(|| self.document.root_element())
    }
}

/// Decrypts xmlenc `EncryptedData` as SAML uses it (`EncryptedAssertion`, `EncryptedID`,
/// `EncryptedAttribute`).
///
/// Key transport: RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, and `xmlenc11#rsa-oaep` with MGF1 over
/// SHA-1 or SHA-2), the OAEP digest given by `ds:DigestMethod`. Content: AES-128/192/256 in GCM
/// (`xmlenc11#aesNNN-gcm`) or CBC (`xmlenc#aesNNN-cbc`). RSA 1.5 key transport and 3DES are
/// refused.
#[derive(Clone, Debug)]
pub struct Decryptor {
    key: DecryptionKey,
    limits: Limits,
}

enum Content {
    Cbc(Cipher, usize),
    Gcm(Cipher, usize),
}

struct KeyTransport {
    digest: MessageDigest,
    mgf1: MessageDigest,
    label: Option<Vec<u8>>,
}

impl Decryptor {
    /// A decryptor with the default parser [`Limits`].
    pub fn new(key: DecryptionKey) -> Self {
        Decryptor {
            key,
            limits: Limits::default(),
        }
    }

    /// Parse decrypted plaintext with these limits (use the ones the message was parsed with).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Decrypts a `saml:EncryptedAssertion` into its `saml:Assertion`.
    pub fn decrypt_assertion(
        &self,
        encrypted_assertion: Node<'_>,
    ) -> Result<DecryptedElement, DecryptionError> {
        if !encrypted_assertion.is(SAML_ASSERTION_NS, "EncryptedAssertion") {
            return Err(DecryptionError::failed("not a saml:EncryptedAssertion"));
        }
        let out = self.decrypt_element(encrypted_assertion)?;
        if !out.element().is(SAML_ASSERTION_NS, "Assertion") {
            return Err(DecryptionError::failed(
                "the plaintext of an EncryptedAssertion is not a saml:Assertion",
            ));
        }
        Ok(out)
    }

    /// Decrypts any element whose content is one `xenc:EncryptedData` of type Element (and
    /// optionally `xenc:EncryptedKey` siblings), returning the one element of its plaintext.
    pub fn decrypt_element(
        &self,
        encrypted: Node<'_>,
    ) -> Result<DecryptedElement, DecryptionError> {
        let mut data = encrypted
            .child_elements()
            .filter(|c| c.is(XENC_NS, "EncryptedData"));
        let (Some(data), None) = (data.next(), data.next()) else {
            return Err(DecryptionError::failed(
                "expected exactly one xenc:EncryptedData",
            ));
        };
        if let Some(t) = data.attribute("Type") {
            if t != TYPE_ELEMENT {
                return Err(DecryptionError::failed("EncryptedData Type is not Element"));
            }
        }

        // Algorithms first, from the document alone: a refusal here reveals nothing secret.
        let method = data
            .child_elements()
            .find(|c| c.is(XENC_NS, "EncryptionMethod"))
            .and_then(|m| m.attribute("Algorithm"))
            .ok_or_else(|| DecryptionError::failed("EncryptedData has no EncryptionMethod"))?;
        let content = content_algorithm(method)?;
        let keys = encrypted_keys(encrypted, data);
        if keys.is_empty() {
            return Err(DecryptionError::failed("no xenc:EncryptedKey found"));
        }
        let mut transports = Vec::new();
        for k in &keys {
            transports.push(key_transport(*k)?);
        }

        let cipher_value = cipher_value(data)?;
        let mut content_key = None;
        for (k, transport) in keys.iter().zip(&transports) {
            match self.unwrap_key(*k, transport) {
                Ok(key) => {
                    content_key = Some(key);
                    break;
                }
                Err(e) => tracing::debug!(detail = e, "EncryptedKey not usable with our key"),
            }
        }
        let content_key = content_key
            .ok_or_else(|| DecryptionError::failed("no EncryptedKey unwraps with our key"))?;
        let plaintext = decrypt_content(&content, &content_key, &cipher_value)
            .map_err(|e| DecryptionError::failed(&e))?;
        self.parse_plaintext(encrypted, &plaintext)
    }

    fn unwrap_key(&self, encrypted_key: Node<'_>, t: &KeyTransport) -> Result<Vec<u8>, String> {
        let wrapped =
            cipher_value(encrypted_key).map_err(|_| "EncryptedKey CipherValue".to_owned())?;
        let mut d = Decrypter::new(&self.key.key).map_err(|e| e.to_string())?;
        d.set_rsa_padding(Padding::PKCS1_OAEP)
            .map_err(|e| e.to_string())?;
        d.set_rsa_oaep_md(t.digest).map_err(|e| e.to_string())?;
        d.set_rsa_mgf1_md(t.mgf1).map_err(|e| e.to_string())?;
        if let Some(label) = &t.label {
            d.set_rsa_oaep_label(label).map_err(|e| e.to_string())?;
        }
        let len = d.decrypt_len(&wrapped).map_err(|e| e.to_string())?;
        let mut out = vec![0u8; len];
        let n = d.decrypt(&wrapped, &mut out).map_err(|e| e.to_string())?;
        out.truncate(n);
        Ok(out)
    }

    fn parse_plaintext(
        &self,
        encrypted: Node<'_>,
        plaintext: &[u8],
    ) -> Result<DecryptedElement, DecryptionError> {
        let mut body = plaintext.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(plaintext);
        if body.starts_with(b"<?xml") {
            let end = body
                .windows(2)
                .position(|w| w == b"?>")
                .ok_or_else(|| DecryptionError::failed("unterminated XML declaration"))?;
            body = body.get(end + 2..).unwrap_or_default();
        }
        let mut wrapped = String::from("<decrypted");
        for (prefix, uri) in in_scope_namespaces(encrypted) {
            match prefix {
                Some(p) => {
                    wrapped.push_str(" xmlns:");
                    wrapped.push_str(p);
                }
                None => wrapped.push_str(" xmlns"),
            }
            wrapped.push_str("=\"");
            for c in uri.chars() {
                match c {
                    '&' => wrapped.push_str("&amp;"),
                    '<' => wrapped.push_str("&lt;"),
                    '"' => wrapped.push_str("&quot;"),
                    c => wrapped.push(c),
                }
            }
            wrapped.push('"');
        }
        wrapped.push('>');
        let body = std::str::from_utf8(body)
            .map_err(|_| DecryptionError::failed("plaintext is not UTF-8"))?;
        wrapped.push_str(body);
        wrapped.push_str("</decrypted>");
        let document = Document::parse_with(wrapped.as_bytes(), &self.limits)
            .map_err(|e| DecryptionError::failed(&format!("plaintext does not parse: {e}")))?;
        let root = document.root_element();
        let mut element = None;
        for c in root.children() {
            match c.kind() {
                NodeKind::Element if element.is_none() => element = Some(c.id()),
                NodeKind::Text if c.text().trim().is_empty() => {}
                _ => {
                    return Err(DecryptionError::failed(
                        "plaintext is not exactly one element",
                    ));
                }
            }
        }
        let element =
            element.ok_or_else(|| DecryptionError::failed("plaintext holds no element"))?;
        Ok(DecryptedElement { document, element })
    }
}

/// The namespace bindings in scope at `n`, nearest declaration winning.
fn in_scope_namespaces<'d>(n: Node<'d>) -> Vec<(Option<&'d str>, &'d str)> {
    let mut chain = Vec::new();
    let mut cur = Some(n);
    while let Some(e) = cur {
        chain.push(e);
        cur = e.parent_element();
    }
    let mut scope: Vec<(Option<&'d str>, &'d str)> = Vec::new();
    for e in chain.iter().rev() {
        for (prefix, uri) in e.namespace_declarations() {
            scope.retain(|(p, _)| *p != prefix);
            scope.push((prefix, uri));
        }
    }
    // `xmlns=""` at the top is the same as no declaration.
    scope.retain(|(p, uri)| p.is_some() || !uri.is_empty());
    scope
}

fn content_algorithm(uri: &str) -> Result<Content, DecryptionError> {
    let c = match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Content::Cbc(Cipher::aes_128_cbc(), 16),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => Content::Cbc(Cipher::aes_192_cbc(), 24),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Content::Cbc(Cipher::aes_256_cbc(), 32),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Content::Gcm(Cipher::aes_128_gcm(), 16),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => Content::Gcm(Cipher::aes_192_gcm(), 24),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Content::Gcm(Cipher::aes_256_gcm(), 32),
        other => {
            return Err(DecryptionError::algorithm(
                AlgorithmRole::ContentEncryption,
                other,
            ));
        }
    };
    Ok(c)
}

fn digest_of(uri: &str) -> Option<MessageDigest> {
    match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Some(MessageDigest::sha1()),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

fn mgf_of(uri: &str) -> Option<MessageDigest> {
    match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Some(MessageDigest::sha1()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha224" => Some(MessageDigest::sha224()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// The key transport parameters. SHA-1 inside OAEP is not a signature weakness (OAEP needs no
/// collision resistance), so it is accepted: it is what nearly every IdP sends.
fn key_transport(encrypted_key: Node<'_>) -> Result<KeyTransport, DecryptionError> {
    let method = encrypted_key
        .child_elements()
        .find(|c| c.is(XENC_NS, "EncryptionMethod"))
        .ok_or_else(|| DecryptionError::failed("EncryptedKey has no EncryptionMethod"))?;
    let uri = method.attribute("Algorithm").unwrap_or("");
    let xenc11 = match uri {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => false,
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => true,
        other => {
            return Err(DecryptionError::algorithm(
                AlgorithmRole::KeyTransport,
                other,
            ));
        }
    };
    let mut t = KeyTransport {
        digest: MessageDigest::sha1(),
        mgf1: MessageDigest::sha1(),
        label: None,
    };
    for c in method.child_elements() {
        if c.is(DSIG_NS, "DigestMethod") {
            let d = c.attribute("Algorithm").unwrap_or("");
            t.digest = digest_of(d)
                .ok_or_else(|| DecryptionError::algorithm(AlgorithmRole::KeyTransport, d))?;
        } else if xenc11 && c.is(XENC11_NS, "MGF") {
            let m = c.attribute("Algorithm").unwrap_or("");
            t.mgf1 = mgf_of(m)
                .ok_or_else(|| DecryptionError::algorithm(AlgorithmRole::KeyTransport, m))?;
        } else if c.is(XENC_NS, "OAEPparams") {
            t.label = Some(
                decode_base64(&c.text())
                    .ok_or_else(|| DecryptionError::failed("OAEPparams is not base64"))?,
            );
        } else if c.is(XENC_NS, "KeySize") {
        } else {
            return Err(DecryptionError::failed(
                "unexpected element in EncryptionMethod",
            ));
        }
    }
    Ok(t)
}

/// The candidate `EncryptedKey` elements: inside `EncryptedData/ds:KeyInfo`, named by a
/// `ds:RetrievalMethod` there, or siblings of the `EncryptedData`. Only elements inside the
/// encrypted element are considered.
fn encrypted_keys<'d>(encrypted: Node<'d>, data: Node<'d>) -> Vec<Node<'d>> {
    let mut out: Vec<Node<'d>> = Vec::new();
    let push = |n: Node<'d>, out: &mut Vec<Node<'d>>| {
        if !out.contains(&n) && out.len() < MAX_ENCRYPTED_KEYS {
            out.push(n);
        }
    };
    for ki in data.child_elements().filter(|c| c.is(DSIG_NS, "KeyInfo")) {
        for c in ki.child_elements() {
            if c.is(XENC_NS, "EncryptedKey") {
                push(c, &mut out);
            } else if c.is(DSIG_NS, "RetrievalMethod")
                && c.attribute("Type") == Some(TYPE_ENCRYPTED_KEY)
            {
                let id = c.attribute("URI").and_then(|u| u.strip_prefix('#'));
                if let Some(id) = id {
                    for k in encrypted
                        .descendants()
                        .filter(|d| d.is(XENC_NS, "EncryptedKey") && d.attribute("Id") == Some(id))
                    {
                        push(k, &mut out);
                    }
                }
            }
        }
    }
    for c in encrypted
        .child_elements()
        .filter(|c| c.is(XENC_NS, "EncryptedKey"))
    {
        push(c, &mut out);
    }
    out
}

fn cipher_value(n: Node<'_>) -> Result<Vec<u8>, DecryptionError> {
    let cd = n
        .child_elements()
        .find(|c| c.is(XENC_NS, "CipherData"))
        .ok_or_else(|| DecryptionError::failed("no CipherData"))?;
    let cv = cd
        .child_elements()
        .find(|c| c.is(XENC_NS, "CipherValue"))
        .ok_or_else(|| {
            DecryptionError::failed("no CipherValue (CipherReference is not supported)")
        })?;
    decode_base64(&cv.text()).ok_or_else(|| DecryptionError::failed("CipherValue is not base64"))
}

fn decrypt_content(content: &Content, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    match content {
        Content::Cbc(cipher, key_len) => {
            if key.len() != *key_len {
                return Err(format!(
                    "content key is {} bytes, expected {key_len}",
                    key.len()
                ));
            }
            if data.len() < 32 || data.len() % 16 != 0 {
                return Err("CBC ciphertext has a bad length".to_owned());
            }
            let (iv, ct) = data.split_at(16);
            let mut c =
                Crypter::new(*cipher, Mode::Decrypt, key, Some(iv)).map_err(|e| e.to_string())?;
            c.pad(false);
            let mut out = vec![0u8; ct.len() + 16];
            let mut n = c.update(ct, &mut out).map_err(|e| e.to_string())?;
            n += c
                .finalize(out.get_mut(n..).unwrap_or_default())
                .map_err(|e| e.to_string())?;
            out.truncate(n);
            // xmlenc padding: the last byte says how many bytes to drop; the others are arbitrary
            // (not necessarily PKCS#7).
            let pad = usize::from(out.last().copied().unwrap_or(0));
            if pad == 0 || pad > 16 || pad > out.len() {
                return Err("bad CBC padding".to_owned());
            }
            out.truncate(out.len() - pad);
            Ok(out)
        }
        Content::Gcm(cipher, key_len) => {
            if key.len() != *key_len {
                return Err(format!(
                    "content key is {} bytes, expected {key_len}",
                    key.len()
                ));
            }
            if data.len() < 12 + 16 {
                return Err("GCM ciphertext too short".to_owned());
            }
            let (iv, rest) = data.split_at(12);
            let (ct, tag) = rest.split_at(rest.len() - 16);
            decrypt_aead(*cipher, key, Some(iv), &[], ct, tag).map_err(|e| e.to_string())
        }
    }
}
