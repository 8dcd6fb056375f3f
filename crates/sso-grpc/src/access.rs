//! Who may call which AdminService method.
//!
//! The service-wide admin token (checked by the server's interceptor) may call every method
//! on every org. An org credential (`sso_org_<id>_<secret>`) may call the methods of
//! [`ORG_SCOPED`] on its own org, and nothing else. Two checks make that hold for methods
//! this module has never heard of:
//!
//! - [`AdminServer`] wraps the generated server: before any handler runs, it checks a
//!   presented org credential against the database (through the provisioner) and refuses it
//!   for every method not in [`ORG_SCOPED`] (`credential-operator-only`), so a method added
//!   later is closed to org credentials until someone lists it here.
//! - `on_org`, the one path of the org-scoped handlers, refuses an org other than the
//!   credential's (`credential-wrong-org`) and names the credential as the audit actor.
//!
//! A test calls every method of the compiled descriptor with org A's credential naming org B;
//! another requires every method to be in [`ORG_SCOPED`] or [`OPERATOR_ONLY`], so a new
//! method's access is decided, not left to the default.

use std::convert::Infallible;
use std::task::{Context, Poll};

use sso_provisioning::{CredentialError, OrgCredentialCaller, Provisioner, is_org_credential};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::{Code, Status};

use crate::errors::store_status;
use crate::services::{AdminServiceImpl, Clock};
use crate::status::refusal;
use crate::v1::admin_service_server::AdminServiceServer;

/// AdminService methods an org credential may call, on its own org. Each handler goes
/// through `on_org`, which checks the org.
pub(crate) const ORG_SCOPED: &[&str] = &[
    "GetOrg",
    "RemoveVerifiedDomain",
    "ImportIdpMetadata",
    "SetConnectionEnabled",
    "SetConnectionOptions",
    "SetJit",
    "SetGroupRoleRules",
    "SetRequireSso",
    "ListLoginTraces",
    "ImportIdpMetadataFromUrl",
    "RefreshIdpMetadata",
    "AddConnectionCertificate",
    "RemoveConnectionCertificate",
    "ListOrgCredentials",
    "RevokeOrgCredential",
    "GetConnection",
    "UpsertProjects",
    "ListProjects",
    "RemoveProject",
    "ListMembers",
    "GetMember",
    "SetMemberRole",
    "RemoveMember",
    "AddMembers",
    "BeginTestLogin",
    "GetTestLogin",
    "ClaimDomain",
    "VerifyDomain",
    "ListDomains",
    "ListSetupLinks",
    "RevokeSetupLink",
    "CreateScimToken",
    "ListScimTokens",
    "RevokeScimToken",
];

/// AdminService methods for the service-wide admin token alone: calls that are not about one
/// org, and the operator's decisions about an org (its plan, a domain it owns, break-glass,
/// its credentials). The refusal needs no list (whatever is not in [`ORG_SCOPED`] is refused);
/// this one records the decision, and a test keeps every method in one of the two.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const OPERATOR_ONLY: &[&str] = &[
    "CreateOrg",
    "SetPlan",
    "AddVerifiedDomain",
    "BreakGlass",
    "CreateOrgCredential",
    "ListOrgs",
    "CreateSetupLink",
];

/// The path prefix of AdminService methods.
const METHOD_PREFIX: &str = "/sso.v1.AdminService/";

/// Whether an org credential may call `method` (the RPC name, `SetJit`).
pub(crate) fn open_to_org_credentials(method: &str) -> bool {
    ORG_SCOPED.contains(&method)
}

/// Who is calling an admin method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The service-wide admin token (or a server with no tokens, loopback only).
    Service,
    /// An org credential, already checked by [`AdminServer`].
    Org(OrgCredentialCaller),
}

/// The secret of an `authorization: Bearer <secret>` header value.
fn bearer(value: Option<&str>) -> Option<&str> {
    value
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
}

/// The caller of a request that reached a handler. An org credential without the check of
/// [`AdminServer`] (a server assembled without it) is refused, never taken for the operator.
pub(crate) fn caller(
    metadata: &MetadataMap,
    extensions: &http::Extensions,
) -> Result<Caller, Status> {
    if let Some(checked) = extensions.get::<OrgCredentialCaller>() {
        return Ok(Caller::Org(*checked));
    }
    let presented = bearer(metadata.get("authorization").and_then(|v| v.to_str().ok()));
    if presented.is_some_and(is_org_credential) {
        return Err(unauthenticated());
    }
    Ok(Caller::Service)
}

