//! Compiles `proto/sso/v1` in pure Rust (protox): no system `protoc` is needed anywhere.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("../../proto");
    let files = [
        "sso/v1/common.proto",
        "sso/v1/auth.proto",
        "sso/v1/admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files.iter().map(|f| root.join(f)), [&root])?;
    // Served by gRPC reflection, so grpcurl and friends can call the API without .proto files.
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("sso_v1_descriptor.bin");
    std::fs::write(out, prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
