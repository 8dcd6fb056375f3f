//! IdP metadata verified with a pinned signing certificate before anything in it is read:
//! signed by our signer and by xmlsec1 (accepted), altered after signing, signed by another
//! key, unsigned, signed with SHA-1, and wrapped (refused, each with its reason); real Azure AD
//! metadata against its published certificate; `validUntil` and `cacheDuration` across an
//! aggregate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use sso_assertion::{Certificate, DurationError, IdpMetadata, MetadataError};
use sso_certgen::CertifiedKey;
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey};
use time::Duration;
use time::macros::datetime;

static PUBLISHER: LazyLock<CertifiedKey> =
    LazyLock::new(|| CertifiedKey::self_signed("metadata publisher").unwrap());
static OTHER: LazyLock<CertifiedKey> =
    LazyLock::new(|| CertifiedKey::self_signed("someone else").unwrap());
static IDP: LazyLock<CertifiedKey> =
    LazyLock::new(|| CertifiedKey::self_signed("idp signing").unwrap());
static EVIL_IDP: LazyLock<CertifiedKey> =
    LazyLock::new(|| CertifiedKey::self_signed("evil idp").unwrap());

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const SAML2: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn certificate(key: &CertifiedKey) -> Certificate {
    Certificate::from_pem_or_base64(key.certificate_pem()).unwrap()
}

/// An EntityDescriptor (without namespace declarations when `nested`) for `entity_id`.
fn entity(id: &str, entity_id: &str, sso_url: &str, key: &CertifiedKey, attrs: &str) -> String {
    format!(
        "<md:EntityDescriptor ID=\"{id}\" entityID=\"{entity_id}\"{attrs}>\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"{SAML2}\">\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
         </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:SingleSignOnService Binding=\"{REDIRECT}\" Location=\"{sso_url}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>",
        cert = key.certificate_base64(),
    )
}

const NS: &str = "xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
                  xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"";

/// One IdP's metadata, root EntityDescriptor with ID `_md`.
fn single(attrs: &str) -> String {
    entity(
        "_md",
        "https://idp.example/metadata",
        "https://idp.example/sso",
        &IDP,
        &format!(" {NS}{attrs}"),
    )
}

/// An aggregate (root ID `_agg`) of two IdPs.
fn aggregate(attrs: &str, inner_attrs: &str) -> String {
    format!(
        "<md:EntitiesDescriptor ID=\"_agg\" {NS}{attrs}>{}{}</md:EntitiesDescriptor>",
        entity(
            "_a",
            "https://a.example/idp",
            "https://a.example/sso",
            &IDP,
            inner_attrs
        ),
        entity(
            "_b",
            "https://b.example/idp",
            "https://b.example/sso",
            &IDP,
            ""
        ),
    )
}

/// `xml` with its root element signed by `key` (our signer), `KeyInfo` carrying its
/// certificate when `key_info`.
fn sign(xml: &str, key: &CertifiedKey, key_info: bool) -> String {
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let mut signing = SigningKey::from_pem(key.key_pem().as_bytes()).unwrap();
    if key_info {
        signing = signing
            .with_certificate_pem(key.certificate_pem().as_bytes())
            .unwrap();
    }
    String::from_utf8(Signer::new(signing).sign(doc.root_element()).unwrap()).unwrap()
}

