//! Setup links to the self-serve setup portal, stored by the hash of their secret like org
//! credentials, with the abilities they grant as a short list of codes.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::entity::setup_link;
use crate::error::StoreError;
use crate::ids::{OrgId, SetupLinkId};
use crate::instant::{from_db, to_db};
use crate::store::Store;

/// The most setup links [`Store::list_setup_links`] returns, newest first.
pub const MAX_SETUP_LINKS_LISTED: u64 = 1000;

/// The longest ability list stored, in bytes: a handful of short codes.
const MAX_ABILITIES: usize = 200;

/// A setup link to store. The caller hashes the secret; the store never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSetupLink {
    /// The only organization it may set up.
    pub org: OrgId,
    /// Lower-case hex SHA-256 of the secret part (64 characters).
    pub secret_hash: String,
    /// What it may do: ability codes (`a-z` and `-`) joined by commas, at least one.
    pub abilities: String,
    /// Who creates it.
    pub created_by: String,
    /// From this instant on it is refused; must be after `now`.
    pub expires_at: OffsetDateTime,
}

/// A setup link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetupLinkRecord {
    /// Its id, also the id part of the link's token.
    pub id: SetupLinkId,
    /// The only organization it may set up.
    pub org: OrgId,
    /// Lower-case hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// Ability codes joined by commas.
    pub abilities: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<setup_link::Model> for SetupLinkRecord {
    fn from(m: setup_link::Model) -> Self {
        Self {
            id: SetupLinkId::new(m.id),
            org: OrgId::new(m.org_id),
            secret_hash: m.secret_hash,
            abilities: m.abilities,
            created_by: m.created_by,
            created_at: from_db(m.created_at),
            expires_at: from_db(m.expires_at),
            revoked_at: m.revoked_at.map(from_db),
        }
    }
}

fn check_link(link: &NewSetupLink, now: OffsetDateTime) -> Result<(), StoreError> {
    let hex = link
        .secret_hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if link.secret_hash.len() != 64 || !hex {
        return Err(StoreError::invalid(
            "setup link hash",
            "not 64 lower-case hex digits",
        ));
    }
    let codes_ok = link
        .abilities
        .split(',')
        .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    if link.abilities.len() > MAX_ABILITIES || !codes_ok {
        return Err(StoreError::invalid(
            "setup link abilities",
            "not a comma-separated list of ability codes",
        ));
    }
    if link.expires_at <= now {
        return Err(StoreError::invalid(
            "expiry",
            format!("{} is not after now ({now})", link.expires_at),
        ));
    }
    Ok(())
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores a setup link. An unknown org is [`StoreError::NotFound`]; a malformed hash or
    /// ability list, or an expiry not after `now`, is [`StoreError::InvalidInput`].
    pub async fn create_setup_link(
        &self,
        link: &NewSetupLink,
        now: OffsetDateTime,
    ) -> Result<SetupLinkRecord, StoreError> {
        check_link(link, now)?;
        let created_at = to_db(now)?;
        let expires_at = to_db(link.expires_at)?;
        let inserted = setup_link::Entity::insert(setup_link::ActiveModel {
            id: NotSet,
            org_id: Set(link.org.get()),
            secret_hash: Set(link.secret_hash.clone()),
            abilities: Set(link.abilities.clone()),
            created_by: Set(link.created_by.clone()),
            created_at: Set(created_at),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
        })
        .exec(&self.conn)
        .await
        .map_err(StoreError::on_write("setup link", "organization"))?;
        Ok(SetupLinkRecord {
            id: SetupLinkId::new(inserted.last_insert_id),
            org: link.org,
            secret_hash: link.secret_hash.clone(),
            abilities: link.abilities.clone(),
            created_by: link.created_by.clone(),
            created_at: from_db(created_at),
            expires_at: from_db(expires_at),
            revoked_at: None,
        })
    }

    /// The setup link with this id, whatever its state (`None` when there is none).
    pub async fn setup_link(&self, id: SetupLinkId) -> Result<Option<SetupLinkRecord>, StoreError> {
        Ok(setup_link::Entity::find_by_id(id.get())
            .one(&self.conn)
            .await?
            .map(SetupLinkRecord::from))
    }

    /// The org's setup links, revoked and expired ones included, newest first; at most
    /// [`MAX_SETUP_LINKS_LISTED`].
    pub async fn list_setup_links(&self, org: OrgId) -> Result<Vec<SetupLinkRecord>, StoreError> {
        Ok(setup_link::Entity::find()
            .filter(setup_link::Column::OrgId.eq(org.get()))
            .order_by_desc(setup_link::Column::Id)
            .limit(MAX_SETUP_LINKS_LISTED)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(SetupLinkRecord::from)
            .collect())
    }

    /// Revokes the org's setup link `id` at `now`, once: `true` when this call revoked it,
    /// `false` when it already was (the record keeps the first revocation time). A link of
    /// another org is [`StoreError::NotFound`], like one that does not exist.
    pub async fn revoke_setup_link(
        &self,
        org: OrgId,
        id: SetupLinkId,
        now: OffsetDateTime,
    ) -> Result<(SetupLinkRecord, bool), StoreError> {
        let revoked = setup_link::Entity::update_many()
            .col_expr(setup_link::Column::RevokedAt, Expr::value(to_db(now)?))
            .filter(setup_link::Column::Id.eq(id.get()))
            .filter(setup_link::Column::OrgId.eq(org.get()))
            .filter(setup_link::Column::RevokedAt.is_null())
            .exec_with_returning(&self.conn)
            .await?;
        if let Some(model) = revoked.into_iter().next() {
            return Ok((model.into(), true));
        }
        let found = setup_link::Entity::find_by_id(id.get())
            .filter(setup_link::Column::OrgId.eq(org.get()))
            .one(&self.conn)
            .await?
            .ok_or_else(|| StoreError::not_found("setup link"))?;
        Ok((found.into(), false))
    }
}
