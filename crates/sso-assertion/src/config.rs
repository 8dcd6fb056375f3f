//! One connection's configuration (IdP, SP, signature and clock policy), with the trusted keys
//! built once when it changes rather than on every response; weakening options sit behind
//! `dangerous()`.

use std::fmt;

use openssl::pkey::{PKey, Private};
use sso_xmldsig::{AlgorithmPolicy, TrustedKey, TrustedKeys, Verifier};

use crate::certificate::{Certificate, CertificateError};
use crate::metadata::{Endpoint, IdpMetadata};

/// This service's side of one connection: its entity ID, its ACS URL and, optionally, a key
/// pair for decrypting assertions and signing AuthnRequests.
#[derive(Clone)]
pub struct ServiceProvider {
    pub(crate) entity_id: String,
    pub(crate) acs_url: String,
    pub(crate) key: Option<SpKey>,
}

/// The SP's private key and its certificate.
#[derive(Clone)]
pub struct SpKey {
    pub(crate) private_key: PKey<Private>,
    pub(crate) certificate: Option<Certificate>,
}

impl SpKey {
    /// A key pair from PEM: a PKCS#8 or PKCS#1 private key and its certificate.
    pub fn from_pem(
        private_key_pem: &[u8],
        certificate_pem: &str,
    ) -> Result<SpKey, CertificateError> {
        let private_key = PKey::private_key_from_pem(private_key_pem)
            .map_err(|e| CertificateError::new(format!("not a PEM private key: {e}")))?;
        let certificate = Certificate::from_pem_or_base64(certificate_pem)?;
        Ok(SpKey {
            private_key,
            certificate: Some(certificate),
        })
    }

    /// A private key alone: enough to decrypt assertions and sign requests, not to publish a
    /// certificate in SP metadata.
    pub fn from_private_key_pem(private_key_pem: &[u8]) -> Result<SpKey, CertificateError> {
        let private_key = PKey::private_key_from_pem(private_key_pem)
            .map_err(|e| CertificateError::new(format!("not a PEM private key: {e}")))?;
        Ok(SpKey {
            private_key,
            certificate: None,
        })
    }

    /// The private key.
    pub fn private_key(&self) -> &PKey<Private> {
        &self.private_key
    }

    /// The certificate published in SP metadata, when one was given.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }
}

impl fmt::Debug for SpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpKey")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServiceProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("entity_id", &self.entity_id)
            .field("acs_url", &self.acs_url)
            .field("key", &self.key)
            .finish()
    }
}

impl ServiceProvider {
    /// A service provider with this entity ID and ACS URL.
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        ServiceProvider {
            entity_id: entity_id.into(),
            acs_url: acs_url.into(),
            key: None,
        }
    }

    /// The per-organization endpoints of the product: `<base>/saml/2/metadata/<org>` as entity
    /// ID and `<base>/saml/2/acs/<org>` as ACS URL, so each org's IdP talks to its own SP.
    pub fn for_org(public_base_url: &str, org_id: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        ServiceProvider::new(
            format!("{base}/saml/2/metadata/{org_id}"),
            format!("{base}/saml/2/acs/{org_id}"),
        )
    }

    /// Adds the SP key pair (decryption, signed AuthnRequests).
    pub fn with_key(mut self, key: SpKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The SP entity ID: the Audience every assertion must name.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The ACS URL: the Destination and Recipient every response must name.
    pub fn acs_url(&self) -> &str {
        &self.acs_url
    }

    /// The key pair, if configured.
    pub fn key(&self) -> Option<&SpKey> {
        self.key.as_ref()
    }
}

/// Which signature must cover the assertion that is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RequiredSignature {
    /// A signature on the Assertion or on the Response that contains it (Entra ID signs the
    /// assertion, Google the response).
    #[default]
    Either,
    /// The Assertion itself must be signed.
    Assertion,
    /// The Response must be signed.
    Response,
    /// Both.
    Both,
}

/// Everything needed to validate responses for one connection.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    pub(crate) idp_entity_id: String,
    pub(crate) idp_sso_services: Vec<Endpoint>,
    pub(crate) idp_certificates: Vec<Certificate>,
    pub(crate) idp_wants_signed_requests: bool,
    pub(crate) sp: ServiceProvider,
    pub(crate) required_signature: RequiredSignature,
    pub(crate) clock_skew: time::Duration,
    pub(crate) allow_unsolicited: bool,
    pub(crate) allow_sha1: bool,
    pub(crate) allow_rsa_1024: bool,
    /// The certificates as verification keys under this connection's algorithm policy, built
    /// when the configuration changes rather than on every response.
    pub(crate) verifier: Verifier,
    /// Certificates whose key cannot verify anything (unsupported key type), and why.
    pub(crate) key_problems: Vec<String>,
}

fn trusted_keys(certificates: &[Certificate]) -> (TrustedKeys, Vec<String>) {
    let mut keys = TrustedKeys::new();
    let mut problems = Vec::new();
    for c in certificates {
        match TrustedKey::from_certificate_der(c.der()) {
            Ok(k) => keys.add(k),
            Err(e) => problems.push(format!("certificate {}: {e}", c.fingerprint())),
        }
    }
    (keys, problems)
}

