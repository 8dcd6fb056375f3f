//! Email domains: claims proven by a DNS TXT record (`sso-domains`), their re-verification on
//! a schedule, and the operator's audited path that vouches for a domain without DNS. Public
//! suffixes and free-mail domains are refused on every path.

use serde_json::{Value, json};
use sso_domains::{CheckError, ClaimToken, TxtLookup, check_claimable, record_name};
use sso_store::{
    CheckCount, DomainClaim, EventOutcome, MAX_DOMAINS_PER_ORG, NewEvent, OrgId, StoreError,
    Transaction, VerifiedBy, normalize_domain,
};
use time::{Duration, OffsetDateTime};

use super::{Audited, kinds};
use crate::error::AdminError;
use crate::login::Provisioner;

/// The actor of re-verifications the service runs by itself.
pub const DOMAIN_CHECK_ACTOR: &str = "domain-recheck";

/// The most due re-verifications one [`Provisioner::recheck_due_domains`] pass runs.
const RECHECK_BATCH: u64 = 50;

/// How DNS-verified domains are re-verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainChecks {
    /// How long after a check the next one is due (default 24 hours).
    pub interval: Duration,
    /// Checks in a row that find the record gone (no record, or not this claim's token)
    /// after which the domain drops back to pending (default 3; 0 counts as 1). Failed
    /// lookups (timeouts, SERVFAIL) say nothing about the record and do not count.
    pub failures_to_unverify: u32,
}

impl Default for DomainChecks {
    fn default() -> Self {
        Self {
            interval: Duration::hours(24),
            failures_to_unverify: 3,
        }
    }
}

impl DomainChecks {
    fn limit(&self) -> u32 {
        self.failures_to_unverify.max(1)
    }
}

/// What one scheduled re-verification found.
#[derive(Debug)]
#[non_exhaustive]
pub struct DomainRecheck {
    /// The org holding the domain.
    pub org: OrgId,
    /// The domain.
    pub domain: String,
    /// The domain still verified, or why the check failed (`AdminError::DomainCheck` says
    /// what it did to the domain).
    pub result: Result<DomainClaim, AdminError>,
}

impl DomainRecheck {
    /// `still-verified`, or the failure's reason code.
    pub fn reason(&self) -> &'static str {
        match &self.result {
            Ok(_) => "still-verified",
            Err(e) => e.reason(),
        }
    }
}

/// What `VerifyDomain` does with the org's row for the domain.
enum Verification {
    /// A DNS-verified domain: the scheduled re-verification, now.
    Recheck(DomainClaim),
    /// A pending claim (or an operator-verified one with a token): prove it.
    Prove(DomainClaim, ClaimToken),
}

/// The claim's stored token (a DNS-verified row always has one).
fn stored_token(claim: &DomainClaim) -> Result<ClaimToken, AdminError> {
    let token = claim
        .token
        .as_deref()
        .ok_or_else(|| AdminError::DomainNotClaimed(claim.domain.clone()))?;
    ClaimToken::parse(token).map_err(|e| {
        AdminError::Store(StoreError::CorruptData {
            what: "domain claim token",
            detail: e.to_string(),
        })
    })
}

/// A failed re-verification's consequence, in the admin's words.
fn consequence(error: &CheckError, failures: u32, limit: u32, dropped: bool) -> String {
    if dropped {
        format!(
            "after {failures} checks in a row without the record the domain is pending again: \
             it routes no logins and allows no JIT until the record is back and VerifyDomain \
             succeeds"
        )
    } else if error.is_definitive() {
        format!(
            "check {failures} of {limit} in a row without the record: the domain stays \
             verified until {limit}"
        )
    } else {
        format!(
            "a failed lookup says nothing about the record: the domain stays verified \
             ({failures} of {limit} checks in a row without the record)"
        )
    }
}

impl Provisioner {
    /// Re-verifies DNS-verified domains every `checks.interval`, and drops one back to
    /// pending after `checks.failures_to_unverify` checks in a row without its record.
    #[must_use]
    pub fn with_domain_checks(mut self, checks: DomainChecks) -> Self {
        self.domain_checks = checks;
        self
    }

