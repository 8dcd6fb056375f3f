//! `AuthService` and `AdminService` on a [`Provisioner`], with an injectable clock.

use std::fmt;
use std::sync::Arc;

use sso_assertion::DEFAULT_CLOCK_SKEW;
use sso_domains::TxtLookup;
use sso_email::Email;
use sso_fetch::Fetcher;
use sso_provisioning::{
    AdminError, ConnectionRecord, EventQuery, ImportedMetadata, MAX_CLOCK_SKEW, MAX_PAGE, OrgId,
    PasswordLoginError, Provisioner, RefreshOutcome, StoreError, ValidationOptions,
};
use time::{Duration, OffsetDateTime};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

use crate::convert::{self, invalid};
use crate::errors::{
    SSO_REQUIRED_MESSAGE, admin_status, login_status, password_status, redeem_status,
    sp_metadata_status, store_status,
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
    lookup: TxtLookup,
}

impl AdminServiceImpl {
    /// The service on `provisioner`, reading the time from `clock`.
    pub fn new(provisioner: Provisioner, clock: Clock) -> Self {
        Self {
            shared: Shared { provisioner, clock },
            fetcher: Fetcher::default(),
            lookup: TxtLookup::default(),
        }
    }

    /// Looks domain claims' TXT records up with `lookup` instead of the system's name
    /// servers.
    #[must_use]
    pub fn with_dns_lookup(mut self, lookup: TxtLookup) -> Self {
        self.lookup = lookup;
        self
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

    fn connection(&self, record: &ConnectionRecord, warnings: Vec<String>) -> v1::Connection {
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
        let check = self
            .shared
            .provisioner
            .password_check(&email, org)
            .await
            .map_err(|e| password_status(OP, &PasswordLoginError::Store(e)))?;
        let member = check.member.is_some();
        let answer = match check.decision {
            // Every `PasswordAllowed` is an allowance: SSO not required, not in effect, not yet
            // proven on the current configuration, or a person the requirement does not cover.
            Ok(_allowed) => v1::CheckPasswordLoginResponse {
                allowed: true,
                reason: v1::Reason::Unspecified.into(),
                message: String::new(),
                member,
            },
            Err(refusal) => v1::CheckPasswordLoginResponse {
                allowed: false,
                reason: reason(refusal.reason()).into(),
                message: SSO_REQUIRED_MESSAGE.to_owned(),
                member,
            },
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

/// Admin requests that name the org they act on.
trait OrgRequest {
    /// The org id as the request carries it.
    fn org_id(&self) -> &str;
}

macro_rules! org_requests {
    ($($request:ty),* $(,)?) => {
        $(impl OrgRequest for $request {
            fn org_id(&self) -> &str {
                &self.org_id
            }
        })*
    };
}

org_requests!(
    v1::SetPlanRequest,
    v1::VerifiedDomainRequest,
    v1::ClaimDomainRequest,
    v1::VerifyDomainRequest,
    v1::ListDomainsRequest,
    v1::ImportIdpMetadataRequest,
    v1::SetConnectionEnabledRequest,
    v1::SetConnectionOptionsRequest,
    v1::SetJitRequest,
    v1::SetRequireSsoRequest,
    v1::BreakGlassRequest,
    v1::ListLoginTracesRequest,
    v1::ImportIdpMetadataFromUrlRequest,
    v1::RefreshIdpMetadataRequest,
    v1::AddConnectionCertificateRequest,
    v1::RemoveConnectionCertificateRequest,
);

/// What an admin operation on an org starts from: who acts, on which org, at what time, and
/// the provisioner (and metadata fetcher, and DNS lookup) to act through.
struct Call<'a> {
    provisioner: &'a Provisioner,
    fetcher: &'a Fetcher,
    lookup: &'a TxtLookup,
    actor: &'a str,
    org: OrgId,
    now: OffsetDateTime,
}

/// Why an admin operation failed, before it is put on the wire: a request field the wire
/// layer refused, a refusal or failure of an admin operation, or of a read.
enum Failed {
    Request(Status),
    Admin(AdminError),
    Store(StoreError),
}

impl From<Status> for Failed {
    fn from(status: Status) -> Self {
        Self::Request(status)
    }
}

impl From<AdminError> for Failed {
    fn from(error: AdminError) -> Self {
        Self::Admin(error)
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// A connection as an admin operation left it, with the warnings to show.
struct Changed {
    connection: ConnectionRecord,
    warnings: Vec<String>,
}

impl From<ConnectionRecord> for Changed {
    fn from(connection: ConnectionRecord) -> Self {
        Self {
            connection,
            warnings: Vec::new(),
        }
    }
}

impl From<ImportedMetadata> for Changed {
    fn from(imported: ImportedMetadata) -> Self {
        Self {
            connection: imported.connection,
            warnings: imported.warnings,
        }
    }
}

impl AdminServiceImpl {
    /// The one shape of an admin call on an org: the actor from the request metadata, the
    /// org id from the request, `operation` on the provisioner, and its error mapped for the
    /// wire ([`admin_status`], [`store_status`]).
    async fn on_org<R, T, F>(
        &self,
        operation_name: &'static str,
        request: Request<R>,
        operation: F,
    ) -> Result<(OrgId, T), Status>
    where
        R: OrgRequest,
        F: for<'a> AsyncFnOnce(Call<'a>, R) -> Result<T, Failed>,
    {
        let actor = actor(request.metadata());
        let request = request.into_inner();
        let org = convert::org_id(request.org_id())?;
        let call = Call {
            provisioner: &self.shared.provisioner,
            fetcher: &self.fetcher,
            lookup: &self.lookup,
            actor: &actor,
            org,
            now: self.shared.now(),
        };
        match operation(call, request).await {
            Ok(value) => Ok((org, value)),
            Err(Failed::Request(status)) => Err(status),
            Err(Failed::Admin(e)) => Err(admin_status(operation_name, &e)),
            Err(Failed::Store(e)) => Err(store_status(operation_name, &e)),
        }
    }

    /// An admin call answered with the org as it is afterwards.
    async fn org_change<R, T, F>(
        &self,
        operation_name: &'static str,
        request: Request<R>,
        operation: F,
    ) -> Result<Response<v1::Org>, Status>
    where
        R: OrgRequest,
        F: for<'a> AsyncFnOnce(Call<'a>, R) -> Result<T, Failed>,
    {
        let (org, _) = self.on_org(operation_name, request, operation).await?;
        Ok(Response::new(self.shared.org(operation_name, org).await?))
    }

    /// An admin call answered with the connection it left.
    async fn connection_change<R, F>(
        &self,
        operation_name: &'static str,
        request: Request<R>,
        operation: F,
    ) -> Result<Response<v1::Connection>, Status>
    where
        R: OrgRequest,
        F: for<'a> AsyncFnOnce(Call<'a>, R) -> Result<Changed, Failed>,
    {
        let (_, changed) = self.on_org(operation_name, request, operation).await?;
        Ok(Response::new(
            self.shared
                .connection(&changed.connection, changed.warnings),
        ))
    }
}

/// The clock skew `SetConnectionOptions` asks for: 0 is the default, more than the store's
/// maximum is refused.
fn clock_skew(seconds: u32) -> Result<Duration, Status> {
    match Duration::seconds(i64::from(seconds)) {
        s if s.is_zero() => Ok(DEFAULT_CLOCK_SKEW),
        s if s <= MAX_CLOCK_SKEW => Ok(s),
        s => Err(invalid(
            "clock_skew_seconds",
            &format!(
                "{} is more than {}",
                s.whole_seconds(),
                MAX_CLOCK_SKEW.whole_seconds()
            ),
        )),
    }
}

/// The page size `ListLoginTraces` asks for: 0 is the default, more than the maximum is
/// refused.
fn page_size(size: u32) -> Result<u32, Status> {
    match size {
        0 => Ok(DEFAULT_PAGE_SIZE),
        s if s <= MAX_PAGE => Ok(s),
        s => Err(invalid(
            "page_size",
            &format!("{s} is more than {MAX_PAGE}"),
        )),
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
        self.org_change("SetPlan", request, async |c, r| {
            let plan = convert::plan(r.plan)?;
            Ok(c.provisioner.set_plan(c.actor, c.org, plan, c.now).await?)
        })
        .await
    }

    async fn add_verified_domain(
        &self,
        request: Request<v1::VerifiedDomainRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        self.org_change("AddVerifiedDomain", request, async |c, r| {
            let p = c.provisioner;
            Ok(p.add_verified_domain(c.actor, c.org, &r.domain, c.now)
                .await?)
        })
        .await
    }

    async fn remove_verified_domain(
        &self,
        request: Request<v1::VerifiedDomainRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        self.org_change("RemoveVerifiedDomain", request, async |c, r| {
            let p = c.provisioner;
            Ok(p.remove_verified_domain(c.actor, c.org, &r.domain, c.now)
                .await?)
        })
        .await
    }

    async fn claim_domain(
        &self,
        request: Request<v1::ClaimDomainRequest>,
    ) -> Result<Response<v1::DomainClaim>, Status> {
        let (_, claim) = self
            .on_org("ClaimDomain", request, async |c, r| {
                let p = c.provisioner;
                Ok(p.claim_domain(c.actor, c.org, &r.domain, c.now).await?)
            })
            .await?;
        Ok(Response::new(convert::domain_claim(&claim)))
    }

    async fn verify_domain(
        &self,
        request: Request<v1::VerifyDomainRequest>,
    ) -> Result<Response<v1::DomainClaim>, Status> {
        let (_, claim) = self
            .on_org("VerifyDomain", request, async |c, r| {
                let p = c.provisioner;
                Ok(p.verify_domain(c.lookup, c.actor, c.org, &r.domain, c.now)
                    .await?)
            })
            .await?;
        Ok(Response::new(convert::domain_claim(&claim)))
    }

    async fn list_domains(
        &self,
        request: Request<v1::ListDomainsRequest>,
    ) -> Result<Response<v1::ListDomainsResponse>, Status> {
        let (_, claims) = self
            .on_org("ListDomains", request, async |c, _| {
                Ok(c.provisioner.list_domains(c.org).await?)
            })
            .await?;
        Ok(Response::new(v1::ListDomainsResponse {
            domains: claims.iter().map(convert::domain_claim).collect(),
        }))
    }

    async fn import_idp_metadata(
        &self,
        request: Request<v1::ImportIdpMetadataRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("ImportIdpMetadata", request, async |c, r| {
            let xml = r.metadata_xml.as_bytes();
            let entity = non_empty(&r.entity_id);
            let p = c.provisioner;
            Ok(
                p.import_idp_metadata_for_entity(c.actor, c.org, xml, entity, c.now)
                    .await?
                    .into(),
            )
        })
        .await
    }

    async fn set_connection_enabled(
        &self,
        request: Request<v1::SetConnectionEnabledRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("SetConnectionEnabled", request, async |c, r| {
            let p = c.provisioner;
            Ok(p.set_connection_enabled(c.actor, c.org, r.enabled, c.now)
                .await?
                .into())
        })
        .await
    }

    async fn set_connection_options(
        &self,
        request: Request<v1::SetConnectionOptionsRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("SetConnectionOptions", request, async |c, r| {
            // The SP settings are not on the wire: the provisioner keeps what is stored.
            let options = ValidationOptions {
                allow_unsolicited: r.allow_unsolicited,
                allow_sha1: r.allow_sha1,
                clock_skew: clock_skew(r.clock_skew_seconds)?,
            };
            let p = c.provisioner;
            Ok(p.set_connection_options(c.actor, c.org, &options, c.now)
                .await?
                .into())
        })
        .await
    }

    async fn set_jit(
        &self,
        request: Request<v1::SetJitRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("SetJit", request, async |c, r| {
            let role = convert::role(r.role)?;
            let projects = r
                .default_project_ids
                .iter()
                .map(|p| convert::project_id(p))
                .collect::<Result<Vec<_>, _>>()?;
            let p = c.provisioner;
            let (connection, _change) = p.set_jit(c.actor, c.org, role, &projects, c.now).await?;
            Ok(connection.into())
        })
        .await
    }

    async fn set_require_sso(
        &self,
        request: Request<v1::SetRequireSsoRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        self.org_change("SetRequireSso", request, async |c, r| {
            let p = c.provisioner;
            Ok(p.set_require_sso(c.actor, c.org, r.require_sso, c.now)
                .await?)
        })
        .await
    }

    async fn break_glass(
        &self,
        request: Request<v1::BreakGlassRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        self.org_change("BreakGlass", request, async |c, r| {
            let p = c.provisioner;
            Ok(p.break_glass(c.actor, c.org, &r.justification, c.now)
                .await?)
        })
        .await
    }

    async fn list_login_traces(
        &self,
        request: Request<v1::ListLoginTracesRequest>,
    ) -> Result<Response<v1::ListLoginTracesResponse>, Status> {
        let (_, page) = self
            .on_org("ListLoginTraces", request, async |c, r| {
                let mut query = EventQuery::new(page_size(r.page_size)?);
                if let Some(cursor) = convert::page_token(&r.page_token)? {
                    query = query.after(cursor);
                }
                Ok(c.provisioner.list_traces(c.org, &query).await?)
            })
            .await?;
        Ok(Response::new(v1::ListLoginTracesResponse {
            traces: page.events.iter().map(convert::trace).collect(),
            next_page_token: page.next.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn import_idp_metadata_from_url(
        &self,
        request: Request<v1::ImportIdpMetadataFromUrlRequest>,
    ) -> Result<Response<v1::ImportIdpMetadataFromUrlResponse>, Status> {
        let (_, imported) = self
            .on_org("ImportIdpMetadataFromUrl", request, async |c, r| {
                let interval = match r.refresh_interval_seconds {
                    0 => None,
                    s => Some(Duration::seconds(i64::from(s))),
                };
                let url = r.url.trim();
                let entity = non_empty(r.entity_id.trim());
                let p = c.provisioner;
                Ok(p.import_idp_metadata_from_url(
                    c.fetcher, c.actor, c.org, url, entity, interval, c.now,
                )
                .await?)
            })
            .await?;
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
        let (_, (outcome, connection, source)) = self
            .on_org("RefreshIdpMetadata", request, async |c, _| {
                let p = c.provisioner;
                let outcome = p
                    .refresh_idp_metadata(c.fetcher, c.actor, c.org, c.now)
                    .await?;
                let connection = p.connection(c.org).await?;
                let source = p.metadata_source(c.org).await?;
                Ok((outcome, connection, source))
            })
            .await?;
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
        self.connection_change("AddConnectionCertificate", request, async |c, r| {
            let p = c.provisioner;
            Ok(
                p.add_connection_certificate(c.actor, c.org, &r.certificate, c.now)
                    .await?
                    .into(),
            )
        })
        .await
    }

    async fn remove_connection_certificate(
        &self,
        request: Request<v1::RemoveConnectionCertificateRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("RemoveConnectionCertificate", request, async |c, r| {
            let fingerprint = &r.fingerprint_sha256;
            let p = c.provisioner;
            Ok(
                p.remove_connection_certificate(c.actor, c.org, fingerprint, c.now)
                    .await?
                    .into(),
            )
        })
        .await
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
