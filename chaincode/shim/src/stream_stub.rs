//! The stub a transaction gets from the shim server: every ledger call is one request on the peer's
//! stream, tagged with the transaction's channel and id, answered by the peer with RESPONSE or ERROR.
//! `&mut self` on every call guarantees the peer's rule of one outstanding request per transaction.

use std::collections::BTreeMap;

use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeEvent, ChaincodeMessage, DelState, GetHistoryForKey, GetState, GetStateByRange,
    GetStateMetadata, PutState, PutStateMetadata, QueryMetadata, QueryResponse,
    QueryResponseMetadata, QueryStateClose, QueryStateNext, StateMetadata, StateMetadataResult,
};
use fabric_protos::queryresult;
use prost::Message;
use tokio::sync::mpsc;

use crate::proposal::ProposalContext;
use crate::stub::{
    COMPOSITE_KEY_NAMESPACE, ChaincodeStub, ClientIdentity, KeyModification, KeyValue,
    MAX_UNICODE_RUNE, Page, StubError, create_composite_key,
};

pub use crate::stub::VALIDATION_PARAMETER;

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

    /// Reads an iterator's results, fetching further batches with QUERY_STATE_NEXT, up to `limit`. When it
    /// stops before the peer's iterator is exhausted (limit reached, or a result does not decode), it
    /// releases the iterator with QUERY_STATE_CLOSE, as a chaincode closing its iterator early does.
    async fn collect<T>(
        &mut self,
        mut response: QueryResponse,
        limit: usize,
        decode: impl Fn(&[u8]) -> Result<T, StubError>,
    ) -> Result<Vec<T>, StubError> {
        let mut records = Vec::new();
        loop {
            let decoded = response
                .results
                .iter()
                .take(limit - records.len())
                .map(|result| decode(&result.result_bytes))
                .collect::<Result<Vec<T>, StubError>>();
            let done = match decoded {
                Ok(batch) => {
                    records.extend(batch);
                    Ok(records.len() >= limit)
                }
                Err(error) => Err(error),
            };
            if !response.has_more {
                return done.map(|_| records);
            }
            let id = std::mem::take(&mut response.id);
            if !matches!(done, Ok(false)) {
                let close = QueryStateClose { id }.encode_to_vec();
                self.query(Type::QueryStateClose, close).await?;
                return done.map(|_| records);
            }
            response = self
                .query(Type::QueryStateNext, QueryStateNext { id }.encode_to_vec())
                .await?;
        }
    }

    /// A range request: the records (at most `limit`) and the first response's metadata (set for pages).
    async fn range(
        &mut self,
        request: GetStateByRange,
        limit: usize,
    ) -> Result<(Vec<KeyValue>, Vec<u8>), StubError> {
        let mut response = self
            .query(Type::GetStateByRange, request.encode_to_vec())
            .await?;
        let metadata = std::mem::take(&mut response.metadata);
        let records = self
            .collect(response, limit, |bytes| {
                queryresult::Kv::decode(bytes)
                    .map(|kv| KeyValue {
                        key: kv.key,
                        value: kv.value,
                    })
                    .map_err(|e| StubError::Stream(format!("bad queryresult.KV: {e}")))
            })
            .await?;
        Ok((records, metadata))
    }

    /// A range of simple keys: like Fabric's shims, an empty start key begins after the composite-key
    /// space (keys starting with U+0000), and bounds that start with U+0000 are refused.
    async fn simple_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        metadata: Vec<u8>,
        limit: usize,
    ) -> Result<(Vec<KeyValue>, Vec<u8>), StubError> {
        let start = if start.is_empty() {
            EMPTY_START_KEY
        } else {
            start
        };
        validate_range_bounds(start, end)?;
        let request = GetStateByRange {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            collection: collection.to_owned(),
            metadata,
        };
        self.range(request, limit).await
    }

    /// A range over composite keys with `object_type` and leading `attributes`.
    async fn composite_range(
        &mut self,
        collection: &str,
        object_type: &str,
        attributes: &[&str],
        metadata: Vec<u8>,
    ) -> Result<(Vec<KeyValue>, Vec<u8>), StubError> {
        let start = create_composite_key(object_type, attributes)?;
        let end = format!("{start}{MAX_UNICODE_RUNE}");
        let request = GetStateByRange {
            start_key: start,
            end_key: end,
            collection: collection.to_owned(),
            metadata,
        };
        self.range(request, usize::MAX).await
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
        Ok(self
            .simple_range(collection, start, end, Vec::new(), usize::MAX)
            .await?
            .0)
    }

    /// Composite keys of private data `collection` with `object_type` and the leading `attributes`
    /// (read-only transactions only).
    pub async fn get_private_data_by_partial_composite_key(
        &mut self,
        collection: &str,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<KeyValue>, StubError> {
        validate_collection(collection)?;
        Ok(self
            .composite_range(collection, object_type, attributes, Vec::new())
            .await?
            .0)
    }
}

