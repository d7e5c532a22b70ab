//! An in-memory ledger and stub with a Fabric peer's semantics, for unit tests, fuzzing and benchmarks:
//! reads see only committed state (no read-your-own-writes), an empty put deletes, ranges are in key order,
//! history is kept per key, and a transaction's writes commit only when it succeeds.

use std::collections::BTreeMap;

use chaincode_shim::{
    Chaincode, ChaincodeStub, ClientIdentity, KeyModification, KeyValue, Page, StubError,
};
use fabric_protos::protos::{ChaincodeEvent, Response};

use crate::ReciprocalContract;

/// Committed state.
#[derive(Debug, Default, Clone)]
pub struct FakeLedger {
    state: BTreeMap<String, Vec<u8>>,
    history: BTreeMap<String, Vec<KeyModification>>,
    transactions: u64,
}

/// One transaction's stub.
#[derive(Debug)]
pub struct FakeStub<'a> {
    ledger: &'a FakeLedger,
    tx_id: String,
    args: Vec<Vec<u8>>,
    creator: ClientIdentity,
    timestamp: prost_types::Timestamp,
    transient: BTreeMap<String, Vec<u8>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    event: Option<ChaincodeEvent>,
}

impl ChaincodeStub for FakeStub<'_> {
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn channel_id(&self) -> &str {
        "reciprocal"
    }
    fn tx_timestamp(&self) -> prost_types::Timestamp {
        self.timestamp
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn creator(&self) -> &ClientIdentity {
        &self.creator
    }
    async fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.ledger.state.get(key).cloned())
    }
    async fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::InvalidKey(
                "key must not be an empty string".to_owned(),
            ));
        }
        self.writes
            .insert(key.to_owned(), (!value.is_empty()).then_some(value));
        Ok(())
    }
    async fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }
    async fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        let start = if start.is_empty() { "\u{1}" } else { start };
        Ok(self
            .ledger
            .state
            .range(start.to_owned()..)
            .take_while(|(key, _)| end.is_empty() || key.as_str() < end)
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect())
    }
    async fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        let from = if bookmark.is_empty() { start } else { bookmark };
        let mut rows = self.get_state_by_range(from, end).await?;
        let size = usize::try_from(page_size.max(1)).unwrap_or(1);
        let bookmark = rows
            .get(size)
            .map(|row| row.key.clone())
            .unwrap_or_default();
        rows.truncate(size);
        Ok(Page {
            fetched_records_count: rows.len() as i32,
            records: rows,
            bookmark,
        })
    }
    async fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        let mut history = self.ledger.history.get(key).cloned().unwrap_or_default();
        history.reverse();
        Ok(history)
    }
    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::NotAllowed(
                "event name can not be empty string".to_owned(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            chaincode_id: String::new(),
            tx_id: self.tx_id.clone(),
            event_name: name.to_owned(),
            payload,
        });
        Ok(())
    }
}

/// Who calls, in tests.
#[derive(Debug, Clone)]
pub struct Actor {
    /// MSP id.
    pub msp_id: String,
    /// `club` attribute.
    pub club: Option<String>,
    /// `role` attribute.
    pub role: Option<String>,
}

impl Actor {
    /// A network admin of Org1MSP.
    pub fn network_admin() -> Self {
        Self {
            msp_id: "Org1MSP".to_owned(),
            club: None,
            role: Some("network_admin".to_owned()),
        }
    }

    /// A club admin of `club` in Org1MSP.
    pub fn club_admin(club: &str) -> Self {
        Self {
            msp_id: "Org1MSP".to_owned(),
            club: Some(club.to_owned()),
            role: Some("club_admin".to_owned()),
        }
    }

    /// A front desk of `club` in Org1MSP.
    pub fn front_desk(club: &str) -> Self {
        Self {
            msp_id: "Org1MSP".to_owned(),
            club: Some(club.to_owned()),
            role: Some("front_desk".to_owned()),
        }
    }
}

/// The outcome of one transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The response.
    pub response: Response,
    /// The event, if any.
    pub event: Option<ChaincodeEvent>,
    /// The writes (key → value, `None` for a delete), committed only on success.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
}

impl Outcome {
    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.response.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// A ledger with the contract, driven one transaction at a time.
#[derive(Debug, Default, Clone)]
pub struct FakeNetwork {
    /// The committed state.
    pub ledger: FakeLedger,
    /// The time of the next transaction (Unix seconds).
    pub now: i64,
}

impl FakeNetwork {
    /// A network at `now` (Unix seconds).
    pub fn at(now: i64) -> Self {
        Self {
            ledger: FakeLedger::default(),
            now,
        }
    }

    /// Runs one transaction as `actor`; commits its writes only if it succeeds.
    pub fn invoke(&mut self, actor: &Actor, args: &[&str]) -> Outcome {
        let outcome = self.simulate(actor, args);
        if (200..400).contains(&outcome.response.status) {
            self.ledger.transactions += 1;
            let tx_id = format!("tx{}", self.ledger.transactions);
            for (key, value) in &outcome.writes {
                self.ledger
                    .history
                    .entry(key.clone())
                    .or_default()
                    .push(KeyModification {
                        tx_id: tx_id.clone(),
                        value: value.clone().unwrap_or_default(),
                        timestamp: Some(prost_types::Timestamp {
                            seconds: self.now,
                            nanos: 0,
                        }),
                        is_delete: value.is_none(),
                    });
                match value {
                    Some(value) => self.ledger.state.insert(key.clone(), value.clone()),
                    None => self.ledger.state.remove(key),
                };
            }
        }
        outcome
    }

    /// Runs one transaction without committing anything.
    pub fn simulate(&self, actor: &Actor, args: &[&str]) -> Outcome {
        let mut attributes = BTreeMap::new();
        if let Some(club) = &actor.club {
            attributes.insert("club".to_owned(), club.clone());
        }
        if let Some(role) = &actor.role {
            attributes.insert("role".to_owned(), role.clone());
        }
        let mut stub = FakeStub {
            ledger: &self.ledger,
            tx_id: format!("tx{}", self.ledger.transactions + 1),
            args: args.iter().map(|arg| arg.as_bytes().to_vec()).collect(),
            creator: ClientIdentity {
                msp_id: actor.msp_id.clone(),
                attributes,
                ..ClientIdentity::default()
            },
            timestamp: prost_types::Timestamp {
                seconds: self.now,
                nanos: 0,
            },
            transient: BTreeMap::new(),
            writes: BTreeMap::new(),
            event: None,
        };
        let response = block_on(ReciprocalContract.invoke(&mut stub));
        Outcome {
            response,
            event: stub.event,
            writes: stub.writes,
        }
    }
}

/// Runs a future that never waits on I/O (the fake stub answers at once) to completion.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