    /// Refuses a domain no organization may hold (public suffix, free mail), and a new one
    /// past [`MAX_DOMAINS_PER_ORG`].
    async fn check_new_domain(
        &self,
        tx: &Transaction,
        org: OrgId,
        domain: &str,
    ) -> Result<(), AdminError> {
        check_claimable(domain).map_err(AdminError::DomainRefused)?;
        if tx.domain_claim(org, domain).await?.is_none()
            && tx.count_domain_claims(org).await? >= MAX_DOMAINS_PER_ORG
        {
            return Err(AdminError::DomainLimit(MAX_DOMAINS_PER_ORG));
        }
        Ok(())
    }

    /// Claims `domain` for the org: a pending claim with a new random token, to be published
    /// as the TXT record `_sso-verification.<domain>` = `sso-verification=<token>` and proven
    /// with [`verify_domain`](Self::verify_domain). Claiming again returns the claim as it is
    /// (same token). Other orgs' claims, pending or verified, do not stop a claim; only one
    /// org can then prove it. Refused: `domain-public-suffix`, `domain-free-mail`,
    /// `domain-limit-reached`, `invalid-input`.
    pub async fn claim_domain(
        &self,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<DomainClaim, AdminError> {
        self.audited(Some(org), kinds::DOMAIN_CLAIMED, actor, now, async |tx| {
            let fail = |e: AdminError| (e, json!({ "domain": domain }));
            let domain = normalize_domain(domain).map_err(|e| fail(e.into()))?;
            self.check_new_domain(tx, org, &domain)
                .await
                .map_err(fail)?;
            let token =
                ClaimToken::generate().map_err(|e| fail(AdminError::Internal(e.to_string())))?;
            let claimed = tx
                .claim_domain(org, &domain, token.as_str(), now)
                .await
                .map_err(|e| fail(e.into()))?;
            let reason = if claimed.created {
                "claimed"
            } else {
                "already-claimed"
            };
            let detail = json!({
                "domain": domain,
                "state": claimed.record.state.code(),
                "record_name": record_name(&domain),
            });
            Ok(Audited::new(claimed.record, org, reason, detail))
        })
        .await
    }

    /// Looks the claim's TXT record up with `lookup` and, when it carries the claim's token,
    /// marks the domain verified by DNS (re-verified every [`DomainChecks::interval`] from
    /// then on). On a domain already verified by DNS, runs its re-verification now (see
    /// [`recheck_due_domains`](Self::recheck_due_domains)); on one the operator vouched for,
    /// a proof turns it into a DNS-verified one and a failure leaves it as it is.
    ///
    /// Refused: `domain-not-claimed`, `domain-verified-elsewhere` (another org holds it
    /// verified), `domain-record-missing`, `domain-token-mismatch`, `domain-lookup-failed`,
    /// `domain-lookup-timeout`, `domain-public-suffix`, `domain-free-mail`. Every attempt is
    /// an audit event.
    pub async fn verify_domain(
        &self,
        lookup: &TxtLookup,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<DomainClaim, AdminError> {
        // The reads and the lookup come before the transaction: none waits on the network.
        let checked = match self.prepare_verification(org, domain).await {
            Ok(Verification::Recheck(claim)) => {
                return self.recheck_domain(lookup, actor, claim, now).await;
            }
            Ok(Verification::Prove(claim, token)) => {
                let operator = claim.is_verified();
                match lookup.check(&claim.domain, &token).await {
                    Ok(()) => Ok(claim),
                    Err(error) => Err(AdminError::DomainCheck {
                        error,
                        consequence: operator
                            .then(|| "the domain stays verified on the operator's word".to_owned()),
                    }),
                }
            }
            Err(e) => Err(e),
        };
        let asked = json!({ "domain": domain, "record_name": record_name(domain) });
        let next = now + self.domain_checks.interval;
        self.audited(Some(org), kinds::DOMAIN_VERIFIED, actor, now, async |tx| {
            let claim = checked.map_err(|e| (e, asked.clone()))?;
            let verified = tx
                .verify_domain_claim(org, &claim.domain, VerifiedBy::Dns, Some(next), now)
                .await
                .map_err(|e| match e {
                    // Another org proved it between the read and this write.
                    StoreError::Conflict { .. } => {
                        AdminError::DomainVerifiedElsewhere(claim.domain.clone())
                    }
                    other => other.into(),
                })
                .map_err(|e| (e, asked.clone()))?;
            let detail = json!({
                "domain": verified.domain,
                "record_name": record_name(&verified.domain),
                "verified_by": VerifiedBy::Dns.code(),
                "previously_verified_by": claim.verified_by.map(VerifiedBy::code),
            });
            Ok(Audited::new(verified, org, "verified", detail))
        })
        .await
    }

    /// What `verify_domain` is asked to do, from the org's row for the domain.
    async fn prepare_verification(
        &self,
        org: OrgId,
        domain: &str,
    ) -> Result<Verification, AdminError> {
        let domain = normalize_domain(domain)?;
        check_claimable(&domain).map_err(AdminError::DomainRefused)?;
        let claim = self
            .store
            .domain_claim(org, &domain)
            .await?
            .ok_or_else(|| AdminError::DomainNotClaimed(domain.clone()))?;
        if claim.is_verified() && claim.verified_by == Some(VerifiedBy::Dns) {
            return Ok(Verification::Recheck(claim));
        }
        let token = stored_token(&claim)?;
        if !claim.is_verified() {
            if let Some(owner) = self.store.org_for_domain(&domain).await? {
                if owner != org {
                    return Err(AdminError::DomainVerifiedElsewhere(domain));
                }
            }
        }
        Ok(Verification::Prove(claim, token))
    }

    /// Looks a DNS-verified domain's record up again and records what it found, with an audit
    /// event (`domain-rechecked`): found, the failure count goes back to zero; gone (no
    /// record, or not this claim's token), it goes up, and at
    /// [`DomainChecks::failures_to_unverify`] the domain drops back to pending (a
    /// `domain-unverified` event): it no longer routes logins or allows JIT, and the claim
    /// keeps its token so the org can publish the record again and verify. A failed lookup
    /// changes nothing but the record of the check.
    async fn recheck_domain(
        &self,
        lookup: &TxtLookup,
        actor: &str,
        claim: DomainClaim,
        now: OffsetDateTime,
    ) -> Result<DomainClaim, AdminError> {
        let (org, domain) = (claim.org, claim.domain.clone());
        let token = stored_token(&claim)?;
        let result = lookup.check(&domain, &token).await;
        let limit = self.domain_checks.limit();
        let (count, outcome, code) = match &result {
            Ok(()) => (CheckCount::Reset, EventOutcome::Success, "still-verified"),
            Err(e) if e.is_definitive() => {
                (CheckCount::Increment, EventOutcome::Refused, e.reason())
            }
            Err(e) => (CheckCount::Keep, EventOutcome::Failed, e.reason()),
        };
        let next = Some(now + self.domain_checks.interval);
        let tx = self.store.begin().await?;
        let after = tx
            .record_domain_check(org, &domain, code, count, next, now)
            .await?;
        let dropped = count == CheckCount::Increment
            && after.check_failures >= limit
            && tx.unverify_domain(org, &domain, limit).await?;
        let detail = json!({
            "domain": domain,
            "record_name": record_name(&domain),
            "error": result.as_ref().err().map(ToString::to_string),
            "failures_in_a_row": after.check_failures,
            "failures_to_unverify": limit,
            "still_verified": !dropped,
        });
        let event = NewEvent::new(org, kinds::DOMAIN_RECHECKED, outcome, code)
            .actor(actor)
            .detail(detail);
        tx.record_event(&event, now).await?;
        if dropped {
            let event = NewEvent::new(
                org,
                kinds::DOMAIN_UNVERIFIED,
                EventOutcome::Success,
                "dropped-to-pending",
            )
            .actor(actor)
            .detail(unverified_detail(&domain, code, after.check_failures));
            tx.record_event(&event, now).await?;
        }
        tx.commit().await?;
        match result {
            Ok(()) => Ok(after),
            Err(error) => {
                let consequence = consequence(&error, after.check_failures, limit, dropped);
                Err(AdminError::DomainCheck {
                    error,
                    consequence: Some(consequence),
                })
            }
        }
    }

    /// Runs the re-verifications due at `now` (at most 50 per pass, the longest overdue
    /// first), each claimed in the database first so that servers sharing it never run the
    /// same one twice. Returns what each found; `Err` only when the database fails before any
    /// check runs.
    pub async fn recheck_due_domains(
        &self,
        lookup: &TxtLookup,
        now: OffsetDateTime,
    ) -> Result<Vec<DomainRecheck>, AdminError> {
        let due = self.store.due_domain_checks(now, RECHECK_BATCH).await?;
        let next = now + self.domain_checks.interval;
        let mut done = Vec::with_capacity(due.len());
        for check in due {
            let result = match self.store.claim_domain_check(&check, next).await {
                Ok(false) => continue,
                Ok(true) => match self.store.domain_claim(check.org, &check.domain).await {
                    Ok(Some(claim))
                        if claim.is_verified() && claim.verified_by == Some(VerifiedBy::Dns) =>
                    {
                        self.recheck_domain(lookup, DOMAIN_CHECK_ACTOR, claim, now)
                            .await
                    }
                    // Removed or changed between listing and running.
                    Ok(_) => continue,
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            };
            done.push(DomainRecheck {
                org: check.org,
                domain: check.domain,
                result,
            });
        }
        Ok(done)
    }

    /// The operator's path: makes `domain` verified for the org at once on the operator's
    /// word (`verified_by` = operator; never re-checked by DNS), audited as `domain-added`.
    /// Refused like a claim (`domain-public-suffix`, `domain-free-mail`,
    /// `domain-limit-reached`), and `conflict` when another org holds it verified. A pending
    /// claim of the org becomes verified; other orgs' pending claims stay pending (they can no
    /// longer be proven while this org holds the domain).
    pub async fn add_verified_domain(
        &self,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<String, AdminError> {
        self.audited(Some(org), kinds::DOMAIN_ADDED, actor, now, async |tx| {
            let fail = |e: AdminError| (e, json!({ "domain": domain }));
            let domain = normalize_domain(domain).map_err(|e| fail(e.into()))?;
            self.check_new_domain(tx, org, &domain)
                .await
                .map_err(fail)?;
            let added = tx
                .add_verified_domain(org, &domain, now)
                .await
                .map_err(|e| fail(e.into()))?;
            let reason = if added.created {
                "added"
            } else {
                "already-verified"
            };
            let detail = json!({
                "domain": added.record,
                "verified_by": VerifiedBy::Operator.code(),
            });
            Ok(Audited::new(added.record, org, reason, detail))
        })
        .await
    }

    /// Removes the org's claim on a domain, pending or verified; `false` when it had none.
    /// Existing members keep their membership; logins stop routing there and JIT stops
    /// creating members in that domain.
    pub async fn remove_verified_domain(
        &self,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AdminError> {
        self.audited(Some(org), kinds::DOMAIN_REMOVED, actor, now, async |tx| {
            let removed = tx
                .remove_verified_domain(org, domain)
                .await
                .map_err(|e| (e.into(), json!({ "domain": domain })))?;
            let reason = if removed { "removed" } else { "not-verified" };
            Ok(Audited::new(
                removed,
                org,
                reason,
                json!({ "domain": domain }),
            ))
        })
        .await
    }

    /// The org's claims and verified domains, sorted by domain (at most
    /// [`MAX_DOMAINS_PER_ORG`]); `not-found` for an unknown org.
    pub async fn list_domains(&self, org: OrgId) -> Result<Vec<DomainClaim>, StoreError> {
        self.store.org(org).await?;
        self.store.domain_claims(org).await
    }
}

/// The detail of a `domain-unverified` event.
fn unverified_detail(domain: &str, reason: &str, failures: u32) -> Value {
    json!({
        "domain": domain,
        "record_name": record_name(domain),
        "last_check": reason,
        "failures_in_a_row": failures,
        "state": "pending",
    })
}
