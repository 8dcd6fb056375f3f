//! What the service layers above (`sso-grpc`, `sso-server`) read through the provisioner:
//! org views, connections and their metadata source, the SP metadata of an org, and the
//! housekeeping of one-time values. They never reach the store themselves.

use sso_email::Email;
use sso_store::{
    ConnectionRecord, OrgId, OrgSnapshot, PurgeCounts, RefreshState, Store, StoreError,
};
use time::OffsetDateTime;

use crate::error::SpMetadataError;
use crate::login::Provisioner;

/// An org's SP metadata, as the IdP imports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpMetadata {
    /// The org's SP entity ID (`<base>/saml/2/metadata/<org>`).
    pub entity_id: String,
    /// The org's ACS URL (`<base>/saml/2/acs/<org>`).
    pub acs_url: String,
    /// The `EntityDescriptor` document.
    pub xml: String,
}

impl Provisioner {
    /// Connects to the database at `database_url` (applying pending migrations, see
    /// `sso_store::Store::connect`) and makes a provisioner over it.
    pub async fn connect(
        database_url: &str,
        public_base_url: impl Into<String>,
    ) -> Result<Self, StoreError> {
        Ok(Self::new(
            Store::connect(database_url).await?,
            public_base_url,
        ))
    }

    /// The org with its connection (if any) and verified domains.
    pub async fn org(&self, org: OrgId) -> Result<OrgSnapshot, StoreError> {
        self.store.org_snapshot(org).await
    }

    /// The org that verified the domain of `email`, if any: where an SSO login by email goes.
    pub async fn org_for_email(&self, email: &Email) -> Result<Option<OrgId>, StoreError> {
        self.store.org_for_domain(email.domain()).await
    }

    /// The org's connection (`not-found` when it has none).
    pub async fn connection(&self, org: OrgId) -> Result<ConnectionRecord, StoreError> {
        self.store.connection_for_org(org).await
    }

    /// Where the org's metadata comes from and how its refreshes went; `None` when it was not
    /// imported from a URL.
    pub async fn metadata_source(&self, org: OrgId) -> Result<Option<RefreshState>, StoreError> {
        self.store.metadata_refresh_state(org).await
    }

    /// The SP metadata of an existing org: the one place it is built, for the gRPC call and
    /// the HTTP endpoint alike.
    pub async fn sp_metadata(&self, org: OrgId) -> Result<SpMetadata, SpMetadataError> {
        self.store.org(org).await.map_err(SpMetadataError::Store)?;
        let sp = self.service_provider(org);
        let xml = sp.metadata_xml().map_err(SpMetadataError::Write)?;
        Ok(SpMetadata {
            entity_id: sp.entity_id().to_owned(),
            acs_url: sp.acs_url().to_owned(),
            xml,
        })
    }

    /// Deletes the AuthnRequests, replay-cache entries and login codes whose time is over at
    /// `now`. Idempotent, so every server may run it.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<PurgeCounts, StoreError> {
        self.store.purge_expired(now).await
    }
}
