//! The raw effects of a block's transactions — channel header, validation code, the chaincode action, its
//! writes and event as bytes — for consumers that store or apply them (a ledger, a mirror) rather than
//! display them.

use fabric_protos::common::{Block, ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader};
use fabric_protos::kvrwset::{KvMetadataWrite, KvWrite, KvrwSet};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ProposalResponsePayload, Transaction,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;

use super::transactions_filter;

/// What one transaction did.
#[derive(Debug, Clone, PartialEq)]
pub struct TxEffects {
    /// Position in the block.
    pub index: usize,
    /// The channel header (tx id, type, timestamp).
    pub channel_header: ChannelHeader,
    /// The validation code from TRANSACTIONS_FILTER, when the block has one.
    pub validation_code: Option<u8>,
    /// The creator's MSP id (empty for the genesis block's configuration, which has no creator).
    pub creator_msp_id: String,
    /// The invoked chaincode's name, from the proposal's invocation spec.
    pub chaincode_name: Option<String>,
    /// The invocation's first argument: the function.
    pub function: Option<Vec<u8>>,
    /// The chaincode action of an endorser transaction.
    pub action: Option<ChaincodeAction>,
    /// Writes per namespace, in read-write-set order.
    pub writes: Vec<(String, Vec<KvWrite>)>,
    /// Metadata writes (e.g. key-level endorsement policies) per namespace.
    pub metadata_writes: Vec<(String, Vec<KvMetadataWrite>)>,
    /// The chaincode event, if one was set.
    pub event: Option<ChaincodeEvent>,
}

impl TxEffects {
    /// Whether the transaction is VALID.
    pub fn is_valid(&self) -> bool {
        self.validation_code == Some(0)
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, String> {
    M::decode(bytes).map_err(|error| format!("{what}: {error}"))
}

/// The effects of every transaction of `block`; an error names the transaction and the message at fault.
pub fn transaction_effects(block: &Block) -> Result<Vec<TxEffects>, String> {
    let filter = transactions_filter(block).unwrap_or_default();
    let envelopes = block
        .data
        .as_ref()
        .map(|data| data.data.as_slice())
        .unwrap_or_default();
    envelopes
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            effects_of(index, bytes, filter.get(index).copied())
                .map_err(|e| format!("tx {index}: {e}"))
        })
        .collect()
}

fn effects_of(
    index: usize,
    bytes: &[u8],
    validation_code: Option<u8>,
) -> Result<TxEffects, String> {
    let envelope: Envelope = decode(bytes, "Envelope")?;
    let payload: Payload = decode(&envelope.payload, "Payload")?;
    let header = payload.header.as_ref().ok_or("Payload has no header")?;
    let channel_header: ChannelHeader = decode(&header.channel_header, "ChannelHeader")?;
    let signature_header: SignatureHeader = decode(&header.signature_header, "SignatureHeader")?;
    let creator_msp_id = if signature_header.creator.is_empty() {
        String::new()
    } else {
        decode::<SerializedIdentity>(&signature_header.creator, "creator SerializedIdentity")?.mspid
    };
    let mut effects = TxEffects {
        index,
        channel_header,
        validation_code,
        creator_msp_id,
        chaincode_name: None,
        function: None,
        action: None,
        writes: Vec::new(),
        metadata_writes: Vec::new(),
        event: None,
    };
    if effects.channel_header.r#type != HeaderType::EndorserTransaction as i32 {
        return Ok(effects);
    }
    let transaction: Transaction = decode(&payload.data, "Transaction")?;
    let action = transaction
        .actions
        .first()
        .ok_or("Transaction has no actions")?;
    let action_payload: ChaincodeActionPayload = decode(&action.payload, "ChaincodeActionPayload")?;
    let proposal_payload: ChaincodeProposalPayload = decode(
        &action_payload.chaincode_proposal_payload,
        "ChaincodeProposalPayload",
    )?;
    let spec =
        decode::<ChaincodeInvocationSpec>(&proposal_payload.input, "ChaincodeInvocationSpec")?
            .chaincode_spec
            .unwrap_or_default();
    effects.chaincode_name = spec.chaincode_id.map(|id| id.name);
    effects.function = spec.input.and_then(|input| input.args.into_iter().next());
    let endorsed = action_payload
        .action
        .ok_or("ChaincodeActionPayload has no action")?;
    let response_payload: ProposalResponsePayload = decode(
        &endorsed.proposal_response_payload,
        "ProposalResponsePayload",
    )?;
    let chaincode_action: ChaincodeAction = decode(&response_payload.extension, "ChaincodeAction")?;
    let rwset: TxReadWriteSet = decode(&chaincode_action.results, "TxReadWriteSet")?;
    for namespace in rwset.ns_rwset {
        let kv: KvrwSet = decode(&namespace.rwset, "KVRWSet")?;
        if !kv.metadata_writes.is_empty() {
            effects
                .metadata_writes
                .push((namespace.namespace.clone(), kv.metadata_writes));
        }
        effects.writes.push((namespace.namespace, kv.writes));
    }
    if !chaincode_action.events.is_empty() {
        let event: ChaincodeEvent = decode(&chaincode_action.events, "ChaincodeEvent")?;
        effects.event = (!event.event_name.is_empty()).then_some(event);
    }
    effects.action = Some(chaincode_action);
    Ok(effects)
}
