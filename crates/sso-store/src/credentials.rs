//! Org-scoped admin credentials, stored by the hash of their secret.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::entity::org_credential;
use crate::error::StoreError;
use crate::ids::{OrgCredentialId, OrgId};
use crate::instant::{from_db, to_db};
use crate::store::Store;

/// The longest description a credential may carry, in characters.
pub const MAX_CREDENTIAL_DESCRIPTION: usize = 200;

/// The most credentials [`Store::list_org_credentials`] returns, newest first.
pub const MAX_CREDENTIALS_LISTED: u64 = 1000;

/// What a credential may do. Each kind is accepted by its own door only: an admin credential
/// is never a SCIM token, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// AdminService, on its org.
    Admin,
    /// The org's SCIM endpoint.
    Scim,
}

impl CredentialKind {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Scim => "scim",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::Admin, Self::Scim]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// A credential to store. The caller hashes the secret; the store never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrgCredential {
    /// The only organization it may act on.
    pub org: OrgId,
    /// Lower-case hex SHA-256 of the secret part (64 characters).
    pub secret_hash: String,
    /// What it is for: 1 to [`MAX_CREDENTIAL_DESCRIPTION`] characters, trimmed.
    pub description: String,
    /// Who creates it.
    pub created_by: String,
    /// From this instant on it is refused; must be after `now`.
    pub expires_at: OffsetDateTime,
    /// What it may do.
    pub kind: CredentialKind,
}

/// A credential as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgCredentialRecord {
    /// Its id, also the id part of the presented credential.
    pub id: OrgCredentialId,
    /// The only organization it may act on.
    pub org: OrgId,
    /// Lower-case hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// What it is for.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// What it may do.
    pub kind: CredentialKind,
}

impl TryFrom<org_credential::Model> for OrgCredentialRecord {
    type Error = StoreError;

    fn try_from(m: org_credential::Model) -> Result<Self, StoreError> {
        let kind = CredentialKind::from_code(&m.kind).ok_or_else(|| {
            StoreError::corrupt("credential kind", format!("unknown code {:?}", m.kind))
        })?;
        Ok(Self {
            kind,
            id: OrgCredentialId::new(m.id),
            org: OrgId::new(m.org_id),
            secret_hash: m.secret_hash,
            description: m.description,
            created_by: m.created_by,
            created_at: from_db(m.created_at),
            expires_at: from_db(m.expires_at),
            revoked_at: m.revoked_at.map(from_db),
        })
    }
}

fn check_hash(hash: &str) -> Result<(), StoreError> {
    let hex = hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hash.len() != 64 || !hex {
        return Err(StoreError::invalid(
            "credential hash",
            "not 64 lower-case hex digits",
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<&str, StoreError> {
    let description = description.trim();
    let length = description.chars().count();
    if length == 0 {
        return Err(StoreError::invalid(
            "credential description",
            "say what the credential is for",
        ));
    }
    if length > MAX_CREDENTIAL_DESCRIPTION {
        return Err(StoreError::invalid(
            "credential description",
            format!("{length} characters; at most {MAX_CREDENTIAL_DESCRIPTION}"),
        ));
    }
    Ok(description)
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores a credential. An unknown org is [`StoreError::NotFound`]; an empty or overlong
    /// description, a malformed hash or an expiry not after `now` is
    /// [`StoreError::InvalidInput`].
    pub async fn create_org_credential(
        &self,
        credential: &NewOrgCredential,
        now: OffsetDateTime,
    ) -> Result<OrgCredentialRecord, StoreError> {
        check_hash(&credential.secret_hash)?;
        let description = check_description(&credential.description)?;
        if credential.expires_at <= now {
            return Err(StoreError::invalid(
                "expiry",
                format!("{} is not after now ({now})", credential.expires_at),
            ));
        }
        let created_at = to_db(now)?;
        let expires_at = to_db(credential.expires_at)?;
        let inserted = org_credential::Entity::insert(org_credential::ActiveModel {
            id: NotSet,
            org_id: Set(credential.org.get()),
            secret_hash: Set(credential.secret_hash.clone()),
            description: Set(description.to_owned()),
            created_by: Set(credential.created_by.clone()),
            created_at: Set(created_at),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            kind: Set(credential.kind.code().to_owned()),
        })
        .exec(&self.conn)
        .await
        .map_err(StoreError::on_write("credential", "organization"))?;
        Ok(OrgCredentialRecord {
            id: OrgCredentialId::new(inserted.last_insert_id),
            org: credential.org,
            secret_hash: credential.secret_hash.clone(),
            description: description.to_owned(),
            created_by: credential.created_by.clone(),
            created_at: from_db(created_at),
            expires_at: from_db(expires_at),
            revoked_at: None,
            kind: credential.kind,
        })
    }

    /// The credential with this id, whatever its state (`None` when there is none).
    pub async fn org_credential(
        &self,
        id: OrgCredentialId,
    ) -> Result<Option<OrgCredentialRecord>, StoreError> {
        org_credential::Entity::find_by_id(id.get())
            .one(&self.conn)
            .await?
            .map(OrgCredentialRecord::try_from)
            .transpose()
    }

    /// The org's credentials of `kind`, revoked and expired ones included, newest first; at
    /// most [`MAX_CREDENTIALS_LISTED`].
    pub async fn list_org_credentials(
        &self,
        org: OrgId,
        kind: CredentialKind,
    ) -> Result<Vec<OrgCredentialRecord>, StoreError> {
        org_credential::Entity::find()
            .filter(org_credential::Column::OrgId.eq(org.get()))
            .filter(org_credential::Column::Kind.eq(kind.code()))
            .order_by_desc(org_credential::Column::Id)
            .limit(MAX_CREDENTIALS_LISTED)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(OrgCredentialRecord::try_from)
            .collect()
    }

    /// Revokes the org's credential `id` of `kind` at `now`, once: `true` when this call
    /// revoked it, `false` when it already was (the record keeps the first revocation time). A
    /// credential of another org or another kind is [`StoreError::NotFound`], like one that
    /// does not exist.
    pub async fn revoke_org_credential(
        &self,
        org: OrgId,
        id: OrgCredentialId,
        kind: CredentialKind,
        now: OffsetDateTime,
    ) -> Result<(OrgCredentialRecord, bool), StoreError> {
        let revoked = org_credential::Entity::update_many()
            .col_expr(org_credential::Column::RevokedAt, Expr::value(to_db(now)?))
            .filter(org_credential::Column::Id.eq(id.get()))
            .filter(org_credential::Column::OrgId.eq(org.get()))
            .filter(org_credential::Column::Kind.eq(kind.code()))
            .filter(org_credential::Column::RevokedAt.is_null())
            .exec_with_returning(&self.conn)
            .await?;
        if let Some(model) = revoked.into_iter().next() {
            return Ok((model.try_into()?, true));
        }
        let found = org_credential::Entity::find_by_id(id.get())
            .filter(org_credential::Column::OrgId.eq(org.get()))
            .filter(org_credential::Column::Kind.eq(kind.code()))
            .one(&self.conn)
            .await?
            .ok_or_else(|| StoreError::not_found("credential"))?;
        Ok((found.try_into()?, false))
    }
}
