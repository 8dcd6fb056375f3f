//! Setup links: a URL that lets a customer's IT admin set up their own org's SSO in the setup
//! portal, and nothing else.
//!
//! A link's token reads `sso_setup_<id>_<secret>`, built like an org credential's (256 random
//! bits, only their SHA-256 stored, compared in constant time), and it is handed out inside a
//! URL on the service's HTTP listener under [`SETUP_PATH`] and the org's id, so the link names
//! its org twice: a token presented on another org's pages is refused. Each link grants a set
//! of [`SetupAbility`]s, expires ([`DEFAULT_SETUP_LINK_TTL`] unless asked otherwise) and can
//! be revoked; creating and revoking one are audited, and every change made through one names
//! it as the actor (`setup-link:<id>`).

use std::fmt;

use serde_json::json;
use sso_store::{NewSetupLink, OrgId, SetupLinkId, SetupLinkRecord, StoreError};
use time::{Duration, OffsetDateTime};

use super::credentials::{new_secret, parse_bearer, rfc3339, same_hash, secret_hash};
use super::{Audited, kinds};
use crate::error::{AdminError, SetupLinkError};
use crate::login::Provisioner;

/// How every setup link token begins.
pub const SETUP_LINK_PREFIX: &str = "sso_setup_";

/// Where the setup portal is served on the HTTP listener: a link is
/// `<public base URL>/setup/<org>/link/<token>`.
pub const SETUP_PATH: &str = "/setup";

/// How long a link lasts when its creator does not say: a working day and a night.
pub const DEFAULT_SETUP_LINK_TTL: Duration = Duration::hours(24);

/// The longest a setup link may last.
pub const MAX_SETUP_LINK_TTL: Duration = Duration::days(30);

/// The shortest a setup link may last (short ones are for tests).
pub const MIN_SETUP_LINK_TTL: Duration = Duration::seconds(1);

/// One thing a setup link may let its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetupAbility {
    /// Give the IdP's metadata (file, XML or URL, and refresh it), run test logins and switch
    /// SSO sign-in on or off (`connection`).
    Connection,
    /// Claim and verify email domains (`domains`).
    Domains,
    /// Just-in-time provisioning: on or off, default role and projects (`users`).
    Users,
    /// Require SSO, under the lockout protection (`require-sso`).
    RequireSso,
    /// Read the login traces (`sign-ins`).
    SignIns,
}

impl SetupAbility {
    /// Every ability, in the order the portal's steps use them.
    pub const ALL: [SetupAbility; 5] = [
        Self::Connection,
        Self::Domains,
        Self::Users,
        Self::RequireSso,
        Self::SignIns,
    ];

    /// Stable code, as stored and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Domains => "domains",
            Self::Users => "users",
            Self::RequireSso => "require-sso",
            Self::SignIns => "sign-ins",
        }
    }

    /// The ability of a code, `None` for an unknown one.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    fn bit(self) -> u8 {
        match self {
            Self::Connection => 1,
            Self::Domains => 2,
            Self::Users => 4,
            Self::RequireSso => 8,
            Self::SignIns => 16,
        }
    }
}

impl fmt::Display for SetupAbility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A set of abilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetupAbilities(u8);

impl SetupAbilities {
    /// Every ability: what a link gets when its creator names none.
    pub fn all() -> Self {
        Self::ALL_BITS
    }

    const ALL_BITS: Self = Self(31);

    /// These abilities; none named means all.
    pub fn of(abilities: &[SetupAbility]) -> Self {
        if abilities.is_empty() {
            return Self::all();
        }
        Self(abilities.iter().fold(0, |bits, a| bits | a.bit()))
    }

