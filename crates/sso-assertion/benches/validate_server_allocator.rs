//! The `validate` benches with the allocator `sso-server` links (mimalloc), so that a figure
//! says what a login's validation costs in the server. The library itself leaves the
//! allocator to the program that links it; `validate` keeps the system's.
//!
//! `cargo bench -p sso-assertion --bench validate_server_allocator`; figures in BENCHMARKS.md.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "validate.rs"]
mod validate;

fn main() {
    validate::main();
}
