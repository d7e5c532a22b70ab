//! Fabric blocks: reading block files, decoding them down to each transaction's reads and writes, the
//! header and data hashes, and verification of a chain of blocks and of orderer signatures.

mod decode;
mod hash;

use std::path::{Path, PathBuf};

use fabric_protos::common::{Block, Metadata, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use prost::Message;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

pub use decode::{
    Arg, BlockSigner, ChaincodeInvocation, ConfigSummary, DecodedBlock, DecodedTransaction,
    EventSummary, KeyRead, KeyWrite, NamespaceRwSet, OrganizationSummary, RangeQuery, decode_block,
    transactions_filter, validation_code_name,
};
pub use hash::{block_data_hash, block_header_bytes, block_header_hash};

/// Why a block could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The file could not be read.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a serialized `common.Block`.
    #[error("{path}: not a Fabric block: {reason}", path = .path.display())]
    NotABlock {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        reason: String,
    },
    /// Part of a block does not decode.
    #[error("block {block}{}: {reason}", tx.map(|tx| format!(" tx {tx}")).unwrap_or_default())]
    Decode {
        /// The block number.
        block: u64,
        /// The transaction index, when the failure is inside one.
        tx: Option<usize>,
        /// What failed.
        reason: String,
    },
}

/// Reads a block file as `peer channel fetch` writes it (one serialized `common.Block`).
pub fn read_block_file(path: &Path) -> Result<Block, BlockError> {
    let bytes = std::fs::read(path).map_err(|source| BlockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let block = Block::decode(bytes.as_slice()).map_err(|error| BlockError::NotABlock {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    if block.header.is_none() {
        return Err(BlockError::NotABlock {
            path: path.to_path_buf(),
            reason: "no block header".to_owned(),
        });
    }
    Ok(block)
}

/// Reads every block of a file: either one serialized block (`peer channel fetch` output) or a Fabric
/// block file (`blockfile_NNNNNN` in a peer's ledger, and the dev ledger's), where each block is preceded
/// by its length as a protobuf varint. A torn final record of a block file is an error naming its offset.
pub fn read_blocks(path: &Path) -> Result<Vec<Block>, BlockError> {
    let bytes = std::fs::read(path).map_err(|source| BlockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let is_block_file = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("blockfile"));
    if !is_block_file
        && let Ok(block) = Block::decode(bytes.as_slice())
        && block.header.is_some()
    {
        return Ok(vec![block]);
    }
    let mut blocks = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let not_a_block = |reason: String| BlockError::NotABlock {
            path: path.to_path_buf(),
            reason: format!("record at offset {offset}: {reason}"),
        };
        let length =
            prost::encoding::decode_varint(&mut rest).map_err(|e| not_a_block(e.to_string()))?;
        let length = usize::try_from(length)
            .ok()
            .filter(|length| *length <= rest.len())
            .ok_or_else(|| not_a_block(format!("length {length} runs past the end of the file")))?;
        let (record, tail) = rest.split_at(length);
        let block = Block::decode(record).map_err(|e| not_a_block(e.to_string()))?;
        if block.header.is_none() {
            return Err(not_a_block("no block header".to_owned()));
        }
        blocks.push(block);
        rest = tail;
    }
    if blocks.is_empty() {
        return Err(BlockError::NotABlock {
            path: path.to_path_buf(),
            reason: "empty file".to_owned(),
        });
    }
    Ok(blocks)
}

/// What a verified chain looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Number of blocks checked.
    pub blocks: usize,
    /// Number of the first block.
    pub first: u64,
    /// Number of the last block.
    pub tip: u64,
    /// Header hash of the last block.
    pub tip_hash: [u8; 32],
}

/// Why a chain of blocks does not verify; names the first broken block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No blocks were given.
    #[error("no blocks to verify")]
    Empty,
    /// A block has no header.
    #[error("block at position {position} has no header")]
    MissingHeader {
        /// Position in the input.
        position: usize,
    },
    /// The data hash in the header does not match the data.
    #[error("block {block}: data hash {recorded} does not match the data ({computed})")]
    DataHash {
        /// Block number.
        block: u64,
        /// Hash in the header (hex).
        recorded: String,
        /// Hash of the data (hex).
        computed: String,
    },
    /// Numbers are not consecutive.
    #[error("block {block} follows block {previous}: numbers must be consecutive")]
    Gap {
        /// The block number.
        block: u64,
        /// The previous block's number.
        previous: u64,
    },
    /// The previous-hash link is broken.
    #[error(
        "block {block}: previous hash {recorded} is not the header hash of block {previous} ({computed})"
    )]
    PreviousHash {
        /// Block number.
        block: u64,
        /// The previous block.
        previous: u64,
        /// Hash recorded (hex).
        recorded: String,
        /// Hash computed from the previous header (hex).
        computed: String,
    },
}

impl ChainError {
    /// The block the error is about, when it is about one.
    pub fn block(&self) -> Option<u64> {
        match self {
            Self::DataHash { block, .. }
            | Self::Gap { block, .. }
            | Self::PreviousHash { block, .. } => Some(*block),
            Self::Empty | Self::MissingHeader { .. } => None,
        }
    }
}

