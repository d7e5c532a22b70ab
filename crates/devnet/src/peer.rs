//! The peer: what the Gateway and Deliver services share — the channel's MSPs, the ledger, the peer's
//! signing identity, the orderer's intake and the link to the chaincode.

use std::sync::Arc;

use fabric_protos::common::{self, Envelope, Payload, SignatureHeader};
use fabric_protos::protos::ChaincodeEvent;
use fabric_sdk::signer::Signer;
use prost::Message;
use tokio::sync::mpsc;

use crate::chaincode_link::ChaincodeLink;
use crate::channel_msp::{ChannelMsps, Role};
use crate::endorser::{CheckedProposal, Simulation};
use crate::gateway::READERS;
use crate::ledger::Ledger;

/// Everything the peer's services need.
#[derive(Debug)]
pub struct Peer {
    /// The channel served.
    pub channel_id: String,
    /// The chaincode defined on it.
    pub chaincode: String,
    /// The version recorded in chaincode actions.
    pub chaincode_version: String,
    /// The address this peer listens on (reported in error details).
    pub address: String,
    /// The channel's MSPs.
    pub msps: Arc<ChannelMsps>,
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// The peer's serialized identity (the endorser).
    pub peer_identity: Vec<u8>,
    /// The peer's signer.
    pub peer_signer: Arc<dyn Signer>,
    /// The orderer's intake.
    pub submit: mpsc::Sender<Vec<u8>>,
    /// The connection to the chaincode server.
    pub chaincode_link: ChaincodeLink,
    /// Turns true when the peer shuts down, so long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Peer {
    /// Completes when the peer starts shutting down.
    pub async fn stopping(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    }

    /// Runs the chaincode for a checked proposal against the committed state.
    pub async fn simulate(&self, proposal: &CheckedProposal) -> Result<Simulation, String> {
        self.chaincode_link.simulate(&self.ledger, proposal).await
    }

    /// The orderer's Broadcast check: the envelope's creator is a writer of the channel and signed the
    /// payload.
    pub fn check_envelope_signature(&self, envelope: &Envelope) -> Result<(), String> {
        let payload = Payload::decode(envelope.payload.as_slice())
            .map_err(|error| format!("bad payload: {error}"))?;
        let header = payload.header.ok_or("payload has no header")?;
        let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|error| format!("bad signature header: {error}"))?;
        let creator = self
            .msps
            .validate(&signature_header.creator, &[Role::Client, Role::Admin])
            .map_err(|reason| {
                format!("implicit policy evaluation failed - the creator is not a writer: {reason}")
            })?;
        if self
            .msps
            .verify_signature(&creator, &envelope.payload, &envelope.signature)
        {
            Ok(())
        } else {
            Err(
                "implicit policy evaluation failed - signature set did not satisfy policy"
                    .to_owned(),
            )
        }
    }

    /// The Readers check on a signed request: `identity` is a reader of the channel and signed `request`.
    pub fn check_reader(
        &self,
        identity: &[u8],
        request: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let reader = self.msps.validate(identity, READERS).map_err(|reason| {
            format!("failed to evaluate policy /Channel/Application/Readers: {reason}")
        })?;
        if reader.verify(request, signature) {
            Ok(())
        } else {
            Err(
                "failed to evaluate policy /Channel/Application/Readers: signature is not valid"
                    .to_owned(),
            )
        }
    }
}

/// The chaincode events of the valid transactions of `block` for `chaincode`, with their transaction
/// index, in block order.
pub fn valid_events(block: &common::Block, chaincode: &str) -> Vec<(u64, ChaincodeEvent)> {
    fabric_sdk::block::transaction_effects(block)
        .unwrap_or_default()
        .into_iter()
        .filter(|tx| tx.is_valid())
        .filter_map(|tx| {
            let event = tx.event?;
            (event.chaincode_id == chaincode).then_some((tx.index as u64, event))
        })
        .collect()
}
