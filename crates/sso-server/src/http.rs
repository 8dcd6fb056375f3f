//! The HTTP listener beside gRPC: liveness and SP metadata.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sso_provisioning::Provisioner;
use sso_store::{OrgId, StoreError};

/// `GET /healthz` and `GET /saml/2/metadata/{org}`.
pub fn router(provisioner: Provisioner) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/saml/2/metadata/{org}", get(metadata))
        .with_state(provisioner)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metadata(State(provisioner): State<Provisioner>, Path(org): Path<String>) -> Response {
    let Ok(org) = org.parse::<i64>().map(OrgId::new) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match provisioner.store().org(org).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(%org, "SP metadata: org not read: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    match provisioner.service_provider(org).metadata_xml() {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(%org, "SP metadata not written: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