fn unauthenticated() -> Status {
    refusal(
        Code::Unauthenticated,
        "unauthenticated",
        "a valid bearer token is required",
    )
}

/// The refusal of an org credential naming another org.
pub(crate) fn wrong_org() -> Status {
    refusal(
        Code::PermissionDenied,
        "credential-wrong-org",
        "this credential may act on its own organization only",
    )
}

/// The refusal of an org credential calling an operator-only method.
pub(crate) fn operator_only(method: &str) -> Status {
    refusal(
        Code::PermissionDenied,
        "credential-operator-only",
        &format!("{method} needs the service-wide admin token; an org credential may not call it"),
    )
}

/// The status of an org credential that was not accepted.
fn credential_status(error: &CredentialError) -> Status {
    match error {
        CredentialError::Store(e) => store_status("authenticate org credential", e),
        CredentialError::Expired | CredentialError::Revoked => {
            refusal(Code::Unauthenticated, error.reason(), &error.to_string())
        }
        _ => unauthenticated(),
    }
}

/// `sso.v1.AdminService` as the server serves it: the generated server behind the check of
/// org credentials. Requests without one (the service-wide token, checked by the server's
/// interceptor) pass untouched.
#[derive(Clone)]
pub struct AdminServer {
    inner: AdminServiceServer<AdminServiceImpl>,
    provisioner: Provisioner,
    clock: Clock,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AdminServer {
    pub(crate) fn new(service: AdminServiceImpl, provisioner: Provisioner, clock: Clock) -> Self {
        Self {
            inner: AdminServiceServer::new(service),
            provisioner,
            clock,
        }
    }

    /// Checks an org credential, if the request carries one, and records its caller for the
    /// handler; `Err` is the refusal to send instead of calling the handler.
    async fn admit(
        provisioner: &Provisioner,
        clock: &Clock,
        path: &str,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> Result<(), Status> {
        let presented = bearer(
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        );
        let Some(token) = presented.filter(|t| is_org_credential(t)) else {
            return Ok(());
        };
        let method = path.strip_prefix(METHOD_PREFIX).unwrap_or(path);
        let caller = provisioner
            .authenticate_org_credential(token, clock())
            .await
            .map_err(|e| {
                tracing::info!(method, reason = e.reason(), "org credential refused");
                credential_status(&e)
            })?;
        if !open_to_org_credentials(method) {
            tracing::info!(
                method,
                credential = caller.credential.get(),
                "org credential refused: operator-only method"
            );
            return Err(operator_only(method));
        }
        extensions.insert(caller);
        Ok(())
    }
}

impl NamedService for AdminServer {
    const NAME: &'static str = <AdminServiceServer<AdminServiceImpl> as NamedService>::NAME;
}

impl<B> Service<http::Request<B>> for AdminServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut inner = self.inner.clone();
        let provisioner = self.provisioner.clone();
        let clock = self.clock.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let path = parts.uri.path().to_owned();
            match Self::admit(
                &provisioner,
                &clock,
                &path,
                &parts.headers,
                &mut parts.extensions,
            )
            .await
            {
                Ok(()) => inner.call(http::Request::from_parts(parts, body)).await,
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }

    /// Every AdminService method of the compiled descriptor (the one reflection serves) is
    /// either open to org credentials or the operator's: a new method's access is a decision.
    #[test]
    fn every_admin_method_is_classified_once() {
        use prost::Message;
        let fds = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let methods: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "sso.v1")
            .flat_map(|f| f.service.iter())
            .filter(|s| s.name() == "AdminService")
            .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
            .collect();
        assert!(methods.len() >= 19, "{methods:?}");
        for method in &methods {
            let open = ORG_SCOPED.contains(&method.as_str());
            let closed = OPERATOR_ONLY.contains(&method.as_str());
            assert!(
                open != closed,
                "AdminService.{method}: list it in exactly one of ORG_SCOPED (its handler goes \
                 through on_org) or OPERATOR_ONLY in crates/sso-grpc/src/access.rs"
            );
        }
        for listed in ORG_SCOPED.iter().chain(OPERATOR_ONLY) {
            assert!(
                methods.iter().any(|m| m == listed),
                "{listed} is not an AdminService method"
            );
        }
    }
}
