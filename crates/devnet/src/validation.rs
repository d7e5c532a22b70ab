//! Validation of ordered transactions, as a Fabric committing peer does it: header and creator signature,
//! transaction id, duplicates, endorsement by the channel's org, and MVCC / phantom-read checks against the
//! committed state plus the writes of earlier valid transactions of the same block.

use std::collections::{BTreeMap, HashMap, HashSet};

use fabric_protos::common::{ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader};
use fabric_protos::kvrwset::{KvrwSet, RangeQueryInfo};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ProposalResponsePayload, Transaction,
    TxValidationCode as Code,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;

use crate::channel_msp::{ChannelMsps, Role};
use crate::ledger::{metadata_update, state_update};
use crate::state::{Height, StateUpdate, WorldState};

/// The outcome of validating one transaction of a block.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The transaction id (empty when the header could not be read).
    pub tx_id: String,
    /// The validation code recorded in TRANSACTIONS_FILTER.
    pub code: Code,
    /// The writes to apply when valid.
    pub updates: Vec<StateUpdate>,
}

/// Pending writes of the valid transactions validated so far in the current block.
#[derive(Debug, Default)]
pub struct BlockOverlay {
    /// `(namespace, key)` → the version the key will have, or `None` if deleted.
    writes: HashMap<(String, String), Option<Height>>,
    tx_ids: HashSet<String>,
}

impl BlockOverlay {
    fn version(&self, state: &WorldState, namespace: &str, key: &str) -> Option<Height> {
        match self.writes.get(&(namespace.to_owned(), key.to_owned())) {
            Some(pending) => *pending,
            None => state.version(namespace, key),
        }
    }
}

