//! `AuthService` and `AdminService` on a [`Provisioner`], with an injectable clock.

use std::fmt;
use std::sync::Arc;

use sso_assertion::DEFAULT_CLOCK_SKEW;
use sso_domains::TxtLookup;
use sso_email::Email;
use sso_fetch::Fetcher;
use sso_policy::Role;
use sso_provisioning::{
    AdminError, ConnectionRecord, DEACTIVATED_MESSAGE, EventQuery, ImportedMetadata, LoginError,
    MAX_BATCH, MAX_CLOCK_SKEW, MAX_NAME_PREFIX, MAX_PAGE, MemberCursor, MemberQuery, NewMember,
    NewProject, OrgId, OrgQuery, PasswordLoginError, ProjectCursor, ProjectId, ProjectQuery,
    Provisioner, RefreshOutcome, SetupAbilities, StoreError, ValidationOptions,
};
use time::{Duration, OffsetDateTime};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

use crate::access::{self, AdminServer, Caller};
use crate::convert::{self, invalid};
use crate::errors::{
    SSO_REQUIRED_MESSAGE, admin_status, login_status, password_status, redeem_status,
    sp_metadata_status, store_status, test_login_status,
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

/// Page size of the listings (`ListLoginTraces`, `ListOrgs`, `ListMembers`, `ListProjects`)
/// when the request gives 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Login codes are 43 characters; anything much longer is not one.
const MAX_LOGIN_CODE: usize = 128;

/// Test login ids are AuthnRequest IDs (an underscore and 40 hex digits); anything much
/// longer is not one.
const MAX_TEST_LOGIN_ID: usize = 128;

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

    /// The service ready to serve: behind the check of org credentials, which the generated
    /// `AdminServiceServer` alone does not make (an org credential reaching a handler without
    /// it is refused).
    pub fn into_server(self) -> AdminServer {
        let provisioner = self.shared.provisioner.clone();
        let clock = self.shared.clock.clone();
        AdminServer::new(self, provisioner, clock)
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
        Ok(convert::org(&snapshot))
    }

    /// A connection an operation returned, on the wire as an admin reads it now: options,
    /// metadata source, current warnings, proof.
    async fn connection(
        &self,
        operation: &str,
        record: ConnectionRecord,
    ) -> Result<v1::Connection, Status> {
        let view = self
            .provisioner
            .describe_connection(record, self.now())
            .await
            .map_err(|e| store_status(operation, &e))?;
        let sp = self.provisioner.service_provider(view.connection.org);
        Ok(convert::connection(&view, &sp))
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
                message: match refusal {
                    sso_policy::PasswordRefusal::MemberDeactivated => DEACTIVATED_MESSAGE,
                    _ => SSO_REQUIRED_MESSAGE,
                }
                .to_owned(),
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
    v1::GetOrgRequest,
    v1::SetPlanRequest,
    v1::VerifiedDomainRequest,
    v1::ClaimDomainRequest,
    v1::VerifyDomainRequest,
    v1::ListDomainsRequest,
    v1::ImportIdpMetadataRequest,
    v1::SetConnectionEnabledRequest,
    v1::SetConnectionOptionsRequest,
    v1::SetJitRequest,
    v1::SetGroupRoleRulesRequest,
    v1::SetRequireSsoRequest,
    v1::BreakGlassRequest,
    v1::ListLoginTracesRequest,
    v1::GetConnectionRequest,
    v1::ImportIdpMetadataFromUrlRequest,
    v1::RefreshIdpMetadataRequest,
    v1::AddConnectionCertificateRequest,
    v1::RemoveConnectionCertificateRequest,
    v1::UpsertProjectsRequest,
    v1::ListProjectsRequest,
    v1::RemoveProjectRequest,
    v1::ListMembersRequest,
    v1::GetMemberRequest,
    v1::SetMemberRoleRequest,
    v1::RemoveMemberRequest,
    v1::AddMembersRequest,
    v1::BeginTestLoginRequest,
    v1::GetTestLoginRequest,
    v1::CreateOrgCredentialRequest,
    v1::ListOrgCredentialsRequest,
    v1::RevokeOrgCredentialRequest,
    v1::CreateSetupLinkRequest,
    v1::ListSetupLinksRequest,
    v1::RevokeSetupLinkRequest,
    v1::CreateScimTokenRequest,
    v1::ListScimTokensRequest,
    v1::RevokeScimTokenRequest,
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
    Login(LoginError),
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

impl From<LoginError> for Failed {
    fn from(error: LoginError) -> Self {
        Self::Login(error)
    }
}

/// A connection as an admin operation left it (its warnings are computed again on the way
/// out, the same for every call).
struct Changed {
    connection: ConnectionRecord,
}

impl From<ConnectionRecord> for Changed {
    fn from(connection: ConnectionRecord) -> Self {
        Self { connection }
    }
}

impl From<ImportedMetadata> for Changed {
    fn from(imported: ImportedMetadata) -> Self {
        Self {
            connection: imported.connection,
        }
    }
}

impl AdminServiceImpl {
    /// The one shape of an admin call on an org: who calls, the org id from the request,
    /// `operation` on the provisioner, and its error mapped for the wire ([`admin_status`],
    /// [`store_status`]).
    ///
    /// The org check of org credentials lives here: one is refused for an org other than its
    /// own and for an operation its name does not open to them (`operation_name` is the RPC's
    /// name, see `access`), and its changes name it as their actor. The operator's actor is
    /// `x-sso-actor`.
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
        let caller = access::caller(request.metadata(), request.extensions())?;
        let actor = match caller {
            Caller::Service => actor(request.metadata()),
            Caller::Org(credential) => credential.actor(),
        };
        let request = request.into_inner();
        let org = convert::org_id(request.org_id())?;
        if let Caller::Org(credential) = caller {
            if !access::open_to_org_credentials(operation_name) {
                return Err(access::operator_only(operation_name));
            }
            if credential.org != org {
                tracing::info!(
                    operation = operation_name,
                    credential = credential.credential.get(),
                    "org credential refused: another org"
                );
                return Err(access::wrong_org());
            }
        }
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
            Err(Failed::Login(e)) => Err(test_login_status(operation_name, &e)),
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
                .connection(operation_name, changed.connection)
                .await?,
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

/// The page size a listing asks for: 0 is the default, more than the maximum is refused.
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

/// Refuses a list of more than [`MAX_BATCH`] items.
fn batch(field: &str, len: usize) -> Result<(), Status> {
    if len > MAX_BATCH {
        return Err(invalid(
            field,
            &format!("{len} items; at most {MAX_BATCH} at once"),
        ));
    }
    Ok(())
}

/// A role the request must give (`ROLE_UNSPECIFIED` is refused).
fn required_role(field: &str, wire: i32) -> Result<Role, Status> {
    convert::role(wire)?.ok_or_else(|| invalid(field, "a role is required"))
}

/// Project ids of a request, each named by its place (`field[i]`) when refused.
fn project_ids(field: &str, ids: &[String]) -> Result<Vec<ProjectId>, Status> {
    batch(field, ids.len())?;
    ids.iter()
        .enumerate()
        .map(|(i, id)| convert::project_id(&format!("{field}[{i}]"), id))
        .collect()
}

/// The projects of `UpsertProjects`, each id checked and named by its place when refused
/// (names are checked by the store, which names the item too).
fn new_projects(inputs: Vec<v1::ProjectInput>) -> Result<Vec<NewProject>, Status> {
    batch("projects", inputs.len())?;
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            Ok(NewProject {
                id: convert::project_id(&format!("projects[{i}].id"), &input.id)?,
                name: input.name,
            })
        })
        .collect()
}

/// The people of `AddMembers`: emails normalized, roles required, project ids checked, each
/// named by its place when refused.
fn new_members(inputs: Vec<v1::MemberInput>) -> Result<Vec<NewMember>, Status> {
    batch("members", inputs.len())?;
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            Ok(NewMember {
                email: email(&format!("members[{i}].email"), &input.email)?,
                role: required_role(&format!("members[{i}].role"), input.role)?,
                projects: project_ids(&format!("members[{i}].project_ids"), &input.project_ids)?,
            })
        })
        .collect()
}

