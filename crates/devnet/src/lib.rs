//! The embedded dev ledger: a Fabric-compatible peer and orderer in one process, for one machine and CI.
//!
//! It serves Fabric's own `gateway.Gateway` and `protos.Deliver` gRPC services, drives the chaincode over
//! the chaincode-as-a-service protocol (`protos.Chaincode/Connect`), validates transactions as a committing
//! peer does (signatures, duplicate ids, endorsement by the channel's org, MVCC and phantom reads), and
//! writes blocks in Fabric's format with a correct hash chain. Nothing above the Fabric client library can
//! tell it from a real peer; scaling out means a real Fabric network.

pub mod chaincode_link;
pub mod channel_msp;
pub mod crypto;
pub mod deliver;
#[cfg(feature = "embedded-chaincode")]
pub mod embedded;
pub mod endorser;
pub mod gateway;
pub mod genesis;
pub mod ledger;
pub mod network;
pub mod orderer;
pub mod peer;
pub mod state;
pub mod store;
pub mod validation;

pub use network::{DevnetConfig, NetworkLayout, RunningDevnet, StartError, init, start};
