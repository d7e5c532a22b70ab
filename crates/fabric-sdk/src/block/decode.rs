//! Decoding a block down to what each transaction did:
//! Block → Envelope → Payload → ChannelHeader / SignatureHeader → Transaction → ChaincodeActionPayload →
//! ChaincodeProposalPayload (function and arguments) and ChaincodeEndorsedAction → ProposalResponsePayload
//! → ChaincodeAction (read-write sets, event, response), plus the endorsers, the validation codes of
//! TRANSACTIONS_FILTER, the orderer signatures, and the organisations of config blocks.

use std::collections::BTreeMap;

use fabric_protos::common::{
    self, Block, ChannelHeader, ConfigEnvelope, Envelope, HeaderType, Metadata,
    OrdererBlockMetadata, Payload, SignatureHeader,
};
use fabric_protos::kvrwset::{KvrwSet, range_query_info};
use fabric_protos::msp::{FabricMspConfig, MspConfig, SerializedIdentity};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ProposalResponsePayload, Transaction, TxValidationCode,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use serde::Serialize;

use super::{BlockError, block_data_hash, block_header_hash};

/// A block, decoded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecodedBlock {
    /// Block number.
    pub number: u64,
    /// Header hash (hex).
    pub header_hash: String,
    /// Previous block's header hash (hex).
    pub previous_hash: String,
    /// Data hash recorded in the header (hex).
    pub data_hash: String,
    /// Whether the recorded data hash matches the data.
    pub data_hash_valid: bool,
    /// Index of the last config block, from the SIGNATURES metadata.
    pub last_config: Option<u64>,
    /// Who signed the block (orderers), from the SIGNATURES metadata.
    pub signers: Vec<BlockSigner>,
    /// The transactions, in order.
    pub transactions: Vec<DecodedTransaction>,
}

/// An orderer signature on a block.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockSigner {
    /// MSP id of the signer (empty for BFT identifier headers).
    pub msp_id: String,
    /// The signer's certificate subject, when it parses.
    pub subject: Option<String>,
}

/// A transaction, decoded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecodedTransaction {
    /// Position in the block.
    pub index: usize,
    /// Transaction id.
    pub tx_id: String,
    /// Header type name (`ENDORSER_TRANSACTION`, `CONFIG`, …).
    pub header_type: String,
    /// Channel.
    pub channel_id: String,
    /// Timestamp (RFC 3339, UTC), when set.
    pub timestamp: Option<String>,
    /// MSP id of the creator (empty for a genesis block).
    pub creator_msp_id: String,
    /// Subject of the creator's certificate, when it parses.
    pub creator_subject: Option<String>,
    /// The validation code's number, when the block carries TRANSACTIONS_FILTER (blocks from an
    /// orderer, not yet validated by a peer, do not).
    pub validation_code: Option<u8>,
    /// The validation code's name (`NOT_VALIDATED` when absent).
    pub validation: String,
    /// For endorser transactions: what was invoked and what it did.
    pub chaincode: Option<ChaincodeInvocation>,
    /// For config transactions: the configuration.
    pub config: Option<ConfigSummary>,
}

/// An argument, printable when it is UTF-8.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Arg {
    /// UTF-8 text.
    Text(String),
    /// Anything else, hex-encoded.
    Binary {
        /// The bytes, hex.
        hex: String,
    },
}

impl Arg {
    fn from_bytes(bytes: &[u8]) -> Self {
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
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => write!(f, "{text:?}"),
            Self::Binary { hex } => write!(f, "0x{hex}"),
        }
    }
}

/// An endorser transaction's invocation and effects.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChaincodeInvocation {
    /// Chaincode name (from the invocation spec).
    pub name: String,
    /// Chaincode version from the endorsed action.
    pub version: String,
    /// Function (first argument).
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
    /// The chaincode event.
    pub event: Option<EventSummary>,
    /// Who endorsed.
    pub endorsers: Vec<String>,
}

/// One namespace's reads and writes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamespaceRwSet {
    /// Namespace (chaincode name, or `_lifecycle`).
    pub namespace: String,
    /// Keys read, with the version read (`None` = absent).
    pub reads: Vec<KeyRead>,
    /// Range queries recorded for phantom-read validation.
    pub range_queries: Vec<RangeQuery>,
    /// Keys written.
    pub writes: Vec<KeyWrite>,
    /// Keys whose metadata was written.
    pub metadata_writes: Vec<String>,
    /// Private data collections touched (hashed).
    pub collections: Vec<String>,
}

