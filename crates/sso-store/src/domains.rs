//! Email domains: organizations' claims, pending until proven (a DNS TXT record, or the
//! operator's word), then verified; and their re-verification schedule. Only verified rows
//! route logins and allow JIT, and only one organization can hold a domain verified (a
//! partial unique index decides, across servers).

use std::fmt;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sso_email::Email;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::entity::verified_domain;
use crate::error::StoreError;
use crate::ids::OrgId;
use crate::instant::{from_db, to_db};
use crate::people::Ensured;
use crate::store::Store;

/// The most domain rows (claims and verified domains) one organization's listing returns.
pub const MAX_DOMAINS_PER_ORG: u64 = 100;

/// Whether a claim is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DomainState {
    /// Claimed, not (or no longer) proven: routes nothing, allows no JIT.
    Pending,
    /// Proven: logins by email route here, JIT may create members.
    Verified,
}

impl DomainState {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
        }
    }

    fn from_code(code: &str) -> Result<Self, StoreError> {
        match code {
            "pending" => Ok(Self::Pending),
            "verified" => Ok(Self::Verified),
            other => Err(StoreError::corrupt(
                "domain state",
                format!("unknown code {other:?}"),
            )),
        }
    }
}

impl fmt::Display for DomainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What proved a verified domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifiedBy {
    /// The claim's TXT record; re-checked on a schedule.
    Dns,
    /// The service operator vouched for it (the audited operator path); never re-checked.
    Operator,
}

impl VerifiedBy {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Operator => "operator",
        }
    }

    fn from_code(code: &str) -> Result<Self, StoreError> {
        match code {
            "dns" => Ok(Self::Dns),
            "operator" => Ok(Self::Operator),
            other => Err(StoreError::corrupt(
                "domain verifier",
                format!("unknown code {other:?}"),
            )),
        }
    }
}

impl fmt::Display for VerifiedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One organization's claim on one domain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DomainClaim {
    /// The claiming organization.
    pub org: OrgId,
    /// Lower-case ASCII (punycode).
    pub domain: String,
    /// Pending or verified.
    pub state: DomainState,
    /// The token its TXT record must carry; `None` for a domain the operator added without a
    /// claim.
    pub token: Option<String>,
    /// What verified it, while verified.
    pub verified_by: Option<VerifiedBy>,
    /// When it became verified, while verified.
    pub verified_at: Option<OffsetDateTime>,
    /// When it was claimed (or added by the operator).
    pub claimed_at: OffsetDateTime,
    /// When its record was last looked up.
    pub checked_at: Option<OffsetDateTime>,
    /// How that lookup ended: `verified`, `still-verified` or a reason code.
    pub check_result: Option<String>,
    /// Re-verifications in a row that found the record gone.
    pub check_failures: u32,
    /// When the next re-verification is due (verified by DNS only).
    pub next_check_at: Option<OffsetDateTime>,
}

impl DomainClaim {
    fn from_model(m: verified_domain::Model) -> Result<Self, StoreError> {
        Ok(Self {
            org: OrgId::new(m.org_id),
            state: DomainState::from_code(&m.state)?,
            verified_by: m
                .verified_by
                .as_deref()
                .map(VerifiedBy::from_code)
                .transpose()?,
            domain: m.domain,
            token: m.token,
            verified_at: m.verified_at.map(from_db),
            claimed_at: from_db(m.created_at),
            checked_at: m.checked_at.map(from_db),
            check_result: m.check_result,
            check_failures: u32::try_from(m.check_failures).unwrap_or(0),
            next_check_at: m.next_check_at.map(from_db),
        })
    }

    /// Whether it routes logins and allows JIT now.
    pub fn is_verified(&self) -> bool {
        self.state == DomainState::Verified
    }
}

/// How a re-verification changes the count of failures in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckCount {
    /// The record is there: back to zero.
    Reset,
    /// The DNS answered without the record: one more.
    Increment,
    /// The lookup failed: nothing learned, the count stays.
    Keep,
}

/// A DNS-verified domain whose re-verification is due: claim it with
/// [`Store::claim_domain_check`] before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DueDomainCheck {
    /// The organization holding it.
    pub org: OrgId,
    /// The domain.
    pub domain: String,
    /// When it became due, as read.
    pub due_at: OffsetDateTime,
}

