//! Endorsement: the checks a Fabric peer makes on a signed proposal, simulation of the chaincode against
//! the committed state, and the signed proposal response and prepared transaction built from the result.

use std::time::{SystemTime, UNIX_EPOCH};

use fabric_protos::common::{self, ChannelHeader, HeaderType, SignatureHeader};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeEvent,
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, Endorsement, Proposal, ProposalResponsePayload, Response,
    SignedProposal, Transaction, TransactionAction,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use ring::digest::{Context, SHA256};

use crate::channel_msp::{ChannelMsps, Role, ValidIdentity};

/// How far a proposal's timestamp may be from the peer's clock (Fabric's default `timewindow`).
pub const TIME_WINDOW_SECONDS: i64 = 15 * 60;

/// A proposal that passed the peer's checks, with the parts endorsement needs.
#[derive(Debug, Clone)]
pub struct CheckedProposal {
    /// The signed proposal as received.
    pub signed: SignedProposal,
    /// The proposal's header bytes (copied unchanged into the transaction).
    pub header: common::Header,
    /// The decoded channel header.
    pub channel_header: ChannelHeader,
    /// The decoded signature header.
    pub signature_header: SignatureHeader,
    /// The chaincode named in the header extension.
    pub chaincode: String,
    /// The chaincode input (function and arguments).
    pub input: ChaincodeInput,
    /// The proposal payload re-encoded without its transient map (what goes on the ledger).
    pub payload_without_transient: Vec<u8>,
    /// The creator.
    pub creator: std::sync::Arc<ValidIdentity>,
}

/// Why a proposal was refused, in the words a Fabric peer uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProposalRejection(pub String);

fn reject(message: impl Into<String>) -> ProposalRejection {
    ProposalRejection(message.into())
}

/// Checks a signed proposal as a peer's endorser does: well formed, for this channel, fresh, created by a
/// writer of the channel whose low-S signature covers the proposal bytes, with a correctly computed
/// transaction id.
pub fn check_proposal(
    signed: &SignedProposal,
    channel_id: &str,
    msps: &ChannelMsps,
) -> Result<CheckedProposal, ProposalRejection> {
    let proposal = Proposal::decode(signed.proposal_bytes.as_slice())
        .map_err(|error| reject(format!("error unmarshalling Proposal: {error}")))?;
    let header = common::Header::decode(proposal.header.as_slice())
        .map_err(|error| reject(format!("error unmarshalling Header: {error}")))?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|error| reject(format!("error unmarshalling ChannelHeader: {error}")))?;
    let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|error| reject(format!("error unmarshalling SignatureHeader: {error}")))?;

    if channel_header.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(reject(format!(
            "invalid header type {}",
            channel_header.r#type
        )));
    }
    if channel_header.epoch != 0 {
        return Err(reject(format!(
            "invalid Epoch in ChannelHeader. Expected 0, got [{}]",
            channel_header.epoch
        )));
    }
    if signature_header.nonce.is_empty() {
        return Err(reject("invalid nonce specified in the header"));
    }
    if signature_header.creator.is_empty() {
        return Err(reject("invalid creator specified in the header"));
    }
    if channel_header.channel_id != channel_id {
        return Err(reject(format!(
            "channel '{}' not found",
            channel_header.channel_id
        )));
    }
    check_time_window(channel_header.timestamp.as_ref())?;

    let creator = msps
        .validate(&signature_header.creator, &[Role::Client, Role::Admin])
        .map_err(|reason| {
            reject(format!(
                "access denied: channel [{channel_id}] creator org unknown, creator is malformed: {reason}"
            ))
        })?;
    if !creator.verify(&signed.proposal_bytes, &signed.signature) {
        return Err(reject(format!(
            "access denied: channel [{channel_id}] creator org [{}]: the creator's signature over the proposal is not valid",
            creator.msp_id()
        )));
    }
    let expected =
        fabric_sdk::txid::compute_tx_id(&signature_header.nonce, &signature_header.creator);
    if channel_header.tx_id != expected {
        return Err(reject(format!(
            "incorrectly computed txid '{}' -- expected '{expected}'",
            channel_header.tx_id
        )));
    }

    let extension =
        ChaincodeHeaderExtension::decode(channel_header.extension.as_slice()).map_err(|error| {
            reject(format!(
                "error unmarshalling ChaincodeHeaderExtension: {error}"
            ))
        })?;
    let chaincode = extension
        .chaincode_id
        .map(|id| id.name)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| reject("ChaincodeHeaderExtension.ChaincodeId is nil"))?;

    let payload =
        ChaincodeProposalPayload::decode(proposal.payload.as_slice()).map_err(|error| {
            reject(format!(
                "error unmarshalling ChaincodeProposalPayload: {error}"
            ))
        })?;
    let invocation =
        ChaincodeInvocationSpec::decode(payload.input.as_slice()).map_err(|error| {
            reject(format!(
                "error unmarshalling ChaincodeInvocationSpec: {error}"
            ))
        })?;
    let input = invocation
        .chaincode_spec
        .and_then(|spec| spec.input)
        .ok_or_else(|| reject("chaincode invocation spec without input"))?;
    let payload_without_transient = ChaincodeProposalPayload {
        input: payload.input.clone(),
        transient_map: Default::default(),
    }
    .encode_to_vec();

    Ok(CheckedProposal {
        signed: signed.clone(),
        header,
        channel_header,
        signature_header,
        chaincode,
        input,
        payload_without_transient,
        creator,
    })
}

