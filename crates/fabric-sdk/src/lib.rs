//! A Hyperledger Fabric client library written for this platform: loads MSP folders, signs with Fabric
//! identities (ECDSA P-256, low-S), computes transaction ids, and decodes and verifies blocks exactly as a
//! Fabric 2.5 / 3.x network writes them.

pub mod block;
pub mod gateway;
pub mod identity;
pub mod msp;
pub mod signer;
pub mod txid;
