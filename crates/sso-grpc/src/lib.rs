//! The wire API of the SSO service: `proto/sso/v1`, compiled without a system `protoc`; the
//! one mapping of stable reason codes to `tonic::Status`; and the services,
//! [`AuthServiceImpl`] and [`AdminServiceImpl`], on a `sso_provisioning::Provisioner` with an
//! injectable [`Clock`]. Serve AdminService as [`AdminServiceImpl::into_server`] gives it
//! ([`AdminServer`]): behind the check of org-scoped admin credentials, which limits each to
//! its own org and to the methods open to it.
//!
//! Errors: refusals carry a fitting gRPC code and `google.rpc.ErrorInfo` with the stable
//! reason (login refusals with the end-user-safe message, admin refusals with the admin
//! detail); database and corrupt-data failures are `INTERNAL` with a generic message, the
//! detail logged with `tracing` and never sent.
//!
//! ```
//! use sso_grpc::v1::Reason;
//! use sso_grpc::{reason, refusal};
//!
//! assert_eq!(reason("replayed"), Reason::Replayed);
//! let status = refusal(tonic::Code::FailedPrecondition, "replayed", "This sign-in link was already used.");
//! assert_eq!(status.code(), tonic::Code::FailedPrecondition);
//! assert_eq!(sso_grpc::reason_of(&status), Some(Reason::Replayed));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access;
mod convert;
mod errors;
mod services;
mod status;

pub use crate::{
    access::AdminServer,
    services::{
        ACTOR_METADATA_KEY, AdminServiceImpl, AuthServiceImpl, Clock, DEFAULT_ACTOR,
        DEFAULT_PAGE_SIZE, system_clock,
    },
    status::{DOMAIN, internal, reason, reason_of, refusal},
};

/// Generated messages, clients and servers of package `sso.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("sso.v1");
}

/// The encoded `FileDescriptorSet` of `sso.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sso_v1_descriptor.bin"));
