//! Validation settings built once per connection configuration and shared by every login.
//!
//! Building a [`ConnectionConfig`] parses each trusted certificate from PEM and extracts its
//! key; doing that on every response was a measurable part of a login. The cache is a memo of
//! a pure function of the connection row the login has just read from the database: an entry
//! is used only when every input it was built from (entity ID, SSO URL, certificates, metadata
//! document, options) equals the row's, so a change committed by another server is seen on the next login and no
//! decision depends on what this process remembers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sso_assertion::ConnectionConfig;
use sso_store::{ConnectionId, ConnectionRecord};

/// More connections than this and the cache starts over (a full rebuild costs one certificate
/// parse per connection; the bound keeps memory proportional to a fixed number of entries).
const MAX_ENTRIES: usize = 10_000;

/// Shared by every clone of a `Provisioner`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigCache {
    entries: Arc<Mutex<HashMap<ConnectionId, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    built_from: Inputs,
    config: Arc<ConnectionConfig>,
}

/// What a configuration is built from, as read from the connection row.
#[derive(Debug, PartialEq, Eq)]
struct Inputs {
    org: sso_store::OrgId,
    entity_id: String,
    sso_url: Option<String>,
    certificates: Vec<String>,
    metadata_xml: Option<String>,
    allow_unsolicited: bool,
    allow_sha1: bool,
    clock_skew: time::Duration,
}

impl Inputs {
    fn of(connection: &ConnectionRecord) -> Self {
        Self {
            org: connection.org,
            entity_id: connection.idp.entity_id.clone(),
            sso_url: connection.idp.sso_url.clone(),
            certificates: connection.idp.certificates.clone(),
            metadata_xml: connection.idp.metadata_xml.clone(),
            allow_unsolicited: connection.options.allow_unsolicited,
            allow_sha1: connection.options.allow_sha1,
            clock_skew: connection.options.clock_skew,
        }
    }

    /// Compares without copying the row.
    fn matches(&self, connection: &ConnectionRecord) -> bool {
        self.org == connection.org
            && self.entity_id == connection.idp.entity_id
            && self.sso_url == connection.idp.sso_url
            && self.certificates == connection.idp.certificates
            && self.metadata_xml == connection.idp.metadata_xml
            && self.allow_unsolicited == connection.options.allow_unsolicited
            && self.allow_sha1 == connection.options.allow_sha1
            && self.clock_skew == connection.options.clock_skew
    }
}

impl ConfigCache {
    /// The configuration of `connection` as it is now, built with `build` when the cached one
    /// (if any) was built from other inputs. A build error is returned and not cached.
    pub(crate) fn get_or_build<E>(
        &self,
        connection: &ConnectionRecord,
        build: impl FnOnce() -> Result<ConnectionConfig, E>,
    ) -> Result<Arc<ConnectionConfig>, E> {
        if let Some(entry) = self.lock().get(&connection.id) {
            if entry.built_from.matches(connection) {
                return Ok(Arc::clone(&entry.config));
            }
        }
        // Built outside the lock: parsing certificates must not hold up other logins.
        let config = Arc::new(build()?);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&connection.id) {
            entries.clear();
        }
        entries.insert(
            connection.id,
            Entry {
                built_from: Inputs::of(connection),
                config: Arc::clone(&config),
            },
        );
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Entry>> {
        // The map holds no invariant a panicking holder could break halfway.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