/// The default allowed clock difference with the IdP.
pub const DEFAULT_CLOCK_SKEW: time::Duration = time::Duration::minutes(3);

impl ConnectionConfig {
    /// A connection to the IdP described by `idp`.
    pub fn from_metadata(idp: &IdpMetadata, sp: ServiceProvider) -> Self {
        let (trusted, key_problems) = trusted_keys(&idp.signing_certificates);
        ConnectionConfig {
            verifier: Verifier::new(trusted),
            key_problems,
            idp_entity_id: idp.entity_id.clone(),
            idp_sso_services: idp.sso_services.clone(),
            idp_certificates: idp.signing_certificates.clone(),
            idp_wants_signed_requests: idp.want_authn_requests_signed,
            sp,
            required_signature: RequiredSignature::default(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            allow_unsolicited: false,
            allow_sha1: false,
            allow_rsa_1024: false,
        }
    }

    /// A connection configured by hand: IdP entity ID, its signing certificates and its SSO
    /// endpoints.
    pub fn new(
        idp_entity_id: impl Into<String>,
        idp_certificates: Vec<Certificate>,
        idp_sso_services: Vec<Endpoint>,
        sp: ServiceProvider,
    ) -> Self {
        let (trusted, key_problems) = trusted_keys(&idp_certificates);
        ConnectionConfig {
            verifier: Verifier::new(trusted),
            key_problems,
            idp_entity_id: idp_entity_id.into(),
            idp_sso_services,
            idp_certificates,
            idp_wants_signed_requests: false,
            sp,
            required_signature: RequiredSignature::default(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            allow_unsolicited: false,
            allow_sha1: false,
            allow_rsa_1024: false,
        }
    }

    /// Which signature must cover the assertion.
    pub fn required_signature(mut self, required: RequiredSignature) -> Self {
        self.required_signature = required;
        self
    }

    /// The allowed clock difference (default three minutes). Negative values count as zero.
    pub fn clock_skew(mut self, skew: time::Duration) -> Self {
        self.clock_skew = skew.max(time::Duration::ZERO);
        self
    }

    /// Options that weaken validation, each one an explicit decision.
    pub fn dangerous(&mut self) -> DangerousConfig<'_> {
        DangerousConfig(self)
    }

    /// The IdP entity ID.
    pub fn idp_entity_id(&self) -> &str {
        &self.idp_entity_id
    }

    /// The trusted IdP certificates.
    pub fn idp_certificates(&self) -> &[Certificate] {
        &self.idp_certificates
    }

    /// The IdP SSO endpoints.
    pub fn idp_sso_services(&self) -> &[Endpoint] {
        &self.idp_sso_services
    }

    /// The service provider side.
    pub fn sp(&self) -> &ServiceProvider {
        &self.sp
    }

    /// Whether IdP-initiated (unsolicited) responses are accepted.
    pub fn allows_unsolicited(&self) -> bool {
        self.allow_unsolicited
    }

    /// Whether SHA-1 signatures and digests are accepted.
    pub fn allows_sha1(&self) -> bool {
        self.allow_sha1
    }

    /// The allowed clock difference.
    pub fn skew(&self) -> time::Duration {
        self.clock_skew
    }

    fn apply_policy(&mut self) {
        let mut policy = AlgorithmPolicy::strict();
        if self.allow_sha1 {
            policy = policy.dangerous().allow_sha1();
        }
        if self.allow_rsa_1024 {
            policy = policy.dangerous().allow_rsa_1024();
        }
        self.verifier = self.verifier.clone().with_policy(policy);
    }

    /// Certificates that cannot serve as verification keys, and why (shown to admins).
    pub fn key_problems(&self) -> &[String] {
        &self.key_problems
    }
}

/// Options that weaken validation. Reach them through [`ConnectionConfig::dangerous`].
#[derive(Debug)]
pub struct DangerousConfig<'a>(&'a mut ConnectionConfig);

impl DangerousConfig<'_> {
    /// Accept IdP-initiated responses (no InResponseTo). They cannot be tied to a request this
    /// service made, so a stolen response can be replayed into a fresh browser until it
    /// expires; the replay cache still stops a second use.
    pub fn allow_unsolicited(&mut self, allow: bool) -> &mut Self {
        self.0.allow_unsolicited = allow;
        self
    }

    /// Accept RSA-SHA1 signatures and SHA-1 digests, for IdPs that cannot do better. SHA-1 is
    /// broken for collisions.
    pub fn allow_sha1(&mut self, allow: bool) -> &mut Self {
        self.0.allow_sha1 = allow;
        self.0.apply_policy();
        self
    }

    /// Accept 1024-bit RSA signing keys, for IdPs whose certificate predates 2048-bit keys.
    /// 1024-bit RSA is within reach of a well-funded attacker.
    pub fn allow_rsa_1024(&mut self, allow: bool) -> &mut Self {
        self.0.allow_rsa_1024 = allow;
        self.0.apply_policy();
        self
    }
}
