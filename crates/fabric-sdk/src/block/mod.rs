//! Fabric blocks as peers and orderers hand them out: reading block files, decoding every transaction down
//! to its reads and writes, Fabric's header and data hashes, and verification of a chain of blocks and of
//! the orderer signatures on each block.
//!
//! Decoding follows the nesting Fabric uses (each level is a serialized message inside a `bytes` field of
//! the level above), so every failure names the block, the transaction index and the message that did not
//! decode. Nothing here panics on malformed input: blocks come from the network and from files.

mod config;
mod decode;
mod effects;
mod error;
mod file;
mod hash;
mod verify;

pub use config::{ConfigSummary, Consenter, OrganizationSummary};
pub use decode::{
    Arg, BlockSigner, ChaincodeInvocation, DecodedBlock, DecodedTransaction, Endorsement,
    EventSummary, KeyRead, KeyWrite, MetadataWrite, NamespaceRwSet, RangeQuery, Version,
    decode_block, decode_config_block, transactions_filter, validation_code_name,
};
pub use effects::{TxEffects, transaction_effects};
pub use error::{BlockError, LedgerRecordError, RecordProblem};
pub use file::{decode_ledger_block, encode_ledger_block, read_block_file, read_blocks};
pub use hash::{block_data_hash, block_header_bytes, block_header_hash};
pub use verify::{
    ChainError, ChainReport, OrdererSignatureVerifier, OrdererVerifyError, SignatureError,
    verify_chain, verify_orderer_signatures,
};
