//! Building signed proposals exactly as Fabric's gateway clients do (see the protocol notes §2.2): the
//! chaincode name in both the header extension and the invocation spec, a 24-byte nonce, and a transaction
//! id derived from the nonce and the creator bytes.

use std::collections::BTreeMap;

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal, chaincode_spec,
};
use prost::Message;

use crate::signer::{SignError, Signer};
use crate::txid::{compute_tx_id, new_nonce};

/// What to invoke, and how.
#[derive(Debug, Clone, Default)]
pub struct ProposalSpec {
    /// Channel name.
    pub channel: String,
    /// Chaincode name.
    pub chaincode: String,
    /// Transaction function name (with a `Contract:` prefix for named contracts).
    pub function: String,
    /// Arguments after the function name.
    pub args: Vec<Vec<u8>>,
    /// Transient data (private inputs that never reach the ledger).
    pub transient: BTreeMap<String, Vec<u8>>,
}

/// A signed proposal and its transaction id.
#[derive(Debug, Clone)]
pub struct SignedProposalBundle {
    /// The transaction id.
    pub tx_id: String,
    /// The proposal, signed over its exact bytes.
    pub signed: SignedProposal,
}

/// The current time as a protobuf timestamp.
pub fn now() -> prost_types::Timestamp {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: elapsed.as_secs() as i64,
        nanos: elapsed.subsec_nanos() as i32,
    }
}

/// Builds and signs a proposal for `spec` created by `creator` (serialized identity bytes).
pub fn build_signed_proposal(
    spec: &ProposalSpec,
    creator: &[u8],
    signer: &dyn Signer,
) -> Result<SignedProposalBundle, SignError> {
    let nonce = new_nonce();
    let tx_id = compute_tx_id(&nonce, creator);
    let chaincode_id = ChaincodeId {
        path: String::new(),
        name: spec.chaincode.clone(),
        version: String::new(),
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(now()),
        channel_id: spec.channel.clone(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(chaincode_id.clone()),
        }
        .encode_to_vec(),
        tls_cert_hash: Vec::new(),
    };
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce: nonce.to_vec(),
    };
    let mut args = Vec::with_capacity(spec.args.len() + 1);
    args.push(spec.function.clone().into_bytes());
    args.extend(spec.args.iter().cloned());
    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: chaincode_spec::Type::Undefined as i32,
            chaincode_id: Some(chaincode_id),
            input: Some(ChaincodeInput {
                args,
                decorations: Default::default(),
                is_init: false,
            }),
            timeout: 0,
        }),
    };
    let payload = ChaincodeProposalPayload {
        input: invocation.encode_to_vec(),
        transient_map: spec
            .transient
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    };
    let proposal = Proposal {
        header: Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }
        .encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    };
    let proposal_bytes = proposal.encode_to_vec();
    let signature = signer.sign(&proposal_bytes)?;
    Ok(SignedProposalBundle {
        tx_id,
        signed: SignedProposal {
            proposal_bytes,
            signature,
        },
    })
}
