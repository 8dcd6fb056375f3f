//! Metadata imported from a URL: the source of a connection's IdP configuration (and the
//! certificate its signature must verify with), what the metadata says about its own lifetime,
//! its periodic refresh, and certificate changes made by hand during a rollover.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::connections::ConnectionRecord;
use crate::entity::sso_connection;
use crate::error::StoreError;
use crate::ids::{ConnectionId, OrgId};
use crate::instant::{from_db, to_db};
use crate::store::Store;

/// The shortest refresh interval: IdPs publish rarely, and a refresh costs them a request.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::minutes(5);
/// The longest refresh interval.
pub const MAX_REFRESH_INTERVAL: Duration = Duration::days(30);

/// Where a connection's metadata comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSource {
    /// The URL it is fetched from.
    pub url: String,
    /// The entity chosen when the document describes several.
    pub entity_id: Option<String>,
    /// How often it is fetched again; `None`: only when an admin asks.
    pub refresh_interval: Option<Duration>,
    /// The certificate (PEM) the metadata's root signature must verify with, every fetch;
    /// `None`: unsigned metadata is accepted.
    pub signing_certificate: Option<String>,
}

/// What metadata says about its own lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetadataValidity {
    /// Its earliest `validUntil`: the publisher vouches for it until then.
    pub valid_until: Option<OffsetDateTime>,
    /// Its shortest `cacheDuration`: how long it may be used before it is fetched again.
    pub cache_duration: Option<Duration>,
}

/// A connection's metadata source and refresh state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshState {
    /// The connection.
    pub connection: ConnectionId,
    /// Its organization.
    pub org: OrgId,
    /// The source.
    pub source: MetadataSource,
    /// When the next periodic refresh is due.
    pub next_refresh_at: Option<OffsetDateTime>,
    /// When a refresh last ran.
    pub refreshed_at: Option<OffsetDateTime>,
    /// How it ended: `changed`, `unchanged` or the failure's reason code.
    pub refresh_reason: Option<String>,
    /// What the metadata last imported or refreshed from the URL says about its lifetime.
    pub validity: MetadataValidity,
}

impl RefreshState {
    fn from_model(m: sso_connection::Model) -> Option<Self> {
        Some(Self {
            connection: ConnectionId::new(m.id),
            org: OrgId::new(m.org_id),
            source: MetadataSource {
                url: m.idp_metadata_url?,
                entity_id: m.idp_metadata_entity_id,
                refresh_interval: m.idp_metadata_refresh_seconds.map(Duration::seconds),
                signing_certificate: m.idp_metadata_signing_certificate,
            },
            next_refresh_at: m.idp_metadata_next_refresh_at.map(from_db),
            refreshed_at: m.idp_metadata_refreshed_at.map(from_db),
            refresh_reason: m.idp_metadata_refresh_reason,
            validity: MetadataValidity {
                valid_until: m.idp_metadata_valid_until.map(from_db),
                cache_duration: m.idp_metadata_cache_seconds.map(Duration::seconds),
            },
        })
    }
}

/// A refresh that is due: claim it with [`Store::claim_metadata_refresh`] before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DueRefresh {
    /// The connection.
    pub connection: ConnectionId,
    /// Its organization.
    pub org: OrgId,
    /// When it became due, as read.
    pub due_at: OffsetDateTime,
    /// Its interval.
    pub interval: Duration,
}

fn interval_seconds(interval: Option<Duration>) -> Result<Option<i64>, StoreError> {
    match interval {
        None => Ok(None),
        Some(i)
            if i >= MIN_REFRESH_INTERVAL
                && i <= MAX_REFRESH_INTERVAL
                && i.subsec_nanoseconds() == 0 =>
        {
            Ok(Some(i.whole_seconds()))
        }
        Some(i) => Err(StoreError::invalid(
            "metadata refresh interval",
            format!("{i} is not whole seconds from 5 minutes to 30 days"),
        )),
    }
}

impl<C: ConnectionTrait> Store<C> {
    /// Records where the organization's connection got its metadata (after an import from a
    /// URL) and schedules the first refresh one interval from `now`. Does not change the IdP
    /// configuration.
    pub async fn set_metadata_source(
        &self,
        org: OrgId,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<RefreshState, StoreError> {
        let seconds = interval_seconds(source.refresh_interval)?;
        let next = match source.refresh_interval {
            Some(interval) => Some(to_db(now + interval)?),
            None => None,
        };
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataUrl,
                Expr::value(source.url.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataEntityId,
                Expr::value(source.entity_id.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataRefreshSeconds,
                Expr::value(seconds),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataNextRefreshAt,
                Expr::value(next),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataSigningCertificate,
                Expr::value(source.signing_certificate.clone()),
            )
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::not_found("sso connection"));
        }
        self.metadata_refresh_state(org)
            .await?
            .ok_or(StoreError::not_found("metadata source"))
    }

    /// The organization's metadata source and refresh state; `None` when its metadata was not
    /// imported from a URL (or was replaced since by an import of XML).
    pub async fn metadata_refresh_state(
        &self,
        org: OrgId,
    ) -> Result<Option<RefreshState>, StoreError> {
        let model = sso_connection::Entity::find()
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .one(&self.conn)
            .await?
            .ok_or(StoreError::not_found("sso connection"))?;
        Ok(RefreshState::from_model(model))
    }

