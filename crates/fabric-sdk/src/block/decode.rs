//! Decoding a block down to what each transaction did:
//! Block → Envelope → Payload → ChannelHeader / SignatureHeader → Transaction → ChaincodeActionPayload →
//! ChaincodeProposalPayload (function and arguments) and ChaincodeEndorsedAction → ProposalResponsePayload
//! → ChaincodeAction (read-write sets, event, response), plus the endorsements, the validation codes of
//! TRANSACTIONS_FILTER, the orderer signatures, and the configuration of config blocks.
//!
//! Byte strings are shown as hex throughout (hashes, signatures, non-text values); arguments and values
//! that are printable UTF-8 are shown as text.

use std::borrow::Cow;

use fabric_protos::common::{
    Block, BlockData, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, IdentifierHeader,
    LastConfig, Metadata, OrdererBlockMetadata, Payload, SignatureHeader,
};
use fabric_protos::kvrwset::{KvrwSet, range_query_info};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ProposalResponsePayload, Transaction, TransactionAction,
    TxValidationCode,
};
use fabric_protos::rwset::{NsReadWriteSet, TxReadWriteSet};
use prost::Message;
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::config::{ConfigSummary, decode_config};
use super::error::BlockError;
use super::hash::{block_data_hash, block_header_hash};

/// A block, decoded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecodedBlock {
    /// Block number.
    pub number: u64,
    /// Header hash (hex): what the next block's `previous_hash` must hold.
    pub header_hash: String,
    /// Previous block's header hash as recorded in this block (hex; empty for the genesis block).
    pub previous_hash: String,
    /// Data hash recorded in the header (hex).
    pub data_hash: String,
    /// Whether the recorded data hash matches the data.
    pub data_hash_valid: bool,
    /// Number of the last config block, from the SIGNATURES metadata (or the deprecated LAST_CONFIG slot
    /// of blocks written before Fabric 2.0).
    pub last_config: Option<u64>,
    /// The peer's commit hash (COMMIT_HASH metadata, hex), on blocks a peer has committed.
    pub commit_hash: Option<String>,
    /// Who signed the block (orderers), from the SIGNATURES metadata.
    pub signers: Vec<BlockSigner>,
    /// The transactions, in order.
    pub transactions: Vec<DecodedTransaction>,
}

/// An orderer signature on a block.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockSigner {
    /// MSP id of the signer (empty when a BFT orderer names itself by consenter id).
    pub msp_id: String,
    /// The signer's certificate subject, when the certificate parses.
    pub subject: Option<String>,
    /// The consenter id of a BFT orderer's identifier header.
    pub consenter_id: Option<u32>,
}

/// A transaction, decoded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecodedTransaction {
    /// Position in the block.
    pub index: usize,
    /// Transaction id.
    pub tx_id: String,
    /// Header type name (`ENDORSER_TRANSACTION`, `CONFIG`, …; `UNKNOWN(n)` for values Fabric does not
    /// define).
    pub header_type: String,
    /// Channel.
    pub channel_id: String,
    /// Client timestamp (RFC 3339, UTC), when set.
    pub timestamp: Option<String>,
    /// MSP id of the creator (empty for a genesis block, which has no creator).
    pub creator_msp_id: String,
    /// Subject of the creator's certificate, when it parses.
    pub creator_subject: Option<String>,
    /// The validation code's number, when the block carries one for this transaction (blocks straight
    /// from an orderer, not yet validated by a peer, do not).
    pub validation_code: Option<u8>,
    /// The validation code's name (`NOT_VALIDATED` when the block carries none for this transaction).
    pub validation: String,
    /// For endorser transactions: what was invoked and what it did (Fabric allows exactly one action
    /// per transaction; this is the first).
    pub chaincode: Option<ChaincodeInvocation>,
    /// Further actions, which only an invalid transaction carries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_actions: Vec<ChaincodeInvocation>,
    /// For config transactions: the channel configuration.
    pub config: Option<ConfigSummary>,
}

/// Bytes shown as text when they are printable UTF-8, as hex otherwise.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Arg {
    /// UTF-8 text without control characters (other than newline and tab).
    Text(String),
    /// Anything else, hex-encoded.
    Binary {
        /// The bytes, hex.
        hex: String,
    },
}

impl Arg {
    /// Classifies bytes as text or binary.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text)
                if !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t') =>
            {
                Self::Text(text.to_owned())
            }
            _ => Self::Binary {
                hex: hex::encode(bytes),
            },
        }
    }
}