/// Verifies each block's data hash and that each block's previous hash is the header hash of the block
/// before it. Blocks must be given in order.
pub fn verify_chain(blocks: &[Block]) -> Result<ChainReport, ChainError> {
    let mut previous: Option<(u64, [u8; 32])> = None;
    let mut first = None;
    for (position, block) in blocks.iter().enumerate() {
        let header = block
            .header
            .as_ref()
            .ok_or(ChainError::MissingHeader { position })?;
        let data = block.data.clone().unwrap_or_default();
        let computed = block_data_hash(&data);
        if computed.as_slice() != header.data_hash.as_slice() {
            return Err(ChainError::DataHash {
                block: header.number,
                recorded: hex::encode(&header.data_hash),
                computed: hex::encode(computed),
            });
        }
        if let Some((previous_number, previous_hash)) = previous {
            if header.number != previous_number + 1 {
                return Err(ChainError::Gap {
                    block: header.number,
                    previous: previous_number,
                });
            }
            if header.previous_hash.as_slice() != previous_hash.as_slice() {
                return Err(ChainError::PreviousHash {
                    block: header.number,
                    previous: previous_number,
                    recorded: hex::encode(&header.previous_hash),
                    computed: hex::encode(previous_hash),
                });
            }
        }
        first.get_or_insert(header.number);
        previous = Some((header.number, block_header_hash(header)));
    }
    match (first, previous) {
        (Some(first), Some((tip, tip_hash))) => Ok(ChainReport {
            blocks: blocks.len(),
            first,
            tip,
            tip_hash,
        }),
        _ => Err(ChainError::Empty),
    }
}

/// Why an orderer signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The block carries no orderer signature.
    #[error("block {0} carries no orderer signature")]
    Unsigned(u64),
    /// The SIGNATURES metadata is malformed.
    #[error("block {block}: malformed SIGNATURES metadata: {reason}")]
    Malformed {
        /// Block number.
        block: u64,
        /// What is wrong.
        reason: String,
    },
    /// A signer is not issued by the orderer organisation's CAs.
    #[error(
        "block {block}: signer {subject} of {msp_id} is not issued by the orderer organisation's CA"
    )]
    UntrustedSigner {
        /// Block number.
        block: u64,
        /// Signer's MSP id.
        msp_id: String,
        /// Signer's certificate subject.
        subject: String,
    },
    /// A signature does not verify.
    #[error("block {block}: the signature of {subject} does not verify: {reason}")]
    BadSignature {
        /// Block number.
        block: u64,
        /// Signer's certificate subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// Verifies every orderer signature in a block's SIGNATURES metadata: each is ECDSA over
/// `Metadata.value ‖ signature_header ‖ DER(block header)` by a certificate issued by one of
/// `orderer_root_certs` (PEM, from the orderer organisation in the channel configuration). Returns how many
/// signatures verified.
pub fn verify_orderer_signatures(
    block: &Block,
    orderer_root_certs: &[Vec<u8>],
) -> Result<usize, SignatureError> {
    let header = block.header.clone().unwrap_or_default();
    let number = header.number;
    let malformed = |reason: String| SignatureError::Malformed {
        block: number,
        reason,
    };
    let slot = block
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.metadata.first())
        .filter(|slot| !slot.is_empty())
        .ok_or(SignatureError::Unsigned(number))?;
    let metadata = Metadata::decode(slot.as_slice()).map_err(|e| malformed(e.to_string()))?;
    if metadata.signatures.is_empty() {
        return Err(SignatureError::Unsigned(number));
    }
    let roots: Vec<Vec<u8>> = orderer_root_certs
        .iter()
        .filter_map(|pem| crate::identity::pem_block(pem, &["CERTIFICATE"]).ok())
        .collect();
    let header_der = block_header_bytes(&header);
    for signature in &metadata.signatures {
        let signature_header = SignatureHeader::decode(signature.signature_header.as_slice())
            .map_err(|e| malformed(format!("signature header: {e}")))?;
        let creator = SerializedIdentity::decode(signature_header.creator.as_slice())
            .map_err(|e| malformed(format!("signer identity: {e}")))?;
        let certificate = crate::identity::CertificateInfo::from_pem(&creator.id_bytes)
            .map_err(|e| malformed(format!("signer certificate: {e}")))?;
        let trusted = X509Certificate::from_der(&certificate.der).is_ok_and(|(_, cert)| {
            roots.iter().any(|root_der| {
                X509Certificate::from_der(root_der).is_ok_and(|(_, root)| {
                    root.subject() == cert.issuer()
                        && cert.verify_signature(Some(root.public_key())).is_ok()
                })
            })
        });
        if !trusted {
            return Err(SignatureError::UntrustedSigner {
                block: number,
                msp_id: creator.mspid,
                subject: certificate.subject,
            });
        }
        let mut signed = metadata.value.clone();
        signed.extend_from_slice(&signature.signature_header);
        signed.extend_from_slice(&header_der);
        crate::signer::verify(&certificate.public_key, &signed, &signature.signature).map_err(
            |error| SignatureError::BadSignature {
                block: number,
                subject: certificate.subject.clone(),
                reason: error.to_string(),
            },
        )?;
    }
    Ok(metadata.signatures.len())
}