/// A key read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyRead {
    /// The key (composite keys shown with U+0000 escaped).
    pub key: String,
    /// Block and transaction of the version read; `None` when the key did not exist.
    pub version: Option<(u64, u64)>,
}

/// A range query.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeQuery {
    /// Start key.
    pub start_key: String,
    /// End key.
    pub end_key: String,
    /// Whether the iterator was exhausted.
    pub exhausted: bool,
    /// Keys read through the range.
    pub reads: usize,
}

/// A key written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyWrite {
    /// The key.
    pub key: String,
    /// Whether it is a delete.
    pub is_delete: bool,
    /// Size of the value.
    pub value_size: usize,
    /// The value when it is UTF-8 text.
    pub value: Option<String>,
}

/// A chaincode event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventSummary {
    /// Event name.
    pub name: String,
    /// Size of the payload.
    pub payload_size: usize,
}

/// The configuration in a config block.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigSummary {
    /// Configuration sequence.
    pub sequence: u64,
    /// Organisations by group (`Application`, `Orderer`).
    pub organizations: Vec<OrganizationSummary>,
    /// Capabilities per level (`Channel`, `Application`, `Orderer`).
    pub capabilities: BTreeMap<String, Vec<String>>,
}

/// An organisation in a channel configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrganizationSummary {
    /// `Application` or `Orderer`.
    pub group: String,
    /// MSP id.
    pub msp_id: String,
    /// Root CA certificates (PEM).
    #[serde(skip)]
    pub root_certs: Vec<Vec<u8>>,
    /// Number of root certificates.
    pub root_cert_count: usize,
    /// TLS root CA certificates (PEM).
    #[serde(skip)]
    pub tls_root_certs: Vec<Vec<u8>>,
}

/// Shows a key readably: composite-key separators (U+0000) as `\0`.
fn printable_key(key: &str) -> String {
    key.replace('\u{0}', "\\0")
}

fn timestamp_rfc3339(timestamp: &prost_types::Timestamp) -> String {
    // prost-types formats as RFC 3339 with the `Z` suffix.
    timestamp.to_string()
}

/// The validation codes in TRANSACTIONS_FILTER, if the block has them.
pub fn transactions_filter(block: &Block) -> Option<&[u8]> {
    let filter = block
        .metadata
        .as_ref()?
        .metadata
        .get(common::BlockMetadataIndex::TransactionsFilter as usize)?;
    (!filter.is_empty()).then_some(filter.as_slice())
}

/// The name of a validation code.
pub fn validation_code_name(code: u8) -> String {
    TxValidationCode::try_from(i32::from(code)).map_or_else(
        |_| format!("UNKNOWN({code})"),
        |code| code.as_str_name().to_owned(),
    )
}

