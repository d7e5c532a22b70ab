//! Rust types and gRPC clients/servers generated from `proto/fabric`, our own wire-compatible subset of
//! Hyperledger Fabric's protobuf definitions (same packages, message names and field numbers).
//!
//! Modules mirror the protobuf packages: `common`, `msp`, `protos` (peer), `orderer`, `gateway`, `rwset`,
//! `kvrwset`, `queryresult`, and `google::rpc` for rich gRPC error details.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

/// Envelopes, headers, blocks, policies and channel configuration (`common`).
pub mod common {
    tonic::include_proto!("common");
}

/// Serialized identities and MSP configuration (`msp`).
pub mod msp {
    tonic::include_proto!("msp");
}

/// Peer-side messages and services: proposals, transactions, the chaincode shim, Deliver (`protos`).
pub mod protos {
    tonic::include_proto!("protos");
}

/// Orderer messages and the AtomicBroadcast service (`orderer`).
pub mod orderer {
    tonic::include_proto!("orderer");
}

/// The peer's Gateway service (`gateway`).
pub mod gateway {
    tonic::include_proto!("gateway");
}

/// Transaction read-write sets (`rwset`).
pub mod rwset {
    tonic::include_proto!("rwset");
}

/// Key-value reads and writes inside a read-write set (`kvrwset`).
pub mod kvrwset {
    tonic::include_proto!("kvrwset");
}

/// Range and history query results (`queryresult`).
pub mod queryresult {
    tonic::include_proto!("queryresult");
}

/// Google's RPC types carried in gRPC error details.
pub mod google {
    /// `google.rpc.Status`.
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub use prost;
pub use prost_types;

impl protos::ChaincodeMessage {
    /// A message of `kind` for transaction `txid` on `channel_id`: every message of a transaction carries
    /// both, since a peer routes by the pair.
    pub fn for_transaction(
        kind: protos::chaincode_message::Type,
        payload: Vec<u8>,
        channel_id: &str,
        txid: &str,
    ) -> Self {
        Self {
            r#type: kind as i32,
            timestamp: None,
            payload,
            txid: txid.to_owned(),
            proposal: None,
            chaincode_event: None,
            channel_id: channel_id.to_owned(),
        }
    }
}
