//! IdP metadata imported from a URL, and its refresh: on an admin's request or on the
//! connection's schedule, claimed in the database so that servers sharing it run each once.

use serde_json::{Value, json};
use sso_assertion::{Certificate, IdpMetadata};
use sso_fetch::Fetcher;
use sso_store::{
    ConnectionRecord, EventOutcome, IdpConfig, MAX_REFRESH_INTERVAL, MIN_REFRESH_INTERVAL,
    MetadataSource, NewEvent, OrgId, RefreshState, StoreError,
};
use time::{Duration, OffsetDateTime};

use super::idp_change::{Stored, store_idp};
use super::{
    Audited, ImportedMetadata, certificate_details, fingerprint_details, fingerprints, idp_config,
    kinds, metadata_sha256, metadata_warnings, pinned_certificate, read_metadata, trust_details,
    validity, with,
};
use crate::error::AdminError;
use crate::login::Provisioner;

/// The actor of refreshes the service runs by itself.
pub const REFRESH_ACTOR: &str = "metadata-refresh";

/// The most due refreshes one [`Provisioner::refresh_due_metadata`] pass runs.
const REFRESH_BATCH: u64 = 50;

/// A connection after its IdP metadata was imported from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedFromUrl {
    /// The connection and warnings, as for an import of XML.
    pub imported: ImportedMetadata,
    /// The URL, the entity and the refresh schedule.
    pub source: RefreshState,
}

/// How a refresh of a connection's metadata from its URL ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The entity, certificates or SSO endpoints changed: the connection has the new
    /// configuration (a new configuration version).
    Changed(ConnectionRecord),
    /// The metadata says what the connection already has: the document is kept, the
    /// configuration version and its proof are unchanged.
    Unchanged(ConnectionRecord),
    /// Fetching, parsing or validating failed: the connection keeps its configuration.
    Failed(AdminError),
}

impl RefreshOutcome {
    /// `changed`, `unchanged`, or the failure's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Changed(_) => "changed",
            Self::Unchanged(_) => "unchanged",
            Self::Failed(e) => e.reason(),
        }
    }
}

/// Metadata fetched and read, ready to store.
struct Fetched {
    metadata: IdpMetadata,
    idp: IdpConfig,
    detail: Value,
}

/// Fetches `url` and reads the IdP `entity_id` (or the one IdP) from it, after its root
/// signature verified with the `pinned` certificate when there is one; expired metadata
/// (`validUntil` past) is refused.
async fn fetch_metadata(
    fetcher: &Fetcher,
    url: &str,
    entity_id: Option<&str>,
    pinned: Option<&Certificate>,
    now: OffsetDateTime,
) -> Result<Fetched, AdminError> {
    let fetched = fetcher.fetch(url).await.map_err(AdminError::Fetch)?;
    let metadata = read_metadata(&fetched.body, entity_id, pinned, now)?;
    let idp = idp_config(&metadata, &fetched.body, Some(url));
    let detail = json!({
        "url": url,
        "final_url": fetched.final_url,
        "redirects": fetched.redirects,
        "bytes": fetched.body.len(),
        "metadata_sha256": metadata_sha256(&fetched.body),
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "certificates": certificate_details(&metadata),
        "trust": trust_details(&metadata),
    });
    Ok(Fetched {
        metadata,
        idp,
        detail,
    })
}

/// Whether a refresh interval is one the store accepts: whole seconds from 5 minutes to 30
/// days, or none.
fn interval_ok(interval: Option<Duration>) -> bool {
    interval.is_none_or(|i| {
        (MIN_REFRESH_INTERVAL..=MAX_REFRESH_INTERVAL).contains(&i) && i.subsec_nanoseconds() == 0
    })
}