impl std::fmt::Display for Arg {
    /// Text is quoted and escaped so that what a transaction carries cannot drive a terminal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => write!(f, "{text:?}"),
            Self::Binary { hex } => write!(f, "0x{hex}"),
        }
    }
}

/// An endorser transaction's invocation and its effects.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChaincodeInvocation {
    /// Chaincode name, from the invocation spec.
    pub name: String,
    /// Chaincode version, from the endorsed action (`syscc` for system chaincodes like `_lifecycle`).
    pub version: String,
    /// Function: the first argument.
    pub function: Option<Arg>,
    /// The other arguments.
    pub args: Vec<Arg>,
    /// The chaincode's response status.
    pub response_status: i32,
    /// The chaincode's response message.
    pub response_message: String,
    /// Size of the response payload.
    pub response_payload_size: usize,
    /// Read-write sets per namespace.
    pub namespaces: Vec<NamespaceRwSet>,
    /// The chaincode event, if one was set.
    pub event: Option<EventSummary>,
    /// MSP ids of the endorsers, in endorsement order.
    pub endorsers: Vec<String>,
    /// The endorsements.
    pub endorsements: Vec<Endorsement>,
}

/// An endorsement of a transaction.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Endorsement {
    /// The endorser's MSP id.
    pub msp_id: String,
    /// The endorser's certificate subject, when it parses.
    pub subject: Option<String>,
    /// The signature over the proposal response payload and the endorser (hex, DER).
    pub signature: String,
}

/// One namespace's reads and writes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamespaceRwSet {
    /// Namespace (chaincode name, or `_lifecycle`, `lscc`).
    pub namespace: String,
    /// Keys read, with the version read.
    pub reads: Vec<KeyRead>,
    /// Range queries, recorded for phantom-read validation.
    pub range_queries: Vec<RangeQuery>,
    /// Keys written or deleted.
    pub writes: Vec<KeyWrite>,
    /// Keys whose metadata (e.g. key-level endorsement policy) was written.
    pub metadata_writes: Vec<MetadataWrite>,
    /// Private data collections touched (only their hashes are on the ledger).
    pub collections: Vec<String>,
}

/// The height of the committed write a key was read at.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Version {
    /// Block number.
    pub block: u64,
    /// Transaction index in that block.
    pub tx: u64,
}

/// A key read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyRead {
    /// The key, exactly (composite keys keep their U+0000 separators).
    pub key: String,
    /// The version read; `None` when the key did not exist.
    pub version: Option<Version>,
}

/// A range query.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeQuery {
    /// Start key.
    pub start_key: String,
    /// End key (exclusive).
    pub end_key: String,
    /// Whether the iterator was read to the end.
    pub exhausted: bool,
    /// Keys read through the range (0 when only a Merkle summary was recorded).
    pub reads: usize,
    /// Whether the reads were recorded as a Merkle summary instead of one by one.
    pub merkle_summary: bool,
}

/// A key written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyWrite {
    /// The key, exactly.
    pub key: String,
    /// Whether it is a delete.
    pub is_delete: bool,
    /// Size of the value.
    pub value_size: usize,
    /// The value (`None` for deletes and empty values).
    pub value: Option<Arg>,
}

/// A metadata write.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MetadataWrite {
    /// The key.
    pub key: String,
    /// Names of the metadata entries written (e.g. `VALIDATION_PARAMETER`).
    pub entries: Vec<String>,
}

/// A chaincode event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventSummary {
    /// Event name.
    pub name: String,
    /// The chaincode that set it.
    pub chaincode_id: String,
    /// Size of the payload.
    pub payload_size: usize,
}

/// The validation codes in TRANSACTIONS_FILTER (byte `i` is the code of transaction `i`), if the block
/// has them. This slot is a raw byte array, not a `Metadata` message.
pub fn transactions_filter(block: &Block) -> Option<&[u8]> {
    let filter = block
        .metadata
        .as_ref()?
        .metadata
        .get(BlockMetadataIndex::TransactionsFilter as usize)?;
    (!filter.is_empty()).then_some(filter.as_slice())
}

/// The name of a validation code (`UNKNOWN(n)` for values Fabric does not define).
pub fn validation_code_name(code: u8) -> String {
    TxValidationCode::try_from(i32::from(code)).map_or_else(
        |_| format!("UNKNOWN({code})"),
        |code| code.as_str_name().to_owned(),
    )
}

