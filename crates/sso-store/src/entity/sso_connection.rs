//! `sso_connections`: an organization's SAML connection to its IdP (at most one per
//! organization).

use sea_orm::entity::prelude::*;

/// One connection; `org_id` is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_connections")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The organization, unique: one current connection per organization.
    #[sea_orm(unique)]
    pub org_id: i64,
    /// Whether admins have it switched on.
    pub enabled: bool,
    /// The IdP metadata document as imported, if it was imported from XML.
    #[sea_orm(column_type = "Text", nullable)]
    pub idp_metadata_xml: Option<String>,
    /// The URL the metadata was fetched from, if the admin gave one.
    #[sea_orm(column_type = "Text", nullable)]
    pub idp_metadata_url: Option<String>,
    /// The IdP's entity ID.
    #[sea_orm(column_type = "Text")]
    pub idp_entity_id: String,
    /// The IdP's SingleSignOnService URL (HTTP-Redirect); `None` for IdP-initiated only.
    #[sea_orm(column_type = "Text", nullable)]
    pub idp_sso_url: Option<String>,
    /// The trusted IdP signing certificates: a JSON array of PEM strings.
    pub idp_certificates: Json,
    /// Service-provider settings, a JSON object owned by the layers above.
    pub sp_settings: Json,
    /// The just-in-time role's `sso_policy::Role::code()`; `None` turns JIT off.
    pub jit_role: Option<String>,
    /// Whether IdP-initiated (unsolicited) responses are accepted.
    pub allow_unsolicited: bool,
    /// Whether SHA-1 signatures and digests are accepted.
    pub allow_sha1: bool,
    /// Allowed clock skew in seconds for the time checks.
    pub clock_skew_seconds: i64,
    /// Starts at 1; every configuration change adds one.
    pub config_version: i64,
    /// When the configuration last changed (lockout protection compares against it).
    pub configuration_changed_at: TimeDateTime,
    /// When a login last succeeded with the current configuration; reset by a change.
    pub last_successful_login_at: Option<TimeDateTime>,
    /// When the connection was created.
    pub created_at: TimeDateTime,
    /// The entity chosen from the metadata at the URL (an aggregate may describe several).
    #[sea_orm(column_type = "Text", nullable)]
    pub idp_metadata_entity_id: Option<String>,
    /// Seconds between refreshes of the metadata from its URL; `None`: no periodic refresh.
    pub idp_metadata_refresh_seconds: Option<i64>,
    /// When the next refresh is due.
    pub idp_metadata_next_refresh_at: Option<TimeDateTime>,
    /// When the metadata was last refreshed (or a refresh was tried).
    pub idp_metadata_refreshed_at: Option<TimeDateTime>,
    /// How the last refresh ended: `changed`, `unchanged` or the failure's reason code.
    pub idp_metadata_refresh_reason: Option<String>,
    /// The PEM certificate the metadata's root signature must verify with; `None`: unsigned
    /// metadata is accepted.
    #[sea_orm(column_type = "Text", nullable)]
    pub idp_metadata_signing_certificate: Option<String>,
    /// The earliest `validUntil` of the metadata last imported or refreshed from the URL.
    pub idp_metadata_valid_until: Option<TimeDateTime>,
    /// Its shortest `cacheDuration`, in whole seconds.
    pub idp_metadata_cache_seconds: Option<i64>,
    /// The SAML attribute carrying the person's groups, for the group rules.
    #[sea_orm(column_type = "Text", nullable)]
    pub groups_attribute: Option<String>,
    /// The group rules: a JSON array of `{"group", "role", "projects"}` (role codes, the host
    /// product's project ids), in the admin's order; `None`: no rules.
    pub group_rules: Option<Json>,
    /// Whether the group rules also apply to existing members on every login.
    pub group_rules_every_login: bool,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
