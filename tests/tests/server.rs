//! The real `sso-server` binary on free loopback ports with a SQLite file in a temp dir and a
//! token per scope, driven over gRPC (health, AdminService, AuthService) and HTTP, then
//! stopped with SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Stdio};
use std::time::Duration;

use sso_grpc::reason_of;
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Reason};
use system_tests::{RunningServer, free_port};

mod common;
use common::{http_get, wait_until_serving, with_token};
use tonic::Code;
use tonic::transport::Channel;

const AUTH_TOKEN: &str = "auth-secret-for-the-system-test";
const ADMIN_TOKEN: &str = "admin-secret-for-the-system-test";

/// Server reflection v1, without a token, names both services and health.
async fn assert_reflection_lists_the_services(channel: Channel) {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("not a service list: {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "sso.v1.AuthService",
        "sso.v1.AdminService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_grpc_and_http_with_scoped_tokens_and_stops_on_sigterm() {
    let mut server = RunningServer::start("sso_server_test", AUTH_TOKEN, ADMIN_TOKEN);
    let http_port = server.http_port;

    let channel = wait_until_serving(&mut server).await;
    assert_reflection_lists_the_services(channel.clone()).await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let mut auth = AuthServiceClient::new(channel);

    // AdminService: the admin token may, the auth token may not, no token is refused.
    let create = || v1::CreateOrgRequest {
        name: "Example Corp".to_owned(),
        plan: Plan::Growth.into(),
    };
    let org = admin
        .create_org(with_token(create(), Some(ADMIN_TOKEN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.plan(), Plan::Growth);

    let denied = admin
        .create_org(with_token(create(), Some(AUTH_TOKEN)))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(reason_of(&denied), Some(Reason::PermissionDenied));

    let anonymous = admin
        .create_org(with_token(create(), None))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    assert_eq!(reason_of(&anonymous), Some(Reason::Unauthenticated));

    let unknown = admin
        .create_org(with_token(create(), Some("not-a-token")))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated, "{unknown:?}");

    // AuthService with the auth token: SP metadata on the configured public base URL.
    let metadata = auth
        .get_service_provider_metadata(with_token(
            v1::GetServiceProviderMetadataRequest {
                org_id: org.id.clone(),
            },
            Some(AUTH_TOKEN),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        metadata.entity_id.starts_with("https://sso.example.test"),
        "{}",
        metadata.entity_id
    );
    assert!(metadata.metadata_xml.contains(&metadata.entity_id));
    let refused = auth
        .get_service_provider_metadata(with_token(
            v1::GetServiceProviderMetadataRequest {
                org_id: org.id.clone(),
            },
            Some(ADMIN_TOKEN),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // HTTP beside gRPC.
    let healthz = http_get(http_port, "/healthz").await;
    assert_eq!(healthz.status, 200, "{}", healthz.raw);
    assert_eq!(healthz.body, "ok", "{}", healthz.raw);

    let sp = http_get(http_port, &format!("/saml/2/metadata/{}", org.id)).await;
    assert_eq!(sp.status, 200, "{}", sp.raw);
    assert_eq!(
        sp.header("content-type"),
        Some("application/samlmetadata+xml"),
        "{}",
        sp.raw
    );
    assert!(sp.body.contains(&metadata.entity_id), "{}", sp.raw);

    let missing = http_get(http_port, "/saml/2/metadata/987654321").await;
    assert_eq!(missing.status, 404, "{}", missing.raw);

    // SIGTERM: a clean exit, soon.
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    assert!(server.log().contains("stopped"), "{}", server.log());
}

#[test]
fn without_tokens_the_server_refuses_a_non_loopback_address() {
    let binary = system_tests::binary("sso-server");
    let dir = std::env::temp_dir().join(format!("sso_server_open_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(binary)
        .current_dir(&dir)
        .env_clear()
        .args(["--listen", &format!("0.0.0.0:{}", free_port())])
        .args(["--http-listen", &format!("127.0.0.1:{}", free_port())])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on non-loopback address"),
        "{stderr}"
    );
}