/// What an empty range start key becomes: the first key after the composite-key space.
const EMPTY_START_KEY: &str = "\u{1}";

fn into_page(range: (Vec<KeyValue>, Vec<u8>)) -> Result<Page, StubError> {
    let (records, metadata) = range;
    let metadata = QueryResponseMetadata::decode(metadata.as_slice())
        .map_err(|e| StubError::Stream(format!("bad QueryResponseMetadata: {e}")))?;
    Ok(Page {
        records,
        fetched_records_count: metadata.fetched_records_count,
        bookmark: metadata.bookmark,
    })
}

fn pagination(page_size: i32, bookmark: &str) -> Result<Vec<u8>, StubError> {
    if page_size <= 0 {
        return Err(StubError::NotAllowed(format!(
            "page size must be positive, got {page_size}"
        )));
    }
    Ok(QueryMetadata {
        page_size,
        bookmark: bookmark.to_owned(),
    }
    .encode_to_vec())
}

/// Range bounds of simple keys must not start with U+0000: that prefix belongs to composite keys.
fn validate_range_bounds(start: &str, end: &str) -> Result<(), StubError> {
    for key in [start, end] {
        if key.starts_with(COMPOSITE_KEY_NAMESPACE) {
            return Err(StubError::InvalidKey(format!(
                "range key {key:?} starts with U+0000, which is reserved for composite keys"
            )));
        }
    }
    Ok(())
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
        Ok(self
            .simple_range("", start, end, Vec::new(), usize::MAX)
            .await?
            .0)
    }

    async fn get_state_by_range_limited(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StubError> {
        Ok(self
            .simple_range("", start, end, Vec::new(), limit)
            .await?
            .0)
    }

    async fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        let metadata = pagination(page_size, bookmark)?;
        into_page(
            self.simple_range("", start, end, metadata, usize::MAX)
                .await?,
        )
    }

    async fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<KeyValue>, StubError> {
        Ok(self
            .composite_range("", object_type, attributes, Vec::new())
            .await?
            .0)
    }

    async fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        let metadata = pagination(page_size, bookmark)?;
        into_page(
            self.composite_range("", object_type, attributes, metadata)
                .await?,
        )
    }

    async fn get_state_metadata(
        &mut self,
        key: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, StubError> {
        self.metadata_of(key, "").await
    }

    async fn put_state_metadata(
        &mut self,
        key: &str,
        name: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        self.set_metadata(key, "", name, value).await
    }

    async fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        let request = GetHistoryForKey {
            key: key.to_owned(),
        }
        .encode_to_vec();
        let response = self.query(Type::GetHistoryForKey, request).await?;
        self.collect(response, usize::MAX, |bytes| {
            queryresult::KeyModification::decode(bytes)
                .map(|modification| KeyModification {
                    tx_id: modification.tx_id,
                    value: modification.value,
                    timestamp: modification.timestamp,
                    is_delete: modification.is_delete,
                })
                .map_err(|e| StubError::Stream(format!("bad queryresult.KeyModification: {e}")))
        })
        .await
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
