//! Whether IdP metadata read now says something new, and storing it accordingly: the one
//! comparison behind an import of XML, an import from a URL and a refresh.
//!
//! What a login depends on is compared: the entity ID, the signing certificates as a set, the
//! SSO endpoints with their bindings (and the HTTP-Redirect URL the store keeps), and whether
//! the IdP wants signed requests. The rest of the document (`validUntil`, names, contacts,
//! formatting, the order of keys) is not part of the configuration, so a document that differs
//! only there is kept without a configuration change: the version stays, and the login that
//! proved the configuration still counts, so require-SSO stays enforced.

use std::collections::BTreeSet;

use sso_assertion::{Fingerprint, IdpMetadata};
use sso_store::{ConnectionRecord, IdpConfig, OrgId, StoreError, Transaction};
use time::OffsetDateTime;

use super::fingerprints;

/// How metadata was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The org had no connection: a new one (disabled, configuration version 1).
    Created,
    /// The configuration changed: a new version, not proven yet.
    Replaced,
    /// The metadata says what the connection already has: the document is kept, the version
    /// and the proof of a working configuration are unchanged.
    Unchanged,
}

impl Stored {
    /// The audit event's reason: `created`, `replaced` or `unchanged`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Replaced => "replaced",
            Self::Unchanged => "unchanged",
        }
    }
}

/// What of a connection's configuration a login depends on, as comparable values.
#[derive(Debug, PartialEq, Eq)]
struct Essentials {
    entity_id: String,
    certificates: BTreeSet<Fingerprint>,
    endpoints: BTreeSet<(String, String)>,
    redirect_url: Option<String>,
    wants_signed_requests: bool,
}

impl Essentials {
    /// What `metadata` says, with the HTTP-Redirect URL `idp_config` took from it.
    fn of_metadata(metadata: &IdpMetadata, redirect_url: Option<&str>) -> Self {
        Self {
            entity_id: metadata.entity_id.clone(),
            certificates: metadata
                .signing_certificates
                .iter()
                .map(|c| *c.fingerprint())
                .collect(),
            endpoints: metadata
                .sso_services
                .iter()
                .map(|e| (e.binding.uri().to_owned(), e.location.clone()))
                .collect(),
            redirect_url: redirect_url.map(str::to_owned),
            wants_signed_requests: metadata.want_authn_requests_signed,
        }
    }

    /// What the stored connection uses: its trusted certificates (which a rollover by hand
    /// may have changed since the document was imported) and the endpoints of its stored
    /// document. `None` when something no longer reads: then nothing can be shown to be the
    /// same, and new metadata counts as a change.
    fn of_connection(connection: &ConnectionRecord) -> Option<Self> {
        let certificates = fingerprints(&connection.idp.certificates)
            .into_iter()
            .collect::<Option<BTreeSet<_>>>()?;
        let xml = connection.idp.metadata_xml.as_ref()?;
        let stored =
            IdpMetadata::from_xml_for_entity(xml.as_bytes(), &connection.idp.entity_id).ok()?;
        let mut essentials = Self::of_metadata(&stored, connection.idp.sso_url.as_deref());
        essentials.entity_id.clone_from(&connection.idp.entity_id);
        essentials.certificates = certificates;
        Some(essentials)
    }
}

/// Whether `metadata` (stored as `idp`) says what `current` already has.
pub(crate) fn same_configuration(
    current: &ConnectionRecord,
    metadata: &IdpMetadata,
    idp: &IdpConfig,
) -> bool {
    Essentials::of_connection(current)
        .is_some_and(|now| now == Essentials::of_metadata(metadata, idp.sso_url.as_deref()))
}

/// Stores `idp`, read from `metadata`, as the org's IdP configuration inside `tx`: creates
/// the connection, replaces its configuration (a configuration change), or keeps the new
/// document without a change when [`same_configuration`] says so.
pub(crate) async fn store_idp(
    tx: &Transaction,
    org: OrgId,
    metadata: &IdpMetadata,
    idp: &IdpConfig,
    now: OffsetDateTime,
) -> Result<(ConnectionRecord, Stored), StoreError> {
    let current = match tx.connection_for_org(org).await {
        Ok(current) => Some(current),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    match current {
        Some(current) if same_configuration(&current, metadata, idp) => {
            let kept = tx
                .keep_idp_configuration(org, current.config_version, idp)
                .await?;
            Ok((kept, Stored::Unchanged))
        }
        Some(_) => Ok((
            tx.import_idp_metadata(org, idp, now).await?,
            Stored::Replaced,
        )),
        None => Ok((
            tx.import_idp_metadata(org, idp, now).await?,
            Stored::Created,
        )),
    }
}