    /// Connections whose periodic refresh is due at `now`, the longest overdue first, at most
    /// `limit`.
    pub async fn due_metadata_refreshes(
        &self,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<DueRefresh>, StoreError> {
        let rows = sso_connection::Entity::find()
            .select_only()
            .column(sso_connection::Column::Id)
            .column(sso_connection::Column::OrgId)
            .column(sso_connection::Column::IdpMetadataNextRefreshAt)
            .column(sso_connection::Column::IdpMetadataRefreshSeconds)
            .filter(sso_connection::Column::IdpMetadataUrl.is_not_null())
            .filter(sso_connection::Column::IdpMetadataRefreshSeconds.is_not_null())
            .filter(sso_connection::Column::IdpMetadataNextRefreshAt.lte(to_db(now)?))
            .order_by_asc(sso_connection::Column::IdpMetadataNextRefreshAt)
            .order_by_asc(sso_connection::Column::Id)
            .limit(limit)
            .into_tuple::<(i64, i64, Option<PrimitiveDateTime>, Option<i64>)>()
            .all(&self.conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, org, due, seconds)| {
                Some(DueRefresh {
                    connection: ConnectionId::new(id),
                    org: OrgId::new(org),
                    due_at: from_db(due?),
                    interval: Duration::seconds(seconds?),
                })
            })
            .collect())
    }

    /// Takes a due refresh for this server: moves its next due time one interval past `now`,
    /// only if it is still `due.due_at`. `false` when another server (or an earlier pass)
    /// took it first.
    pub async fn claim_metadata_refresh(
        &self,
        due: &DueRefresh,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataNextRefreshAt,
                Expr::value(to_db(now + due.interval)?),
            )
            .filter(sso_connection::Column::Id.eq(due.connection.get()))
            .filter(sso_connection::Column::IdpMetadataNextRefreshAt.eq(to_db(due.due_at)?))
            .exec(&self.conn)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Records what the metadata just imported or refreshed from the URL says about its
    /// lifetime, and, when the connection is refreshed periodically, brings the next refresh
    /// forward to no later than `valid_until` and `now + cache_duration` (a cache duration
    /// shorter than [`MIN_REFRESH_INTERVAL`] counts as that: a publisher cannot make every
    /// server fetch every minute). Returns the source and refresh state as they are now.
    pub async fn record_metadata_validity(
        &self,
        org: OrgId,
        validity: &MetadataValidity,
        now: OffsetDateTime,
    ) -> Result<RefreshState, StoreError> {
        let cache_seconds = validity.cache_duration.map(|d| d.whole_seconds().max(0));
        let valid_until = validity.valid_until.map(to_db).transpose()?;
        sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataValidUntil,
                Expr::value(valid_until),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataCacheSeconds,
                Expr::value(cache_seconds),
            )
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .exec(&self.conn)
            .await?;
        let by_cache = validity
            .cache_duration
            .map(|d| now.saturating_add(d.max(MIN_REFRESH_INTERVAL)));
        let latest = match (by_cache, validity.valid_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(latest) = latest {
            let latest = to_db(latest)?;
            sso_connection::Entity::update_many()
                .col_expr(
                    sso_connection::Column::IdpMetadataNextRefreshAt,
                    Expr::value(latest),
                )
                .filter(sso_connection::Column::OrgId.eq(org.get()))
                .filter(sso_connection::Column::IdpMetadataNextRefreshAt.gt(latest))
                .exec(&self.conn)
                .await?;
        }
        self.metadata_refresh_state(org)
            .await?
            .ok_or(StoreError::not_found("metadata source"))
    }

    /// Notes how a refresh of the connection ended (`changed`, `unchanged` or a reason code).
    pub async fn record_metadata_refresh(
        &self,
        connection: ConnectionId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataRefreshedAt,
                Expr::value(to_db(now)?),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataRefreshReason,
                Expr::value(reason.to_owned()),
            )
            .filter(sso_connection::Column::Id.eq(connection.get()))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    /// Replaces the trusted IdP certificates (PEM, at least one) of the organization's
    /// connection, if its configuration is still `expected_version`: a configuration change
    /// (see [`import_idp_metadata`](Self::import_idp_metadata)). `conflict` when the
    /// configuration changed in between, so two admins cannot silently undo each other.
    pub async fn replace_idp_certificates(
        &self,
        org: OrgId,
        expected_version: i64,
        certificates: &[String],
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, StoreError> {
        if certificates.iter().all(|pem| pem.trim().is_empty()) {
            return Err(StoreError::invalid(
                "IdP certificates",
                "at least one signing certificate is needed",
            ));
        }
        let now = to_db(now)?;
        let json = Value::Array(certificates.iter().cloned().map(Value::String).collect());
        let updated = sso_connection::Entity::update_many()
            .col_expr(sso_connection::Column::IdpCertificates, Expr::value(json))
            .col_expr(
                sso_connection::Column::ConfigVersion,
                Expr::col(sso_connection::Column::ConfigVersion).add(1),
            )
            .col_expr(
                sso_connection::Column::ConfigurationChangedAt,
                Expr::value(now),
            )
            .col_expr(
                sso_connection::Column::LastSuccessfulLoginAt,
                Expr::value(Option::<PrimitiveDateTime>::None),
            )
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .filter(sso_connection::Column::ConfigVersion.eq(expected_version))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            // Missing connection (not-found) or a concurrent change (conflict).
            self.connection_for_org(org).await?;
            return Err(StoreError::Conflict {
                what: "connection configuration change (it changed meanwhile)",
            });
        }
        self.connection_for_org(org).await
    }
}
