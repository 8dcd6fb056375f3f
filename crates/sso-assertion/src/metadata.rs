//! IdP metadata in: the entity, its SSO endpoints and signing certificates read from XML with
//! `sso-xml` (the one parser), so a connection is configured from what the IdP publishes;
//! optionally only after the root's signature verified with a pinned certificate, reading
//! from the node the proof names.

use sso_xml::{Document, Limits, Node};
use sso_xmldsig::{Fingerprint, TrustedKey, TrustedKeys, VerifiedElement, Verifier};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::certificate::Certificate;
use crate::duration::{DurationError, parse_xs_duration};
use crate::ns;

/// A SAML binding, as endpoints name them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Binding {
    /// `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect`.
    HttpRedirect,
    /// `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST`.
    HttpPost,
    /// Any other binding URI (kept so an admin can see what the IdP offers).
    Other(String),
}

impl Binding {
    /// The binding named by `uri`.
    pub fn from_uri(uri: &str) -> Binding {
        match uri {
            ns::BINDING_REDIRECT => Binding::HttpRedirect,
            ns::BINDING_POST => Binding::HttpPost,
            other => Binding::Other(other.to_owned()),
        }
    }

    /// The binding's URI.
    pub fn uri(&self) -> &str {
        match self {
            Binding::HttpRedirect => ns::BINDING_REDIRECT,
            Binding::HttpPost => ns::BINDING_POST,
            Binding::Other(uri) => uri,
        }
    }
}

/// An endpoint of the IdP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// How to reach it.
    pub binding: Binding,
    /// Where.
    pub location: String,
}

/// What an IdP's metadata says about it, as far as a service provider needs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IdpMetadata {
    /// The IdP's entity ID: the Issuer of its responses.
    pub entity_id: String,
    /// SingleSignOnService endpoints in document order.
    pub sso_services: Vec<Endpoint>,
    /// Signing certificates (KeyDescriptors with `use="signing"` or no `use`), without
    /// duplicates, in document order. Several mean a rollover in progress.
    pub signing_certificates: Vec<Certificate>,
    /// Whether the IdP asks for signed AuthnRequests.
    pub want_authn_requests_signed: bool,
    /// NameID formats the IdP lists.
    pub name_id_formats: Vec<String>,
    /// Whether the metadata carries a signature (on the entity or the root). Checked only by
    /// [`from_signed_xml`](Self::from_signed_xml); otherwise the channel the admin chose is
    /// what is trusted.
    pub signed: bool,
    /// The pinned certificate that verified the root's signature, when imported with
    /// [`from_signed_xml`](Self::from_signed_xml).
    pub verified_by: Option<Fingerprint>,
    /// The earliest `validUntil` of the entity and of every `EntitiesDescriptor` around it:
    /// past it, the publisher no longer vouches for the metadata.
    pub valid_until: Option<OffsetDateTime>,
    /// The shortest `cacheDuration` of the entity and of every `EntitiesDescriptor` around
    /// it: how long the metadata may be used before it is fetched again.
    pub cache_duration: Option<Duration>,
    /// What was skipped and why (unusable certificates, unknown bindings).
    pub warnings: Vec<String>,
}

/// Why metadata could not be imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not well-formed or refused by the hardened parser.
    #[error("the metadata is not acceptable XML: {0}")]
    Xml(sso_xml::Error),
    /// The root is neither EntityDescriptor nor EntitiesDescriptor.
    #[error("not SAML metadata: the root element is {0}")]
    NotMetadata(String),
    /// No entity with the requested ID, or no IdP at all.
    #[error("no identity provider {0} in the metadata")]
    EntityNotFound(String),
    /// Several IdPs and none chosen.
    #[error("the metadata describes several identity providers ({0}); choose one entity ID")]
    AmbiguousEntity(String),
    /// The entity has no entityID.
    #[error("an EntityDescriptor has no entityID")]
    MissingEntityId,
    /// No IDPSSODescriptor supporting SAML 2.0.
    #[error("entity {0} has no IDPSSODescriptor for the SAML 2.0 protocol")]
    NoIdpDescriptor(String),
    /// No SingleSignOnService with a location.
    #[error("entity {0} lists no SingleSignOnService")]
    NoSsoService(String),
    /// No usable signing certificate.
    #[error("entity {entity} has no usable signing certificate{}", if .problems.is_empty() { String::new() } else { format!(": {}", .problems.join("; ")) })]
    NoSigningCertificate {
        /// The entity.
        entity: String,
        /// Why each candidate was skipped.
        problems: Vec<String>,
    },
    /// A signing certificate is pinned and the root element's signature does not verify with
    /// it: none at all (`metadata-unsigned`), made with another key (`metadata-untrusted-key`),
    /// or altered, malformed or with a refused algorithm (`metadata-signature-invalid`). A
    /// pinned certificate whose key cannot verify anything is `invalid-certificate`.
    #[error("{}", signature_message(.0))]
    Signature(sso_xmldsig::Error),
    /// A `validUntil` that is not an `xs:dateTime`.
    #[error("validUntil {value:?} at {position} is not a date and time: {detail}")]
    InvalidValidUntil {
        /// The attribute as written (cut to 64 characters).
        value: String,
        /// Where.
        position: String,
        /// Why.
        detail: String,
    },
    /// A `cacheDuration` that is not an `xs:duration` within bounds.
    #[error("cacheDuration {value:?} at {position} is not acceptable: {error}")]
    InvalidCacheDuration {
        /// The attribute as written (cut to 64 characters).
        value: String,
        /// Where.
        position: String,
        /// Why.
        error: DurationError,
    },
}

