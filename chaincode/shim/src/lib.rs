//! The Fabric chaincode shim: serves `protos.Chaincode/Connect` so a peer can dial the chaincode as a
//! service, and gives each transaction a [`ChaincodeStub`] to reach the ledger through the peer.

pub mod chaincode;
pub mod stub;

pub use chaincode::{Chaincode, error, success};
pub use stub::{ChaincodeStub, ClientIdentity, KeyModification, KeyValue, Page, StubError};
