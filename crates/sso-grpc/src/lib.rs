//! The wire API of the SSO service: `proto/sso/v1`, compiled without a system `protoc`, and the
//! one mapping of stable reason codes to `tonic::Status`.
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

mod status;

pub use crate::status::{DOMAIN, internal, reason, reason_of, refusal};

/// Generated messages, clients and servers of package `sso.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("sso.v1");
}

/// The encoded `FileDescriptorSet` of `sso.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sso_v1_descriptor.bin"));