/// What a refused metadata signature means to the admin, then the verifier's detail.
fn signature_message(error: &sso_xmldsig::Error) -> String {
    let what = match error.reason() {
        "no-signature" => {
            "the metadata is not signed on its root element (a signing certificate is pinned)"
        }
        "untrusted-key" => "the metadata is signed with a key other than the pinned certificate's",
        "invalid-certificate" => "the pinned metadata signing certificate cannot verify signatures",
        _ => "the metadata's signature does not verify with the pinned certificate",
    };
    format!("{what}: {error} ({})", error.reason())
}

impl MetadataError {
    /// A stable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            MetadataError::Xml(_) => "metadata-malformed",
            MetadataError::NotMetadata(_) => "not-metadata",
            MetadataError::EntityNotFound(_) => "entity-not-found",
            MetadataError::AmbiguousEntity(_) => "ambiguous-entity",
            MetadataError::MissingEntityId => "missing-entity-id",
            MetadataError::NoIdpDescriptor(_) => "no-idp-descriptor",
            MetadataError::NoSsoService(_) => "no-sso-service",
            MetadataError::NoSigningCertificate { .. } => "no-signing-certificate",
            MetadataError::Signature(e) => match e.reason() {
                "no-signature" => "metadata-unsigned",
                "untrusted-key" => "metadata-untrusted-key",
                "invalid-certificate" => "invalid-certificate",
                _ => "metadata-signature-invalid",
            },
            MetadataError::InvalidValidUntil { .. } => "metadata-invalid-valid-until",
            MetadataError::InvalidCacheDuration { .. } => "metadata-invalid-cache-duration",
        }
    }
}

/// Metadata may be an aggregate of many entities; it is still bounded.
fn metadata_limits() -> Limits {
    Limits {
        max_input_bytes: 8 << 20,
        max_nodes: 1_000_000,
        ..Limits::default()
    }
}

impl IdpMetadata {
    /// Imports the one identity provider described by `xml` (an EntityDescriptor, or an
    /// EntitiesDescriptor holding exactly one IdP).
    pub fn from_xml(xml: &[u8]) -> Result<IdpMetadata, MetadataError> {
        Self::import(xml, None, None)
    }

    /// Imports the identity provider `entity_id` from `xml`, which may be an aggregate.
    pub fn from_xml_for_entity(xml: &[u8], entity_id: &str) -> Result<IdpMetadata, MetadataError> {
        Self::import(xml, Some(entity_id), None)
    }

    /// Imports the identity provider `entity_id` (or the one IdP, for `None`) from `xml` only
    /// if the root element (`EntityDescriptor` or `EntitiesDescriptor`) carries an enveloped
    /// signature, referencing the root, that verifies with `signer` and nothing else, under
    /// the strict default algorithm policy of responses. Nothing of the document is read
    /// before; the entity is then chosen inside the node the proof names, so an entity placed
    /// outside the signed element is never seen.
    pub fn from_signed_xml(
        xml: &[u8],
        entity_id: Option<&str>,
        signer: &Certificate,
    ) -> Result<IdpMetadata, MetadataError> {
        Self::import(xml, entity_id, Some(signer))
    }

