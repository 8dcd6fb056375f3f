//! Trusted IdP certificates changed one by one, for a key rollover: add the successor, then
//! remove the old one (never the last).

use serde_json::json;
use sso_assertion::Certificate;
use sso_store::{ConnectionRecord, OrgId, StoreError};
use time::OffsetDateTime;

use super::{Audited, fingerprints, kinds, pem, with};
use crate::error::AdminError;
use crate::login::Provisioner;

/// A fingerprint as an admin may type it (`ab:cd...`, `ABCD...`), in the colon-separated
/// upper-case form `Certificate::fingerprint_hex` gives.
fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(pairs.join(":"))
}

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
                    "fingerprint": cert.fingerprint_hex(),
                    "subject": cert.subject(),
                    "not_after": cert.not_after().map(|t| t.to_string()),
                });
                let fail = |e: StoreError| (AdminError::from(e), detail.clone());
                let current = tx.connection_for_org(org).await.map_err(fail)?;
                let trusted = fingerprints(&current.idp.certificates);
                if trusted.contains(&Some(cert.fingerprint_hex())) {
                    let detail = with(detail.clone(), "certificates", json!(trusted));
                    return Ok(Audited::new(current, org, "already-trusted", detail));
                }
                let mut certificates = current.idp.certificates.clone();
                certificates.push(pem(&cert.to_base64()));
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &certificates, now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    with(
                        detail.clone(),
                        "certificates",
                        json!(fingerprints(&connection.idp.certificates)),
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
        let wanted = normalize_fingerprint(fingerprint);
        let asked = json!({ "fingerprint": wanted.as_deref().unwrap_or(fingerprint) });
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
                if !trusted.contains(&Some(wanted.clone())) {
                    return Err(fail(AdminError::CertificateNotFound(wanted)));
                }
                let remaining: Vec<String> = current
                    .idp
                    .certificates
                    .iter()
                    .zip(&trusted)
                    .filter(|(_, f)| f.as_deref() != Some(wanted.as_str()))
                    .map(|(pem, _)| pem.clone())
                    .collect();
                if remaining.is_empty() {
                    return Err(fail(AdminError::LastCertificate(wanted)));
                }
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &remaining, now)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let detail = json!({
                    "fingerprint": wanted,
                    "certificates": fingerprints(&connection.idp.certificates),
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
        let colon = format!("{}AB", "ab:".repeat(31));
        let expected = format!("{}AB", "AB:".repeat(31));
        assert_eq!(normalize_fingerprint(&colon).unwrap(), expected);
        assert_eq!(normalize_fingerprint(&"Ab".repeat(32)).unwrap(), expected);
        assert_eq!(normalize_fingerprint("abcd"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }
}
