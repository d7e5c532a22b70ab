//! The stub a transaction gets from the shim server: every ledger call is one request on the peer's
//! stream, tagged with the transaction's channel and id, answered by the peer with RESPONSE or ERROR.
//! `&mut self` on every call guarantees the peer's rule of one outstanding request per transaction.

use std::collections::BTreeMap;

use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeEvent, ChaincodeMessage, DelState, GetHistoryForKey, GetState, GetStateByRange,
    GetStateMetadata, PutState, PutStateMetadata, QueryMetadata, QueryResponse,
    QueryResponseMetadata, QueryStateNext, StateMetadata, StateMetadataResult,
};
use fabric_protos::queryresult;
use prost::Message;
use tokio::sync::mpsc;

use crate::proposal::ProposalContext;
use crate::stub::{ChaincodeStub, ClientIdentity, KeyModification, KeyValue, Page, StubError};

/// The metadata key Fabric uses for key-level endorsement policies.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// A transaction's stub over the peer stream.
#[derive(Debug)]
pub struct StreamStub {
    channel_id: String,
    tx_id: String,
    args: Vec<Vec<u8>>,
    context: ProposalContext,
    outbound: mpsc::Sender<ChaincodeMessage>,
    responses: mpsc::Receiver<ChaincodeMessage>,
    event: Option<ChaincodeEvent>,
}

impl StreamStub {
    pub(crate) fn new(
        channel_id: String,
        tx_id: String,
        args: Vec<Vec<u8>>,
        context: ProposalContext,
        outbound: mpsc::Sender<ChaincodeMessage>,
        responses: mpsc::Receiver<ChaincodeMessage>,
    ) -> Self {
        Self {
            channel_id,
            tx_id,
            args,
            context,
            outbound,
            responses,
            event: None,
        }
    }

    /// The event set by the transaction, taken when it completes.
    pub(crate) fn take_event(&mut self) -> Option<ChaincodeEvent> {
        self.event.take()
    }

    /// Sends one request and waits for its answer.
    async fn call(&mut self, kind: Type, payload: Vec<u8>) -> Result<Vec<u8>, StubError> {
        let message =
            ChaincodeMessage::for_transaction(kind, payload, &self.channel_id, &self.tx_id);
        self.outbound
            .send(message)
            .await
            .map_err(|_| StubError::Stream("the peer stream is closed".to_owned()))?;
        let answer = self.responses.recv().await.ok_or_else(|| {
            StubError::Stream("the peer stream closed before answering".to_owned())
        })?;
        match Type::try_from(answer.r#type) {
            Ok(Type::Response) => Ok(answer.payload),
            Ok(Type::Error) => Err(StubError::Peer {
                request: kind.as_str_name(),
                message: String::from_utf8_lossy(&answer.payload).into_owned(),
            }),
            _ => Err(StubError::Stream(format!(
                "unexpected {} in answer to {}",
                answer.r#type,
                kind.as_str_name()
            ))),
        }
    }

    async fn query(&mut self, kind: Type, payload: Vec<u8>) -> Result<QueryResponse, StubError> {
        let bytes = self.call(kind, payload).await?;
        QueryResponse::decode(bytes.as_slice())
            .map_err(|e| StubError::Stream(format!("bad QueryResponse: {e}")))
    }

    /// Collects every result of an iterator, fetching further batches with QUERY_STATE_NEXT.
    async fn drain(&mut self, mut response: QueryResponse) -> Result<Vec<Vec<u8>>, StubError> {
        let mut results: Vec<Vec<u8>> = Vec::new();
        loop {
            results.extend(
                response
                    .results
                    .into_iter()
                    .map(|result| result.result_bytes),
            );
            if !response.has_more {
                return Ok(results);
            }
            let next = QueryStateNext {
                id: response.id.clone(),
            }
            .encode_to_vec();
            response = self.query(Type::QueryStateNext, next).await?;
        }
    }

