//! The sea-orm entities: one module per table, as the migrations create them.
//!
//! The typed methods of [`Store`](crate::Store) are the supported way in; these are public so
//! that tests, reports and one-off tools can query the tables directly with sea-orm. Column
//! meanings are documented on each `Model`. Times are UTC, stored as `timestamp` (without time
//! zone) to the microsecond; codes (plan, role, origin, outcome) are the stable `code()`
//! strings of their Rust types.

pub mod audit_event;
pub mod authn_request;
pub mod consumed_assertion;
pub mod jit_default_project;
pub mod login_code;
pub mod membership;
pub mod org_credential;
pub mod organization;
pub mod project;
pub mod project_access;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_user;
pub mod setup_link;
pub mod sso_connection;
pub mod test_login;
pub mod user;
pub mod verified_domain;
