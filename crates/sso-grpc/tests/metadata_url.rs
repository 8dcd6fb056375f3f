//! The metadata-URL and certificate RPCs over a real tonic server: refusals of the default
//! fetcher reach the caller with their wire reasons, and a rollover by two admin calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::LazyLock;

use common::TestServer;
use common::idp::{IDP_ENTITY, Idp};
use sso_assertion::IdpMetadata;
use sso_grpc::reason_of;
use sso_grpc::v1::{self, Plan, Reason};
use tonic::Code;

static OLD: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc rollover old"));
static NEW: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc rollover new"));

fn certificate(idp: &Idp) -> (String, String) {
    let cert = IdpMetadata::from_xml(&idp.metadata())
        .unwrap()
        .signing_certificates
        .remove(0);
    (cert.to_base64(), cert.fingerprint().to_string())
}

async fn org_with_connection(s: &mut TestServer) -> String {
    let org = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Example".to_owned(),
            plan: Plan::Enterprise.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    s.admin
        .import_idp_metadata(v1::ImportIdpMetadataRequest {
            org_id: org.clone(),
            metadata_xml: String::from_utf8(OLD.metadata()).unwrap(),
            entity_id: IDP_ENTITY.to_owned(),
            signing_certificate: String::new(),
        })
        .await
        .unwrap();
    org
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_refusals_carry_their_reasons() {
    let mut s = TestServer::start("metadata_url").await;
    let org = org_with_connection(&mut s).await;
    let cases = [
        ("http://idp.example.com/md", Reason::MetadataUrlScheme),
        ("https://10.0.0.1/md", Reason::MetadataUrlBlockedAddress),
        (
            "https://169.254.169.254/latest/meta-data/",
            Reason::MetadataUrlBlockedAddress,
        ),
        ("https://[::1]/md", Reason::MetadataUrlBlockedAddress),
        ("https://localhost/md", Reason::MetadataUrlBlockedAddress),
        ("not a url", Reason::MetadataUrlInvalid),
    ];
    for (url, reason) in cases {
        let status = s
            .admin
            .import_idp_metadata_from_url(v1::ImportIdpMetadataFromUrlRequest {
                org_id: org.clone(),
                url: url.to_owned(),
                entity_id: String::new(),
                refresh_interval_seconds: 3600,
                signing_certificate: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{url}");
        assert_eq!(
            reason_of(&status),
            Some(reason),
            "{url}: {}",
            status.message()
        );
    }
    // Nothing to refresh: the metadata came as XML.
    let status = s
        .admin
        .refresh_idp_metadata(v1::RefreshIdpMetadataRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&status), Some(Reason::NoMetadataUrl));
    // Each refusal is in the org's traces.
    let traces = s
        .admin
        .list_login_traces(v1::ListLoginTracesRequest {
            org_id: org,
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .traces;
    assert_eq!(traces[0].reason(), Reason::NoMetadataUrl);
    assert_eq!(traces[1].reason(), Reason::MetadataUrlInvalid);
    assert_eq!(traces[2].kind, "idp-metadata-imported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_added_and_removed_by_fingerprint() {
    let mut s = TestServer::start("certificates").await;
    let org = org_with_connection(&mut s).await;
    let (old_b64, old_fp) = certificate(&OLD);
    let (new_b64, new_fp) = certificate(&NEW);
    assert_ne!(old_b64, new_b64);

    let connection = s
        .admin
        .add_connection_certificate(v1::AddConnectionCertificateRequest {
            org_id: org.clone(),
            certificate: new_b64,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        connection.idp_certificate_fingerprints,
        [old_fp.clone(), new_fp.clone()]
    );
    assert_eq!(connection.config_version, 2);

    let connection = s
        .admin
        .remove_connection_certificate(v1::RemoveConnectionCertificateRequest {
            org_id: org.clone(),
            fingerprint_sha256: old_fp.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        connection.idp_certificate_fingerprints,
        std::slice::from_ref(&new_fp)
    );

    let refusals = [
        (old_fp, Code::NotFound, Reason::CertificateNotFound),
        (new_fp, Code::FailedPrecondition, Reason::LastCertificate),
    ];
    for (fingerprint, code, reason) in refusals {
        let status = s
            .admin
            .remove_connection_certificate(v1::RemoveConnectionCertificateRequest {
                org_id: org.clone(),
                fingerprint_sha256: fingerprint,
            })
            .await
            .unwrap_err();
        assert_eq!((status.code(), reason_of(&status)), (code, Some(reason)));
    }
    let status = s
        .admin
        .add_connection_certificate(v1::AddConnectionCertificateRequest {
            org_id: org,
            certificate: "not a certificate".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status), Some(Reason::InvalidCertificate));
}
