//! What the whole-system tests share: bearer tokens on requests, waiting for a server to
//! serve, and a small HTTP/1.1 client that does not follow redirects (the tests look at them).
#![allow(dead_code)]

pub mod ctl;
pub mod node;

use std::time::{Duration, Instant};

use system_tests::RunningServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Request;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// `message` with `authorization: Bearer <token>` when a token is given.
pub fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// A channel to the server's gRPC port once health says every service is serving.
pub async fn wait_until_serving(server: &mut RunningServer) -> Channel {
    let port = server.grpc_port;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "sso-server not serving in time:\n{}",
            server.log()
        );
        if let Ok(channel) = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            let mut health = HealthClient::new(channel.clone());
            let mut serving = true;
            for service in ["", "sso.v1.AuthService", "sso.v1.AdminService"] {
                let response = health
                    .check(HealthCheckRequest {
                        service: service.to_owned(),
                    })
                    .await;
                serving &=
                    matches!(response, Ok(r) if r.get_ref().status() == ServingStatus::Serving);
            }
            if serving {
                return channel;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HTTP response as read off the wire.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The whole response, for assertion messages.
    pub raw: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`), answer read to the end.
pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    try_http(port, method, path, content_type, body)
        .await
        .unwrap_or_else(|| panic!("no HTTP answer from 127.0.0.1:{port}{path}"))
}

/// [`http`], or `None` when the connection fails or closes without an answer (a server that
/// was killed).
pub async fn try_http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<HttpResponse> {
    try_http_with(port, method, path, content_type, &[], body).await
}

/// [`try_http`] with more request headers (`Authorization`, `If-Match` ...).
pub async fn try_http_with(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<HttpResponse> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    // A server may answer (413) and close before reading a large body: that is an answer.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body: body.to_owned(),
        raw: raw.clone(),
    })
}

pub async fn http_get(port: u16, path: &str) -> HttpResponse {
    http(port, "GET", path, None, b"").await
}

/// `application/x-www-form-urlencoded` of these pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// POSTs a form; `None` when the server gives no answer.
pub async fn try_post_form(port: u16, path: &str, pairs: &[(&str, &str)]) -> Option<HttpResponse> {
    try_http(
        port,
        "POST",
        path,
        Some("application/x-www-form-urlencoded"),
        &form(pairs),
    )
    .await
}

/// POSTs a form to the server's HTTP port.
pub async fn post_form(port: u16, path: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    http(
        port,
        "POST",
        path,
        Some("application/x-www-form-urlencoded"),
        &form(pairs),
    )
    .await
}

/// The value of query parameter `name` in a URL (values here are URL-safe: no decoding).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A self-signed RSA-2048 certificate and its key, as PEM, made for this run.
pub fn key_pair(cn: &str) -> (String, String) {
    let made = sso_certgen::CertifiedKey::builder(cn)
        .valid_days(0, 30)
        .build()
        .unwrap();
    (made.key_pem().to_owned(), made.certificate_pem().to_owned())
}

/// An org as the whole-system tests set it up through AdminService.
pub struct OrgSetup<'a> {
    pub name: &'a str,
    pub plan: sso_grpc::v1::Plan,
    pub domain: &'a str,
    pub metadata_xml: String,
    pub jit_role: sso_grpc::v1::Role,
}

/// Creates the org, verifies its domain, imports the IdP metadata, enables the connection and
/// turns JIT on, as an admin would; returns the org ID and the connection's ACS URL.
pub async fn set_up_org(
    channel: Channel,
    admin_token: &str,
    org: OrgSetup<'_>,
) -> (String, String) {
    use sso_grpc::v1;
    let mut admin = sso_grpc::v1::admin_service_client::AdminServiceClient::new(channel);
    let token = Some(admin_token);
    let id = admin
        .create_org(with_token(
            v1::CreateOrgRequest {
                name: org.name.into(),
                plan: org.plan.into(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    admin
        .add_verified_domain(with_token(
            v1::VerifiedDomainRequest {
                org_id: id.clone(),
                domain: org.domain.into(),
            },
            token,
        ))
        .await
        .unwrap();
    let connection = admin
        .import_idp_metadata(with_token(
            v1::ImportIdpMetadataRequest {
                org_id: id.clone(),
                metadata_xml: org.metadata_xml,
                entity_id: String::new(),
                signing_certificate: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    admin
        .set_connection_enabled(with_token(
            v1::SetConnectionEnabledRequest {
                org_id: id.clone(),
                enabled: true,
            },
            token,
        ))
        .await
        .unwrap();
    admin
        .set_jit(with_token(
            v1::SetJitRequest {
                org_id: id.clone(),
                role: org.jit_role.into(),
                default_project_ids: Vec::new(),
            },
            token,
        ))
        .await
        .unwrap();
    (id, connection.acs_url)
}