    /// The abilities of these codes (none means all); an unknown code is `invalid-input`.
    pub fn from_codes<S: AsRef<str>>(codes: &[S]) -> Result<Self, AdminError> {
        let abilities = codes
            .iter()
            .map(|c| {
                SetupAbility::from_code(c.as_ref().trim()).ok_or_else(|| {
                    AdminError::Store(StoreError::InvalidInput {
                        what: "setup link ability",
                        detail: format!(
                            "{:?} is none of {}",
                            c.as_ref(),
                            Self::all().codes().join(", ")
                        ),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::of(&abilities))
    }

    /// Whether `ability` is in the set.
    pub fn contains(self, ability: SetupAbility) -> bool {
        self.0 & ability.bit() != 0
    }

    /// The codes of the set, in [`SetupAbility::ALL`]'s order.
    pub fn codes(self) -> Vec<&'static str> {
        SetupAbility::ALL
            .into_iter()
            .filter(|a| self.contains(*a))
            .map(SetupAbility::code)
            .collect()
    }

    /// The stored set, read leniently: unknown codes (from a later version) grant nothing.
    fn from_stored(stored: &str) -> Self {
        Self(
            stored
                .split(',')
                .filter_map(SetupAbility::from_code)
                .fold(0, |bits, a| bits | a.bit()),
        )
    }
}

/// A setup link as the org's admins see it: never its secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetupLink {
    /// Its id, also the id part of its token.
    pub id: SetupLinkId,
    /// The only org it may set up.
    pub org: OrgId,
    /// What it may do.
    pub abilities: SetupAbilities,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<SetupLinkRecord> for SetupLink {
    fn from(r: SetupLinkRecord) -> Self {
        Self {
            id: r.id,
            org: r.org,
            abilities: SetupAbilities::from_stored(&r.abilities),
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A link just created, with its URL: the only time the secret exists outside its holder.
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedSetupLink {
    /// The link as stored.
    pub link: SetupLink,
    url: String,
}

impl IssuedSetupLink {
    /// The URL to hand to the org's IT admin.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for IssuedSetupLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedSetupLink")
            .field("link", &self.link)
            .field("url", &"<redacted>")
            .finish()
    }
}

/// What an accepted setup link lets its holder do: the abilities on `org`, until
/// `expires_at`, named in audit events as the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetupLinkCaller {
    /// The link presented.
    pub link: SetupLinkId,
    /// The only org it may set up.
    pub org: OrgId,
    /// What it may do.
    pub abilities: SetupAbilities,
    /// From this instant on it is refused.
    pub expires_at: OffsetDateTime,
}

impl SetupLinkCaller {
    /// The audit actor of a change made through it: `setup-link:<id>`.
    pub fn actor(&self) -> String {
        format!("setup-link:{}", self.link)
    }

    /// `Ok` when the link grants `ability`, else `setup-link-not-allowed`.
    pub fn require(&self, ability: SetupAbility) -> Result<(), SetupLinkError> {
        if self.abilities.contains(ability) {
            Ok(())
        } else {
            Err(SetupLinkError::NotAllowed(ability))
        }
    }
}

/// The id and secret parts of a presented token, when it has the shape of one.
fn parse(token: &str) -> Option<(SetupLinkId, &str)> {
    parse_bearer(token, SETUP_LINK_PREFIX)
}

/// The TTL a creator asks for: `None` is the default, the rest must lie within the bounds.
fn ttl(asked: Option<Duration>) -> Result<Duration, AdminError> {
    let ttl = asked.unwrap_or(DEFAULT_SETUP_LINK_TTL);
    if ttl < MIN_SETUP_LINK_TTL || ttl > MAX_SETUP_LINK_TTL {
        return Err(AdminError::Store(StoreError::InvalidInput {
            what: "setup link ttl",
            detail: format!(
                "{} seconds; from {} to {}",
                ttl.whole_seconds(),
                MIN_SETUP_LINK_TTL.whole_seconds(),
                MAX_SETUP_LINK_TTL.whole_seconds()
            ),
        }));
    }
    Ok(ttl)
}

impl Provisioner {
    /// Creates a setup link for `org` granting `abilities`, lasting `ttl`
    /// ([`DEFAULT_SETUP_LINK_TTL`] when `None`; [`MIN_SETUP_LINK_TTL`] to
    /// [`MAX_SETUP_LINK_TTL`]). The URL is in the result and nowhere else; the audit event
    /// names the link, never its secret.
    pub async fn create_setup_link(
        &self,
        actor: &str,
        org: OrgId,
        abilities: SetupAbilities,
        ttl_asked: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<IssuedSetupLink, AdminError> {
        let asked = json!({
            "abilities": abilities.codes(),
            "ttl_seconds": ttl_asked.map(|t| t.whole_seconds()),
        });
        self.audited(
            Some(org),
            kinds::SETUP_LINK_CREATED,
            actor,
            now,
            async |tx| {
                let fail = |e: AdminError| (e, asked.clone());
                let ttl = ttl(ttl_asked).map_err(fail)?;
                let secret = new_secret().map_err(fail)?;
                let expires_at = now
                    .checked_add(ttl)
                    .ok_or_else(|| fail(AdminError::Internal("expiry out of range".to_owned())))?;
                let new = NewSetupLink {
                    org,
                    secret_hash: secret_hash(&secret),
                    abilities: abilities.codes().join(","),
                    created_by: actor.to_owned(),
                    expires_at,
                };
                let record = tx
                    .create_setup_link(&new, now)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let detail = json!({
                    "setup_link": record.id.get(),
                    "abilities": abilities.codes(),
                    "expires_at": rfc3339(record.expires_at),
                });
                let url = format!(
                    "{base}{SETUP_PATH}/{org}/link/{SETUP_LINK_PREFIX}{id}_{secret}",
                    base = self.base_url.trim_end_matches('/'),
                    id = record.id,
                );
                let issued = IssuedSetupLink {
                    link: record.into(),
                    url,
                };
                Ok(Audited::new(issued, org, "created", detail))
            },
        )
        .await
    }

    /// The org's setup links, newest first, revoked and expired ones included (at most
    /// `sso_store::MAX_SETUP_LINKS_LISTED`); `not-found` when the org does not exist.
    pub async fn list_setup_links(&self, org: OrgId) -> Result<Vec<SetupLink>, AdminError> {
        self.store.org(org).await?;
        Ok(self
            .store
            .list_setup_links(org)
            .await?
            .into_iter()
            .map(SetupLink::from)
            .collect())
    }

    /// Revokes the org's setup link `id`: from now on it is refused, sessions opened with it
    /// included. Revoking it again changes nothing (reason `already-revoked`); a link of
    /// another org is `not-found`.
    pub async fn revoke_setup_link(
        &self,
        actor: &str,
        org: OrgId,
        id: SetupLinkId,
        now: OffsetDateTime,
    ) -> Result<SetupLink, AdminError> {
        let asked = json!({ "setup_link": id.get() });
        self.audited(
            Some(org),
            kinds::SETUP_LINK_REVOKED,
            actor,
            now,
            async |tx| {
                let (record, revoked) = tx
                    .revoke_setup_link(org, id, now)
                    .await
                    .map_err(|e| (e.into(), asked.clone()))?;
                let reason = if revoked {
                    "revoked"
                } else {
                    "already-revoked"
                };
                let detail = json!({
                    "setup_link": record.id.get(),
                    "revoked_at": record.revoked_at.and_then(rfc3339),
                });
                Ok(Audited::new(record.into(), org, reason, detail))
            },
        )
        .await
    }

    /// Checks a setup link token presented on `org`'s pages at `now`: what it may do there,
    /// or why not. The secret is compared before anything about the link is told, so only
    /// its holder learns that it expired, was revoked or belongs to another org.
    pub async fn authenticate_setup_link(
        &self,
        token: &str,
        org: OrgId,
        now: OffsetDateTime,
    ) -> Result<SetupLinkCaller, SetupLinkError> {
        let (id, secret) = parse(token).ok_or(SetupLinkError::Unknown)?;
        let record = self
            .store
            .setup_link(id)
            .await?
            .ok_or(SetupLinkError::Unknown)?;
        if !same_hash(&record.secret_hash, &secret_hash(secret)) {
            return Err(SetupLinkError::Unknown);
        }
        if record.revoked_at.is_some() {
            return Err(SetupLinkError::Revoked);
        }
        if record.expires_at <= now {
            return Err(SetupLinkError::Expired);
        }
        if record.org != org {
            return Err(SetupLinkError::WrongOrg);
        }
        Ok(SetupLinkCaller {
            link: record.id,
            org: record.org,
            abilities: SetupAbilities::from_stored(&record.abilities),
            expires_at: record.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_presented_tokens() {
        assert_eq!(
            parse("sso_setup_7_abc-_d"),
            Some((SetupLinkId::new(7), "abc-_d"))
        );
        for bad in [
            "sso_setup_",
            "sso_setup_7",
            "sso_setup_7_",
            "sso_setup__abc",
            "sso_setup_0_abc",
            "sso_org_7_abc",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse(&format!("sso_setup_1_{}", "a".repeat(100))), None);
    }

    #[test]
    fn abilities_round_trip_and_none_means_all() {
        let some = SetupAbilities::from_codes(&["domains", "sign-ins"]).unwrap();
        assert!(some.contains(SetupAbility::Domains));
        assert!(!some.contains(SetupAbility::RequireSso));
        assert_eq!(some.codes(), ["domains", "sign-ins"]);
        assert_eq!(SetupAbilities::from_stored("domains,sign-ins,later"), some);
        let none: [&str; 0] = [];
        assert_eq!(
            SetupAbilities::from_codes(&none).unwrap(),
            SetupAbilities::all()
        );
        assert_eq!(SetupAbilities::all().codes().len(), SetupAbility::ALL.len());
        let error = SetupAbilities::from_codes(&["domains", "root"]).unwrap_err();
        assert_eq!(error.reason(), "invalid-input");
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(ttl(None).unwrap(), DEFAULT_SETUP_LINK_TTL);
        assert_eq!(ttl(Some(MAX_SETUP_LINK_TTL)).unwrap(), MAX_SETUP_LINK_TTL);
        for bad in [Duration::ZERO, Duration::days(31)] {
            assert_eq!(ttl(Some(bad)).unwrap_err().reason(), "invalid-input");
        }
    }
}