    async fn range(
        &mut self,
        start: &str,
        end: &str,
        collection: &str,
        metadata: Vec<u8>,
    ) -> Result<(Vec<KeyValue>, QueryResponse), StubError> {
        // Like Fabric's shims: an empty start key begins after the composite-key space (0x00 prefix).
        let start = if start.is_empty() { "\u{1}" } else { start };
        let request = GetStateByRange {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            collection: collection.to_owned(),
            metadata,
        }
        .encode_to_vec();
        let response = self.query(Type::GetStateByRange, request).await?;
        let first = QueryResponse {
            results: Vec::new(),
            ..response.clone()
        };
        let records = self
            .drain(response)
            .await?
            .into_iter()
            .map(|bytes| {
                queryresult::Kv::decode(bytes.as_slice())
                    .map(|kv| KeyValue {
                        key: kv.key,
                        value: kv.value,
                    })
                    .map_err(|e| StubError::Stream(format!("bad KV: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, first))
    }

    /// The state metadata of `key` (e.g. its key-level endorsement policy).
    pub async fn get_state_metadata(
        &mut self,
        key: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, StubError> {
        self.metadata_of(key, "").await
    }

    /// Sets one metadata entry of `key`.
    pub async fn put_state_metadata(
        &mut self,
        key: &str,
        name: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        self.set_metadata(key, "", name, value).await
    }

    /// The key-level endorsement policy of `key` (a serialized `SignaturePolicyEnvelope`), if any.
    pub async fn get_state_validation_parameter(
        &mut self,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self
            .get_state_metadata(key)
            .await?
            .remove(VALIDATION_PARAMETER))
    }

    /// Sets the key-level endorsement policy of `key`.
    pub async fn set_state_validation_parameter(
        &mut self,
        key: &str,
        policy: Vec<u8>,
    ) -> Result<(), StubError> {
        self.put_state_metadata(key, VALIDATION_PARAMETER, policy)
            .await
    }

    async fn metadata_of(
        &mut self,
        key: &str,
        collection: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, StubError> {
        let request = GetStateMetadata {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        let bytes = self.call(Type::GetStateMetadata, request).await?;
        let result = StateMetadataResult::decode(bytes.as_slice())
            .map_err(|e| StubError::Stream(format!("bad StateMetadataResult: {e}")))?;
        Ok(result
            .entries
            .into_iter()
            .map(|entry| (entry.metakey, entry.value))
            .collect())
    }

    async fn set_metadata(
        &mut self,
        key: &str,
        collection: &str,
        name: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        validate_simple_key(key)?;
        let request = PutStateMetadata {
            key: key.to_owned(),
            collection: collection.to_owned(),
            metadata: Some(StateMetadata {
                metakey: name.to_owned(),
                value,
            }),
        }
        .encode_to_vec();
        self.call(Type::PutStateMetadata, request).await.map(drop)
    }

    /// The value of `key` in private data `collection`.
    pub async fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.private_read(Type::GetState, collection, key).await
    }

    /// The hash of `key`'s value in `collection` (readable without membership of the collection).
    pub async fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.private_read(Type::GetPrivateDataHash, collection, key)
            .await
    }

    async fn private_read(
        &mut self,
        kind: Type,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        validate_collection(collection)?;
        let request = GetState {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        let value = self.call(kind, request).await?;
        Ok((!value.is_empty()).then_some(value))
    }

    /// Writes `key` in private data `collection`.
    pub async fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        validate_collection(collection)?;
        validate_simple_key(key)?;
        let request = PutState {
            key: key.to_owned(),
            value,
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        self.call(Type::PutState, request).await.map(drop)
    }

    /// Deletes `key` from private data `collection`.
    pub async fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        validate_collection(collection)?;
        let request = DelState {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        self.call(Type::DelState, request).await.map(drop)
    }

    /// Purges `key` from private data `collection` (history included; needs application capability V2_5).
    pub async fn purge_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<(), StubError> {
        validate_collection(collection)?;
        let request = DelState {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        self.call(Type::PurgePrivateData, request).await.map(drop)
    }

    /// Keys in `[start, end)` of private data `collection` (read-only transactions only).
    pub async fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        validate_collection(collection)?;
        Ok(self.range(start, end, collection, Vec::new()).await?.0)
    }
}

fn validate_collection(collection: &str) -> Result<(), StubError> {
    if collection.is_empty() {
        return Err(StubError::InvalidKey(
            "collection must not be an empty string".to_owned(),
        ));
    }
    Ok(())
}

/// Keys written must be non-empty (composite keys, which start with U+0000, are allowed).
pub fn validate_simple_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() {
        return Err(StubError::InvalidKey(
            "key must not be an empty string".to_owned(),
        ));
    }
    Ok(())
}

impl ChaincodeStub for StreamStub {
    fn tx_id(&self) -> &str {
        &self.tx_id
    }

    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    fn tx_timestamp(&self) -> prost_types::Timestamp {
        self.context.timestamp
    }

    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.context.transient
    }

    fn creator(&self) -> &ClientIdentity {
        &self.context.creator
    }

    async fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let request = GetState {
            key: key.to_owned(),
            collection: String::new(),
        }
        .encode_to_vec();
        let value = self.call(Type::GetState, request).await?;
        Ok((!value.is_empty()).then_some(value))
    }

    async fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        validate_simple_key(key)?;
        let request = PutState {
            key: key.to_owned(),
            value,
            collection: String::new(),
        }
        .encode_to_vec();
        self.call(Type::PutState, request).await.map(drop)
    }

    async fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        let request = DelState {
            key: key.to_owned(),
            collection: String::new(),
        }
        .encode_to_vec();
        self.call(Type::DelState, request).await.map(drop)
    }

    async fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        Ok(self.range(start, end, "", Vec::new()).await?.0)
    }

    async fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        if page_size <= 0 {
            return Err(StubError::NotAllowed(
                "page size must be positive".to_owned(),
            ));
        }
        let metadata = QueryMetadata {
            page_size,
            bookmark: bookmark.to_owned(),
        }
        .encode_to_vec();
        let (records, first) = self.range(start, end, "", metadata).await?;
        let metadata = QueryResponseMetadata::decode(first.metadata.as_slice())
            .map_err(|e| StubError::Stream(format!("bad QueryResponseMetadata: {e}")))?;
        Ok(Page {
            records,
            fetched_records_count: metadata.fetched_records_count,
            bookmark: metadata.bookmark,
        })
    }

    async fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        let request = GetHistoryForKey {
            key: key.to_owned(),
        }
        .encode_to_vec();
        let response = self.query(Type::GetHistoryForKey, request).await?;
        self.drain(response)
            .await?
            .into_iter()
            .map(|bytes| {
                queryresult::KeyModification::decode(bytes.as_slice())
                    .map(|modification| KeyModification {
                        tx_id: modification.tx_id,
                        value: modification.value,
                        timestamp: modification.timestamp,
                        is_delete: modification.is_delete,
                    })
                    .map_err(|e| StubError::Stream(format!("bad KeyModification: {e}")))
            })
            .collect()
    }

    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::NotAllowed(
                "event name can not be empty string".to_owned(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            chaincode_id: String::new(),
            tx_id: String::new(),
            event_name: name.to_owned(),
            payload,
        });
        Ok(())
    }
}