/// Decodes a block fully.
pub fn decode_block(block: &Block) -> Result<DecodedBlock, BlockError> {
    let header = block.header.clone().unwrap_or_default();
    let number = header.number;
    let data = block.data.clone().unwrap_or_default();
    let filter = transactions_filter(block);
    let transactions =
        data.data
            .iter()
            .enumerate()
            .map(|(index, envelope)| {
                decode_transaction(envelope, index, filter.and_then(|f| f.get(index).copied()))
                    .map_err(|reason| BlockError::Decode {
                        block: number,
                        tx: Some(index),
                        reason,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
    let (last_config, signers) = signatures(block).map_err(|reason| BlockError::Decode {
        block: number,
        tx: None,
        reason,
    })?;
    Ok(DecodedBlock {
        number,
        header_hash: hex::encode(block_header_hash(&header)),
        previous_hash: hex::encode(&header.previous_hash),
        data_hash: hex::encode(&header.data_hash),
        data_hash_valid: block_data_hash(&data).as_slice() == header.data_hash.as_slice(),
        last_config,
        signers,
        transactions,
    })
}

fn signatures(block: &Block) -> Result<(Option<u64>, Vec<BlockSigner>), String> {
    let Some(slot) = block
        .metadata
        .as_ref()
        .and_then(|metadata| {
            metadata
                .metadata
                .get(common::BlockMetadataIndex::Signatures as usize)
        })
        .filter(|slot| !slot.is_empty())
    else {
        return Ok((None, Vec::new()));
    };
    let metadata =
        Metadata::decode(slot.as_slice()).map_err(|e| format!("SIGNATURES metadata: {e}"))?;
    let last_config = OrdererBlockMetadata::decode(metadata.value.as_slice())
        .ok()
        .and_then(|value| value.last_config.map(|last| last.index));
    let signers = metadata
        .signatures
        .iter()
        .map(|signature| {
            let creator = SignatureHeader::decode(signature.signature_header.as_slice())
                .ok()
                .and_then(|header| SerializedIdentity::decode(header.creator.as_slice()).ok());
            BlockSigner {
                msp_id: creator
                    .as_ref()
                    .map(|c| c.mspid.clone())
                    .unwrap_or_default(),
                subject: creator.and_then(|c| {
                    crate::identity::CertificateInfo::from_pem(&c.id_bytes)
                        .ok()
                        .map(|info| info.subject)
                }),
            }
        })
        .collect();
    Ok((last_config, signers))
}

fn decode_transaction(
    envelope_bytes: &[u8],
    index: usize,
    code: Option<u8>,
) -> Result<DecodedTransaction, String> {
    let envelope = Envelope::decode(envelope_bytes).map_err(|e| format!("Envelope: {e}"))?;
    let payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|e| format!("Payload: {e}"))?;
    let header = payload.header.as_ref().ok_or("Payload has no header")?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| format!("ChannelHeader: {e}"))?;
    let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|e| format!("SignatureHeader: {e}"))?;
    let creator = if signature_header.creator.is_empty() {
        None
    } else {
        Some(
            SerializedIdentity::decode(signature_header.creator.as_slice())
                .map_err(|e| format!("creator SerializedIdentity: {e}"))?,
        )
    };
    let header_type = HeaderType::try_from(channel_header.r#type).map_or_else(
        |_| format!("UNKNOWN({})", channel_header.r#type),
        |t| t.as_str_name().to_owned(),
    );
    let chaincode = if channel_header.r#type == HeaderType::EndorserTransaction as i32 {
        Some(decode_endorser_transaction(&payload.data)?)
    } else {
        None
    };
    let config = if channel_header.r#type == HeaderType::Config as i32 {
        Some(decode_config(&payload.data)?)
    } else {
        None
    };
    Ok(DecodedTransaction {
        index,
        tx_id: channel_header.tx_id,
        header_type,
        channel_id: channel_header.channel_id,
        timestamp: channel_header.timestamp.as_ref().map(timestamp_rfc3339),
        creator_msp_id: creator
            .as_ref()
            .map(|c| c.mspid.clone())
            .unwrap_or_default(),
        creator_subject: creator.and_then(|c| {
            crate::identity::CertificateInfo::from_pem(&c.id_bytes)
                .ok()
                .map(|info| info.subject)
        }),
        validation_code: code,
        validation: code.map_or_else(|| "NOT_VALIDATED".to_owned(), validation_code_name),
        chaincode,
        config,
    })
}

