//! The SCIM endpoint's storage: `sso-scim`'s [`Backend`] over the [`Provisioner`], so that
//! every SCIM write is one audited transaction with the org's membership rules.

use sso_provisioning::{
    CredentialError, OrgCredentialId, OrgId, Provisioner, ScimCaller, ScimError, ScimGroup,
    ScimGroupInput, ScimLookup, ScimUser, ScimUserId, ScimUserInput,
};
use sso_scim::{
    Backend, BackendError, GroupMember, GroupWrite, Lookup, StoredGroup, StoredUser, Tenant,
    UserWrite,
};
use time::OffsetDateTime;

/// The provisioner as SCIM storage.
#[derive(Debug, Clone)]
pub struct ScimBackend {
    provisioner: Provisioner,
}

impl ScimBackend {
    /// Storage over `provisioner`.
    pub fn new(provisioner: Provisioner) -> Self {
        Self { provisioner }
    }
}

/// The actor prefix of a SCIM token's changes; the tenant carries the token's id in it.
const ACTOR_PREFIX: &str = "scim-token:";

/// The caller a tenant stands for (made by [`ScimBackend::authenticate`], so it parses).
fn caller(tenant: &Tenant) -> Result<ScimCaller, BackendError> {
    let org = tenant
        .org
        .parse::<OrgId>()
        .map_err(|_| BackendError::Unauthorized)?;
    let token = tenant
        .actor
        .strip_prefix(ACTOR_PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
        .map(OrgCredentialId::new)
        .ok_or(BackendError::Unauthorized)?;
    Ok(ScimCaller { token, org })
}

fn org(tenant: &Tenant) -> Result<OrgId, BackendError> {
    caller(tenant).map(|c| c.org)
}

fn refused(error: ScimError) -> BackendError {
    match error {
        ScimError::NotFound => BackendError::NotFound,
        ScimError::Uniqueness(_) => BackendError::Uniqueness,
        ScimError::VersionMismatch => BackendError::VersionMismatch,
        ScimError::InvalidValue { reason, detail } => BackendError::InvalidValue { reason, detail },
        ScimError::TooMany => BackendError::TooMany,
        ScimError::Store(e) if e.is_infrastructure() => BackendError::Internal(e.to_string()),
        ScimError::Store(e) => BackendError::InvalidValue {
            reason: e.reason(),
            detail: e.to_string(),
        },
        other => BackendError::Internal(other.to_string()),
    }
}

/// A version the caller names, as stored (one that cannot be stored matches nothing).
fn expected(version: Option<u64>) -> Result<Option<i64>, BackendError> {
    version
        .map(|v| i64::try_from(v).map_err(|_| BackendError::VersionMismatch))
        .transpose()
}

fn version(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn user_input(user: UserWrite) -> ScimUserInput {
    ScimUserInput {
        user_name: user.user_name,
        external_id: user.external_id,
        display_name: user.display_name,
        email: user.email,
        active: user.active,
        document: user.document,
    }
}

fn stored_user(user: ScimUser) -> StoredUser {
    StoredUser {
        id: user.id.to_string(),
        user: UserWrite {
            user_name: user.user_name,
            external_id: user.external_id,
            display_name: user.display_name,
            email: Some(user.email.as_str().to_owned()),
            active: user.active,
            document: user.document,
        },
        version: version(user.version),
        created: user.created_at,
        modified: user.updated_at,
    }
}

fn group_input(group: GroupWrite) -> ScimGroupInput {
    ScimGroupInput {
        display_name: group.display_name,
        external_id: group.external_id,
        members: group.members,
        document: group.document,
    }
}

fn stored_group(group: ScimGroup) -> StoredGroup {
    StoredGroup {
        id: group.id.to_string(),
        display_name: group.display_name,
        external_id: group.external_id,
        members: group
            .members
            .into_iter()
            .map(|m| GroupMember {
                value: m.id.to_string(),
                display: m.user_name,
            })
            .collect(),
        document: group.document,
        version: version(group.version),
        created: group.created_at,
        modified: group.updated_at,
    }
}

/// The store's form of a lookup; `None` when it can match nothing (an id that is not ours).
fn lookup(lookup: &Lookup) -> Option<ScimLookup<'_>> {
    Some(match lookup {
        Lookup::All => ScimLookup::All,
        // User and group ids read alike: positive decimal integers.
        Lookup::Id(id) => ScimLookup::Id(id.parse::<ScimUserId>().ok()?.get()),
        Lookup::Name(name) => ScimLookup::Name(name),
        Lookup::ExternalId(id) => ScimLookup::ExternalId(id),
    })
}

impl Backend for ScimBackend {
    async fn authenticate(&self, org: &str, token: &str) -> Result<Tenant, BackendError> {
        let now = OffsetDateTime::now_utc();
        let caller = self
            .provisioner
            .authenticate_scim_token(token, now)
            .await
            .map_err(|e| match e {
                CredentialError::Store(e) if e.is_infrastructure() => {
                    BackendError::Internal(e.to_string())
                }
                _ => BackendError::Unauthorized,
            })?;
        // A token of another org is refused like an unknown one: it learns nothing.
        if caller.org.to_string() != org {
            return Err(BackendError::Unauthorized);
        }
        Ok(Tenant {
            org: org.to_owned(),
            actor: format!("{ACTOR_PREFIX}{}", caller.credential),
        })
    }

    async fn create_user(
        &self,
        tenant: &Tenant,
        user: UserWrite,
    ) -> Result<StoredUser, BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_create_user(&caller, &user_input(user), now)
            .await
            .map(stored_user)
            .map_err(refused)
    }

    async fn get_user(&self, tenant: &Tenant, id: &str) -> Result<StoredUser, BackendError> {
        self.provisioner
            .scim_user(org(tenant)?, id)
            .await
            .map(stored_user)
            .map_err(refused)
    }

    async fn find_users(
        &self,
        tenant: &Tenant,
        by: &Lookup,
        limit: usize,
    ) -> Result<Vec<StoredUser>, BackendError> {
        let org = org(tenant)?;
        let Some(by) = lookup(by) else {
            return Ok(Vec::new());
        };
        let found = self.provisioner.scim_find_users(org, by, limit).await;
        Ok(found
            .map_err(refused)?
            .into_iter()
            .map(stored_user)
            .collect())
    }

    async fn replace_user(
        &self,
        tenant: &Tenant,
        id: &str,
        user: UserWrite,
        version: Option<u64>,
    ) -> Result<StoredUser, BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_replace_user(&caller, id, &user_input(user), expected(version)?, now)
            .await
            .map(stored_user)
            .map_err(refused)
    }

    async fn delete_user(
        &self,
        tenant: &Tenant,
        id: &str,
        version: Option<u64>,
    ) -> Result<(), BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_delete_user(&caller, id, expected(version)?, now)
            .await
            .map_err(refused)
    }

    async fn create_group(
        &self,
        tenant: &Tenant,
        group: GroupWrite,
    ) -> Result<StoredGroup, BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_create_group(&caller, &group_input(group), now)
            .await
            .map(stored_group)
            .map_err(refused)
    }

    async fn get_group(&self, tenant: &Tenant, id: &str) -> Result<StoredGroup, BackendError> {
        self.provisioner
            .scim_group(org(tenant)?, id)
            .await
            .map(stored_group)
            .map_err(refused)
    }

    async fn find_groups(
        &self,
        tenant: &Tenant,
        by: &Lookup,
        limit: usize,
    ) -> Result<Vec<StoredGroup>, BackendError> {
        let org = org(tenant)?;
        let Some(by) = lookup(by) else {
            return Ok(Vec::new());
        };
        let found = self.provisioner.scim_find_groups(org, by, limit).await;
        Ok(found
            .map_err(refused)?
            .into_iter()
            .map(stored_group)
            .collect())
    }

    async fn replace_group(
        &self,
        tenant: &Tenant,
        id: &str,
        group: GroupWrite,
        version: Option<u64>,
    ) -> Result<StoredGroup, BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_replace_group(&caller, id, &group_input(group), expected(version)?, now)
            .await
            .map(stored_group)
            .map_err(refused)
    }

    async fn delete_group(
        &self,
        tenant: &Tenant,
        id: &str,
        version: Option<u64>,
    ) -> Result<(), BackendError> {
        let caller = caller(tenant)?;
        let now = OffsetDateTime::now_utc();
        self.provisioner
            .scim_delete_group(&caller, id, expected(version)?, now)
            .await
            .map_err(refused)
    }
}