/// A domain in the form emails are compared in: trimmed, lower-case, ASCII (punycode). The
/// same normalization as `sso_email::Email`, so that `Bücher.example` and
/// `xn--bcher-kva.example` are one domain for the keys as they are for logins.
pub fn normalize_domain(domain: &str) -> Result<String, StoreError> {
    let trimmed = domain.trim();
    if trimmed.contains('@') {
        return Err(StoreError::invalid("domain", "a domain has no '@'"));
    }
    Email::parse(&format!("postmaster@{trimmed}"))
        .map(|email| email.domain().to_owned())
        .map_err(|e| StoreError::invalid("domain", format!("{trimmed:?}: {e}")))
}

impl<C: ConnectionTrait> Store<C> {
    /// Adds a verified domain on the operator's word (normalized to lower-case ASCII first):
    /// a new row verified by the operator, or the organization's pending claim turned
    /// verified by the operator. A domain the organization already holds verified succeeds
    /// with `created: false`, unchanged; one another organization holds verified is a
    /// [`StoreError::Conflict`], decided by the unique index.
    pub async fn add_verified_domain(
        &self,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<Ensured<String>, StoreError> {
        let domain = normalize_domain(domain)?;
        match self.domain_claim(org, &domain).await? {
            Some(claim) if claim.is_verified() => Ok(Ensured::existing(domain)),
            Some(_) => {
                self.verify_domain_claim(org, &domain, VerifiedBy::Operator, None, now)
                    .await?;
                Ok(Ensured::created(domain))
            }
            None => {
                let now = to_db(now)?;
                verified_domain::Entity::insert(verified_domain::ActiveModel {
                    id: NotSet,
                    org_id: Set(org.get()),
                    domain: Set(domain.clone()),
                    created_at: Set(now),
                    state: Set(DomainState::Verified.code().to_owned()),
                    token: Set(None),
                    verified_by: Set(Some(VerifiedBy::Operator.code().to_owned())),
                    verified_at: Set(Some(now)),
                    checked_at: Set(None),
                    check_result: Set(None),
                    check_failures: Set(0),
                    next_check_at: Set(None),
                })
                .exec_without_returning(&self.conn)
                .await
                .map_err(StoreError::on_write("verified domain", "organization"))?;
                Ok(Ensured::created(domain))
            }
        }
    }

    /// Removes the organization's row for this domain, claim or verified; `false` when it had
    /// none.
    pub async fn remove_verified_domain(
        &self,
        org: OrgId,
        domain: &str,
    ) -> Result<bool, StoreError> {
        let domain = normalize_domain(domain)?;
        let deleted = verified_domain::Entity::delete_many()
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::Domain.eq(domain))
            .exec(&self.conn)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    /// The organization's verified domains, sorted; pending claims are not among them.
    pub async fn verified_domains(&self, org: OrgId) -> Result<Vec<String>, StoreError> {
        Ok(verified_domain::Entity::find()
            .select_only()
            .column(verified_domain::Column::Domain)
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::State.eq(DomainState::Verified.code()))
            .order_by_asc(verified_domain::Column::Domain)
            .into_tuple::<String>()
            .all(&self.conn)
            .await?)
    }

    /// The organization that holds this domain verified, if any; pending claims route
    /// nothing.
    pub async fn org_for_domain(&self, domain: &str) -> Result<Option<OrgId>, StoreError> {
        let domain = normalize_domain(domain)?;
        Ok(verified_domain::Entity::find()
            .select_only()
            .column(verified_domain::Column::OrgId)
            .filter(verified_domain::Column::Domain.eq(domain))
            .filter(verified_domain::Column::State.eq(DomainState::Verified.code()))
            .into_tuple::<i64>()
            .one(&self.conn)
            .await?
            .map(OrgId::new))
    }