/// `xml` (root element `{MD}local` with ID `id`) signed by xmlsec1 with `key`, `algorithm`
/// and `digest` URIs.
fn sign_with_xmlsec1(xml: &str, local: &str, id: &str, algorithm: &str, digest: &str) -> String {
    let template = format!(
        "<ds:Signature><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"{algorithm}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue/></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
    );
    let end_of_start_tag = xml.find('>').unwrap() + 1;
    let with_template = format!(
        "{}{template}{}",
        &xml[..end_of_start_tag],
        &xml[end_of_start_tag..]
    );
    let dir = std::env::temp_dir().join(format!(
        "signed_metadata_{}_{}",
        std::process::id(),
        id.trim_start_matches('_')
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key.pem"), PUBLISHER.key_pem()).unwrap();
    std::fs::write(dir.join("in.xml"), with_template).unwrap();
    let output = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(dir.join("key.pem"))
        .args(["--id-attr:ID", &format!("{MD}:{local}")])
        .arg("--output")
        .arg(dir.join("out.xml"))
        .arg(dir.join("in.xml"))
        .output()
        .unwrap_or_else(|e| {
            panic!("xmlsec1 is required (Debian package `xmlsec1`; `cargo xtask test` installs it): {e}")
        });
    assert!(
        output.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signed = std::fs::read_to_string(dir.join("out.xml")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    signed
}

fn refusal(xml: &str, entity: Option<&str>, pinned: &CertifiedKey) -> MetadataError {
    IdpMetadata::from_signed_xml(xml.as_bytes(), entity, &certificate(pinned)).unwrap_err()
}

#[test]
fn signed_metadata_is_read_after_its_signature_verifies() {
    let signed = sign(&single(""), &PUBLISHER, true);
    let md =
        IdpMetadata::from_signed_xml(signed.as_bytes(), None, &certificate(&PUBLISHER)).unwrap();
    assert_eq!(md.entity_id, "https://idp.example/metadata");
    assert_eq!(md.sso_services[0].location, "https://idp.example/sso");
    assert_eq!(
        md.signing_certificates[0].fingerprint(),
        certificate(&IDP).fingerprint()
    );
    assert!(md.signed);
    assert_eq!(
        md.verified_by.as_ref(),
        Some(certificate(&PUBLISHER).fingerprint())
    );
    // Without a pinned certificate nothing is verified.
    assert_eq!(
        IdpMetadata::from_xml(signed.as_bytes())
            .unwrap()
            .verified_by,
        None
    );
}

#[test]
fn metadata_signed_by_xmlsec1_verifies() {
    let signed = sign_with_xmlsec1(
        &single(""),
        "EntityDescriptor",
        "_md",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    );
    let md =
        IdpMetadata::from_signed_xml(signed.as_bytes(), None, &certificate(&PUBLISHER)).unwrap();
    assert_eq!(md.entity_id, "https://idp.example/metadata");

    // The same policy as responses: SHA-1 is refused.
    let sha1 = sign_with_xmlsec1(
        &single(""),
        "EntityDescriptor",
        "_md",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    let error = refusal(&sha1, None, &PUBLISHER);
    assert_eq!(error.reason(), "metadata-signature-invalid", "{error}");
    assert!(
        error.to_string().contains("algorithm-not-allowed"),
        "{error}"
    );
}

#[test]
fn changes_after_signing_are_refused() {
    let signed = sign(&single(""), &PUBLISHER, true);
    // Another SSO URL.
    let moved = signed.replace("https://idp.example/sso", "https://evil.example/sso");
    assert_ne!(moved, signed);
    let error = refusal(&moved, None, &PUBLISHER);
    assert_eq!(error.reason(), "metadata-signature-invalid", "{error}");
    assert!(error.to_string().contains("digest-mismatch"), "{error}");
    // Another IdP certificate.
    let swapped = signed.replace(&IDP.certificate_base64(), &EVIL_IDP.certificate_base64());
    assert_ne!(swapped, signed);
    assert_eq!(
        refusal(&swapped, None, &PUBLISHER).reason(),
        "metadata-signature-invalid"
    );
}

#[test]
fn another_key_or_no_signature_is_refused() {
    // Signed by someone else, naming their certificate: not the pinned one.
    let theirs = sign(&single(""), &OTHER, true);
    let error = refusal(&theirs, None, &PUBLISHER);
    assert_eq!(error.reason(), "metadata-untrusted-key", "{error}");
    // Signed by someone else, naming nothing: the pinned key does not verify it.
    let anonymous = sign(&single(""), &OTHER, false);
    assert_eq!(
        refusal(&anonymous, None, &PUBLISHER).reason(),
        "metadata-signature-invalid"
    );
    // Unsigned.
    let error = refusal(&single(""), None, &PUBLISHER);
    assert_eq!(error.reason(), "metadata-unsigned", "{error}");
    assert!(error.to_string().contains("not signed"), "{error}");
    // Only an entity inside the aggregate is signed: the root is what must be.
    let inner_signed = {
        let doc = Document::parse(aggregate("", "").as_bytes()).unwrap();
        let a = doc.root_element().child_elements().next().unwrap();
        let key = SigningKey::from_pem(PUBLISHER.key_pem().as_bytes()).unwrap();
        String::from_utf8(Signer::new(key).sign(a).unwrap()).unwrap()
    };
    let error = refusal(&inner_signed, Some("https://a.example/idp"), &PUBLISHER);
    assert_eq!(error.reason(), "metadata-unsigned", "{error}");
    // Not metadata at all is said as such.
    let error = refusal("<x ID=\"_x\"/>", None, &PUBLISHER);
    assert_eq!(error.reason(), "not-metadata");
}

#[test]
fn a_signed_aggregate_yields_the_chosen_entity() {
    let signed = sign(&aggregate("", ""), &PUBLISHER, true);
    let pinned = certificate(&PUBLISHER);
    let b = IdpMetadata::from_signed_xml(signed.as_bytes(), Some("https://b.example/idp"), &pinned)
        .unwrap();
    assert_eq!(b.sso_services[0].location, "https://b.example/sso");
    let error = IdpMetadata::from_signed_xml(signed.as_bytes(), None, &pinned).unwrap_err();
    assert_eq!(error.reason(), "ambiguous-entity");
}

#[test]
fn an_entity_injected_around_or_into_a_signed_aggregate_is_refused() {
    let signed = sign(&aggregate("", ""), &PUBLISHER, true);
    let evil = entity(
        "_evil",
        "https://a.example/idp",
        "https://evil.example/sso",
        &EVIL_IDP,
        &format!(" {NS}"),
    );
    let body = signed.trim_start_matches(|c| c != '<');
    // Wrapped: a new unsigned root holding the injected entity and the signed aggregate.
    let wrapped = format!("<md:EntitiesDescriptor {NS}>{evil}{body}</md:EntitiesDescriptor>");
    let error = refusal(&wrapped, Some("https://a.example/idp"), &PUBLISHER);
    assert_eq!(error.reason(), "metadata-unsigned", "{error}");
    // Without a pinned certificate the wrapped document would import the injected entity
    // first: the check is what stops it.
    let unchecked =
        IdpMetadata::from_xml_for_entity(wrapped.as_bytes(), "https://a.example/idp").unwrap();
    assert_eq!(
        unchecked.sso_services[0].location,
        "https://evil.example/sso"
    );
    // Injected into the signed aggregate itself: the digest no longer matches.
    let injected = signed.replacen(
        "<md:EntityDescriptor ID=\"_a\"",
        &format!("{evil}<md:EntityDescriptor ID=\"_a\""),
        1,
    );
    assert_ne!(injected, signed);
    let error = refusal(&injected, Some("https://a.example/idp"), &PUBLISHER);
    assert_eq!(error.reason(), "metadata-signature-invalid", "{error}");
    // The signature moved onto a wrapper with the same ID: duplicate IDs are refused.
    let start = body.find("<ds:Signature").unwrap();
    let end = body.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let (signature, unsigned_inner) = (
        &body[start..end],
        format!("{}{}", &body[..start], &body[end..]),
    );
    let moved = format!(
        "<md:EntitiesDescriptor ID=\"_agg\" {NS}>{signature}{evil}{unsigned_inner}</md:EntitiesDescriptor>"
    );
    let error = refusal(&moved, Some("https://a.example/idp"), &PUBLISHER);
    assert_eq!(error.reason(), "metadata-signature-invalid", "{error}");
    assert!(error.to_string().contains("duplicate-id"), "{error}");
}

#[test]
fn real_azure_ad_metadata_verifies_with_its_published_certificate() {
    let xml = std::fs::read(corpus().join("metadata/azure-ad/xmlcrypto_wsfederation_metadata.xml"))
        .unwrap();
    let pem = std::fs::read_to_string(corpus().join("keys/xml-crypto/wsfederation_metadata.pem"))
        .unwrap();
    let published = Certificate::from_pem_or_base64(&pem).unwrap();
    let md = IdpMetadata::from_signed_xml(&xml, None, &published).unwrap();
    assert_eq!(
        md.entity_id,
        "https://sts.windows.net/8bd6e98d-e212-4022-b13f-a244fab4c253/"
    );
    assert_eq!(md.verified_by.as_ref(), Some(published.fingerprint()));
    // Pinned to another certificate, the same document is refused.
    let error = IdpMetadata::from_signed_xml(&xml, None, &certificate(&OTHER)).unwrap_err();
    assert_eq!(error.reason(), "metadata-untrusted-key", "{error}");
    // One byte changed in the signed content is caught.
    let text = String::from_utf8(xml).unwrap();
    let sso = "<SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
               Location=\"https://login.windows.net/";
    assert!(text.contains(sso));
    let tampered = text.replacen(
        sso,
        &sso.replace("login.windows.net", "login.evil.example"),
        1,
    );
    let error = IdpMetadata::from_signed_xml(tampered.as_bytes(), None, &published).unwrap_err();
    assert_eq!(error.reason(), "metadata-signature-invalid", "{error}");
}

#[test]
fn valid_until_and_cache_duration_take_the_strictest_of_entity_and_aggregate() {
    let xml = aggregate(
        " validUntil=\"2030-01-01T00:00:00Z\" cacheDuration=\"P1D\"",
        " validUntil=\"2029-06-01T12:00:00.5Z\" cacheDuration=\"PT6H\"",
    );
    let a = IdpMetadata::from_xml_for_entity(xml.as_bytes(), "https://a.example/idp").unwrap();
    assert_eq!(a.valid_until, Some(datetime!(2029-06-01 12:00:00.5 UTC)));
    assert_eq!(a.cache_duration, Some(Duration::hours(6)));
    let b = IdpMetadata::from_xml_for_entity(xml.as_bytes(), "https://b.example/idp").unwrap();
    assert_eq!(b.valid_until, Some(datetime!(2030-01-01 00:00 UTC)));
    assert_eq!(b.cache_duration, Some(Duration::days(1)));
    // The root's is the earlier one here.
    let xml = aggregate(
        " validUntil=\"2020-01-01T00:00:00Z\"",
        " validUntil=\"2029-06-01T12:00:00Z\"",
    );
    let a = IdpMetadata::from_xml_for_entity(xml.as_bytes(), "https://a.example/idp").unwrap();
    assert_eq!(a.valid_until, Some(datetime!(2020-01-01 00:00 UTC)));
    // No time zone means UTC.
    let md =
        IdpMetadata::from_xml(single(" validUntil=\"2031-02-03T04:05:06\"").as_bytes()).unwrap();
    assert_eq!(md.valid_until, Some(datetime!(2031-02-03 04:05:06 UTC)));
    let md = IdpMetadata::from_xml(single("").as_bytes()).unwrap();
    assert_eq!((md.valid_until, md.cache_duration), (None, None));
}

#[test]
fn malformed_lifetimes_are_typed_refusals() {
    let error =
        IdpMetadata::from_xml(single(" validUntil=\"next tuesday\"").as_bytes()).unwrap_err();
    assert_eq!(error.reason(), "metadata-invalid-valid-until", "{error}");
    let error = IdpMetadata::from_xml(single(" validUntil=\"2030-01-01\"").as_bytes()).unwrap_err();
    assert_eq!(error.reason(), "metadata-invalid-valid-until", "{error}");
    let error = IdpMetadata::from_xml(single(" cacheDuration=\"-P1D\"").as_bytes()).unwrap_err();
    assert_eq!(error.reason(), "metadata-invalid-cache-duration", "{error}");
    assert!(matches!(
        error,
        MetadataError::InvalidCacheDuration {
            error: DurationError::Negative,
            ..
        }
    ));
    let huge = format!(" cacheDuration=\"P{}Y\"", "9".repeat(40));
    let error = IdpMetadata::from_xml(single(&huge).as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            MetadataError::InvalidCacheDuration {
                error: DurationError::OutOfRange,
                ..
            }
        ),
        "{error}"
    );
    let long = format!(" cacheDuration=\"PT{}S\"", "1".repeat(10_000));
    let error = IdpMetadata::from_xml(single(&long).as_bytes()).unwrap_err();
    assert!(error.to_string().len() < 300, "{error}");
}