/// Where decoding failed inside a block; the caller adds the block number and transaction index.
#[derive(Debug)]
pub(super) enum Fault {
    /// A message did not decode.
    Decode {
        message: Cow<'static, str>,
        source: prost::DecodeError,
    },
    /// A part Fabric requires is absent.
    Missing(&'static str),
}

impl Fault {
    fn at(self, block: u64, tx: Option<usize>) -> BlockError {
        match self {
            Self::Decode { message, source } => BlockError::Decode {
                block,
                tx,
                message: message.into_owned(),
                source,
            },
            Self::Missing(missing) => BlockError::Missing { block, tx, missing },
        }
    }
}

/// Decodes `bytes` as `M`, naming the message on failure.
pub(super) fn decode_as<M: Message + Default>(
    bytes: &[u8],
    message: impl Into<Cow<'static, str>>,
) -> Result<M, Fault> {
    M::decode(bytes).map_err(|source| Fault::Decode {
        message: message.into(),
        source,
    })
}

/// Decodes a block fully. Fails on the first part that does not decode, naming the block, the
/// transaction and the message.
pub fn decode_block(block: &Block) -> Result<DecodedBlock, BlockError> {
    let header = block.header.clone().unwrap_or_default();
    let number = header.number;
    let no_data = BlockData::default();
    let data = block.data.as_ref().unwrap_or(&no_data);
    let filter = transactions_filter(block);
    let transactions = data
        .data
        .iter()
        .enumerate()
        .map(|(index, envelope)| {
            // A filter shorter than the data leaves the rest unvalidated rather than failing the block.
            let code = filter.and_then(|filter| filter.get(index).copied());
            decode_transaction(envelope, index, code).map_err(|fault| fault.at(number, Some(index)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (last_config, signers) = signatures(block).map_err(|fault| fault.at(number, None))?;
    let commit_hash = metadata_slot(block, BlockMetadataIndex::CommitHash)
        .map(|slot| decode_as::<Metadata>(slot, "COMMIT_HASH metadata"))
        .transpose()
        .map_err(|fault| fault.at(number, None))?
        .map(|metadata| hex::encode(metadata.value));
    Ok(DecodedBlock {
        number,
        header_hash: hex::encode(block_header_hash(&header)),
        previous_hash: hex::encode(&header.previous_hash),
        data_hash: hex::encode(&header.data_hash),
        data_hash_valid: block_data_hash(data).as_slice() == header.data_hash.as_slice(),
        last_config,
        commit_hash,
        signers,
        transactions,
    })
}

/// The channel configuration of a config block, or `None` for any other block. Only the config
/// envelope is decoded, so that damage elsewhere in other blocks does not matter to callers that only
/// track the configuration (e.g. to find the orderer CAs in force).
pub fn decode_config_block(block: &Block) -> Result<Option<ConfigSummary>, BlockError> {
    let number = block.header.as_ref().map_or(0, |header| header.number);
    let Some(envelope) = block.data.as_ref().and_then(|data| data.data.first()) else {
        return Ok(None);
    };
    let config = || -> Result<Option<ConfigSummary>, Fault> {
        let envelope: Envelope = decode_as(envelope, "Envelope")?;
        let payload: Payload = decode_as(&envelope.payload, "Payload")?;
        let header = payload
            .header
            .as_ref()
            .ok_or(Fault::Missing("Payload has no header"))?;
        let channel_header: ChannelHeader = decode_as(&header.channel_header, "ChannelHeader")?;
        if channel_header.r#type != HeaderType::Config as i32 {
            return Ok(None);
        }
        decode_config(&payload.data).map(Some)
    };
    config().map_err(|fault| fault.at(number, Some(0)))
}

/// A non-empty metadata slot.
fn metadata_slot(block: &Block, index: BlockMetadataIndex) -> Option<&[u8]> {
    let slot = block.metadata.as_ref()?.metadata.get(index as usize)?;
    (!slot.is_empty()).then_some(slot.as_slice())
}

/// The subject of the certificate in a serialized identity's `id_bytes` (PEM), when it parses.
pub(super) fn certificate_subject(pem: &[u8]) -> Option<String> {
    let block = x509_parser::pem::Pem::iter_from_buffer(pem).next()?.ok()?;
    let (_, certificate) = X509Certificate::from_der(&block.contents).ok()?;
    Some(certificate.subject().to_string())
}

fn signatures(block: &Block) -> Result<(Option<u64>, Vec<BlockSigner>), Fault> {
    let Some(slot) = metadata_slot(block, BlockMetadataIndex::Signatures) else {
        return Ok((legacy_last_config(block)?, Vec::new()));
    };
    let metadata: Metadata = decode_as(slot, "SIGNATURES metadata")?;
    let last_config = if metadata.value.is_empty() {
        None
    } else {
        decode_as::<OrdererBlockMetadata>(&metadata.value, "OrdererBlockMetadata")?
            .last_config
            .map(|last| last.index)
    };
    let last_config = match last_config {
        Some(index) => Some(index),
        None => legacy_last_config(block)?,
    };
    let mut signers = Vec::with_capacity(metadata.signatures.len());
    for signature in &metadata.signatures {
        if signature.signature_header.is_empty() && !signature.identifier_header.is_empty() {
            let identifier: IdentifierHeader =
                decode_as(&signature.identifier_header, "IdentifierHeader")?;
            signers.push(BlockSigner {
                msp_id: String::new(),
                subject: None,
                consenter_id: Some(identifier.identifier),
            });
            continue;
        }
        let header: SignatureHeader =
            decode_as(&signature.signature_header, "orderer SignatureHeader")?;
        let creator: SerializedIdentity = decode_as(&header.creator, "orderer SerializedIdentity")?;
        signers.push(BlockSigner {
            subject: certificate_subject(&creator.id_bytes),
            msp_id: creator.mspid,
            consenter_id: None,
        });
    }
    Ok((last_config, signers))
}

/// The LAST_CONFIG slot that blocks written before Fabric 2.0 carry (a `Metadata` holding a
/// `LastConfig`).
fn legacy_last_config(block: &Block) -> Result<Option<u64>, Fault> {
    let Some(slot) = metadata_slot(block, BlockMetadataIndex::LastConfig) else {
        return Ok(None);
    };
    let metadata: Metadata = decode_as(slot, "LAST_CONFIG metadata")?;
    let last: LastConfig = decode_as(&metadata.value, "LastConfig")?;
    Ok(Some(last.index))
}

fn decode_transaction(
    envelope_bytes: &[u8],
    index: usize,
    code: Option<u8>,
) -> Result<DecodedTransaction, Fault> {
    let envelope: Envelope = decode_as(envelope_bytes, "Envelope")?;
    let payload: Payload = decode_as(&envelope.payload, "Payload")?;
    let header = payload
        .header
        .as_ref()
        .ok_or(Fault::Missing("Payload has no header"))?;
    let channel_header: ChannelHeader = decode_as(&header.channel_header, "ChannelHeader")?;
    let signature_header: SignatureHeader = decode_as(&header.signature_header, "SignatureHeader")?;
    // The genesis block's config transaction has no creator.
    let creator = if signature_header.creator.is_empty() {
        None
    } else {
        Some(decode_as::<SerializedIdentity>(
            &signature_header.creator,
            "creator SerializedIdentity",
        )?)
    };
    let header_type = HeaderType::try_from(channel_header.r#type).ok();
    let mut actions = match header_type {
        Some(HeaderType::EndorserTransaction) => decode_endorser_transaction(&payload.data)?,
        _ => Vec::new(),
    };
    let chaincode = (!actions.is_empty()).then(|| actions.remove(0));
    let config = match header_type {
        Some(HeaderType::Config) => Some(decode_config(&payload.data)?),
        _ => None,
    };
    Ok(DecodedTransaction {
        index,
        tx_id: channel_header.tx_id,
        header_type: header_type.map_or_else(
            || format!("UNKNOWN({})", channel_header.r#type),
            |t| t.as_str_name().to_owned(),
        ),
        channel_id: channel_header.channel_id,
        // prost-types formats timestamps as RFC 3339 in UTC.
        timestamp: channel_header.timestamp.as_ref().map(ToString::to_string),
        creator_subject: creator
            .as_ref()
            .and_then(|creator| certificate_subject(&creator.id_bytes)),
        creator_msp_id: creator.map(|creator| creator.mspid).unwrap_or_default(),
        validation_code: code,
        validation: code.map_or_else(
            || TxValidationCode::NotValidated.as_str_name().to_owned(),
            validation_code_name,
        ),
        chaincode,
        extra_actions: actions,
        config,
    })
}

fn decode_endorser_transaction(data: &[u8]) -> Result<Vec<ChaincodeInvocation>, Fault> {
    let transaction: Transaction = decode_as(data, "Transaction")?;
    if transaction.actions.is_empty() {
        return Err(Fault::Missing("Transaction has no actions"));
    }
    transaction.actions.iter().map(decode_action).collect()
}

fn decode_action(action: &TransactionAction) -> Result<ChaincodeInvocation, Fault> {
    let action_payload: ChaincodeActionPayload =
        decode_as(&action.payload, "ChaincodeActionPayload")?;
    let proposal_payload: ChaincodeProposalPayload = decode_as(
        &action_payload.chaincode_proposal_payload,
        "ChaincodeProposalPayload",
    )?;
    let invocation: ChaincodeInvocationSpec =
        decode_as(&proposal_payload.input, "ChaincodeInvocationSpec")?;
    let spec = invocation.chaincode_spec.unwrap_or_default();
    let input_args = spec.input.map(|input| input.args).unwrap_or_default();
    let endorsed = action_payload
        .action
        .ok_or(Fault::Missing("ChaincodeActionPayload has no action"))?;
    let response_payload: ProposalResponsePayload = decode_as(
        &endorsed.proposal_response_payload,
        "ProposalResponsePayload",
    )?;
    let chaincode_action: ChaincodeAction =
        decode_as(&response_payload.extension, "ChaincodeAction")?;
    let rwset: TxReadWriteSet = decode_as(&chaincode_action.results, "TxReadWriteSet")?;
    let namespaces = rwset
        .ns_rwset
        .iter()
        .map(decode_namespace)
        .collect::<Result<Vec<_>, _>>()?;
    let event = if chaincode_action.events.is_empty() {
        None
    } else {
        let event: ChaincodeEvent = decode_as(&chaincode_action.events, "ChaincodeEvent")?;
        // Fabric's shim always sends an event message; an unnamed one means no event was set.
        (!event.event_name.is_empty()).then_some(EventSummary {
            name: event.event_name,
            chaincode_id: event.chaincode_id,
            payload_size: event.payload.len(),
        })
    };
    let endorsements = endorsed
        .endorsements
        .iter()
        .map(|endorsement| {
            let endorser: SerializedIdentity =
                decode_as(&endorsement.endorser, "endorser SerializedIdentity")?;
            Ok(Endorsement {
                subject: certificate_subject(&endorser.id_bytes),
                msp_id: endorser.mspid,
                signature: hex::encode(&endorsement.signature),
            })
        })
        .collect::<Result<Vec<_>, Fault>>()?;
    let response = chaincode_action.response.unwrap_or_default();
    let mut args = input_args.iter().map(|arg| Arg::from_bytes(arg));
    Ok(ChaincodeInvocation {
        name: spec.chaincode_id.map(|id| id.name).unwrap_or_default(),
        version: chaincode_action
            .chaincode_id
            .map(|id| id.version)
            .unwrap_or_default(),
        function: args.next(),
        args: args.collect(),
        response_status: response.status,
        response_message: response.message,
        response_payload_size: response.payload.len(),
        namespaces,
        event,
        endorsers: endorsements.iter().map(|e| e.msp_id.clone()).collect(),
        endorsements,
    })
}

fn decode_namespace(ns: &NsReadWriteSet) -> Result<NamespaceRwSet, Fault> {
    let kv: KvrwSet = decode_as(&ns.rwset, format!("KVRWSet of namespace {}", ns.namespace))?;
    Ok(NamespaceRwSet {
        namespace: ns.namespace.clone(),
        reads: kv
            .reads
            .into_iter()
            .map(|read| KeyRead {
                key: read.key,
                version: read.version.map(|version| Version {
                    block: version.block_num,
                    tx: version.tx_num,
                }),
            })
            .collect(),
        range_queries: kv
            .range_queries_info
            .into_iter()
            .map(|range| {
                let (reads, merkle_summary) = match &range.reads_info {
                    Some(range_query_info::ReadsInfo::RawReads(raw)) => (raw.kv_reads.len(), false),
                    Some(range_query_info::ReadsInfo::ReadsMerkleHashes(_)) => (0, true),
                    None => (0, false),
                };
                RangeQuery {
                    start_key: range.start_key,
                    end_key: range.end_key,
                    exhausted: range.itr_exhausted,
                    reads,
                    merkle_summary,
                }
            })
            .collect(),
        writes: kv
            .writes
            .into_iter()
            .map(|write| KeyWrite {
                key: write.key,
                is_delete: write.is_delete,
                value_size: write.value.len(),
                value: (!write.value.is_empty()).then(|| Arg::from_bytes(&write.value)),
            })
            .collect(),
        metadata_writes: kv
            .metadata_writes
            .into_iter()
            .map(|write| MetadataWrite {
                key: write.key,
                entries: write.entries.into_iter().map(|entry| entry.name).collect(),
            })
            .collect(),
        collections: ns
            .collection_hashed_rwset
            .iter()
            .map(|collection| collection.collection_name.clone())
            .collect(),
    })
}