    /// Claims a domain for the organization: a new pending claim carrying `token`, or the
    /// organization's existing row as it is (`created: false`), given `token` if it had none
    /// (a domain the operator added). Other organizations' rows do not matter here.
    pub async fn claim_domain(
        &self,
        org: OrgId,
        domain: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Ensured<DomainClaim>, StoreError> {
        let domain = normalize_domain(domain)?;
        if let Some(existing) = self.domain_claim(org, &domain).await? {
            if existing.token.is_some() {
                return Ok(Ensured::existing(existing));
            }
            verified_domain::Entity::update_many()
                .col_expr(verified_domain::Column::Token, Expr::value(token))
                .filter(verified_domain::Column::OrgId.eq(org.get()))
                .filter(verified_domain::Column::Domain.eq(domain.as_str()))
                .filter(verified_domain::Column::Token.is_null())
                .exec(&self.conn)
                .await?;
            return Ok(Ensured::existing(self.existing_claim(org, &domain).await?));
        }
        verified_domain::Entity::insert(verified_domain::ActiveModel {
            id: NotSet,
            org_id: Set(org.get()),
            domain: Set(domain.clone()),
            created_at: Set(to_db(now)?),
            state: Set(DomainState::Pending.code().to_owned()),
            token: Set(Some(token.to_owned())),
            verified_by: Set(None),
            verified_at: Set(None),
            checked_at: Set(None),
            check_result: Set(None),
            check_failures: Set(0),
            next_check_at: Set(None),
        })
        .exec_without_returning(&self.conn)
        .await
        .map_err(StoreError::on_write("domain claim", "organization"))?;
        Ok(Ensured::created(self.existing_claim(org, &domain).await?))
    }

    /// The organization's row for this domain, if any.
    pub async fn domain_claim(
        &self,
        org: OrgId,
        domain: &str,
    ) -> Result<Option<DomainClaim>, StoreError> {
        let domain = normalize_domain(domain)?;
        verified_domain::Entity::find()
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::Domain.eq(domain))
            .one(&self.conn)
            .await?
            .map(DomainClaim::from_model)
            .transpose()
    }

    async fn existing_claim(&self, org: OrgId, domain: &str) -> Result<DomainClaim, StoreError> {
        self.domain_claim(org, domain)
            .await?
            .ok_or(StoreError::not_found("domain claim"))
    }

    /// The organization's claims and verified domains, sorted by domain, at most
    /// [`MAX_DOMAINS_PER_ORG`].
    pub async fn domain_claims(&self, org: OrgId) -> Result<Vec<DomainClaim>, StoreError> {
        verified_domain::Entity::find()
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .order_by_asc(verified_domain::Column::Domain)
            .limit(MAX_DOMAINS_PER_ORG)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(DomainClaim::from_model)
            .collect()
    }

    /// How many domain rows (claims and verified) the organization has.
    pub async fn count_domain_claims(&self, org: OrgId) -> Result<u64, StoreError> {
        Ok(verified_domain::Entity::find()
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .count(&self.conn)
            .await?)
    }

    /// Marks the organization's claim verified by `by` at `now`, with a clean check record and
    /// the first re-verification due at `next_check_at` (DNS only). A [`StoreError::Conflict`]
    /// when another organization holds the domain verified (the partial unique index
    /// decides), [`StoreError::NotFound`] when the organization has no row for it.
    pub async fn verify_domain_claim(
        &self,
        org: OrgId,
        domain: &str,
        by: VerifiedBy,
        next_check_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<DomainClaim, StoreError> {
        let domain = normalize_domain(domain)?;
        let now = to_db(now)?;
        let next = next_check_at.map(to_db).transpose()?;
        let checked = (by == VerifiedBy::Dns).then_some(now);
        let updated = verified_domain::Entity::update_many()
            .col_expr(
                verified_domain::Column::State,
                Expr::value(DomainState::Verified.code()),
            )
            .col_expr(verified_domain::Column::VerifiedBy, Expr::value(by.code()))
            .col_expr(verified_domain::Column::VerifiedAt, Expr::value(now))
            .col_expr(verified_domain::Column::CheckedAt, Expr::value(checked))
            .col_expr(
                verified_domain::Column::CheckResult,
                Expr::value(checked.map(|_| "verified".to_owned())),
            )
            .col_expr(verified_domain::Column::CheckFailures, Expr::value(0))
            .col_expr(verified_domain::Column::NextCheckAt, Expr::value(next))
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::Domain.eq(domain.as_str()))
            .exec(&self.conn)
            .await
            .map_err(StoreError::on_write("verified domain", "organization"))?;
        if updated.rows_affected == 0 {
            return Err(StoreError::not_found("domain claim"));
        }
        self.existing_claim(org, &domain).await
    }

