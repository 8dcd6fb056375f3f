//! Single-use login codes, stored by hash.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryTrait,
};
use serde_json::Value;
use time::OffsetDateTime;

use crate::entity::login_code;
use crate::error::StoreError;
use crate::ids::{OrgId, UserId};
use crate::instant::{from_db, to_db};
use crate::store::Store;
use crate::text_once::TextOnce;

/// A login code to store. The caller hashes the code; the store never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginCode {
    /// Lower-case hex SHA-256 of the code (64 characters).
    pub code_hash: String,
    /// The org signed in to.
    pub org: OrgId,
    /// The user signed in.
    pub user: UserId,
    /// The completed login, as the redeeming caller will receive it.
    pub outcome: Value,
    /// When it stops being redeemable.
    pub expires_at: OffsetDateTime,
}

/// A login code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginCodeRecord {
    /// The org signed in to.
    pub org: OrgId,
    /// The user signed in.
    pub user: UserId,
    /// The completed login.
    pub outcome: Value,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops being redeemable.
    pub expires_at: OffsetDateTime,
    /// When it was redeemed.
    pub redeemed_at: Option<OffsetDateTime>,
}

impl From<login_code::Model> for LoginCodeRecord {
    fn from(m: login_code::Model) -> Self {
        Self {
            org: OrgId::new(m.org_id),
            user: UserId::new(m.user_id),
            outcome: m.outcome,
            created_at: from_db(m.created_at),
            expires_at: from_db(m.expires_at),
            redeemed_at: m.redeemed_at.map(from_db),
        }
    }
}

fn check_hash(code_hash: &str) -> Result<(), StoreError> {
    let hex = code_hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if code_hash.len() != 64 || !hex {
        return Err(StoreError::invalid(
            "login code hash",
            "not 64 lower-case hex digits",
        ));
    }
    Ok(())
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores a login code. A hash already present is a [`StoreError::Conflict`]; an unknown
    /// org or user is [`StoreError::NotFound`].
    pub async fn create_login_code(
        &self,
        code: &NewLoginCode,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        check_hash(&code.code_hash)?;
        if code.expires_at <= now {
            return Err(StoreError::invalid(
                "expiry",
                format!("{} is not after now ({now})", code.expires_at),
            ));
        }
        static INSERT: TextOnce = TextOnce::new();
        let (created_at, expires_at) = (to_db(now)?, to_db(code.expires_at)?);
        let statement = INSERT.statement(
            self.conn.get_database_backend(),
            |backend| {
                login_code::Entity::insert(login_code::ActiveModel {
                    code_hash: Set(code.code_hash.clone()),
                    org_id: Set(code.org.get()),
                    user_id: Set(code.user.get()),
                    outcome: Set(code.outcome.clone()),
                    created_at: Set(created_at),
                    expires_at: Set(expires_at),
                    redeemed_at: Set(None),
                })
                .build(backend)
            },
            vec![
                code.code_hash.as_str().into(),
                code.org.get().into(),
                code.user.get().into(),
                code.outcome.clone().into(),
                created_at.into(),
                expires_at.into(),
                Option::<time::PrimitiveDateTime>::None.into(),
            ],
        );
        self.conn
            .execute(statement)
            .await
            .map_err(StoreError::on_write("login code", "org or user"))?;
        Ok(())
    }

    /// The login code with this hash, redeemed or not (`None` when there is none, or the hash
    /// is malformed).
    pub async fn login_code(&self, code_hash: &str) -> Result<Option<LoginCodeRecord>, StoreError> {
        if check_hash(code_hash).is_err() {
            return Ok(None);
        }
        Ok(login_code::Entity::find_by_id(code_hash)
            .one(&self.conn)
            .await?
            .map(LoginCodeRecord::from))
    }

    /// Redeems the code with this hash, once.
    ///
    /// One conditional `UPDATE`, so two servers redeeming the same code cannot both succeed.
    /// Fails with [`StoreError::Replayed`] when it was redeemed before, [`StoreError::Expired`]
    /// when its time is over, and [`StoreError::NotFound`] when there is no such code (a
    /// malformed hash is not found either: callers pass what they were given).
    pub async fn redeem_login_code(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> Result<LoginCodeRecord, StoreError> {
        if check_hash(code_hash).is_err() {
            return Err(StoreError::not_found("login code"));
        }
        static REDEEM: TextOnce = TextOnce::new();
        let now = to_db(now)?;
        let statement = REDEEM.statement(
            self.conn.get_database_backend(),
            |backend| {
                backend.build(
                    login_code::Entity::update_many()
                        .col_expr(login_code::Column::RedeemedAt, Expr::value(now))
                        .filter(login_code::Column::CodeHash.eq(code_hash))
                        .filter(login_code::Column::RedeemedAt.is_null())
                        .filter(login_code::Column::ExpiresAt.gt(now))
                        .into_query()
                        .returning_all(),
                )
            },
            vec![now.into(), code_hash.into(), now.into()],
        );
        if let Some(row) = self.conn.query_one(statement).await? {
            return Ok(login_code::Model::from_query_result(&row, "")?.into());
        }
        match login_code::Entity::find_by_id(code_hash)
            .one(&self.conn)
            .await?
        {
            Some(found) if found.redeemed_at.is_some() => {
                Err(StoreError::Replayed { what: "login code" })
            }
            Some(_) => Err(StoreError::Expired { what: "login code" }),
            None => Err(StoreError::not_found("login code")),
        }
    }
}
