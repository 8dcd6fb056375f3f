//! `AuthService` and `AdminService` on a [`Provisioner`], with an injectable clock.

use std::fmt;
use std::sync::Arc;

use sso_email::Email;
use sso_fetch::Fetcher;
use sso_provisioning::{
    ConnectionRecord, EventQuery, MAX_CLOCK_SKEW, MAX_PAGE, OrgId, PasswordLoginError,
    Provisioner, RefreshOutcome, ValidationOptions,
};
use sso_assertion::DEFAULT_CLOCK_SKEW;
use time::{Duration, OffsetDateTime};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

use crate::convert::{self, invalid};
use crate::errors::{
    NOT_A_MEMBER_MESSAGE, SSO_REQUIRED_MESSAGE, admin_status, login_status, password_status,
    redeem_status, sp_metadata_status, store_status,
};
use crate::status::{reason, refusal};
use crate::v1::{self, admin_service_server::AdminService, auth_service_server::AuthService};

/// The time source of the services: the system clock in production, a fixed instant in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock, UTC.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// The request metadata key naming who performs an admin call, for audit events.
pub const ACTOR_METADATA_KEY: &str = "x-sso-actor";

/// The actor recorded when a request names none.
pub const DEFAULT_ACTOR: &str = "admin-api";

/// Page size of `ListLoginTraces` when the request gives 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Login codes are 43 characters; anything much longer is not one.
const MAX_LOGIN_CODE: usize = 128;

/// The provisioner and clock both services share.
#[derive(Clone)]
struct Shared {
    provisioner: Provisioner,
    clock: Clock,
}

impl Shared {
    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("provisioner", &self.provisioner)
            .finish_non_exhaustive()
    }
}

/// `sso.v1.AuthService`: SSO logins and password-login checks for the product's services.
#[derive(Debug, Clone)]
pub struct AuthServiceImpl {
    shared: Shared,
}

impl AuthServiceImpl {
    /// The service on `provisioner`, reading the time from `clock`.
    pub fn new(provisioner: Provisioner, clock: Clock) -> Self {
        Self {
            shared: Shared { provisioner, clock },
        }
    }
}

/// `sso.v1.AdminService`: the audited admin operations of organizations and connections.
#[derive(Debug, Clone)]
pub struct AdminServiceImpl {
    shared: Shared,
    fetcher: Fetcher,
}

impl AdminServiceImpl {
    /// The service on `provisioner`, reading the time from `clock`.
    pub fn new(provisioner: Provisioner, clock: Clock) -> Self {
        Self {
            shared: Shared { provisioner, clock },
            fetcher: Fetcher::default(),
        }
    }

    /// Fetches metadata URLs with `fetcher` instead of the default one (HTTPS to public
    /// addresses, system roots).
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: Fetcher) -> Self {
        self.fetcher = fetcher;
        self
    }
}

/// `Some(text)` unless empty.
fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// A caller-supplied email, or `invalid-input`.
fn email(field: &str, text: &str) -> Result<Email, Status> {
    Email::parse(text).map_err(|e| invalid(field, &e.to_string()))
}