    /// Notes a DNS check of a verified domain: when, how it ended (`result`), the count of
    /// failures in a row as `count` says, and the next check due at `next_check_at`.
    pub async fn record_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        result: &str,
        count: CheckCount,
        next_check_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<DomainClaim, StoreError> {
        let domain = normalize_domain(domain)?;
        let failures = match count {
            CheckCount::Reset => Expr::value(0),
            CheckCount::Increment => Expr::col(verified_domain::Column::CheckFailures).add(1),
            CheckCount::Keep => Expr::col(verified_domain::Column::CheckFailures).into(),
        };
        let updated = verified_domain::Entity::update_many()
            .col_expr(verified_domain::Column::CheckedAt, Expr::value(to_db(now)?))
            .col_expr(verified_domain::Column::CheckResult, Expr::value(result))
            .col_expr(verified_domain::Column::CheckFailures, failures)
            .col_expr(
                verified_domain::Column::NextCheckAt,
                Expr::value(next_check_at.map(to_db).transpose()?),
            )
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::Domain.eq(domain.as_str()))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::not_found("domain claim"));
        }
        self.existing_claim(org, &domain).await
    }

    /// Turns a DNS-verified domain back into a pending claim (token kept, so it can be proven
    /// again), only while it is verified by DNS with at least `min_failures` failures in a
    /// row. `false` when it was not (already dropped, re-proven meanwhile, or removed).
    pub async fn unverify_domain(
        &self,
        org: OrgId,
        domain: &str,
        min_failures: u32,
    ) -> Result<bool, StoreError> {
        let domain = normalize_domain(domain)?;
        let updated = verified_domain::Entity::update_many()
            .col_expr(
                verified_domain::Column::State,
                Expr::value(DomainState::Pending.code()),
            )
            .col_expr(
                verified_domain::Column::VerifiedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                verified_domain::Column::VerifiedAt,
                Expr::value(Option::<PrimitiveDateTime>::None),
            )
            .col_expr(
                verified_domain::Column::NextCheckAt,
                Expr::value(Option::<PrimitiveDateTime>::None),
            )
            .filter(verified_domain::Column::OrgId.eq(org.get()))
            .filter(verified_domain::Column::Domain.eq(domain))
            .filter(verified_domain::Column::State.eq(DomainState::Verified.code()))
            .filter(verified_domain::Column::VerifiedBy.eq(VerifiedBy::Dns.code()))
            .filter(verified_domain::Column::CheckFailures.gte(i64::from(min_failures)))
            .exec(&self.conn)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// DNS-verified domains whose re-verification is due at `now`, the longest overdue
    /// first, at most `limit`.
    pub async fn due_domain_checks(
        &self,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<DueDomainCheck>, StoreError> {
        let rows = verified_domain::Entity::find()
            .select_only()
            .column(verified_domain::Column::OrgId)
            .column(verified_domain::Column::Domain)
            .column(verified_domain::Column::NextCheckAt)
            .filter(verified_domain::Column::State.eq(DomainState::Verified.code()))
            .filter(verified_domain::Column::VerifiedBy.eq(VerifiedBy::Dns.code()))
            .filter(verified_domain::Column::NextCheckAt.lte(to_db(now)?))
            .order_by_asc(verified_domain::Column::NextCheckAt)
            .order_by_asc(verified_domain::Column::Id)
            .limit(limit)
            .into_tuple::<(i64, String, Option<PrimitiveDateTime>)>()
            .all(&self.conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(org, domain, due)| {
                Some(DueDomainCheck {
                    org: OrgId::new(org),
                    domain,
                    due_at: from_db(due?),
                })
            })
            .collect())
    }

    /// Takes a due re-verification for this server: moves its due time to `next`, only if it
    /// is still `due.due_at`. `false` when another server (or an earlier pass) took it first.
    pub async fn claim_domain_check(
        &self,
        due: &DueDomainCheck,
        next: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = verified_domain::Entity::update_many()
            .col_expr(
                verified_domain::Column::NextCheckAt,
                Expr::value(to_db(next)?),
            )
            .filter(verified_domain::Column::OrgId.eq(due.org.get()))
            .filter(verified_domain::Column::Domain.eq(due.domain.as_str()))
            .filter(verified_domain::Column::NextCheckAt.eq(to_db(due.due_at)?))
            .exec(&self.conn)
            .await?;
        Ok(updated.rows_affected > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalize_like_emails() {
        assert_eq!(
            normalize_domain(" Bücher.Example ").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(normalize_domain("EXAMPLE.com").unwrap(), "example.com");
        for bad in [
            "",
            "localhost",
            "a@example.com",
            "exa mple.com",
            "[192.0.2.1]",
        ] {
            assert_eq!(
                normalize_domain(bad).unwrap_err().reason(),
                "invalid-input",
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_read_back() {
        for state in [DomainState::Pending, DomainState::Verified] {
            assert_eq!(DomainState::from_code(state.code()).unwrap(), state);
        }
        for by in [VerifiedBy::Dns, VerifiedBy::Operator] {
            assert_eq!(VerifiedBy::from_code(by.code()).unwrap(), by);
        }
        assert_eq!(
            DomainState::from_code("maybe").unwrap_err().reason(),
            "corrupt-data"
        );
    }
}