impl Provisioner {
    /// Imports IdP metadata from `url` with `fetcher` (HTTPS, public addresses, bounded size,
    /// time and redirects: see `sso-fetch`), choosing `entity_id` when the document describes
    /// several IdPs, and keeps the URL so the metadata can be refreshed: every
    /// `refresh_interval` (5 minutes to 30 days) by [`refresh_due_metadata`], or when an admin
    /// asks ([`refresh_idp_metadata`]). Otherwise like
    /// [`import_idp_metadata`](Self::import_idp_metadata).
    ///
    /// [`refresh_due_metadata`]: Self::refresh_due_metadata
    /// [`refresh_idp_metadata`]: Self::refresh_idp_metadata
    #[allow(clippy::too_many_arguments)]
    pub async fn import_idp_metadata_from_url(
        &self,
        fetcher: &Fetcher,
        actor: &str,
        org: OrgId,
        url: &str,
        entity_id: Option<&str>,
        refresh_interval: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<ImportedFromUrl, AdminError> {
        self.import_idp_metadata_from_url_pinned(
            fetcher,
            actor,
            org,
            url,
            entity_id,
            refresh_interval,
            None,
            now,
        )
        .await
    }

    /// [`import_idp_metadata_from_url`](Self::import_idp_metadata_from_url) with a pinned
    /// metadata signing certificate (PEM or base64 DER): this fetch and every refresh verify
    /// the signature on the document's root element with it, and nothing else, before
    /// anything in the document is used (`metadata-unsigned`, `metadata-signature-invalid`,
    /// `metadata-untrusted-key`). The certificate is kept with the URL. A periodic refresh
    /// comes no later than the metadata's `validUntil` and `cacheDuration` say.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_idp_metadata_from_url_pinned(
        &self,
        fetcher: &Fetcher,
        actor: &str,
        org: OrgId,
        url: &str,
        entity_id: Option<&str>,
        refresh_interval: Option<Duration>,
        signing_certificate: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ImportedFromUrl, AdminError> {
        let (pinned, fetched) = match pinned_certificate(signing_certificate) {
            _ if !interval_ok(refresh_interval) => (
                None,
                Err(AdminError::Store(StoreError::InvalidInput {
                    what: "metadata refresh interval",
                    detail: "whole seconds from 5 minutes to 30 days".into(),
                })),
            ),
            Ok(pin) => {
                let fetched = fetch_metadata(fetcher, url, entity_id, pin.as_ref(), now).await;
                (pin, fetched)
            }
            Err(e) => (None, Err(e)),
        };
        let source = MetadataSource {
            url: url.to_owned(),
            entity_id: entity_id.map(str::to_owned),
            refresh_interval,
            signing_certificate: pinned.as_ref().map(Certificate::to_pem),
        };
        let interval_seconds = json!(refresh_interval.map(|i| i.whole_seconds()));
        let asked = json!({
            "url": url,
            "entity_id": entity_id,
            "refresh_interval_seconds": interval_seconds,
            "signing_certificate": pinned.as_ref().map(|c| c.fingerprint().to_string()),
        });
        self.audited(
            Some(org),
            kinds::METADATA_IMPORTED,
            actor,
            now,
            async |tx| {
                let fetched = fetched.map_err(|e| (e, asked.clone()))?;
                let warnings = metadata_warnings(&fetched.metadata, now);
                let fail = |e: StoreError| (AdminError::from(e), asked.clone());
                let (connection, stored) = store_idp(tx, org, &fetched.metadata, &fetched.idp, now)
                    .await
                    .map_err(fail)?;
                tx.set_metadata_source(org, &source, now)
                    .await
                    .map_err(fail)?;
                let state = tx
                    .record_metadata_validity(org, &validity(&fetched.metadata), now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    fetched.detail,
                    "config_version",
                    json!(connection.config_version),
                );
                let detail = with(detail, "warnings", json!(warnings));
                let detail = with(detail, "refresh_interval_seconds", interval_seconds.clone());
                let reason = stored.reason();
                let imported = ImportedMetadata {
                    connection,
                    warnings,
                };
                let value = ImportedFromUrl {
                    imported,
                    source: state,
                };
                Ok(Audited::new(value, org, reason, detail))
            },
        )
        .await
    }

    /// Fetches the org's metadata again from the URL it was imported from. A new entity ID,
    /// new certificates or new SSO endpoints replace the configuration (a new configuration
    /// version); the same ones keep it (the comparison of every import); a fetch, parse or validation failure keeps the configuration as
    /// it is. Each outcome is an `idp-metadata-refreshed` event the org's admins can list.
    /// `Err` only when there is no URL (`no-metadata-url`) or the database fails.
    pub async fn refresh_idp_metadata(
        &self,
        fetcher: &Fetcher,
        actor: &str,
        org: OrgId,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, AdminError> {
        let Some(state) = self.store.metadata_refresh_state(org).await? else {
            let event = NewEvent::new(
                org,
                kinds::METADATA_REFRESHED,
                EventOutcome::Refused,
                AdminError::NoMetadataUrl.reason(),
            )
            .actor(actor);
            self.store.record_event(&event, now).await?;
            return Err(AdminError::NoMetadataUrl);
        };
        let current = self.store.connection_for_org(org).await?;
        let entity = state
            .source
            .entity_id
            .clone()
            .unwrap_or_else(|| current.idp.entity_id.clone());
        let kept = json!({
            "url": state.source.url,
            "config_version": current.config_version,
            "certificates": fingerprint_details(&fingerprints(&current.idp.certificates)),
        });
        let fetched = match pinned_certificate(state.source.signing_certificate.as_deref()) {
            Ok(pin) => {
                let url = &state.source.url;
                fetch_metadata(fetcher, url, Some(&entity), pin.as_ref(), now).await
            }
            Err(e) => Err(e),
        };
        match fetched {
            Ok(fetched) => self.apply_refresh(actor, &state, fetched, kept, now).await,
            Err(error) => {
                self.record_failed_refresh(actor, &state, &error, kept, now)
                    .await?;
                Ok(RefreshOutcome::Failed(error))
            }
        }
    }

    /// Stores refreshed metadata (a new configuration only when it says something new, see
    /// `idp_change`), and records the refresh.
    async fn apply_refresh(
        &self,
        actor: &str,
        state: &RefreshState,
        fetched: Fetched,
        kept: Value,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, AdminError> {
        let tx = self.store.begin().await?;
        let (connection, stored) =
            store_idp(&tx, state.org, &fetched.metadata, &fetched.idp, now).await?;
        let unchanged = stored == Stored::Unchanged;
        let outcome = if unchanged { "unchanged" } else { "changed" };
        let detail = with(
            with(fetched.detail, "previous", kept),
            "config_version",
            json!(connection.config_version),
        );
        let event = NewEvent::new(
            state.org,
            kinds::METADATA_REFRESHED,
            EventOutcome::Success,
            outcome,
        )
        .actor(actor)
        .detail(detail);
        tx.record_event(&event, now).await?;
        tx.record_metadata_refresh(state.connection, outcome, now)
            .await?;
        tx.record_metadata_validity(state.org, &validity(&fetched.metadata), now)
            .await?;
        tx.commit().await?;
        Ok(if unchanged {
            RefreshOutcome::Unchanged(connection)
        } else {
            RefreshOutcome::Changed(connection)
        })
    }

    /// Records a refresh that failed; the connection keeps its configuration (`kept`).
    async fn record_failed_refresh(
        &self,
        actor: &str,
        state: &RefreshState,
        error: &AdminError,
        kept: Value,
        now: OffsetDateTime,
    ) -> Result<(), AdminError> {
        let outcome = match error {
            AdminError::Fetch(e) if !e.is_refusal() => EventOutcome::Failed,
            _ => EventOutcome::Refused,
        };
        let detail = json!({
            "url": state.source.url,
            "error": error.to_string(),
            "kept": kept,
        });
        let event = NewEvent::new(
            state.org,
            kinds::METADATA_REFRESHED,
            outcome,
            error.reason(),
        )
        .actor(actor)
        .detail(detail);
        let tx = self.store.begin().await?;
        tx.record_event(&event, now).await?;
        tx.record_metadata_refresh(state.connection, error.reason(), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs the periodic refreshes due at `now` (at most 50 per pass, the longest overdue
    /// first), each claimed in the database first so that servers sharing it never run the
    /// same one twice. Returns what each did.
    pub async fn refresh_due_metadata(
        &self,
        fetcher: &Fetcher,
        now: OffsetDateTime,
    ) -> Result<Vec<(OrgId, RefreshOutcome)>, AdminError> {
        let due = self
            .store
            .due_metadata_refreshes(now, REFRESH_BATCH)
            .await?;
        let mut done = Vec::with_capacity(due.len());
        for refresh in due {
            if !self.store.claim_metadata_refresh(&refresh, now).await? {
                continue;
            }
            match self
                .refresh_idp_metadata(fetcher, REFRESH_ACTOR, refresh.org, now)
                .await
            {
                Ok(outcome) => done.push((refresh.org, outcome)),
                // The URL went away between listing and running (an import of XML).
                Err(AdminError::NoMetadataUrl) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
