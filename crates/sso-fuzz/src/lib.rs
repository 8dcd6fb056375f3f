//! A fuzzer for the parts of the service that read hostile bytes: `sso-xml` (parsing and
//! canonicalization), `sso-xmldsig` (signature verification, decryption) and `sso-assertion`
//! (`validate`). It runs on stable Rust, in-process, with no coverage instrumentation:
//!
//! - **Seeds**: the shared corpus (responses, XML-DSig vectors, c14n inputs, metadata; base64
//!   and DEFLATE forms decoded) and synthetic documents signed and encrypted with the fuzzer's
//!   own keys, which the fixed configuration trusts, so mutants reach the code behind a good
//!   signature.
//! - **Mutations** ([`mutate`]): byte flips, inserts and deletes, splicing two inputs; whole
//!   elements and attributes removed, duplicated, moved, renamed and swapped by their tag
//!   boundaries; hostile constructs (DOCTYPEs and entities, deep nesting, attribute and
//!   namespace floods, comments and CDATA inside text, namespace redeclarations, duplicate IDs,
//!   extra signatures, namespace amplification, limit-sized names and values). Every choice
//!   comes from one seeded generator, so a run is reproducible.
//! - **Targets** ([`Target`]): `parse`, `verify`, `validate`.
//! - **Findings**: a panic (caught with `catch_unwind`), an input slower than a bound (200 ms
//!   per MiB in an optimized build), a broken harness invariant, or, through a watchdog thread,
//!   a hang or a memory blow-up. Each is saved as `target/fuzz-findings/<target>-<hash>.xml`.
//!
//! Run it with `cargo xtask fuzz [TARGET] [SECONDS]`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod mutate;
mod rng;
mod runner;
pub mod scan;
mod seeds;
mod targets;

pub use crate::rng::{Rng, hash64};
pub use crate::runner::{
    Finding, FindingKind, MAX_FINDINGS, Report, Settings, TargetReport, default_findings_dir, run,
    run_one, save,
};
pub use crate::seeds::{decode, default_corpus, load_corpus};
pub use crate::targets::{
    ACS_URL, Harness, IDP_ENTITY_ID, NOW, Outcome, REQUEST_ID, SP_ENTITY_ID, Target, c14n_bound,
};
