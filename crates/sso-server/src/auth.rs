//! Bearer tokens per scope, checked by a tonic interceptor in constant time.
//!
//! Org credentials (`sso_org_...`) are not configured here: they live in the database. The
//! interceptor only recognises one by its prefix, which stays cheap: on AdminService it lets it
//! through to `sso_grpc::AdminServer`, which checks it before any handler runs; AuthService
//! refuses it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use tonic::{Code, Request, Status};

/// What a token may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// AuthService.
    Auth,
    /// AdminService.
    Admin,
}

/// One configured token: `scope:secret`.
#[derive(Clone)]
pub struct Token {
    scope: Scope,
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl FromStr for Token {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scope, secret) = s
            .split_once(':')
            .ok_or_else(|| "expected SCOPE:SECRET".to_owned())?;
        let scope = match scope.trim() {
            "auth" => Scope::Auth,
            "admin" => Scope::Admin,
            other => return Err(format!("unknown scope {other:?} (expected auth or admin)")),
        };
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("empty secret".to_owned());
        }
        if sso_provisioning::is_org_credential(secret) {
            return Err(format!(
                "a configured secret may not begin with {:?}, the prefix of org credentials",
                sso_provisioning::ORG_CREDENTIAL_PREFIX
            ));
        }
        Ok(Token {
            scope,
            digest: openssl::sha::sha256(secret.as_bytes()),
        })
    }
}

/// The configured tokens; with none, every call is allowed (loopback only, enforced at start).
#[derive(Debug, Clone)]
pub struct Tokens(Arc<Vec<Token>>);

impl Tokens {
    pub fn new(tokens: Vec<Token>) -> Self {
        Tokens(Arc::new(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The interceptor for one service's scope.
    pub fn interceptor(
        &self,
        scope: Scope,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let tokens = self.clone();
        move |request: Request<()>| {
            tokens.check(&request, scope)?;
            Ok(request)
        }
    }

    fn check(&self, request: &Request<()>, scope: Scope) -> Result<(), Status> {
        if self.is_empty() {
            return Ok(());
        }
        let secret = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(unauthenticated)?;
        if sso_provisioning::is_org_credential(secret) {
            // Checked against the database by `AdminServer`; never opens AuthService.
            return match scope {
                Scope::Admin => Ok(()),
                Scope::Auth => Err(sso_grpc::refusal(
                    Code::PermissionDenied,
                    "permission-denied",
                    "an org credential may call AdminService only",
                )),
            };
        }
        // Fixed-length digests compared in constant time; every token is compared.
        let digest = openssl::sha::sha256(secret.as_bytes());
        let mut in_scope = false;
        let mut known = false;
        for token in self.0.iter() {
            let equal = openssl::memcmp::eq(&token.digest, &digest);
            known |= equal;
            in_scope |= equal && token.scope == scope;
        }
        if in_scope {
            Ok(())
        } else if known {
            Err(sso_grpc::refusal(
                Code::PermissionDenied,
                "permission-denied",
                "this token may not call this service",
            ))
        } else {
            Err(unauthenticated())
        }
    }
}

fn unauthenticated() -> Status {
    sso_grpc::refusal(
        Code::Unauthenticated,
        "unauthenticated",
        "a valid bearer token is required",
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    fn with_bearer(secret: &str) -> Request<()> {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {secret}").parse().unwrap());
        request
    }

    #[test]
    fn scopes_and_unknown_tokens() {
        let tokens = Tokens::new(vec![
            "auth:a-secret".parse().unwrap(),
            "admin:b".parse().unwrap(),
        ]);
        assert!(tokens.check(&with_bearer("a-secret"), Scope::Auth).is_ok());
        assert!(tokens.check(&with_bearer("b"), Scope::Admin).is_ok());
        let denied = tokens
            .check(&with_bearer("a-secret"), Scope::Admin)
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let unknown = tokens.check(&with_bearer("nope"), Scope::Auth).unwrap_err();
        assert_eq!(unknown.code(), Code::Unauthenticated);
        let missing = tokens.check(&Request::new(()), Scope::Auth).unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated);
        assert!(
            Tokens::new(Vec::new())
                .check(&Request::new(()), Scope::Admin)
                .is_ok()
        );
    }

    #[test]
    fn org_credentials_pass_to_admin_only() {
        let tokens = Tokens::new(vec!["admin:b".parse().unwrap()]);
        // Not checked here (that is the database's job, after this): only recognised.
        let credential = with_bearer("sso_org_7_anything");
        assert!(tokens.check(&credential, Scope::Admin).is_ok());
        let denied = tokens.check(&credential, Scope::Auth).unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert!("admin:sso_org_1_x".parse::<Token>().is_err());
    }

    #[test]
    fn parsing() {
        assert!("root:x".parse::<Token>().is_err());
        assert!("auth:".parse::<Token>().is_err());
        assert!("auth".parse::<Token>().is_err());
        assert!("admin:with:colon".parse::<Token>().is_ok());
    }
}
