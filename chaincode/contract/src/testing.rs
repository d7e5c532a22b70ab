//! An in-memory ledger and stub with a Fabric peer's semantics, for unit tests, fuzzing and benchmarks:
//! reads see only committed state (no read-your-own-writes), an empty put deletes, ranges are in key order,
//! paginated queries are refused in a transaction that writes, history is kept per key (newest first),
//! the last event set wins, and a transaction commits only when it succeeded and the keys it read are
//! unchanged (MVCC; unlike a peer, range queries are not re-validated).

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
    /// The transaction that last wrote each key (the version MVCC compares).
    versions: BTreeMap<String, u64>,
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
    events_set: usize,
    paginated: bool,
    reads: BTreeMap<String, Option<u64>>,
}

impl FakeStub<'_> {
    /// A peer refuses writes in a transaction that ran a paginated query, and the other way round.
    fn check_write_allowed(&self) -> Result<(), StubError> {
        if self.paginated {
            return Err(StubError::NotAllowed(
                "transaction has already performed a paginated query. Writes are not allowed"
                    .to_owned(),
            ));
        }
        Ok(())
    }
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
        self.reads
            .insert(key.to_owned(), self.ledger.versions.get(key).copied());
        Ok(self.ledger.state.get(key).cloned())
    }
    async fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        self.check_write_allowed()?;
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
        self.check_write_allowed()?;
        if key.is_empty() {
            return Err(StubError::InvalidKey(
                "key must not be an empty string".to_owned(),
            ));
        }
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
        if !self.writes.is_empty() {
            return Err(StubError::NotAllowed(
                "paginated queries are only valid for read only transactions".to_owned(),
            ));
        }
        self.paginated = true;
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
        self.events_set += 1;
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

    /// The same caller with a certificate from another MSP.
    pub fn with_msp(mut self, msp_id: &str) -> Self {
        self.msp_id = msp_id.to_owned();
        self
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
    /// How many times the transaction set an event (the peer keeps only the last one).
    pub events_set: usize,
    /// The read set: each key read with `get_state` and the version read (`None`: absent).
    pub reads: BTreeMap<String, Option<u64>>,
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

    /// The committed state, in key order.
    pub fn state(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.ledger.state
    }

    /// Runs one transaction as `actor`; commits its writes only if it succeeds.
    pub fn invoke(&mut self, actor: &Actor, args: &[&str]) -> Outcome {
        let args: Vec<Vec<u8>> = args.iter().map(|arg| arg.as_bytes().to_vec()).collect();
        self.invoke_raw(actor, args)
    }

    /// Like [`FakeNetwork::invoke`], with arguments as bytes (which need not be UTF-8).
    pub fn invoke_raw(&mut self, actor: &Actor, args: Vec<Vec<u8>>) -> Outcome {
        let outcome = self.simulate_raw(actor, args);
        self.commit(&outcome);
        outcome
    }

    /// Validates and commits `outcome` as the next transaction, as a committing peer would: nothing is
    /// committed if the response was an error (status 400 and above is never endorsed) or if a key the
    /// transaction read has changed since (MVCC read conflict). Returns whether it was committed.
    pub fn commit(&mut self, outcome: &Outcome) -> bool {
        if !(200..400).contains(&outcome.response.status) {
            return false;
        }
        let conflict = outcome
            .reads
            .iter()
            .any(|(key, version)| self.ledger.versions.get(key) != version.as_ref());
        if conflict {
            return false;
        }
        {
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
                    Some(value) => {
                        self.ledger.state.insert(key.clone(), value.clone());
                        self.ledger
                            .versions
                            .insert(key.clone(), self.ledger.transactions);
                    }
                    None => {
                        self.ledger.state.remove(key);
                        self.ledger.versions.remove(key);
                    }
                }
            }
        }
        true
    }

    /// Runs one transaction without committing anything.
    pub fn simulate(&self, actor: &Actor, args: &[&str]) -> Outcome {
        let args: Vec<Vec<u8>> = args.iter().map(|arg| arg.as_bytes().to_vec()).collect();
        self.simulate_raw(actor, args)
    }

    /// Like [`FakeNetwork::simulate`], with arguments as bytes.
    pub fn simulate_raw(&self, actor: &Actor, args: Vec<Vec<u8>>) -> Outcome {
        let mut stub = self.stub(actor, args);
        let response = block_on(ReciprocalContract.invoke(&mut stub));
        stub.finish(response)
    }

    /// The stub of the next transaction, for driving the stub itself.
    pub fn stub(&self, actor: &Actor, args: Vec<Vec<u8>>) -> FakeStub<'_> {
        let mut attributes = BTreeMap::new();
        if let Some(club) = &actor.club {
            attributes.insert("club".to_owned(), club.clone());
        }
        if let Some(role) = &actor.role {
            attributes.insert("role".to_owned(), role.clone());
        }
        FakeStub {
            ledger: &self.ledger,
            tx_id: format!("tx{}", self.ledger.transactions + 1),
            args,
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
            events_set: 0,
            paginated: false,
            reads: BTreeMap::new(),
        }
    }
}

