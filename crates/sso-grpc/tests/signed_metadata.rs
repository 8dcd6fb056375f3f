//! ImportIdpMetadata and ImportIdpMetadataFromUrl with a pinned metadata signing certificate,
//! over a real tonic server: each refusal reaches the caller with its wire reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::LazyLock;

use common::TestServer;
use common::idp::Idp;
use sso_grpc::reason_of;
use sso_grpc::v1::{self, Plan, Reason};
use tonic::Code;

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc signed idp"));
static PUBLISHER: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc metadata publisher"));
static STRANGER: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc stranger"));

async fn org(s: &mut TestServer) -> String {
    s.admin
        .create_org(v1::CreateOrgRequest {
            name: "Example".to_owned(),
            plan: Plan::Enterprise.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

fn import(org: &str, xml: Vec<u8>, pin: &str) -> v1::ImportIdpMetadataRequest {
    v1::ImportIdpMetadataRequest {
        org_id: org.to_owned(),
        metadata_xml: String::from_utf8(xml).unwrap(),
        entity_id: String::new(),
        signing_certificate: pin.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_imports_refuse_with_wire_reasons() {
    let mut s = TestServer::start("signed_metadata").await;
    let org = org(&mut s).await;
    let pin = PUBLISHER.certificate_pem();
    let signed = PUBLISHER.sign_metadata_with_xmlsec1(&IDP.metadata_with_id(), "_metadata");
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("https://idp.test/sso", "https://evil.example/sso")
        .into_bytes();
    let by_stranger = STRANGER.sign_metadata_with_xmlsec1(&IDP.metadata_with_id(), "_metadata");
    let cases = [
        (IDP.metadata(), pin.as_str(), Reason::MetadataUnsigned),
        (tampered, pin.as_str(), Reason::MetadataSignatureInvalid),
        (by_stranger, pin.as_str(), Reason::MetadataUntrustedKey),
        (
            signed.clone(),
            "not a certificate",
            Reason::InvalidCertificate,
        ),
    ];
    for (xml, pin, reason) in cases {
        let status = s
            .admin
            .import_idp_metadata(import(&org, xml, pin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{reason:?}");
        assert_eq!(
            reason_of(&status),
            Some(reason),
            "{reason:?}: {}",
            status.message()
        );
    }
    let connection = s
        .admin
        .import_idp_metadata(import(&org, signed, &pin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.config_version, 1);

    // By URL, an unreadable pin is refused before anything is fetched.
    let status = s
        .admin
        .import_idp_metadata_from_url(v1::ImportIdpMetadataFromUrlRequest {
            org_id: org.clone(),
            url: "https://idp.example.com/metadata".to_owned(),
            entity_id: String::new(),
            refresh_interval_seconds: 0,
            signing_certificate: "-----BEGIN CERTIFICATE-----\nnope\n".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason_of(&status), Some(Reason::InvalidCertificate));
}