/// Validates the envelope at `height` against `state` and the block's `overlay`, and records its writes in
/// the overlay when valid.
pub fn validate_transaction(
    envelope_bytes: &[u8],
    height: Height,
    channel_id: &str,
    chaincode: &str,
    msps: &ChannelMsps,
    state: &WorldState,
    overlay: &mut BlockOverlay,
) -> Validated {
    let mut tx_id = String::new();
    let result = check(
        envelope_bytes,
        channel_id,
        chaincode,
        msps,
        state,
        overlay,
        &mut tx_id,
    );
    match result {
        Ok(updates) => {
            for update in &updates {
                let (namespace, key, version) = match update {
                    StateUpdate::Put { namespace, key, .. }
                    | StateUpdate::Metadata { namespace, key, .. } => {
                        (namespace, key, Some(height))
                    }
                    StateUpdate::Delete { namespace, key } => (namespace, key, None),
                };
                overlay
                    .writes
                    .insert((namespace.clone(), key.clone()), version);
            }
            overlay.tx_ids.insert(tx_id.clone());
            Validated {
                tx_id,
                code: Code::Valid,
                updates,
            }
        }
        Err(code) => {
            if !tx_id.is_empty() && code != Code::DuplicateTxid {
                overlay.tx_ids.insert(tx_id.clone());
            }
            Validated {
                tx_id,
                code,
                updates: Vec::new(),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    envelope_bytes: &[u8],
    channel_id: &str,
    chaincode: &str,
    msps: &ChannelMsps,
    state: &WorldState,
    overlay: &BlockOverlay,
    tx_id_out: &mut String,
) -> Result<Vec<StateUpdate>, Code> {
    let envelope = Envelope::decode(envelope_bytes).map_err(|_| Code::NilEnvelope)?;
    let payload = Payload::decode(envelope.payload.as_slice()).map_err(|_| Code::BadPayload)?;
    let header = payload.header.as_ref().ok_or(Code::BadCommonHeader)?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|_| Code::BadChannelHeader)?;
    let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|_| Code::BadCommonHeader)?;
    *tx_id_out = channel_header.tx_id.clone();

    if channel_header.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(Code::UnknownTxType);
    }
    if channel_header.channel_id != channel_id {
        return Err(Code::TargetChainNotFound);
    }
    if channel_header.epoch != 0 || signature_header.nonce.is_empty() {
        return Err(Code::BadChannelHeader);
    }

    // The creator must be a writer of the channel and must have signed exactly these payload bytes.
    let creator = msps
        .validate(&signature_header.creator, &[Role::Client, Role::Admin])
        .map_err(|_| Code::BadCreatorSignature)?;
    if !msps.verify_signature(&creator, &envelope.payload, &envelope.signature) {
        return Err(Code::BadCreatorSignature);
    }
    let expected_tx_id =
        fabric_sdk::txid::compute_tx_id(&signature_header.nonce, &signature_header.creator);
    if channel_header.tx_id != expected_tx_id {
        return Err(Code::BadProposalTxid);
    }
    if state.transaction(&channel_header.tx_id).is_some()
        || overlay.tx_ids.contains(&channel_header.tx_id)
    {
        return Err(Code::DuplicateTxid);
    }

    let transaction = Transaction::decode(payload.data.as_slice()).map_err(|_| Code::BadPayload)?;
    let [action] = transaction.actions.as_slice() else {
        return Err(if transaction.actions.is_empty() {
            Code::NilTxaction
        } else {
            Code::BadPayload
        });
    };
    let action_payload =
        ChaincodeActionPayload::decode(action.payload.as_slice()).map_err(|_| Code::BadPayload)?;
    let endorsed = action_payload.action.ok_or(Code::NilTxaction)?;
    let response_payload =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(|_| Code::BadResponsePayload)?;
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(|_| Code::BadResponsePayload)?;
    let action_chaincode = chaincode_action
        .chaincode_id
        .as_ref()
        .map(|id| id.name.as_str())
        .unwrap_or_default();
    if action_chaincode != chaincode {
        return Err(Code::InvalidChaincode);
    }
    if chaincode_action
        .response
        .as_ref()
        .is_none_or(|response| response.status < 200 || response.status >= 400)
    {
        return Err(Code::EndorsementPolicyFailure);
    }

    // Endorsement policy of the chaincode: a valid signature of a peer of the channel's application org.
    let endorsed_by_org = endorsed.endorsements.iter().any(|endorsement| {
        msps.validate(&endorsement.endorser, &[Role::Peer])
            .is_ok_and(|endorser| {
                let mut signed = endorsed.proposal_response_payload.clone();
                signed.extend_from_slice(&endorsement.endorser);
                endorser.msp_id() == msps.application_msp_id()
                    && msps.verify_signature(&endorser, &signed, &endorsement.signature)
            })
    });
    if !endorsed_by_org {
        return Err(Code::EndorsementPolicyFailure);
    }

    let rwset =
        TxReadWriteSet::decode(chaincode_action.results.as_slice()).map_err(|_| Code::BadRwset)?;
    let mut updates = Vec::new();
    for namespace_set in &rwset.ns_rwset {
        let kv = KvrwSet::decode(namespace_set.rwset.as_slice()).map_err(|_| Code::BadRwset)?;
        let namespace = namespace_set.namespace.as_str();
        let writes_here = !kv.writes.is_empty() || !kv.metadata_writes.is_empty();
        if writes_here && namespace != chaincode {
            return Err(Code::IllegalWriteset);
        }
        for read in &kv.reads {
            let expected = read.version.as_ref().map(Height::from_version);
            if overlay.version(state, namespace, &read.key) != expected {
                return Err(Code::MvccReadConflict);
            }
        }
        for range in &kv.range_queries_info {
            if !range_unchanged(range, namespace, state, overlay) {
                return Err(Code::PhantomReadConflict);
            }
        }
        updates.extend(kv.writes.iter().map(|write| state_update(namespace, write)));
        updates.extend(
            kv.metadata_writes
                .iter()
                .map(|metadata| metadata_update(namespace, metadata)),
        );
    }
    Ok(updates)
}

/// Re-runs a range query over the committed state merged with the block's pending writes and checks that
/// it returns exactly the keys and versions the simulation saw, as Fabric's validator does (raw reads or a
/// Merkle summary; a scan the chaincode did not finish ends at, and includes, the last key it read).
fn range_unchanged(
    range: &RangeQueryInfo,
    namespace: &str,
    state: &WorldState,
    overlay: &BlockOverlay,
) -> bool {
    // An exhausted scan covers [start, end); an unfinished one [start, end], i.e. [start, end + "\0").
    let end = if range.itr_exhausted || range.end_key.is_empty() {
        range.end_key.clone()
    } else {
        format!("{}\u{0}", range.end_key)
    };
    let in_range =
        |key: &str| key >= range.start_key.as_str() && (end.is_empty() || key < end.as_str());
    let mut current: BTreeMap<String, Option<Height>> = state
        .range(namespace, &range.start_key, &end, usize::MAX)
        .into_iter()
        .map(|(key, value)| (key, Some(value.version)))
        .collect();
    for ((pending_namespace, key), version) in &overlay.writes {
        if pending_namespace == namespace && in_range(key) {
            current.insert(key.clone(), *version);
        }
    }
    chaincode_driver::range_query_unchanged(
        range,
        current
            .into_iter()
            .filter_map(|(key, version)| version.map(|version| (key, version.to_version()))),
    )
}
