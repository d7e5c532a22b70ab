//! The peer's link to the chaincode server: dialled lazily on the first invocation, as a Fabric peer
//! dials a chaincode-as-a-service, and re-dialled after the stream drops. Simulation answers the
//! chaincode's state requests from the committed ledger.

use std::collections::BTreeMap;
use std::time::Duration;

use chaincode_driver::{Connection, Invocation, LedgerView, VersionedValue};
use fabric_protos::queryresult::KeyModification;
use tonic::transport::Endpoint;

use crate::endorser::{CheckedProposal, Simulation};
use crate::ledger::Ledger;

/// How to reach the chaincode.
#[derive(Debug, Clone)]
pub struct ChaincodeLinkConfig {
    /// `host:port` of the chaincode server.
    pub address: String,
    /// The package id the chaincode must register with.
    pub chaincode_id: String,
    /// How long a dial may take (connection.json's `dial_timeout`).
    pub dial_timeout: Duration,
    /// How long one transaction may run (`chaincode.executetimeout`).
    pub execute_timeout: Duration,
}

impl Default for ChaincodeLinkConfig {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:7052".to_owned(),
            chaincode_id: "reciprocal:dev".to_owned(),
            dial_timeout: Duration::from_secs(3),
            execute_timeout: Duration::from_secs(30),
        }
    }
}

/// A lazily established connection to the chaincode.
#[derive(Debug)]
pub struct ChaincodeLink {
    config: ChaincodeLinkConfig,
    channel_id: String,
    connection: tokio::sync::Mutex<Option<Connection>>,
}

impl ChaincodeLink {
    /// A link that dials on first use.
    pub fn new(config: ChaincodeLinkConfig, channel_id: String) -> Self {
        Self {
            config,
            channel_id,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    async fn connection(&self) -> Result<Connection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|connection| !connection.is_closed()) {
            return Ok(connection.clone());
        }
        let address = &self.config.address;
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|error| format!("chaincode address {address}: {error}"))?
            .connect_timeout(self.config.dial_timeout)
            .tcp_nodelay(true);
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| format!("could not connect to the chaincode at {address}: {error}"))?;
        let connection = Connection::connect(
            channel,
            &self.config.chaincode_id,
            self.config.execute_timeout,
        )
        .await
        .map_err(|error| format!("chaincode at {address}: {error}"))?;
        tracing::info!(address = %address, chaincode_id = %self.config.chaincode_id, "Chaincode registered");
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Simulates a checked proposal against the committed state of `ledger`.
    pub async fn simulate(
        &self,
        ledger: &Ledger,
        proposal: &CheckedProposal,
    ) -> Result<Simulation, String> {
        let connection = self.connection().await?;
        let invocation = Invocation {
            channel_id: self.channel_id.clone(),
            tx_id: proposal.channel_header.tx_id.clone(),
            signed_proposal: proposal.signed.clone(),
            input: proposal.input.clone(),
            is_init: false,
        };
        let result = connection
            .execute(invocation, &proposal.chaincode, ledger)
            .await
            .map_err(|error| error.to_string())?;
        Ok(Simulation {
            response: result.response,
            event: result.event,
            rwset: result.rwset,
        })
    }
}

impl LedgerView for Ledger {
    fn get_state(&self, namespace: &str, key: &str) -> Option<VersionedValue> {
        self.state()
            .get(namespace, key)
            .map(|value| VersionedValue {
                value: value.value.clone(),
                version: value.version.to_version(),
            })
    }

    fn get_metadata(&self, namespace: &str, key: &str) -> BTreeMap<String, Vec<u8>> {
        self.state()
            .get(namespace, key)
            .map(|value| value.metadata.clone())
            .unwrap_or_default()
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, VersionedValue)> {
        self.state()
            .range(namespace, start, end, limit)
            .into_iter()
            .map(|(key, value)| {
                (
                    key,
                    VersionedValue {
                        value: value.value,
                        version: value.version.to_version(),
                    },
                )
            })
            .collect()
    }

    fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, String> {
        Ledger::history(self, namespace, key).map_err(|error| error.to_string())
    }
}
