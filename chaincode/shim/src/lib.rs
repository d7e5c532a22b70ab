//! The Fabric chaincode shim: serves `protos.Chaincode/Connect` so a peer can dial the chaincode as a
//! service, and gives each transaction a [`ChaincodeStub`] to reach the ledger through the peer.
//!
//! The protocol is the one Fabric 2.5 and 3.x peers speak: REGISTER → REGISTERED → READY, then INIT and
//! TRANSACTION messages handled concurrently, each answered by COMPLETED (or ERROR) with the transaction's
//! channel and id. Messages only Fabric 3.1 understands (batched writes and reads) are never sent, so the
//! same binary serves every supported peer.

pub mod chaincode;
mod handler;
pub mod proposal;
pub mod server;
pub mod stream_stub;
pub mod stub;

pub use chaincode::{Chaincode, error, success};
pub use server::{ENV_HELP, ServerConfig, serve, serve_with_listener};
pub use stream_stub::StreamStub;
pub use stub::{
    ChaincodeStub, ClientIdentity, KeyModification, KeyValue, Page, StubError, VALIDATION_PARAMETER,
};
