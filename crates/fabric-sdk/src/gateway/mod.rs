//! A client for a Fabric peer's Gateway service, shaped like Hyperledger's `fabric-gateway` clients:
//! [`Gateway`] → [`Network`] (a channel) → [`Contract`] (a chaincode). The caller owns the gRPC channel
//! (plaintext, TLS or mutual TLS is decided when it is built).
//!
//! Three tiers, from simple to explicit:
//! 1. [`Contract::evaluate_transaction`] and [`Contract::submit_transaction`];
//! 2. [`Contract::submit`] / [`Contract::evaluate`] with [`TransactionOptions`] (transient data, endorsing
//!    organisations, an MVCC retry policy);
//! 3. [`Contract::new_proposal`] → [`Proposal::endorse`] → [`Transaction::submit`] → [`Commit::status`].

mod error;
mod events;
mod proposal;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fabric_protos::common::{Envelope, Payload};
use fabric_protos::gateway::gateway_client::GatewayClient;
use fabric_protos::gateway::{
    CommitStatusRequest, EndorseRequest, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ProposalResponsePayload, Transaction as TxMessage,
    TxValidationCode,
};
use prost::Message;
use tonic::transport::Channel;

use crate::identity::Identity;
use crate::signer::Signer;

pub use error::{CallError, GatewayError, PeerError, code_name};
pub use events::{
    BlockEvents, ChaincodeEventItem, ChaincodeEvents, Checkpoint, EventsOptions, FileCheckpointer,
    InMemoryCheckpointer, StartPosition, signed_seek_envelope,
};
pub use proposal::{ProposalSpec, SignedProposalBundle, build_signed_proposal, now};

/// Largest message the client accepts (blocks and payloads can be large; Fabric allows 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// Per-call deadlines. `None` waits for as long as the server takes.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Evaluate.
    pub evaluate: Option<Duration>,
    /// Endorse.
    pub endorse: Option<Duration>,
    /// Submit.
    pub submit: Option<Duration>,
    /// CommitStatus (waiting for the commit).
    pub commit_status: Option<Duration>,
}

impl Default for Timeouts {
    /// The timeouts fabric-samples use: evaluate 5 s, endorse 15 s, submit 5 s, commit status 1 min.
    fn default() -> Self {
        Self {
            evaluate: Some(Duration::from_secs(5)),
            endorse: Some(Duration::from_secs(15)),
            submit: Some(Duration::from_secs(5)),
            commit_status: Some(Duration::from_secs(60)),
        }
    }
}

/// Re-endorses a transaction that committed with `MVCC_READ_CONFLICT` (a concurrent writer changed what it
/// read): each attempt is a new proposal with a new transaction id.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
        }
    }
}

struct Inner {
    client: GatewayClient<Channel>,
    identity: Identity,
    creator: Vec<u8>,
    signer: Arc<dyn Signer>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("msp_id", &self.identity.msp_id)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// A connection to a peer's gateway on behalf of one identity.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
    channel: Channel,
}

impl Gateway {
    /// A gateway over `channel` (which the caller built and owns) acting as `identity`, signing with
    /// `signer`, with the default timeouts.
    pub fn new(channel: Channel, identity: Identity, signer: Arc<dyn Signer>) -> Self {
        Self::with_timeouts(channel, identity, signer, Timeouts::default())
    }

    /// Like [`Gateway::new`] with explicit timeouts.
    pub fn with_timeouts(
        channel: Channel,
        identity: Identity,
        signer: Arc<dyn Signer>,
        timeouts: Timeouts,
    ) -> Self {
        let client = GatewayClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let creator = identity.serialize();
        Self {
            inner: Arc::new(Inner {
                client,
                identity,
                creator,
                signer,
                timeouts,
            }),
            channel,
        }
    }

    /// The identity the gateway acts as.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The channel named `name`.
    pub fn network(&self, name: &str) -> Network {
        Network {
            gateway: self.clone(),
            name: name.to_owned(),
        }
    }
}

/// A channel seen through a [`Gateway`].
#[derive(Debug, Clone)]
pub struct Network {
    gateway: Gateway,
    name: String,
}

impl Network {
    /// The channel name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The chaincode `chaincode` on this channel.
    pub fn contract(&self, chaincode: &str) -> Contract {
        Contract {
            network: self.clone(),
            chaincode: chaincode.to_owned(),
            contract_name: None,
        }
    }

