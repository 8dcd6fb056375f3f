//! Enveloped XML signatures (verify and sign) and xmlenc decryption, on the `sso-xml` tree.
//!
//! ```
//! use sso_xml::Document;
//! use sso_xmldsig::{Signer, SigningKey, TrustedKey, TrustedKeys, Verifier};
//! # let idp = sso_certgen::CertifiedKey::self_signed("idp.example")?;
//! # let (key_pem, cert_pem) = (idp.key_pem().as_bytes(), idp.certificate_pem().as_bytes());
//! let response = Document::parse(
//!     br#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
//!         xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1">
//!       <saml:Issuer>https://idp.example</saml:Issuer>
//!       <saml:Assertion ID="_a1"/>
//!     </samlp:Response>"#,
//! )?;
//!
//! // The IdP signs the response...
//! let signed = Signer::new(SigningKey::from_pem(&key_pem)?).sign(response.root_element())?;
//!
//! // ...and the service provider verifies it with the certificate from the IdP's metadata.
//! let verifier = Verifier::new(TrustedKeys::new().with(TrustedKey::from_certificate_pem(&cert_pem)?));
//! let doc = Document::parse(&signed)?;
//! let verified = verifier.verify(doc.root_element())?;
//! assert_eq!(verified.node(), doc.root_element()); // the very node that was signed
//!
//! // A signature covers the element it sits in: the assertion itself is not signed.
//! let assertion = doc.root_element().child_elements().nth(2).unwrap();
//! assert_eq!(verifier.verify(assertion).unwrap_err().reason(), "no-signature");
//!
//! // Any change after signing is caught.
//! let tampered = String::from_utf8(signed)?.replace("idp.example", "evil.example");
//! let doc = Document::parse(tampered.as_bytes())?;
//! assert_eq!(verifier.verify(doc.root_element()).unwrap_err().reason(), "digest-mismatch");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a verification proves
//!
//! [`Verifier::verify`] takes the element the caller is about to use and returns a
//! [`VerifiedElement`] (which only it can make) for that same node, or an [`Error`] with a
//! stable [`reason`](Error::reason). It accepts only the signature profile of SAML (core 5.4,
//! which metadata adopts too): one `ds:Signature` child, one `SignedInfo`, one `Reference`
//! whose URI is `#ID` naming the signature's parent (the ID carried by exactly one element in
//! the whole document; `URI=""`, the whole document, is `whole-document-reference`), and
//! exactly two transforms, enveloped-signature then exclusive c14n or c14n 1.0 (with or without
//! comments); anything else is `transform-not-allowed` or `invalid-transforms`. Nothing is
//! looked up by ID afterwards: the proof names the node. Where the `ds:Signature` sits among
//! its parent's children depends on the parent's schema, so that rule is the caller's
//! (`sso-assertion` checks it for SAML elements).
//!
//! Keys come only from [`TrustedKeys`], built from configured certificates; the document's
//! `KeyInfo` may only say which trusted key to try first. Algorithms come from an allowlist
//! ([`AlgorithmPolicy`]): RSA PKCS#1 v1.5 and ECDSA (P-256/384/521, raw `r || s`) with SHA-2;
//! SHA-1 and 1024-bit RSA only through [`AlgorithmPolicy::dangerous`]; never HMAC, DSA, RSA-PSS,
//! XPath or XSLT.
//!
//! # Signing and decryption
//!
//! [`Signer`] writes enveloped signatures with exclusive c14n, RSA-SHA256 or ECDSA, verifiable by
//! xmlsec1 and by [`Verifier`]. [`Decryptor`] opens `EncryptedAssertion` (RSA-OAEP key transport,
//! AES-GCM or AES-CBC content) and parses the plaintext with `sso-xml` into a new document; all
//! its failures look alike to the caller ([`DecryptionError`]).
//!
//! One crypto library serves everything: OpenSSL, through the `openssl` crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
mod base64;
mod decrypt;
mod error;
mod keys;
mod sign;
mod verify;

pub use crate::algorithm::{
    AlgorithmPolicy, AlgorithmRole, DangerousAlgorithmPolicy, DigestAlgorithm, SignatureAlgorithm,
};
pub use crate::decrypt::{DecryptedElement, DecryptionKey, Decryptor, XENC_NS};
pub use crate::error::{DecryptionError, Error, ErrorKind};
pub use crate::keys::{Fingerprint, ParseFingerprintError, TrustedKey, TrustedKeys};
pub use crate::sign::{Signer, SigningKey};
pub use crate::verify::{DSIG_NS, VerifiedElement, Verifier};
