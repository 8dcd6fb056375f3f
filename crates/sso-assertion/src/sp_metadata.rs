//! SP metadata out: the XML an IdP imports to know this connection's entity ID, ACS URL and
//! keys, written with samael's schema types (which only ever write, never read).

use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    EncryptionMethod, EntityDescriptor, IndexedEndpoint, KeyDescriptor, SpSsoDescriptor,
};
use samael::traits::ToXml;

use crate::config::ServiceProvider;
use crate::ns;

/// Why SP metadata could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing SP metadata failed: {0}")]
pub struct SpMetadataError(String);

impl SpMetadataError {
    /// A stable reason code.
    pub fn reason(&self) -> &'static str {
        "sp-metadata-failed"
    }
}

impl ServiceProvider {
    /// SP metadata XML for the IdP to import: entity ID, the ACS (HTTP-POST), NameID format
    /// emailAddress, and the signing and encryption certificate when a key pair is set.
    pub fn metadata_xml(&self) -> Result<String, SpMetadataError> {
        let mut key_descriptors = Vec::new();
        if let Some(certificate) = self.key.as_ref().and_then(|k| k.certificate.as_ref()) {
            let key_info = || KeyInfo {
                id: None,
                x509_data: Some(X509Data {
                    certificates: vec![certificate.to_base64()],
                }),
            };
            key_descriptors.push(KeyDescriptor {
                key_use: Some("signing".into()),
                key_info: key_info(),
                encryption_methods: None,
            });
            key_descriptors.push(KeyDescriptor {
                key_use: Some("encryption".into()),
                key_info: key_info(),
                encryption_methods: Some(
                    [
                        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
                        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
                        "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                        "http://www.w3.org/2009/xmlenc11#rsa-oaep",
                        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
                    ]
                    .iter()
                    .map(|a| EncryptionMethod {
                        algorithm: (*a).to_owned(),
                    })
                    .collect(),
                ),
            });
        }
        let descriptor = SpSsoDescriptor {
            protocol_support_enumeration: Some(ns::PROTOCOL.into()),
            key_descriptors: (!key_descriptors.is_empty()).then_some(key_descriptors),
            authn_requests_signed: Some(self.key.is_some()),
            want_assertions_signed: Some(true),
            name_id_formats: Some(vec![ns::NAMEID_EMAIL.into()]),
            assertion_consumer_services: vec![IndexedEndpoint {
                binding: ns::BINDING_POST.into(),
                location: self.acs_url.clone(),
                response_location: None,
                index: 0,
                is_default: Some(true),
            }],
            ..SpSsoDescriptor::default()
        };
        let entity = EntityDescriptor {
            entity_id: Some(self.entity_id.clone()),
            sp_sso_descriptors: Some(vec![descriptor]),
            ..EntityDescriptor::default()
        };
        entity
            .to_string()
            .map_err(|e| SpMetadataError(e.to_string()))
    }
}