    /// A named contract inside a chaincode (functions are invoked as `contract:function`).
    pub fn contract_with_name(&self, chaincode: &str, contract_name: &str) -> Contract {
        Contract {
            network: self.clone(),
            chaincode: chaincode.to_owned(),
            contract_name: Some(contract_name.to_owned()),
        }
    }
}

/// Options of one transaction.
#[derive(Debug, Clone, Default)]
pub struct TransactionOptions {
    /// Arguments after the function name.
    pub args: Vec<Vec<u8>>,
    /// Transient data.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// Organisations (MSP ids) that must endorse; empty lets the gateway choose.
    pub endorsing_organizations: Vec<String>,
    /// Re-endorse on `MVCC_READ_CONFLICT` (submit only).
    pub retry: Option<RetryPolicy>,
}

impl TransactionOptions {
    /// Options with these arguments.
    pub fn with_args<A: AsRef<[u8]>>(args: &[A]) -> Self {
        Self {
            args: args.iter().map(|arg| arg.as_ref().to_vec()).collect(),
            ..Self::default()
        }
    }
}

/// The outcome of a submitted transaction that committed valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The transaction id.
    pub tx_id: String,
    /// The block it was committed in.
    pub block_number: u64,
    /// The chaincode's result payload.
    pub result: Vec<u8>,
    /// How many attempts it took (more than one after MVCC retries).
    pub attempts: u32,
}

/// A chaincode on a channel.
#[derive(Debug, Clone)]
pub struct Contract {
    network: Network,
    chaincode: String,
    contract_name: Option<String>,
}

impl Contract {
    /// The chaincode name.
    pub fn chaincode(&self) -> &str {
        &self.chaincode
    }

