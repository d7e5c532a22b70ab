//! The platform's own gRPC APIs, from `proto/reciprocal/v1`.

/// Package `reciprocal.v1`.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("reciprocal.v1");
}