fn decode_endorser_transaction(data: &[u8]) -> Result<ChaincodeInvocation, String> {
    let transaction = Transaction::decode(data).map_err(|e| format!("Transaction: {e}"))?;
    let action = transaction
        .actions
        .first()
        .ok_or("Transaction has no actions")?;
    let action_payload = ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|e| format!("ChaincodeActionPayload: {e}"))?;
    let proposal_payload =
        ChaincodeProposalPayload::decode(action_payload.chaincode_proposal_payload.as_slice())
            .map_err(|e| format!("ChaincodeProposalPayload: {e}"))?;
    let invocation = ChaincodeInvocationSpec::decode(proposal_payload.input.as_slice())
        .map_err(|e| format!("ChaincodeInvocationSpec: {e}"))?;
    let spec = invocation.chaincode_spec.unwrap_or_default();
    let input_args = spec.input.map(|input| input.args).unwrap_or_default();
    let endorsed = action_payload
        .action
        .ok_or("ChaincodeActionPayload has no action")?;
    let response_payload =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(|e| format!("ProposalResponsePayload: {e}"))?;
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(|e| format!("ChaincodeAction: {e}"))?;
    let rwset = TxReadWriteSet::decode(chaincode_action.results.as_slice())
        .map_err(|e| format!("TxReadWriteSet: {e}"))?;
    let namespaces = rwset
        .ns_rwset
        .iter()
        .map(|ns| {
            let kv = KvrwSet::decode(ns.rwset.as_slice())
                .map_err(|e| format!("KVRWSet of {}: {e}", ns.namespace))?;
            Ok(NamespaceRwSet {
                namespace: ns.namespace.clone(),
                reads: kv
                    .reads
                    .iter()
                    .map(|read| KeyRead {
                        key: printable_key(&read.key),
                        version: read.version.as_ref().map(|v| (v.block_num, v.tx_num)),
                    })
                    .collect(),
                range_queries: kv
                    .range_queries_info
                    .iter()
                    .map(|range| RangeQuery {
                        start_key: printable_key(&range.start_key),
                        end_key: printable_key(&range.end_key),
                        exhausted: range.itr_exhausted,
                        reads: match &range.reads_info {
                            Some(range_query_info::ReadsInfo::RawReads(raw)) => raw.kv_reads.len(),
                            _ => 0,
                        },
                    })
                    .collect(),
                writes: kv
                    .writes
                    .iter()
                    .map(|write| KeyWrite {
                        key: printable_key(&write.key),
                        is_delete: write.is_delete,
                        value_size: write.value.len(),
                        value: std::str::from_utf8(&write.value)
                            .ok()
                            .filter(|text| !text.is_empty())
                            .map(str::to_owned),
                    })
                    .collect(),
                metadata_writes: kv
                    .metadata_writes
                    .iter()
                    .map(|m| printable_key(&m.key))
                    .collect(),
                collections: ns
                    .collection_hashed_rwset
                    .iter()
                    .map(|collection| collection.collection_name.clone())
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let event = if chaincode_action.events.is_empty() {
        None
    } else {
        let event = ChaincodeEvent::decode(chaincode_action.events.as_slice())
            .map_err(|e| format!("ChaincodeEvent: {e}"))?;
        (!event.event_name.is_empty()).then_some(EventSummary {
            name: event.event_name,
            payload_size: event.payload.len(),
        })
    };
    let endorsers = endorsed
        .endorsements
        .iter()
        .map(|endorsement| {
            SerializedIdentity::decode(endorsement.endorser.as_slice())
                .map(|identity| identity.mspid)
                .map_err(|e| format!("endorser SerializedIdentity: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
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
        endorsers,
    })
}

fn decode_config(data: &[u8]) -> Result<ConfigSummary, String> {
    let envelope = ConfigEnvelope::decode(data).map_err(|e| format!("ConfigEnvelope: {e}"))?;
    let config = envelope.config.ok_or("ConfigEnvelope has no config")?;
    let channel = config.channel_group.unwrap_or_default();
    let mut organizations = Vec::new();
    let mut capabilities = BTreeMap::new();
    capabilities.insert("Channel".to_owned(), capability_names(&channel));
    for group_name in ["Application", "Orderer"] {
        let Some(group) = channel.groups.get(group_name) else {
            continue;
        };
        capabilities.insert(group_name.to_owned(), capability_names(group));
        let mut names: Vec<&String> = group.groups.keys().collect();
        names.sort();
        for name in names {
            let org = &group.groups[name];
            let Some(value) = org.values.get("MSP") else {
                continue;
            };
            let msp = MspConfig::decode(value.value.as_slice())
                .map_err(|e| format!("MSPConfig of {name}: {e}"))?;
            let fabric = FabricMspConfig::decode(msp.config.as_slice())
                .map_err(|e| format!("FabricMSPConfig of {name}: {e}"))?;
            organizations.push(OrganizationSummary {
                group: group_name.to_owned(),
                msp_id: fabric.name,
                root_cert_count: fabric.root_certs.len(),
                root_certs: fabric.root_certs,
                tls_root_certs: fabric.tls_root_certs,
            });
        }
    }
    Ok(ConfigSummary {
        sequence: config.sequence,
        organizations,
        capabilities,
    })
}

fn capability_names(group: &common::ConfigGroup) -> Vec<String> {
    let mut names: Vec<String> = group
        .values
        .get("Capabilities")
        .and_then(|value| common::Capabilities::decode(value.value.as_slice()).ok())
        .map(|capabilities| capabilities.capabilities.into_keys().collect())
        .unwrap_or_default();
    names.sort();
    names
}
