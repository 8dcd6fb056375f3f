//! Schema migrations, applied in order and recorded in `seaql_migrations`.
//!
//! A migration, once released, is never edited: a change is a new migration. The tables are
//! written out here rather than derived from the entities, so that changing an entity cannot
//! silently change what an old migration creates.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m0001_initial;
mod m0002_login_codes;
mod m0003_metadata_url;
mod m0004_project_external_ids;
mod m0006_test_logins;
mod m0007_domain_claims;
mod m0008_signed_metadata;
mod m0009_org_credentials;
mod m0010_setup_links;
mod m0012_group_roles;
mod m0013_scim;

/// Every migration of the crate, oldest first.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_login_codes::Migration),
            Box::new(m0003_metadata_url::Migration),
            Box::new(m0004_project_external_ids::Migration),
            Box::new(m0006_test_logins::Migration),
            Box::new(m0007_domain_claims::Migration),
            Box::new(m0008_signed_metadata::Migration),
            Box::new(m0009_org_credentials::Migration),
            Box::new(m0010_setup_links::Migration),
            Box::new(m0012_group_roles::Migration),
            Box::new(m0013_scim::Migration),
        ]
    }
}
