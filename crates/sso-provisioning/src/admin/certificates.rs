//! Trusted IdP certificates changed one by one, for a key rollover: add the successor, then
//! remove the old one (never the last).

use serde_json::json;
use sso_assertion::{Certificate, Fingerprint};
use sso_store::{ConnectionRecord, OrgId, StoreError};
use time::OffsetDateTime;

use super::{Audited, fingerprint_details, fingerprints, kinds, with};
use crate::error::AdminError;
use crate::login::Provisioner;

impl Provisioner {
    /// Trusts one more IdP signing certificate (PEM or base64 DER), for a key rollover: both
    /// keys verify until the old one is removed. A configuration change; a certificate
    /// already trusted changes nothing.
    pub async fn add_connection_certificate(
        &self,
        actor: &str,
        org: OrgId,
        certificate: &str,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let parsed = Certificate::from_pem_or_base64(certificate)
            .map_err(|e| AdminError::InvalidCertificate(e.to_string()));
        self.audited(
            Some(org),
            kinds::CERTIFICATE_ADDED,
            actor,
            now,
            async |tx| {
                let cert = parsed.map_err(|e| (e, json!({})))?;
                let detail = json!({
                    "fingerprint": cert.fingerprint().to_string(),
                    "subject": cert.subject(),
                    "not_after": cert.not_after().map(|t| t.to_string()),
                });
                let fail = |e: StoreError| (AdminError::from(e), detail.clone());
                let current = tx.connection_for_org(org).await.map_err(fail)?;
                let trusted = fingerprints(&current.idp.certificates);
                if trusted.contains(&Some(*cert.fingerprint())) {
                    let detail = with(
                        detail.clone(),
                        "certificates",
                        fingerprint_details(&trusted),
                    );
                    return Ok(Audited::new(current, org, "already-trusted", detail));
                }
                let mut certificates = current.idp.certificates.clone();
                certificates.push(cert.to_pem());
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &certificates, now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    with(
                        detail.clone(),
                        "certificates",
                        fingerprint_details(&fingerprints(&connection.idp.certificates)),
                    ),
                    "config_version",
                    json!(connection.config_version),
                );
                Ok(Audited::new(connection, org, "added", detail))
            },
        )
        .await
    }

    /// Stops trusting the IdP certificate with this SHA-256 fingerprint (hex, colons
    /// optional), ending a rollover. The last trusted certificate cannot be removed
    /// (`last-certificate`). A configuration change.
    pub async fn remove_connection_certificate(
        &self,
        actor: &str,
        org: OrgId,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let wanted = fingerprint.parse::<Fingerprint>().ok();
        let asked = json!({
            "fingerprint": wanted.map_or_else(|| fingerprint.to_owned(), |f| f.to_string())
        });
        self.audited(
            Some(org),
            kinds::CERTIFICATE_REMOVED,
            actor,
            now,
            async |tx| {
                let fail = |e: AdminError| (e, asked.clone());
                let wanted = wanted.ok_or_else(|| {
                    fail(AdminError::Store(StoreError::InvalidInput {
                        what: "fingerprint",
                        detail: "64 hexadecimal digits (SHA-256), colons optional".into(),
                    }))
                })?;
                let current = tx
                    .connection_for_org(org)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let trusted = fingerprints(&current.idp.certificates);
                if !trusted.contains(&Some(wanted)) {
                    return Err(fail(AdminError::CertificateNotFound(wanted.to_string())));
                }
                let remaining: Vec<String> = current
                    .idp
                    .certificates
                    .iter()
                    .zip(&trusted)
                    .filter(|(_, f)| **f != Some(wanted))
                    .map(|(pem, _)| pem.clone())
                    .collect();
                if remaining.is_empty() {
                    return Err(fail(AdminError::LastCertificate(wanted.to_string())));
                }
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &remaining, now)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let detail = json!({
                    "fingerprint": wanted.to_string(),
                    "certificates": fingerprint_details(&fingerprints(&connection.idp.certificates)),
                    "config_version": connection.config_version,
                });
                Ok(Audited::new(connection, org, "removed", detail))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fingerprints_are_normalized() {
        // The forms an admin may type for remove_connection_certificate.
        let colon = format!("{}AB", "ab:".repeat(31));
        let expected = format!("{}AB", "AB:".repeat(31));
        let parse = |s: &str| s.parse::<Fingerprint>().map(|f| f.to_string()).ok();
        assert_eq!(parse(&colon).unwrap(), expected);
        assert_eq!(parse(&"Ab".repeat(32)).unwrap(), expected);
        assert_eq!(parse("abcd"), None);
        assert_eq!(parse(&"zz".repeat(32)), None);
    }
}
