//! Every IdP metadata file of the shared corpus imports with its entity, endpoints and
//! certificates; what is not IdP metadata is refused with a reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sso_assertion::{Binding, IdpMetadata, MetadataError};

#[derive(Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    file: String,
    kind: String,
    expected: Option<String>,
    idp_entity_id: Option<String>,
    verify_cert: Option<String>,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn metadata_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus().join("manifest.toml")).unwrap();
    let m: Manifest = toml::from_str(&text).unwrap();
    m.case
        .into_iter()
        .filter(|c| c.kind == "metadata")
        .collect()
}

/// Metadata files that describe several IdPs: import needs the entity ID.
fn all_idp_entity_ids(xml: &[u8]) -> Vec<String> {
    match IdpMetadata::from_xml(xml) {
        Err(MetadataError::AmbiguousEntity(ids)) => ids.split(", ").map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_corpus_metadata_file() {
    let mut imported = 0;
    let mut refused = Vec::new();
    for case in metadata_cases() {
        let xml = std::fs::read(corpus().join(&case.file)).unwrap();
        let result = match &case.idp_entity_id {
            Some(id) => IdpMetadata::from_xml_for_entity(&xml, id),
            None => IdpMetadata::from_xml(&xml),
        };
        let md = match result {
            Ok(md) => md,
            Err(MetadataError::AmbiguousEntity(_)) => {
                let ids = all_idp_entity_ids(&xml);
                assert!(ids.len() > 1, "{}", case.id);
                for id in ids {
                    let md = IdpMetadata::from_xml_for_entity(&xml, &id).unwrap();
                    assert_eq!(md.entity_id, id);
                    assert!(!md.signing_certificates.is_empty());
                    imported += 1;
                }
                continue;
            }
            Err(e) => {
                refused.push((case.id.clone(), e.reason()));
                continue;
            }
        };
        imported += 1;
        if let Some(id) = &case.idp_entity_id {
            assert_eq!(&md.entity_id, id, "{}", case.id);
        }
        assert!(!md.sso_services.is_empty(), "{}", case.id);
        assert!(!md.signing_certificates.is_empty(), "{}", case.id);
        assert!(
            md.sso_services
                .iter()
                .all(|e| e.location.starts_with("http")),
            "{}: {:?}",
            case.id,
            md.sso_services
        );
        if case.expected.as_deref() == Some("valid-signed-metadata") {
            assert!(md.signed, "{}", case.id);
        }
        // When the manifest names the certificate, it is among the imported ones.
        if let Some(cert) = case.verify_cert.as_deref().filter(|c| c.ends_with(".pem")) {
            let pem = std::fs::read_to_string(corpus().join(cert)).unwrap();
            if pem.contains("BEGIN CERTIFICATE") {
                let c = sso_assertion::Certificate::from_pem_or_base64(&pem).unwrap();
                assert!(
                    md.signing_certificates
                        .iter()
                        .any(|k| k.fingerprint() == c.fingerprint()),
                    "{}: {cert} not imported",
                    case.id
                );
            }
        }
    }
    // python3-saml's signed SP metadata is not IdP metadata.
    assert_eq!(
        refused,
        vec![(
            "metadata/other/python3-saml_signed_sp_metadata".to_owned(),
            "no-idp-descriptor"
        )]
    );
    assert!(imported >= 20, "imported {imported}");
}

#[test]
fn okta_metadata_in_detail() {
    let xml = std::fs::read(corpus().join("metadata/okta/crewjam_okta_idp_metadata.xml")).unwrap();
    let md = IdpMetadata::from_xml(&xml).unwrap();
    assert_eq!(md.entity_id, "http://www.okta.com/exkppsa1qwuFV4D7z0h7");
    assert_eq!(md.signing_certificates.len(), 1);
    assert!(md.sso_service(&Binding::HttpRedirect).is_some());
    assert!(md.sso_service(&Binding::HttpPost).is_some());
    assert_eq!(
        md.signing_certificates[0].fingerprint().to_string().len(),
        95
    );
}

/// A certificate writes back as the PEM OpenSSL writes, which reads back as the same
/// certificate; its fingerprint's text parses back to the same fingerprint.
#[test]
fn certificates_write_back_as_pem_and_fingerprint_text() {
    let xml = std::fs::read(corpus().join("metadata/other/python3-saml_multi_signing_certs.xml"))
        .unwrap();
    let md = IdpMetadata::from_xml(&xml).unwrap();
    assert!(!md.signing_certificates.is_empty());
    for cert in &md.signing_certificates {
        let pem = cert.to_pem();
        let openssl_pem = openssl::x509::X509::from_der(cert.der())
            .unwrap()
            .to_pem()
            .unwrap();
        assert_eq!(pem.as_bytes(), openssl_pem.as_slice());
        assert_eq!(
            &sso_assertion::Certificate::from_pem_or_base64(&pem).unwrap(),
            cert
        );
        let text = cert.fingerprint().to_string();
        assert_eq!(text, cert.fingerprint().to_string());
        assert_eq!(
            &text.parse::<sso_xmldsig::Fingerprint>().unwrap(),
            cert.fingerprint()
        );
    }
}

#[test]
fn rollover_metadata_keeps_every_signing_certificate() {
    let xml = std::fs::read(corpus().join("metadata/other/python3-saml_multi_signing_certs.xml"))
        .unwrap();
    let md = IdpMetadata::from_xml(&xml).unwrap();
    assert!(md.signing_certificates.len() >= 2, "{md:?}");
}

#[test]
fn refusals_have_reasons() {
    let cases: &[(&[u8], &str)] = &[
        (b"<a/>", "not-metadata"),
        (b"<!DOCTYPE x><x/>", "metadata-malformed"),
        (
            b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>",
            "no-idp-descriptor",
        ),
        (
            b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">\
              <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
              <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://idp/sso\"/>\
              </md:IDPSSODescriptor></md:EntityDescriptor>",
            "no-signing-certificate",
        ),
        (
            b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">\
              <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:1.1:protocol\">\
              </md:IDPSSODescriptor></md:EntityDescriptor>",
            "no-idp-descriptor",
        ),
        (
            b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">\
              <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
              </md:IDPSSODescriptor></md:EntityDescriptor>",
            "no-sso-service",
        ),
    ];
    for (xml, reason) in cases {
        let err = IdpMetadata::from_xml(xml).unwrap_err();
        assert_eq!(err.reason(), *reason, "{err}");
        assert!(!err.to_string().is_empty());
    }
    let xml = std::fs::read(corpus().join("metadata/okta/crewjam_okta_idp_metadata.xml")).unwrap();
    let err = IdpMetadata::from_xml_for_entity(&xml, "https://other.example").unwrap_err();
    assert_eq!(err.reason(), "entity-not-found");
}