    fn import(
        xml: &[u8],
        wanted: Option<&str>,
        signer: Option<&Certificate>,
    ) -> Result<IdpMetadata, MetadataError> {
        let doc = Document::parse_with(xml, &metadata_limits()).map_err(MetadataError::Xml)?;
        let document_root = doc.root_element();
        if !document_root.is(ns::MD, "EntityDescriptor")
            && !document_root.is(ns::MD, "EntitiesDescriptor")
        {
            return Err(MetadataError::NotMetadata(format!(
                "{{{}}}{}",
                document_root.namespace().unwrap_or(""),
                document_root.local_name()
            )));
        }
        let proof = match signer {
            Some(certificate) => Some(verify_root(document_root, certificate)?),
            None => None,
        };
        // From here on, everything is read from the signed node when there is a proof.
        let root = proof.as_ref().map_or(document_root, VerifiedElement::node);
        let mut entities = Vec::new();
        if root.is(ns::MD, "EntityDescriptor") {
            entities.push(root);
        } else {
            collect_entities(root, &mut entities);
        }
        let idps: Vec<Node<'_>> = entities
            .iter()
            .copied()
            .filter(|e| e.child_elements().any(|d| d.is(ns::MD, "IDPSSODescriptor")))
            .collect();
        let entity = match wanted {
            Some(id) => match idps
                .iter()
                .copied()
                .find(|e| e.attribute("entityID") == Some(id))
            {
                Some(e) => e,
                None if entities.iter().any(|e| e.attribute("entityID") == Some(id)) => {
                    return Err(MetadataError::NoIdpDescriptor(id.to_owned()));
                }
                None => return Err(MetadataError::EntityNotFound(id.to_owned())),
            },
            None => match idps.as_slice() {
                [] if root.is(ns::MD, "EntityDescriptor") => {
                    let id = root.attribute("entityID").unwrap_or("").to_owned();
                    return Err(MetadataError::NoIdpDescriptor(id));
                }
                [] => return Err(MetadataError::EntityNotFound("(any)".into())),
                [one] => *one,
                many => {
                    let ids: Vec<&str> = many
                        .iter()
                        .filter_map(|e| e.attribute("entityID"))
                        .collect();
                    return Err(MetadataError::AmbiguousEntity(ids.join(", ")));
                }
            },
        };
        let mut metadata = Self::from_entity(entity, root)?;
        metadata.verified_by = proof.map(|p| *p.key());
        Ok(metadata)
    }

