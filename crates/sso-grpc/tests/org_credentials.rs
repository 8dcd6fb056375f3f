//! Org-scoped admin credentials over the wire: every AdminService method of the compiled
//! descriptor (the one reflection serves), called with org A's credential naming org B, is
//! refused before it acts, so a method added later without the check fails here; and a
//! credential administers its own org, audited under its name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use common::idp::{BASE_URL, IDP_ENTITY, Idp};
use common::{TestServer, at};
use prost::Message as _;
use prost::bytes::{Buf as _, BufMut as _};
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::admin_service_server::AdminServiceServer;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_grpc::{AdminServiceImpl, reason_of};
use sso_provisioning::Provisioner;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Status};

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc org credential idp"));

/// `message` as the operator sends it (no token: the test server has none configured).
fn as_ops<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-sso-actor", "ops@example.com".parse().unwrap());
    request
}

/// `message` with `authorization: Bearer <credential>`.
fn with_credential<T>(message: T, credential: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {credential}").parse().unwrap(),
    );
    request
}

async fn create_org(s: &mut TestServer, name: &str) -> String {
    s.admin
        .create_org(as_ops(v1::CreateOrgRequest {
            name: name.to_owned(),
            plan: Plan::Enterprise.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn create_credential(s: &mut TestServer, org: &str, ttl_seconds: u32) -> (String, String) {
    let created = s
        .admin
        .create_org_credential(as_ops(v1::CreateOrgCredentialRequest {
            org_id: org.to_owned(),
            description: "test credential".to_owned(),
            ttl_seconds,
        }))
        .await
        .unwrap()
        .into_inner();
    let credential = created.credential.unwrap();
    assert_eq!(credential.org_id, org);
    assert!(
        created
            .secret
            .starts_with(&format!("sso_org_{}_", credential.id))
    );
    (credential.id, created.secret)
}

/// Requests and responses as bytes, so any method can be called by its path.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Protobuf varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// One AdminService method of the descriptor: its name and the number of its request's
/// `org_id` field (found by name, whatever its number), if it has one.
struct Method {
    name: String,
    org_field: Option<u64>,
}

impl Method {
    fn has_org_id(&self) -> bool {
        self.org_field.is_some()
    }

    /// The request naming `org` in its `org_id` field, otherwise empty.
    fn request_for(&self, org: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Some(number) = self.org_field {
            put_varint(&mut bytes, (number << 3) | 2);
            put_varint(&mut bytes, org.len() as u64);
            bytes.extend_from_slice(org.as_bytes());
        }
        bytes
    }
}

/// Every method of `sso.v1.AdminService` in `sso_grpc::FILE_DESCRIPTOR_SET`.
fn admin_methods() -> Vec<Method> {
    let fds = prost_types::FileDescriptorSet::decode(sso_grpc::FILE_DESCRIPTOR_SET).unwrap();
    let files: Vec<_> = fds
        .file
        .iter()
        .filter(|f| f.package() == "sso.v1")
        .collect();
    let messages: BTreeMap<String, &prost_types::DescriptorProto> = files
        .iter()
        .flat_map(|f| f.message_type.iter())
        .map(|m| (format!(".sso.v1.{}", m.name()), m))
        .collect();
    let service = files
        .iter()
        .flat_map(|f| f.service.iter())
        .find(|s| s.name() == "AdminService")
        .unwrap();
    service
        .method
        .iter()
        .map(|m| {
            let input = messages
                .get(m.input_type())
                .unwrap_or_else(|| panic!("{}: input {} not found", m.name(), m.input_type()));
            let org_field = input.field.iter().find(|f| f.name() == "org_id").map(|f| {
                assert_eq!(
                    f.r#type(),
                    prost_types::field_descriptor_proto::Type::String,
                    "{}.org_id is a string",
                    input.name()
                );
                u64::try_from(f.number()).unwrap()
            });
            Method {
                name: m.name().to_owned(),
                org_field,
            }
        })
        .collect()
}

/// Calls `/sso.v1.AdminService/<method>` with `body` and `credential`.
async fn call(channel: &Channel, method: &str, body: Vec<u8>, credential: &str) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = format!("/sso.v1.AdminService/{method}").parse().unwrap();
    match grpc
        .unary(with_credential(body, credential), path, RawCodec)
        .await
    {
        Ok(response) => panic!(
            "{method} answered an org credential of another org: {:?}",
            response.into_inner()
        ),
        Err(status) => status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_method_refuses_a_credential_of_another_org() {
    let mut s = TestServer::start("credential_every_method").await;
    let a = create_org(&mut s, "A").await;
    let b = create_org(&mut s, "B").await;
    let (_, credential) = create_credential(&mut s, &a, 0).await;
    let (_, short) = create_credential(&mut s, &a, 60).await;
    let (revoked_id, revoked) = create_credential(&mut s, &a, 0).await;
    s.admin
        .revoke_org_credential(as_ops(v1::RevokeOrgCredentialRequest {
            org_id: a.clone(),
            credential_id: revoked_id,
        }))
        .await
        .unwrap();
    let b_before = s
        .admin
        .get_org(as_ops(v1::GetOrgRequest { org_id: b.clone() }))
        .await
        .unwrap()
        .into_inner();

    let methods = admin_methods();
    assert!(methods.len() >= 19, "only {} methods", methods.len());
    let mut reasons = BTreeMap::new();
    for method in &methods {
        let status = call(
            &s.channel,
            &method.name,
            method.request_for(&b),
            &credential,
        )
        .await;
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{}: {status:?}",
            method.name
        );
        let reason = reason_of(&status);
        assert!(
            matches!(
                reason,
                Some(Reason::CredentialWrongOrg | Reason::CredentialOperatorOnly)
            ),
            "{}: {status:?}",
            method.name
        );
        // A method that is not about one org can only be the operator's.
        if !method.has_org_id() {
            assert_eq!(
                reason,
                Some(Reason::CredentialOperatorOnly),
                "{}",
                method.name
            );
        }
        reasons.insert(method.name.clone(), reason.unwrap());
    }
    for (method, expected) in [
        ("CreateOrg", Reason::CredentialOperatorOnly),
        ("SetPlan", Reason::CredentialOperatorOnly),
        ("AddVerifiedDomain", Reason::CredentialOperatorOnly),
        ("BreakGlass", Reason::CredentialOperatorOnly),
        ("CreateOrgCredential", Reason::CredentialOperatorOnly),
        ("GetOrg", Reason::CredentialWrongOrg),
        ("SetJit", Reason::CredentialWrongOrg),
        ("RemoveVerifiedDomain", Reason::CredentialWrongOrg),
        ("ListOrgCredentials", Reason::CredentialWrongOrg),
        ("RevokeOrgCredential", Reason::CredentialWrongOrg),
    ] {
        assert_eq!(reasons.get(method), Some(&expected), "{method}");
    }

    // Past its time, revoked, or unknown: refused as unauthenticated on every method, even on
    // its own org.
    s.set_time(61);
    for (secret, expected) in [
        (short.as_str(), Reason::CredentialExpired),
        (revoked.as_str(), Reason::CredentialRevoked),
        ("sso_org_999999_guess", Reason::Unauthenticated),
    ] {
        for method in &methods {
            let status = call(&s.channel, &method.name, method.request_for(&a), secret).await;
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{}: {status:?}",
                method.name
            );
            assert_eq!(reason_of(&status), Some(expected), "{}", method.name);
        }
    }

    // Org B is as it was, and no event of it names a credential.
    let b_after = s
        .admin
        .get_org(as_ops(v1::GetOrgRequest { org_id: b.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b_after, b_before);
    let traces = s
        .admin
        .list_login_traces(as_ops(v1::ListLoginTracesRequest {
            org_id: b,
            page_size: 1000,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .traces;
    let kinds: Vec<&str> = traces.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["org-created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_administers_its_own_org_under_its_name() {
    let mut s = TestServer::start("credential_own_org").await;
    let a = create_org(&mut s, "A").await;
    let b = create_org(&mut s, "B").await;
    let (id, credential) = create_credential(&mut s, &a, 0).await;
    let (other_id, other) = create_credential(&mut s, &a, 0).await;
    let (b_id, _) = create_credential(&mut s, &b, 0).await;
    let actor = format!("org-credential:{id}");

    let got = s
        .admin
        .get_org(with_credential(
            v1::GetOrgRequest { org_id: a.clone() },
            &credential,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, "A");

    // Changes, named after the credential whatever x-sso-actor claims.
    let mut import = with_credential(
        v1::ImportIdpMetadataRequest {
            org_id: a.clone(),
            metadata_xml: String::from_utf8(IDP.metadata()).unwrap(),
            entity_id: IDP_ENTITY.to_owned(),
            signing_certificate: String::new(),
        },
        &credential,
    );
    import
        .metadata_mut()
        .insert("x-sso-actor", "somebody-else".parse().unwrap());
    let connection = s
        .admin
        .import_idp_metadata(import)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.acs_url, format!("{BASE_URL}/saml/2/acs/{a}"));
    let connection = s
        .admin
        .set_jit(with_credential(
            v1::SetJitRequest {
                org_id: a.clone(),
                role: Role::Member.into(),
                default_project_ids: Vec::new(),
            },
            &credential,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.jit_role(), Role::Member);
    let traces = s
        .admin
        .list_login_traces(with_credential(
            v1::ListLoginTracesRequest {
                org_id: a.clone(),
                page_size: 0,
                page_token: String::new(),
            },
            &credential,
        ))
        .await
        .unwrap()
        .into_inner()
        .traces;
    for kind in ["jit-changed", "idp-metadata-imported"] {
        let event = traces.iter().find(|t| t.kind == kind).unwrap();
        assert_eq!(event.outcome, "success", "{kind}: {}", event.detail_json);
    }
    // The wire trace has no actor: read it from the store.
    let events = s
        .store
        .list_events(a.parse().unwrap(), &sso_store::EventQuery::new(100))
        .await
        .unwrap()
        .events;
    let actors: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        &actors[..2],
        [
            ("jit-changed", Some(actor.as_str())),
            ("idp-metadata-imported", Some(actor.as_str())),
        ],
        "{actors:?}"
    );

    // Its own org's credentials: listed without secrets; one of another org is not found.
    let listed = s
        .admin
        .list_org_credentials(with_credential(
            v1::ListOrgCredentialsRequest { org_id: a.clone() },
            &credential,
        ))
        .await
        .unwrap()
        .into_inner()
        .credentials;
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [other_id.as_str(), id.as_str()]);
    assert!(!format!("{listed:?}").contains(credential.split_at(20).1));
    let missing = s
        .admin
        .revoke_org_credential(with_credential(
            v1::RevokeOrgCredentialRequest {
                org_id: a.clone(),
                credential_id: b_id,
            },
            &credential,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // No further credentials from a credential, not even for its own org.
    let refused = s
        .admin
        .create_org_credential(with_credential(
            v1::CreateOrgCredentialRequest {
                org_id: a.clone(),
                description: "more".to_owned(),
                ttl_seconds: 0,
            },
            &credential,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason_of(&refused), Some(Reason::CredentialOperatorOnly));

    // It may revoke another credential of its org, and itself.
    let revoked = s
        .admin
        .revoke_org_credential(with_credential(
            v1::RevokeOrgCredentialRequest {
                org_id: a.clone(),
                credential_id: other_id,
            },
            &credential,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked_at, "2025-03-01T09:00:00Z");
    let gone = s
        .admin
        .get_org(with_credential(
            v1::GetOrgRequest { org_id: a.clone() },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::Unauthenticated);
    assert_eq!(reason_of(&gone), Some(Reason::CredentialRevoked));
    s.admin
        .revoke_org_credential(with_credential(
            v1::RevokeOrgCredentialRequest {
                org_id: a.clone(),
                credential_id: id,
            },
            &credential,
        ))
        .await
        .unwrap();
    let gone = s
        .admin
        .get_org(with_credential(
            v1::GetOrgRequest { org_id: a },
            &credential,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&gone), Some(Reason::CredentialRevoked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_bounds() {
    let mut s = TestServer::start("credential_bounds").await;
    let a = create_org(&mut s, "A").await;
    let long = "d".repeat(201);
    for (description, ttl_seconds) in [("", 0), ("x", 31_536_001), (long.as_str(), 0)] {
        let refused = s
            .admin
            .create_org_credential(as_ops(v1::CreateOrgCredentialRequest {
                org_id: a.clone(),
                description: description.to_owned(),
                ttl_seconds,
            }))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(reason_of(&refused), Some(Reason::InvalidInput));
    }
    let created = s
        .admin
        .create_org_credential(as_ops(v1::CreateOrgCredentialRequest {
            org_id: a.clone(),
            description: "a year".to_owned(),
            ttl_seconds: 31_536_000,
        }))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert_eq!(created.expires_at, "2026-03-01T09:00:00Z");
    assert_eq!(created.created_by, "ops@example.com");
    let default = create_credential(&mut s, &a, 0).await.0;
    let listed = s
        .admin
        .list_org_credentials(as_ops(v1::ListOrgCredentialsRequest { org_id: a }))
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert_eq!(listed[0].id, default);
    // 90 days after 2025-03-01.
    assert_eq!(listed[0].expires_at, "2025-05-30T09:00:00Z");
}

/// The generated server alone, without `into_server`: a handler never takes an unchecked org
/// credential for the operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_check_an_org_credential_is_refused() {
    let mut s = TestServer::start("credential_unguarded").await;
    let a = create_org(&mut s, "A").await;
    let (_, credential) = create_credential(&mut s, &a, 0).await;

    let provisioner = Provisioner::new(s.store.clone(), BASE_URL);
    let clock: sso_grpc::Clock = std::sync::Arc::new(|| at(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tokio::spawn(
        Server::builder()
            .add_service(AdminServiceServer::new(AdminServiceImpl::new(
                provisioner,
                clock,
            )))
            .serve_with_incoming(incoming),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut admin = AdminServiceClient::new(channel);
    let refused = admin
        .set_jit(with_credential(
            v1::SetJitRequest {
                org_id: a.clone(),
                role: Role::Member.into(),
                default_project_ids: Vec::new(),
            },
            &credential,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(reason_of(&refused), Some(Reason::Unauthenticated));
    server.abort();
}
