//! `verified_domains`: the email domains organizations claim, pending until proven by a DNS
//! TXT record (or vouched for by the operator), then verified.

use sea_orm::entity::prelude::*;

/// One organization's claim on one domain. `(org_id, domain)` is unique; `domain` is unique
/// among verified rows (a partial index), so several organizations may claim a domain but
/// only one holds it verified.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verified_domains")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The claiming organization.
    pub org_id: i64,
    /// Lower-case ASCII (punycode) form, as `sso_email::Email::domain()` returns it.
    pub domain: String,
    /// When it was claimed (or added by the operator).
    pub created_at: TimeDateTime,
    /// `pending` or `verified`; only verified rows route logins and allow JIT.
    pub state: String,
    /// The claim's token (32 hex digits), published as `sso-verification=<token>`; `None`
    /// for a domain the operator added without a claim.
    pub token: Option<String>,
    /// `dns` or `operator` while verified.
    pub verified_by: Option<String>,
    /// When it became verified.
    pub verified_at: Option<TimeDateTime>,
    /// When the DNS record was last looked up.
    pub checked_at: Option<TimeDateTime>,
    /// How that lookup ended: `verified`, `still-verified` or a reason code.
    pub check_result: Option<String>,
    /// Re-verifications in a row that found the record gone (missing or another token).
    pub check_failures: i32,
    /// When the next re-verification is due (DNS-verified rows only).
    pub next_check_at: Option<TimeDateTime>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