/// The query of `ListMembers`.
fn member_query(request: &v1::ListMembersRequest) -> Result<MemberQuery, Failed> {
    let mut query =
        MemberQuery::new(page_size(request.page_size)?).email_prefix(&request.email_prefix)?;
    if let Some(role) = convert::role(request.role)? {
        query = query.role(role);
    }
    if let Some(cursor) = convert::cursor::<MemberCursor>(&request.page_token)? {
        query = query.after(cursor);
    }
    Ok(query)
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
        Ok(Response::new(self.shared.org(OP, org.id).await?))
    }

    async fn list_orgs(
        &self,
        request: Request<v1::ListOrgsRequest>,
    ) -> Result<Response<v1::ListOrgsResponse>, Status> {
        const OP: &str = "ListOrgs";
        let request = request.into_inner();
        if request.name_prefix.chars().count() > MAX_NAME_PREFIX {
            return Err(invalid(
                "name_prefix",
                &format!("longer than {MAX_NAME_PREFIX} characters"),
            ));
        }
        let mut query =
            OrgQuery::new(page_size(request.page_size)?).name_prefix(request.name_prefix);
        if let Some(cursor) = convert::org_page_token(&request.page_token)? {
            query = query.after(cursor);
        }
        let page = self
            .shared
            .provisioner
            .list_orgs(&query)
            .await
            .map_err(|e| store_status(OP, &e))?;
        Ok(Response::new(v1::ListOrgsResponse {
            orgs: page.orgs.iter().map(convert::org).collect(),
            next_page_token: page.next.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn get_connection(
        &self,
        request: Request<v1::GetConnectionRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        const OP: &str = "GetConnection";
        let (_, view) = self
            .on_org(OP, request, async |c, _| {
                c.provisioner
                    .connection_view(c.org, c.now)
                    .await?
                    .ok_or_else(|| {
                        Failed::Request(refusal(
                            Code::NotFound,
                            "no-connection",
                            "the org has no SSO connection",
                        ))
                    })
            })
            .await?;
        let sp = self
            .shared
            .provisioner
            .service_provider(view.connection.org);
        Ok(Response::new(convert::connection(&view, &sp)))
    }

    async fn get_org(
        &self,
        request: Request<v1::GetOrgRequest>,
    ) -> Result<Response<v1::Org>, Status> {
        self.org_change("GetOrg", request, async |_, _| Ok(()))
            .await
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
            let pin = non_empty(&r.signing_certificate);
            let p = c.provisioner;
            Ok(
                p.import_idp_metadata_pinned(c.actor, c.org, xml, entity, pin, c.now)
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
            let projects = project_ids("default_project_ids", &r.default_project_ids)?;
            let p = c.provisioner;
            let (connection, _change) = p.set_jit(c.actor, c.org, role, &projects, c.now).await?;
            Ok(connection.into())
        })
        .await
    }

    async fn set_group_role_rules(
        &self,
        request: Request<v1::SetGroupRoleRulesRequest>,
    ) -> Result<Response<v1::Connection>, Status> {
        self.connection_change("SetGroupRoleRules", request, async |c, r| {
            let settings = convert::group_roles(&r)?;
            let p = c.provisioner;
            Ok(p.set_group_roles(c.actor, c.org, &settings, c.now)
                .await?
                .into())
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
                let pin = non_empty(&r.signing_certificate);
                let p = c.provisioner;
                Ok(p.import_idp_metadata_from_url_pinned(
                    c.fetcher, c.actor, c.org, url, entity, interval, pin, c.now,
                )
                .await?)
            })
            .await?;
        const OP: &str = "ImportIdpMetadataFromUrl";
        Ok(Response::new(v1::ImportIdpMetadataFromUrlResponse {
            connection: Some(
                self.shared
                    .connection(OP, imported.imported.connection)
                    .await?,
            ),
            source: Some(convert::metadata_source(&imported.source)),
        }))
    }

    async fn refresh_idp_metadata(
        &self,
        request: Request<v1::RefreshIdpMetadataRequest>,
    ) -> Result<Response<v1::RefreshIdpMetadataResponse>, Status> {
        const OP: &str = "RefreshIdpMetadata";
        let (_, (outcome, connection)) = self
            .on_org(OP, request, async |c, _| {
                let p = c.provisioner;
                let outcome = p
                    .refresh_idp_metadata(c.fetcher, c.actor, c.org, c.now)
                    .await?;
                let connection = p.connection_view(c.org, c.now).await?;
                Ok((outcome, connection))
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
            source: connection
                .as_ref()
                .and_then(|v| v.source.as_ref())
                .map(convert::metadata_source),
            connection: connection.as_ref().map(|view| {
                convert::connection(
                    view,
                    &self
                        .shared
                        .provisioner
                        .service_provider(view.connection.org),
                )
            }),
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

    async fn begin_test_login(
        &self,
        request: Request<v1::BeginTestLoginRequest>,
    ) -> Result<Response<v1::BeginTestLoginResponse>, Status> {
        let (org, start) = self
            .on_org("BeginTestLogin", request, async |c, _| {
                Ok(c.provisioner
                    .begin_test_login(c.actor, c.org, c.now)
                    .await?)
            })
            .await?;
        Ok(Response::new(v1::BeginTestLoginResponse {
            redirect_url: start.redirect_url,
            post_form_html: start.post_form.unwrap_or_default(),
            test_login_id: start.test_login,
            expires_at: convert::timestamp(start.expires_at),
            org_id: org.to_string(),
            config_version: u64::try_from(start.config_version).unwrap_or_default(),
            connection_enabled: start.connection_enabled,
        }))
    }

    async fn get_test_login(
        &self,
        request: Request<v1::GetTestLoginRequest>,
    ) -> Result<Response<v1::TestLogin>, Status> {
        let (_, test) = self
            .on_org("GetTestLogin", request, async |c, r| {
                let id = r.test_login_id.trim();
                if id.is_empty() || id.len() > MAX_TEST_LOGIN_ID {
                    return Err(
                        invalid("test_login_id", "give the id BeginTestLogin returned").into(),
                    );
                }
                Ok(c.provisioner.test_login(c.org, id, c.now).await?)
            })
            .await?;
        Ok(Response::new(convert::test_login(&test)))
    }

    async fn create_org_credential(
        &self,
        request: Request<v1::CreateOrgCredentialRequest>,
    ) -> Result<Response<v1::CreateOrgCredentialResponse>, Status> {
        let (_, issued) = self
            .on_org("CreateOrgCredential", request, async |c, r| {
                let ttl = match r.ttl_seconds {
                    0 => None,
                    s => Some(Duration::seconds(i64::from(s))),
                };
                let p = c.provisioner;
                Ok(
                    p.create_org_credential(c.actor, c.org, &r.description, ttl, c.now)
                        .await?,
                )
            })
            .await?;
        Ok(Response::new(v1::CreateOrgCredentialResponse {
            credential: Some(convert::credential(&issued.credential)),
            secret: issued.secret().to_owned(),
        }))
    }

    async fn list_org_credentials(
        &self,
        request: Request<v1::ListOrgCredentialsRequest>,
    ) -> Result<Response<v1::ListOrgCredentialsResponse>, Status> {
        let (_, credentials) = self
            .on_org("ListOrgCredentials", request, async |c, _| {
                Ok(c.provisioner.list_org_credentials(c.org).await?)
            })
            .await?;
        Ok(Response::new(v1::ListOrgCredentialsResponse {
            credentials: credentials.iter().map(convert::credential).collect(),
        }))
    }

    async fn revoke_org_credential(
        &self,
        request: Request<v1::RevokeOrgCredentialRequest>,
    ) -> Result<Response<v1::OrgCredential>, Status> {
        let (_, revoked) = self
            .on_org("RevokeOrgCredential", request, async |c, r| {
                let id = convert::credential_id(&r.credential_id)?;
                let p = c.provisioner;
                Ok(p.revoke_org_credential(c.actor, c.org, id, c.now).await?)
            })
            .await?;
        Ok(Response::new(convert::credential(&revoked)))
    }

    async fn create_scim_token(
        &self,
        request: Request<v1::CreateScimTokenRequest>,
    ) -> Result<Response<v1::CreateScimTokenResponse>, Status> {
        let (org, issued) = self
            .on_org("CreateScimToken", request, async |c, r| {
                let ttl = match r.ttl_seconds {
                    0 => None,
                    s => Some(Duration::seconds(i64::from(s))),
                };
                let p = c.provisioner;
                Ok(
                    p.create_scim_token(c.actor, c.org, &r.description, ttl, c.now)
                        .await?,
                )
            })
            .await?;
        Ok(Response::new(v1::CreateScimTokenResponse {
            token: Some(convert::credential(&issued.credential)),
            secret: issued.secret().to_owned(),
            scim_base_url: self.shared.provisioner.scim_base_url(org),
        }))
    }

    async fn list_scim_tokens(
        &self,
        request: Request<v1::ListScimTokensRequest>,
    ) -> Result<Response<v1::ListScimTokensResponse>, Status> {
        let (_, tokens) = self
            .on_org("ListScimTokens", request, async |c, _| {
                Ok(c.provisioner.list_scim_tokens(c.org).await?)
            })
            .await?;
        Ok(Response::new(v1::ListScimTokensResponse {
            tokens: tokens.iter().map(convert::credential).collect(),
        }))
    }

    async fn revoke_scim_token(
        &self,
        request: Request<v1::RevokeScimTokenRequest>,
    ) -> Result<Response<v1::OrgCredential>, Status> {
        let (_, revoked) = self
            .on_org("RevokeScimToken", request, async |c, r| {
                let id = convert::credential_id(&r.token_id)?;
                let p = c.provisioner;
                Ok(p.revoke_scim_token(c.actor, c.org, id, c.now).await?)
            })
            .await?;
        Ok(Response::new(convert::credential(&revoked)))
    }

    async fn create_setup_link(
        &self,
        request: Request<v1::CreateSetupLinkRequest>,
    ) -> Result<Response<v1::CreateSetupLinkResponse>, Status> {
        let (_, issued) = self
            .on_org("CreateSetupLink", request, async |c, r| {
                let ttl = match r.ttl_seconds {
                    0 => None,
                    s => Some(Duration::seconds(i64::from(s))),
                };
                let abilities = SetupAbilities::from_codes(&r.abilities)?;
                let p = c.provisioner;
                Ok(p.create_setup_link(c.actor, c.org, abilities, ttl, c.now)
                    .await?)
            })
            .await?;
        Ok(Response::new(v1::CreateSetupLinkResponse {
            link: Some(convert::setup_link(&issued.link)),
            url: issued.url().to_owned(),
        }))
    }

    async fn list_setup_links(
        &self,
        request: Request<v1::ListSetupLinksRequest>,
    ) -> Result<Response<v1::ListSetupLinksResponse>, Status> {
        let (_, links) = self
            .on_org("ListSetupLinks", request, async |c, _| {
                Ok(c.provisioner.list_setup_links(c.org).await?)
            })
            .await?;
        Ok(Response::new(v1::ListSetupLinksResponse {
            links: links.iter().map(convert::setup_link).collect(),
        }))
    }

    async fn revoke_setup_link(
        &self,
        request: Request<v1::RevokeSetupLinkRequest>,
    ) -> Result<Response<v1::SetupLink>, Status> {
        let (_, revoked) = self
            .on_org("RevokeSetupLink", request, async |c, r| {
                let id = convert::setup_link_id(&r.link_id)?;
                let p = c.provisioner;
                Ok(p.revoke_setup_link(c.actor, c.org, id, c.now).await?)
            })
            .await?;
        Ok(Response::new(convert::setup_link(&revoked)))
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

    async fn upsert_projects(
        &self,
        request: Request<v1::UpsertProjectsRequest>,
    ) -> Result<Response<v1::UpsertProjectsResponse>, Status> {
        let (_, upserted) = self
            .on_org("UpsertProjects", request, async |c, r| {
                let projects = new_projects(r.projects)?;
                let p = c.provisioner;
                Ok(p.upsert_projects(c.actor, c.org, &projects, c.now).await?)
            })
            .await?;
        Ok(Response::new(v1::UpsertProjectsResponse {
            projects: upserted.iter().map(convert::upserted_project).collect(),
        }))
    }

    async fn list_projects(
        &self,
        request: Request<v1::ListProjectsRequest>,
    ) -> Result<Response<v1::ListProjectsResponse>, Status> {
        let (_, page) = self
            .on_org("ListProjects", request, async |c, r| {
                let mut query = ProjectQuery::new(page_size(r.page_size)?);
                if let Some(cursor) = convert::cursor::<ProjectCursor>(&r.page_token)? {
                    query = query.after(cursor);
                }
                Ok(c.provisioner.list_projects(c.org, &query).await?)
            })
            .await?;
        Ok(Response::new(v1::ListProjectsResponse {
            projects: page.projects.iter().map(convert::project).collect(),
            next_page_token: page.next.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn remove_project(
        &self,
        request: Request<v1::RemoveProjectRequest>,
    ) -> Result<Response<v1::RemoveProjectResponse>, Status> {
        let (_, removed) = self
            .on_org("RemoveProject", request, async |c, r| {
                let project = convert::project_id("project_id", &r.project_id)?;
                let p = c.provisioner;
                Ok(p.remove_project(c.actor, c.org, &project, c.now).await?)
            })
            .await?;
        Ok(Response::new(v1::RemoveProjectResponse { removed }))
    }

    async fn list_members(
        &self,
        request: Request<v1::ListMembersRequest>,
    ) -> Result<Response<v1::ListMembersResponse>, Status> {
        let (_, page) = self
            .on_org("ListMembers", request, async |c, r| {
                let query = member_query(&r)?;
                Ok(c.provisioner.list_members(c.org, &query).await?)
            })
            .await?;
        Ok(Response::new(v1::ListMembersResponse {
            members: page.members.iter().map(convert::member).collect(),
            next_page_token: page.next.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn get_member(
        &self,
        request: Request<v1::GetMemberRequest>,
    ) -> Result<Response<v1::Member>, Status> {
        let (_, member) = self
            .on_org("GetMember", request, async |c, r| {
                let email = email("email", &r.email)?;
                Ok(c.provisioner.member(c.org, &email).await?)
            })
            .await?;
        Ok(Response::new(convert::member(&member)))
    }

    async fn set_member_role(
        &self,
        request: Request<v1::SetMemberRoleRequest>,
    ) -> Result<Response<v1::Member>, Status> {
        let (_, member) = self
            .on_org("SetMemberRole", request, async |c, r| {
                let email = email("email", &r.email)?;
                let role = required_role("role", r.role)?;
                let p = c.provisioner;
                Ok(p.set_member_role(c.actor, c.org, &email, role, c.now)
                    .await?)
            })
            .await?;
        Ok(Response::new(convert::member(&member)))
    }

    async fn remove_member(
        &self,
        request: Request<v1::RemoveMemberRequest>,
    ) -> Result<Response<v1::RemoveMemberResponse>, Status> {
        let (_, removed) = self
            .on_org("RemoveMember", request, async |c, r| {
                let email = email("email", &r.email)?;
                let p = c.provisioner;
                Ok(p.remove_member(c.actor, c.org, &email, c.now).await?)
            })
            .await?;
        Ok(Response::new(v1::RemoveMemberResponse { removed }))
    }

    async fn add_members(
        &self,
        request: Request<v1::AddMembersRequest>,
    ) -> Result<Response<v1::AddMembersResponse>, Status> {
        let (_, added) = self
            .on_org("AddMembers", request, async |c, r| {
                let members = new_members(r.members)?;
                let p = c.provisioner;
                Ok(p.add_members(c.actor, c.org, &members, c.now).await?)
            })
            .await?;
        Ok(Response::new(v1::AddMembersResponse {
            members: added.iter().map(convert::added_member).collect(),
        }))
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
