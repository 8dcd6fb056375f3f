//! What the service layers above (`sso-grpc`, `sso-server`) read through the provisioner:
//! org views and listings, connections as an admin reads them (options, metadata source,
//! warnings, proof), the SP metadata of an org, and the housekeeping of one-time values. They
//! never reach the store themselves.

use sso_assertion::{Certificate, IdpMetadata};
use sso_email::Email;
use sso_store::{
    ConnectionRecord, OrgId, OrgPage, OrgQuery, OrgSnapshot, PurgeCounts, RefreshState, Store,
    StoreError,
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

/// A connection as an admin reads it: as stored, where its metadata comes from, what to
/// watch out for, and whether its current configuration has worked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionView {
    /// The connection as stored, validation options included.
    pub connection: ConnectionRecord,
    /// The URL, entity and refresh schedule when the metadata was imported from a URL;
    /// `None` when it was given inline (as XML).
    pub source: Option<RefreshState>,
    /// Parts of the stored metadata that were skipped, and trusted certificates that expire
    /// within 30 days (or already have) or no longer read.
    pub warnings: Vec<String>,
    /// Whether a login succeeded with the current configuration since it last changed
    /// (`sso_policy::Connection::proven`): what require-SSO waits for.
    pub proven: bool,
}

/// What an admin should know about a stored connection at `now`: the parts of its stored
/// metadata that were skipped when it was read, and each trusted certificate that expires
/// within 30 days, already has, or no longer reads. The same warnings an import gives, for
/// the certificates trusted now (a rollover by hand may have changed them since).
pub fn connection_warnings(connection: &ConnectionRecord, now: OffsetDateTime) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(xml) = &connection.idp.metadata_xml {
        match IdpMetadata::from_xml_for_entity(xml.as_bytes(), &connection.idp.entity_id) {
            Ok(metadata) => warnings.extend(metadata.warnings),
            Err(e) => warnings.push(format!("the stored metadata no longer reads: {e}")),
        }
    }
    for pem in &connection.idp.certificates {
        match Certificate::from_pem_or_base64(pem) {
            Ok(certificate) => warnings.extend(certificate.expiry_warning(now)),
            Err(e) => warnings.push(format!("a trusted certificate no longer reads: {e}")),
        }
    }
    warnings
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

    /// Orgs in creation order, one page at a time, each with its connection and verified
    /// domains (so the caller can say whether require-SSO is in effect for each).
    pub async fn list_orgs(&self, query: &OrgQuery) -> Result<OrgPage, StoreError> {
        self.store.list_orgs(query).await
    }

    /// The org's connection as an admin reads it at `now`; `None` when the org has none
    /// (`not-found` when the org does not exist).
    pub async fn connection_view(
        &self,
        org: OrgId,
        now: OffsetDateTime,
    ) -> Result<Option<ConnectionView>, StoreError> {
        self.store.org(org).await?;
        match self.store.connection_for_org(org).await {
            Ok(connection) => Ok(Some(self.describe_connection(connection, now).await?)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A connection record (as an admin operation returned it) as an admin reads it at `now`:
    /// its metadata source read alongside, its warnings and whether it is proven.
    pub async fn describe_connection(
        &self,
        connection: ConnectionRecord,
        now: OffsetDateTime,
    ) -> Result<ConnectionView, StoreError> {
        let source = self.store.metadata_refresh_state(connection.org).await?;
        Ok(ConnectionView {
            warnings: connection_warnings(&connection, now),
            proven: connection.policy().proven(),
            source,
            connection,
        })
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