impl FakeStub<'_> {
    /// What the transaction produced, with its `response`.
    pub fn finish(self, response: Response) -> Outcome {
        Outcome {
            response,
            event: self.event,
            events_set: self.events_set,
            reads: self.reads,
            writes: self.writes,
        }
    }
}

/// Runs a transaction to completion without a runtime: the fake stub answers every call at once, so
/// the future is ready on its first poll.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => {
            unreachable!("a transaction on the fake stub waited, but the fake stub never waits")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub_call<T>(future: impl std::future::Future<Output = T>) -> T {
        block_on(future)
    }

    /// A ledger holding `a` = 1 and `c` = 3, committed by one transaction.
    fn ledger() -> FakeNetwork {
        let mut network = FakeNetwork::at(1_000);
        let mut outcome = network
            .stub(&Actor::network_admin(), Vec::new())
            .finish(chaincode_shim::success(Vec::new()));
        outcome.writes.insert("a".to_owned(), Some(b"1".to_vec()));
        outcome.writes.insert("c".to_owned(), Some(b"3".to_vec()));
        assert!(network.commit(&outcome));
        network
    }

    #[test]
    fn reads_see_committed_state_only_and_an_empty_put_deletes() {
        let network = ledger();
        let mut stub = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(stub.put_state("a", b"2".to_vec())).unwrap();
        stub_call(stub.put_state("b", b"new".to_vec())).unwrap();
        assert_eq!(stub_call(stub.get_state("a")).unwrap(), Some(b"1".to_vec()));
        assert_eq!(stub_call(stub.get_state("b")).unwrap(), None);
        stub_call(stub.put_state("c", Vec::new())).unwrap();
        assert!(stub_call(stub.put_state("", b"x".to_vec())).is_err());
        let outcome = stub.finish(chaincode_shim::success(Vec::new()));
        assert_eq!(
            outcome.writes.get("c"),
            Some(&None),
            "empty value is a delete"
        );
        let mut network = network;
        assert!(network.commit(&outcome));
        assert_eq!(network.state().keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn ranges_are_in_key_order_and_paginated_queries_forbid_writes() {
        let network = ledger();
        let mut stub = network.stub(&Actor::network_admin(), Vec::new());
        let all = stub_call(stub.get_state_by_range("", "")).unwrap();
        assert_eq!(
            all.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let page = stub_call(stub.get_state_by_range_with_pagination("a", "z", 1, "")).unwrap();
        assert_eq!((page.records.len(), page.bookmark.as_str()), (1, "c"));
        let next = stub_call(stub.get_state_by_range_with_pagination("a", "z", 1, "c")).unwrap();
        assert_eq!(
            (next.records[0].key.as_str(), next.bookmark.as_str()),
            ("c", "")
        );
        assert!(matches!(
            stub_call(stub.put_state("d", b"4".to_vec())),
            Err(StubError::NotAllowed(_))
        ));

        let mut writer = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(writer.put_state("d", b"4".to_vec())).unwrap();
        assert!(matches!(
            stub_call(writer.get_state_by_range_with_pagination("a", "z", 1, "")),
            Err(StubError::NotAllowed(_))
        ));
    }

    #[test]
    fn history_is_newest_first_and_the_last_event_wins() {
        let mut network = ledger();
        network.now = 2_000;
        let mut stub = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(stub.del_state("a")).unwrap();
        stub.set_event("First", b"1".to_vec()).unwrap();
        stub.set_event("Second", b"2".to_vec()).unwrap();
        assert!(stub.set_event("", Vec::new()).is_err());
        let outcome = stub.finish(chaincode_shim::success(Vec::new()));
        assert_eq!(outcome.events_set, 2);
        assert_eq!(outcome.event.as_ref().unwrap().event_name, "Second");
        assert!(network.commit(&outcome));
        let mut reader = network.stub(&Actor::network_admin(), Vec::new());
        let history = stub_call(reader.get_history_for_key("a")).unwrap();
        assert_eq!(
            history
                .iter()
                .map(|m| (m.tx_id.as_str(), m.is_delete, m.timestamp.unwrap().seconds))
                .collect::<Vec<_>>(),
            [("tx2", true, 2_000), ("tx1", false, 1_000)]
        );
    }

    #[test]
    fn a_stale_read_or_a_failed_response_is_not_committed() {
        let mut network = ledger();
        let mut stale = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(stale.get_state("a")).unwrap();
        stub_call(stale.put_state("z", b"1".to_vec())).unwrap();
        let stale = stale.finish(chaincode_shim::success(Vec::new()));
        let mut overwrite = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(overwrite.put_state("a", b"9".to_vec())).unwrap();
        let overwrite = overwrite.finish(chaincode_shim::success(Vec::new()));
        assert!(network.commit(&overwrite));
        assert!(!network.commit(&stale));
        let mut failed = network.stub(&Actor::network_admin(), Vec::new());
        stub_call(failed.put_state("y", b"1".to_vec())).unwrap();
        assert!(!network.commit(&failed.finish(chaincode_shim::error(409, "no"))));
        assert_eq!(network.state().keys().collect::<Vec<_>>(), ["a", "c"]);
    }
}
