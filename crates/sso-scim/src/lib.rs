//! A SCIM 2.0 service provider (RFC 7643, RFC 7644) over a storage trait.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;

pub use backend::{
    Backend, BackendError, GroupMember, GroupWrite, Lookup, StoredGroup, StoredUser, Tenant,
    UserWrite,
};