    /// Evaluates `function` (a query: nothing is ordered or committed) and returns its result.
    pub async fn evaluate_transaction<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
    ) -> Result<Vec<u8>, GatewayError> {
        self.evaluate(function, TransactionOptions::with_args(args))
            .await
    }

    /// Submits `function`, waits for the commit and returns its result; an invalid commit is an error.
    pub async fn submit_transaction<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
    ) -> Result<Vec<u8>, GatewayError> {
        Ok(self
            .submit(function, TransactionOptions::with_args(args))
            .await?
            .result)
    }

    /// Evaluates with options.
    pub async fn evaluate(
        &self,
        function: &str,
        options: TransactionOptions,
    ) -> Result<Vec<u8>, GatewayError> {
        self.new_proposal(function, &options)?.evaluate().await
    }

    /// Submits with options: endorse, submit, wait for the commit; retries on MVCC conflicts if asked.
    pub async fn submit(
        &self,
        function: &str,
        options: TransactionOptions,
    ) -> Result<Submitted, GatewayError> {
        let policy = options.retry.unwrap_or(RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::ZERO,
        });
        let mut backoff = policy.initial_backoff;
        let mut attempt = 1;
        loop {
            let transaction = self.new_proposal(function, &options)?.endorse().await?;
            let result = transaction.result().to_vec();
            let commit = transaction.submit().await?;
            let status = commit.status().await?;
            if status.successful() {
                return Ok(Submitted {
                    tx_id: status.tx_id,
                    block_number: status.block_number,
                    result,
                    attempts: attempt,
                });
            }
            let conflict = status.code == TxValidationCode::MvccReadConflict as i32
                || status.code == TxValidationCode::PhantomReadConflict as i32;
            if !conflict || attempt >= policy.max_attempts.max(1) {
                return Err(GatewayError::Commit {
                    tx_id: status.tx_id,
                    code: status.code,
                    block_number: status.block_number,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
            attempt += 1;
        }
    }

    /// Builds and signs a proposal (tier 3).
    pub fn new_proposal(
        &self,
        function: &str,
        options: &TransactionOptions,
    ) -> Result<Proposal, GatewayError> {
        let function = match &self.contract_name {
            Some(contract) => format!("{contract}:{function}"),
            None => function.to_owned(),
        };
        let gateway = &self.network.gateway.inner;
        let spec = ProposalSpec {
            channel: self.network.name.clone(),
            chaincode: self.chaincode.clone(),
            function,
            args: options.args.clone(),
            transient: options.transient.clone(),
        };
        let bundle = build_signed_proposal(&spec, &gateway.creator, gateway.signer.as_ref())?;
        Ok(Proposal {
            gateway: self.network.gateway.clone(),
            channel: self.network.name.clone(),
            bundle,
            endorsing_organizations: options.endorsing_organizations.clone(),
        })
    }
}

async fn with_timeout<T>(
    timeout: Option<Duration>,
    step: &'static str,
    tx_id: &str,
    call: impl std::future::Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    match timeout {
        Some(limit) => {
            tokio::time::timeout(limit, call)
                .await
                .map_err(|_| GatewayError::Timeout {
                    step,
                    tx_id: tx_id.to_owned(),
                    timeout: limit,
                })?
        }
        None => call.await,
    }
}

/// A signed proposal, ready to be evaluated or endorsed.
#[derive(Debug, Clone)]
pub struct Proposal {
    gateway: Gateway,
    channel: String,
    bundle: SignedProposalBundle,
    endorsing_organizations: Vec<String>,
}

impl Proposal {
    /// The transaction id.
    pub fn transaction_id(&self) -> &str {
        &self.bundle.tx_id
    }

    /// The signed proposal.
    pub fn signed_proposal(&self) -> &fabric_protos::protos::SignedProposal {
        &self.bundle.signed
    }

    /// Evaluates the proposal on one peer and returns the chaincode's result.
    pub async fn evaluate(&self) -> Result<Vec<u8>, GatewayError> {
        let tx_id = self.bundle.tx_id.clone();
        let request = EvaluateRequest {
            transaction_id: tx_id.clone(),
            channel_id: self.channel.clone(),
            proposed_transaction: Some(self.bundle.signed.clone()),
            target_organizations: self.endorsing_organizations.clone(),
        };
        let mut client = self.gateway.inner.client.clone();
        let timeout = self.gateway.inner.timeouts.evaluate;
        with_timeout(timeout, "evaluate", &tx_id, async {
            let response = client
                .evaluate(request)
                .await
                .map_err(|status| GatewayError::Evaluate {
                    tx_id: tx_id.clone(),
                    error: CallError::from_status(&status),
                })?
                .into_inner();
            Ok(response
                .result
                .map(|result| result.payload)
                .unwrap_or_default())
        })
        .await
    }

    /// Collects endorsements; the result is a transaction ready to sign and submit.
    pub async fn endorse(self) -> Result<Transaction, GatewayError> {
        let tx_id = self.bundle.tx_id.clone();
        let request = EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: self.channel.clone(),
            proposed_transaction: Some(self.bundle.signed.clone()),
            endorsing_organizations: self.endorsing_organizations.clone(),
        };
        let mut client = self.gateway.inner.client.clone();
        let timeout = self.gateway.inner.timeouts.endorse;
        let envelope = with_timeout(timeout, "endorse", &tx_id, async {
            client
                .endorse(request)
                .await
                .map_err(|status| GatewayError::Endorse {
                    tx_id: tx_id.clone(),
                    error: CallError::from_status(&status),
                })?
                .into_inner()
                .prepared_transaction
                .ok_or_else(|| GatewayError::Malformed {
                    tx_id: tx_id.clone(),
                    reason: "EndorseResponse without a prepared transaction".to_owned(),
                })
        })
        .await?;
        let result = transaction_result(&envelope).map_err(|reason| GatewayError::Malformed {
            tx_id: tx_id.clone(),
            reason,
        })?;
        Ok(Transaction {
            gateway: self.gateway,
            channel: self.channel,
            tx_id,
            envelope,
            result,
        })
    }
}

/// The chaincode result inside a prepared transaction: payload → Transaction → ChaincodeActionPayload →
/// ProposalResponsePayload → ChaincodeAction → response payload.
fn transaction_result(envelope: &Envelope) -> Result<Vec<u8>, String> {
    let payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|e| format!("Payload: {e}"))?;
    let transaction =
        TxMessage::decode(payload.data.as_slice()).map_err(|e| format!("Transaction: {e}"))?;
    let action = transaction
        .actions
        .first()
        .ok_or("transaction has no actions")?;
    let action_payload = ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|e| format!("ChaincodeActionPayload: {e}"))?;
    let endorsed = action_payload
        .action
        .ok_or("ChaincodeActionPayload has no action")?;
    let response_payload =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(|e| format!("ProposalResponsePayload: {e}"))?;
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(|e| format!("ChaincodeAction: {e}"))?;
    Ok(chaincode_action
        .response
        .map(|response| response.payload)
        .unwrap_or_default())
}