/// The actor of an admin call: `x-sso-actor` when present and readable, else `admin-api`.
fn actor(metadata: &MetadataMap) -> String {
    metadata
        .get(ACTOR_METADATA_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map_or_else(|| DEFAULT_ACTOR.to_owned(), ToOwned::to_owned)
}

impl Shared {
    /// The org with its verified domains, on the wire.
    async fn org(&self, operation: &str, org: OrgId) -> Result<v1::Org, Status> {
        let snapshot = self
            .provisioner
            .org(org)
            .await
            .map_err(|e| store_status(operation, &e))?;
        Ok(convert::org(&snapshot.org, snapshot.verified_domains))
    }

    fn connection(
        &self,
        record: &ConnectionRecord,
        warnings: Vec<String>,
    ) -> v1::Connection {
        convert::connection(
            record,
            &self.provisioner.service_provider(record.org),
            warnings,
        )
    }
}

#[tonic::async_trait]
impl AuthService for AuthServiceImpl {
    async fn begin_sso_login(
        &self,
        request: Request<v1::BeginSsoLoginRequest>,
    ) -> Result<Response<v1::BeginSsoLoginResponse>, Status> {
        const OP: &str = "BeginSsoLogin";
        let request = request.into_inner();
        let org = match request.target {
            Some(v1::begin_sso_login_request::Target::OrgId(id)) => convert::org_id(&id)?,
            Some(v1::begin_sso_login_request::Target::Email(text)) => {
                let email = email("email", &text)?;
                self.shared
                    .provisioner
                    .org_for_email(&email)
                    .await
                    .map_err(|e| store_status(OP, &e))?
                    .ok_or_else(|| {
                        refusal(
                            Code::NotFound,
                            "org-not-found",
                            "Single sign-on is not available for this email address.",
                        )
                    })?
            }
            None => return Err(invalid("target", "give an org_id or an email")),
        };
        let start = self
            .shared
            .provisioner
            .begin_login(org, non_empty(&request.return_target), self.shared.now())
            .await
            .map_err(|e| login_status(OP, &e))?;
        Ok(Response::new(v1::BeginSsoLoginResponse {
            redirect_url: start.redirect_url,
            request_id: start.request_id,
            relay_state: start.relay_state,
            org_id: org.to_string(),
            post_form_html: start.post_form.unwrap_or_default(),
        }))
    }

    async fn complete_sso_login(
        &self,
        request: Request<v1::CompleteSsoLoginRequest>,
    ) -> Result<Response<v1::CompleteSsoLoginResponse>, Status> {
        const OP: &str = "CompleteSsoLogin";
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let outcome = self
            .shared
            .provisioner
            .complete_login(
                org,
                request.saml_response.as_bytes(),
                non_empty(&request.relay_state),
                self.shared.now(),
            )
            .await
            .map_err(|e| login_status(OP, &e))?;
        Ok(Response::new(convert::login_to_wire(outcome)))
    }

    async fn redeem_login_code(
        &self,
        request: Request<v1::RedeemLoginCodeRequest>,
    ) -> Result<Response<v1::CompleteSsoLoginResponse>, Status> {
        const OP: &str = "RedeemLoginCode";
        let request = request.into_inner();
        if request.code.is_empty() || request.code.len() > MAX_LOGIN_CODE {
            return Err(invalid("code", "give the code from the redirect"));
        }
        let outcome = self
            .shared
            .provisioner
            .redeem_login_code(&request.code, self.shared.now())
            .await
            .map_err(|e| redeem_status(OP, &e))?;
        Ok(Response::new(convert::login_to_wire(outcome)))
    }

    async fn check_password_login(
        &self,
        request: Request<v1::CheckPasswordLoginRequest>,
    ) -> Result<Response<v1::CheckPasswordLoginResponse>, Status> {
        const OP: &str = "CheckPasswordLogin";
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let email = email("email", &request.email)?;
        let refused = |code: &str, message: &str| v1::CheckPasswordLoginResponse {
            allowed: false,
            reason: reason(code).into(),
            message: message.to_owned(),
        };
        let answer = match self
            .shared
            .provisioner
            .check_password_login(&email, org)
            .await
        {
            // Every `PasswordAllowed` is an allowance (SSO not required, or not in effect).
            Ok(_allowed) => v1::CheckPasswordLoginResponse {
                allowed: true,
                reason: v1::Reason::Unspecified.into(),
                message: String::new(),
            },
            Err(e @ PasswordLoginError::Refused(_)) => refused(e.reason(), SSO_REQUIRED_MESSAGE),
            Err(e @ PasswordLoginError::NotAMember) => refused(e.reason(), NOT_A_MEMBER_MESSAGE),
            Err(e) => return Err(password_status(OP, &e)),
        };
        Ok(Response::new(answer))
    }

    async fn get_service_provider_metadata(
        &self,
        request: Request<v1::GetServiceProviderMetadataRequest>,
    ) -> Result<Response<v1::GetServiceProviderMetadataResponse>, Status> {
        const OP: &str = "GetServiceProviderMetadata";
        let org = convert::org_id(&request.into_inner().org_id)?;
        let sp = self
            .shared
            .provisioner
            .sp_metadata(org)
            .await
            .map_err(|e| sp_metadata_status(OP, &e))?;
        Ok(Response::new(v1::GetServiceProviderMetadataResponse {
            entity_id: sp.entity_id,
            acs_url: sp.acs_url,
            metadata_xml: sp.xml,
        }))
    }
}

#[tonic::async_trait]
impl AdminService for AdminServiceImpl {
    async fn create_org(
        &self,
        request: Request<v1::CreateOrgRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "CreateOrg";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let plan = convert::plan(request.plan)?;
        let name = request.name.trim();
        if name.is_empty() {
            return Err(invalid("name", "a name is required"));
        }
        let org = self
            .shared
            .provisioner
            .create_org(&actor, name, plan, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(convert::org(&org, Vec::new())))
    }

    async fn get_org(
        &self,
        request: Request<v1::GetOrgRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        let org = convert::org_id(&request.into_inner().org_id)?;
        Ok(Response::new(self.shared.org("GetOrg", org).await?))
    }

    async fn set_plan(
        &self,
        request: Request<v1::SetPlanRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "SetPlan";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let plan = convert::plan(request.plan)?;
        self.shared
            .provisioner
            .set_plan(&actor, org, plan, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(self.shared.org(OP, org).await?))
    }

    async fn add_verified_domain(
        &self,
        request: Request<v1::VerifiedDomainRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "AddVerifiedDomain";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        self.shared
            .provisioner
            .add_verified_domain(&actor, org, &request.domain, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(self.shared.org(OP, org).await?))
    }

    async fn remove_verified_domain(
        &self,
        request: Request<v1::VerifiedDomainRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "RemoveVerifiedDomain";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        self.shared
            .provisioner
            .remove_verified_domain(&actor, org, &request.domain, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(self.shared.org(OP, org).await?))
    }

    async fn import_idp_metadata(
        &self,
        request: Request<v1::ImportIdpMetadataRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "ImportIdpMetadata";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let imported = self
            .shared
            .provisioner
            .import_idp_metadata_for_entity(
                &actor,
                org,
                request.metadata_xml.as_bytes(),
                non_empty(&request.entity_id),
                self.shared.now(),
            )
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared
                .connection(&imported.connection, imported.warnings),
        ))
    }

    async fn set_connection_enabled(
        &self,
        request: Request<v1::SetConnectionEnabledRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "SetConnectionEnabled";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let connection = self
            .shared
            .provisioner
            .set_connection_enabled(&actor, org, request.enabled, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared.connection(&connection, Vec::new()),
        ))
    }

    async fn set_connection_options(
        &self,
        request: Request<v1::SetConnectionOptionsRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "SetConnectionOptions";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let clock_skew = match Duration::seconds(i64::from(request.clock_skew_seconds)) {
            s if s.is_zero() => DEFAULT_CLOCK_SKEW,
            s if s <= MAX_CLOCK_SKEW => s,
            s => {
                return Err(invalid(
                    "clock_skew_seconds",
                    &format!(
                        "{} is more than {}",
                        s.whole_seconds(),
                        MAX_CLOCK_SKEW.whole_seconds()
                    ),
                ));
            }
        };
        // The SP settings are not on the wire: the provisioner keeps what is stored.
        let options = ValidationOptions {
            allow_unsolicited: request.allow_unsolicited,
            allow_sha1: request.allow_sha1,
            clock_skew,
        };
        let connection = self
            .shared
            .provisioner
            .set_connection_options(&actor, org, &options, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared.connection(&connection, Vec::new()),
        ))
    }

    async fn set_jit(
        &self,
        request: Request<v1::SetJitRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "SetJit";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let role = convert::role(request.role)?;
        let projects = request
            .default_project_ids
            .iter()
            .map(|p| convert::project_id(p))
            .collect::<Result<Vec<_>, _>>()?;
        let (connection, _change) = self
            .shared
            .provisioner
            .set_jit(&actor, org, role, &projects, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared.connection(&connection, Vec::new()),
        ))
    }

    async fn set_require_sso(
        &self,
        request: Request<v1::SetRequireSsoRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "SetRequireSso";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let (_org, _change) = self
            .shared
            .provisioner
            .set_require_sso(&actor, org, request.require_sso, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(self.shared.org(OP, org).await?))
    }

    async fn break_glass(
        &self,
        request: Request<v1::BreakGlassRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        const OP: &str = "BreakGlass";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let (_org, _lifted) = self
            .shared
            .provisioner
            .break_glass(&actor, org, &request.justification, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(self.shared.org(OP, org).await?))
    }

    async fn list_login_traces(
        &self,
        request: Request<v1::ListLoginTracesRequest>,
    ) -> Result<Response<v1::ListLoginTracesResponse>, Status> {
        const OP: &str = "ListLoginTraces";
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            s if s <= MAX_PAGE => s,
            s => {
                return Err(invalid(
                    "page_size",
                    &format!("{s} is more than {MAX_PAGE}"),
                ));
            }
        };
        let mut query = EventQuery::new(size);
        if let Some(cursor) = convert::page_token(&request.page_token)? {
            query = query.after(cursor);
        }
        let page = self
            .shared
            .provisioner
            .list_traces(org, &query)
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(v1::ListLoginTracesResponse {
            traces: page.events.iter().map(convert::trace).collect(),
            next_page_token: page.next.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn import_idp_metadata_from_url(
        &self,
        request: Request<v1::ImportIdpMetadataFromUrlRequest>,
    ) -> Result<Response<v1::ImportIdpMetadataFromUrlResponse>, Status> {
        const OP: &str = "ImportIdpMetadataFromUrl";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let interval = match request.refresh_interval_seconds {
            0 => None,
            s => Some(Duration::seconds(i64::from(s))),
        };
        let imported = self
            .shared
            .provisioner
            .import_idp_metadata_from_url(
                &self.fetcher,
                &actor,
                org,
                request.url.trim(),
                non_empty(request.entity_id.trim()),
                interval,
                self.shared.now(),
            )
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(v1::ImportIdpMetadataFromUrlResponse {
            connection: Some(self.shared.connection(
                &imported.imported.connection,
                imported.imported.warnings.clone(),
            )),
            source: Some(convert::metadata_source(&imported.source)),
        }))
    }

    async fn refresh_idp_metadata(
        &self,
        request: Request<v1::RefreshIdpMetadataRequest>,
    ) -> Result<Response<v1::RefreshIdpMetadataResponse>, Status> {
        const OP: &str = "RefreshIdpMetadata";
        let actor = actor(request.metadata());
        let org = convert::org_id(&request.into_inner().org_id)?;
        let outcome = self
            .shared
            .provisioner
            .refresh_idp_metadata(&self.fetcher, &actor, org, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        let provisioner = &self.shared.provisioner;
        let connection = provisioner
            .connection(org)
            .await
            .map_err(|e| store_status(OP, &e))?;
        let source = provisioner
            .metadata_source(org)
            .await
            .map_err(|e| store_status(OP, &e))?;
        let (result, failure) = match &outcome {
            RefreshOutcome::Failed(e) => ("failed", Some(e)),
            other => (other.reason(), None),
        };
        Ok(Response::new(v1::RefreshIdpMetadataResponse {
            result: result.to_owned(),
            reason: failure
                .map_or(v1::Reason::Unspecified, |e| reason(e.reason()))
                .into(),
            reason_code: failure.map(|e| e.reason().to_owned()).unwrap_or_default(),
            message: failure.map(ToString::to_string).unwrap_or_default(),
            connection: Some(self.shared.connection(&connection, Vec::new())),
            source: source.as_ref().map(convert::metadata_source),
        }))
    }

    async fn add_connection_certificate(
        &self,
        request: Request<v1::AddConnectionCertificateRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "AddConnectionCertificate";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let connection = self
            .shared
            .provisioner
            .add_connection_certificate(&actor, org, &request.certificate, self.shared.now())
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared.connection(&connection, Vec::new()),
        ))
    }

    async fn remove_connection_certificate(
        &self,
        request: Request<v1::RemoveConnectionCertificateRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "RemoveConnectionCertificate";
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(&request.org_id)?;
        let connection = self
            .shared
            .provisioner
            .remove_connection_certificate(
                &actor,
                org,
                &request.fingerprint_sha256,
                self.shared.now(),
            )
            .await
            .map_err(|e| admin_status(OP, &e))?;
        Ok(Response::new(
            self.shared.connection(&connection, Vec::new()),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn the_actor_comes_from_metadata_or_defaults() {
        let mut metadata = MetadataMap::new();
        assert_eq!(actor(&metadata), DEFAULT_ACTOR);
        metadata.insert(ACTOR_METADATA_KEY, "ops@example.com".parse().unwrap());
        assert_eq!(actor(&metadata), "ops@example.com");
        metadata.insert(ACTOR_METADATA_KEY, " ".parse().unwrap());
        assert_eq!(actor(&metadata), DEFAULT_ACTOR);
    }
}