fn check_time_window(timestamp: Option<&prost_types::Timestamp>) -> Result<(), ProposalRejection> {
    let Some(timestamp) = timestamp else {
        return Err(reject("proposal has no timestamp"));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    if (timestamp.seconds - now).abs() > TIME_WINDOW_SECONDS {
        return Err(reject(format!(
            "request unauthorized due to incorrect timestamp {}, peer time {now}, peer.authentication.timewindow 15m0s",
            timestamp.seconds
        )));
    }
    Ok(())
}

/// The hash a peer binds its endorsement to: SHA-256 of the channel header, the signature header and the
/// proposal payload without transient data.
pub fn proposal_hash(proposal: &CheckedProposal) -> Vec<u8> {
    let mut context = Context::new(&SHA256);
    context.update(&proposal.header.channel_header);
    context.update(&proposal.header.signature_header);
    context.update(&proposal.payload_without_transient);
    context.finish().as_ref().to_vec()
}

/// The result of simulating a proposal.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The chaincode's response.
    pub response: Response,
    /// The event it set, if any.
    pub event: Option<ChaincodeEvent>,
    /// The read-write set recorded.
    pub rwset: TxReadWriteSet,
}

/// The endorsed proposal response payload and the peer's endorsement of it.
pub fn endorse(
    proposal: &CheckedProposal,
    simulation: &Simulation,
    chaincode_version: &str,
    peer_identity: &[u8],
    peer_signer: &dyn fabric_sdk::signer::Signer,
) -> Result<(Vec<u8>, Endorsement), fabric_sdk::signer::SignError> {
    let event = simulation.event.clone().map(|mut event| {
        // The peer stamps the event with the chaincode name and transaction id.
        event.chaincode_id = proposal.chaincode.clone();
        event.tx_id = proposal.channel_header.tx_id.clone();
        event.encode_to_vec()
    });
    let action = ChaincodeAction {
        results: simulation.rwset.encode_to_vec(),
        events: event.unwrap_or_default(),
        response: Some(simulation.response.clone()),
        chaincode_id: Some(ChaincodeId {
            path: String::new(),
            name: proposal.chaincode.clone(),
            version: chaincode_version.to_owned(),
        }),
    };
    let payload = ProposalResponsePayload {
        proposal_hash: proposal_hash(proposal),
        extension: action.encode_to_vec(),
    }
    .encode_to_vec();
    let mut signed = payload.clone();
    signed.extend_from_slice(peer_identity);
    let signature = peer_signer.sign(&signed)?;
    Ok((
        payload,
        Endorsement {
            endorser: peer_identity.to_vec(),
            signature,
        },
    ))
}

/// The unsigned transaction envelope the gateway returns from Endorse.
pub fn prepared_transaction(
    proposal: &CheckedProposal,
    response_payload: Vec<u8>,
    endorsements: Vec<Endorsement>,
) -> common::Envelope {
    let action_payload = ChaincodeActionPayload {
        chaincode_proposal_payload: proposal.payload_without_transient.clone(),
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: response_payload,
            endorsements,
        }),
    };
    let transaction = Transaction {
        actions: vec![TransactionAction {
            header: proposal.header.signature_header.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    let payload = common::Payload {
        header: Some(proposal.header.clone()),
        data: transaction.encode_to_vec(),
    };
    common::Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
}
