//! Why a block could not be read or decoded: each error names the file (and byte offset) or the block,
//! the transaction index and the message at fault.

use std::path::PathBuf;

/// Why a block could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{}: not a Fabric block: the file is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a serialized `common.Block`.
    #[error("{}: not a Fabric block: {source}", path.display())]
    NotABlock {
        /// The file.
        path: PathBuf,
        /// The protobuf decoder's complaint.
        source: prost::DecodeError,
    },
    /// The file decodes as protobuf but has no block header, so it is some other message.
    #[error("{}: not a Fabric block: no block header", path.display())]
    NoHeader {
        /// The file.
        path: PathBuf,
    },
    /// A record of a ledger block file (`blockfile_NNNNNN`) is damaged.
    #[error("{}: not a Fabric block file: record at byte {offset}: {problem}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record's length prefix.
        offset: usize,
        /// What is wrong with the record.
        problem: RecordProblem,
    },
    /// Part of a block does not decode as the message Fabric puts there.
    #[error("block {block}{}: {message}: {source}", tx_context(*tx))]
    Decode {
        /// The block number.
        block: u64,
        /// The transaction index, when the failure is inside a transaction.
        tx: Option<usize>,
        /// The message that failed to decode (e.g. `ChaincodeActionPayload`).
        message: String,
        /// The protobuf decoder's complaint.
        source: prost::DecodeError,
    },
    /// A part Fabric requires is absent.
    #[error("block {block}{}: {missing}", tx_context(*tx))]
    Missing {
        /// The block number.
        block: u64,
        /// The transaction index, when the failure is inside a transaction.
        tx: Option<usize>,
        /// What is missing (e.g. `Payload has no header`).
        missing: &'static str,
    },
}

fn tx_context(tx: Option<usize>) -> String {
    tx.map(|tx| format!(" tx {tx}")).unwrap_or_default()
}

/// What is wrong with one record of a ledger block file.
#[derive(Debug, thiserror::Error)]
pub enum RecordProblem {
    /// The varint length prefix does not decode.
    #[error("bad length prefix: {0}")]
    LengthPrefix(prost::DecodeError),
    /// The record is longer than what is left of the file (a torn final write).
    #[error("its length {length} runs past the end of the file ({available} bytes left)")]
    Torn {
        /// The length the prefix announces.
        length: u64,
        /// The bytes left after the prefix.
        available: usize,
    },
    /// The record is neither in Fabric's ledger layout nor a serialized `common.Block`.
    #[error(
        "neither Fabric's ledger block layout ({ledger}) nor a serialized common.Block ({protobuf})"
    )]
    Undecodable {
        /// Why the ledger layout does not fit.
        ledger: LedgerRecordError,
        /// Why protobuf decoding failed.
        protobuf: String,
    },
}

/// Why bytes are not a block in the layout Fabric's block store writes (number, hashes, envelopes and
/// metadata as varints and length-prefixed byte strings).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerRecordError {
    /// A field is cut short or its length prefix is malformed.
    #[error("{field} is truncated or malformed")]
    Truncated {
        /// The field being read (`block number`, `data hash`, `envelope 3`, …).
        field: String,
    },
    /// A hash has a length no Fabric hash has (Fabric writes 32-byte SHA-256 hashes, and an empty
    /// previous hash for the genesis block).
    #[error("{field} is {length} bytes long, not a SHA-256 hash")]
    HashLength {
        /// `data hash` or `previous hash`.
        field: &'static str,
        /// Its length.
        length: usize,
    },
    /// Bytes are left after the metadata.
    #[error("{0} bytes left over after the block metadata")]
    Trailing(usize),
}