    fn from_entity(entity: Node<'_>, root: Node<'_>) -> Result<IdpMetadata, MetadataError> {
        let entity_id = entity
            .attribute("entityID")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(MetadataError::MissingEntityId)?
            .to_owned();
        let descriptor = entity
            .child_elements()
            .filter(|d| d.is(ns::MD, "IDPSSODescriptor"))
            .find(|d| {
                d.attribute("protocolSupportEnumeration")
                    .is_some_and(|p| p.split_ascii_whitespace().any(|u| u == ns::PROTOCOL))
            })
            .ok_or_else(|| MetadataError::NoIdpDescriptor(entity_id.clone()))?;

        let mut warnings = Vec::new();
        let mut sso_services = Vec::new();
        for s in descriptor
            .child_elements()
            .filter(|s| s.is(ns::MD, "SingleSignOnService"))
        {
            let (Some(binding), Some(location)) = (s.attribute("Binding"), s.attribute("Location"))
            else {
                warnings.push(format!(
                    "SingleSignOnService at {} without Binding or Location skipped",
                    s.position()
                ));
                continue;
            };
            sso_services.push(Endpoint {
                binding: Binding::from_uri(binding.trim()),
                location: location.trim().to_owned(),
            });
        }
        if sso_services.is_empty() {
            return Err(MetadataError::NoSsoService(entity_id));
        }

        let mut signing_certificates: Vec<Certificate> = Vec::new();
        let mut problems = Vec::new();
        for kd in descriptor
            .child_elements()
            .filter(|k| k.is(ns::MD, "KeyDescriptor"))
        {
            match kd.attribute("use").map(str::trim) {
                None | Some("signing") => {}
                Some(_) => continue,
            }
            // By local name: some generators put KeyInfo in the metadata namespace. The admin
            // chose this file; the certificate is what they gave us either way.
            let certs = kd
                .descendants()
                .filter(|c| c.is_element() && c.local_name() == "X509Certificate");
            for c in certs {
                if c.namespace() != Some(ns::DSIG) {
                    warnings.push(format!(
                        "X509Certificate at {} is not in the XML-DSig namespace; used anyway",
                        c.position()
                    ));
                }
                match Certificate::from_pem_or_base64(&c.text()) {
                    Ok(cert) => {
                        if !signing_certificates
                            .iter()
                            .any(|k| k.fingerprint() == cert.fingerprint())
                        {
                            signing_certificates.push(cert);
                        }
                    }
                    Err(e) => problems.push(format!("certificate at {}: {e}", c.position())),
                }
            }
        }
        if signing_certificates.is_empty() {
            return Err(MetadataError::NoSigningCertificate {
                entity: entity_id,
                problems,
            });
        }
        warnings.extend(problems);

        let name_id_formats = descriptor
            .child_elements()
            .filter(|n| n.is(ns::MD, "NameIDFormat"))
            .map(|n| n.text().trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let signed = [entity, root]
            .iter()
            .any(|e| e.child_elements().any(|s| s.is(ns::DSIG, "Signature")));
        let (valid_until, cache_duration) = validity(entity)?;
        Ok(IdpMetadata {
            entity_id,
            sso_services,
            signing_certificates,
            want_authn_requests_signed: descriptor.attribute("WantAuthnRequestsSigned")
                == Some("true")
                || descriptor.attribute("WantAuthnRequestsSigned") == Some("1"),
            name_id_formats,
            signed,
            verified_by: None,
            valid_until,
            cache_duration,
            warnings,
        })
    }

    /// The SingleSignOnService for `binding`, if the IdP offers one.
    pub fn sso_service(&self, binding: &Binding) -> Option<&Endpoint> {
        self.sso_services.iter().find(|e| &e.binding == binding)
    }
}

/// Verifies the enveloped signature of the document's root with `signer` alone.
fn verify_root<'d>(
    root: Node<'d>,
    signer: &Certificate,
) -> Result<VerifiedElement<'d>, MetadataError> {
    let key = TrustedKey::from_certificate_der(signer.der()).map_err(MetadataError::Signature)?;
    Verifier::new(TrustedKeys::new().with(key))
        .verify(root)
        .map_err(MetadataError::Signature)
}

/// At most this much of a refused attribute is repeated in an error.
const SHOWN: usize = 64;

fn shown(value: &str) -> String {
    value.chars().take(SHOWN).collect()
}

/// The earliest `validUntil` and the shortest `cacheDuration` of `entity` and its ancestors.
fn validity(entity: Node<'_>) -> Result<(Option<OffsetDateTime>, Option<Duration>), MetadataError> {
    let mut valid_until: Option<OffsetDateTime> = None;
    let mut cache_duration: Option<Duration> = None;
    let mut current = Some(entity);
    while let Some(node) = current {
        if let Some(value) = node.attribute("validUntil") {
            let until =
                parse_date_time(value).map_err(|detail| MetadataError::InvalidValidUntil {
                    value: shown(value),
                    position: node.position().to_string(),
                    detail,
                })?;
            valid_until = Some(valid_until.map_or(until, |v| v.min(until)));
        }
        if let Some(value) = node.attribute("cacheDuration") {
            let duration =
                parse_xs_duration(value).map_err(|error| MetadataError::InvalidCacheDuration {
                    value: shown(value),
                    position: node.position().to_string(),
                    error,
                })?;
            cache_duration = Some(cache_duration.map_or(duration, |c| c.min(duration)));
        }
        current = node.parent_element();
    }
    Ok((valid_until, cache_duration))
}

/// An `xs:dateTime` as metadata writes it: RFC 3339, or without a time zone, which SAML
/// means as UTC.
fn parse_date_time(value: &str) -> Result<OffsetDateTime, String> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if value.len() > SHOWN {
        return Err(format!("longer than {SHOWN} characters"));
    }
    match OffsetDateTime::parse(value, &Rfc3339) {
        Ok(t) => Ok(t),
        Err(first) => {
            OffsetDateTime::parse(&format!("{value}Z"), &Rfc3339).map_err(|_| first.to_string())
        }
    }
}

fn collect_entities<'d>(node: Node<'d>, out: &mut Vec<Node<'d>>) {
    for child in node.child_elements() {
        if child.is(ns::MD, "EntityDescriptor") {
            out.push(child);
        } else if child.is(ns::MD, "EntitiesDescriptor") {
            collect_entities(child, out);
        }
    }
}