/// An endorsed transaction, not yet submitted.
#[derive(Debug, Clone)]
pub struct Transaction {
    gateway: Gateway,
    channel: String,
    tx_id: String,
    envelope: Envelope,
    result: Vec<u8>,
}

impl Transaction {
    /// The transaction id.
    pub fn transaction_id(&self) -> &str {
        &self.tx_id
    }

    /// The chaincode's result, as the endorsers computed it.
    pub fn result(&self) -> &[u8] {
        &self.result
    }

    /// Signs the prepared payload exactly as received and sends it to the orderer.
    pub async fn submit(self) -> Result<Commit, GatewayError> {
        let inner = &self.gateway.inner;
        let mut envelope = self.envelope;
        envelope.signature = inner.signer.sign(&envelope.payload)?;
        let request = SubmitRequest {
            transaction_id: self.tx_id.clone(),
            channel_id: self.channel.clone(),
            prepared_transaction: Some(envelope),
        };
        let mut client = inner.client.clone();
        let tx_id = self.tx_id.clone();
        with_timeout(inner.timeouts.submit, "submit", &tx_id, async {
            client
                .submit(request)
                .await
                .map_err(|status| GatewayError::Submit {
                    tx_id: tx_id.clone(),
                    error: CallError::from_status(&status),
                })
        })
        .await?;
        Ok(Commit {
            gateway: self.gateway,
            channel: self.channel,
            tx_id: self.tx_id,
        })
    }
}

/// A submitted transaction whose commit can be awaited.
#[derive(Debug, Clone)]
pub struct Commit {
    gateway: Gateway,
    channel: String,
    tx_id: String,
}

/// How a transaction was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// The transaction id.
    pub tx_id: String,
    /// Its `TxValidationCode`.
    pub code: i32,
    /// The block it is in.
    pub block_number: u64,
}

impl CommitStatus {
    /// Whether the transaction is VALID.
    pub fn successful(&self) -> bool {
        self.code == TxValidationCode::Valid as i32
    }
}

impl Commit {
    /// The transaction id.
    pub fn transaction_id(&self) -> &str {
        &self.tx_id
    }

    /// Waits until the transaction is committed and returns its validation code and block.
    pub async fn status(&self) -> Result<CommitStatus, GatewayError> {
        let inner = &self.gateway.inner;
        let request = CommitStatusRequest {
            transaction_id: self.tx_id.clone(),
            channel_id: self.channel.clone(),
            identity: inner.creator.clone(),
        }
        .encode_to_vec();
        let signature = inner.signer.sign(&request)?;
        let mut client = inner.client.clone();
        let tx_id = self.tx_id.clone();
        with_timeout(
            inner.timeouts.commit_status,
            "commit status",
            &tx_id,
            async {
                let response = client
                    .commit_status(SignedCommitStatusRequest { request, signature })
                    .await
                    .map_err(|status| GatewayError::CommitStatus {
                        tx_id: tx_id.clone(),
                        error: CallError::from_status(&status),
                    })?
                    .into_inner();
                Ok(CommitStatus {
                    tx_id: tx_id.clone(),
                    code: response.result,
                    block_number: response.block_number,
                })
            },
        )
        .await
    }
}

/// A tonic endpoint for a peer at `address` (`host:port`, or a URL): plaintext, or TLS trusting
/// `tls_root_pem` (with `server_name` overriding the name checked in the peer's certificate). Connects
/// within 5 s and keeps the connection alive as Fabric's clients do.
pub fn peer_endpoint(
    address: &str,
    tls_root_pem: Option<Vec<u8>>,
    server_name: Option<&str>,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    let address = address
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let scheme = if tls_root_pem.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(60))
        .keep_alive_while_idle(true);
    if let Some(pem) = tls_root_pem {
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem));
        if let Some(name) = server_name {
            tls = tls.domain_name(name.to_owned());
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    Ok(endpoint)
}
