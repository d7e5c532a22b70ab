//! The peer's answers to a transaction's requests: each chaincode message is decoded, served by the
//! transaction's [`Simulator`], and answered with the payload a Fabric peer would send in its RESPONSE,
//! or with the text of its ERROR.

use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    DelState, GetHistoryForKey, GetState, GetStateByRange, GetStateMetadata, PutState,
    PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryResultBytes,
    QueryStateClose, QueryStateNext, StateMetadata, StateMetadataResult,
};
use prost::Message;

use crate::simulator::{Batch, SimulationError, Simulator};

/// Whether a message type is a state request the peer serves while a transaction runs (Fabric 2.5 and
/// 3.0; the 3.1 batch messages are not announced in READY, so a chaincode must not send them).
pub(crate) fn is_request(kind: Type) -> bool {
    matches!(
        kind,
        Type::GetState
            | Type::PutState
            | Type::DelState
            | Type::InvokeChaincode
            | Type::GetStateByRange
            | Type::GetQueryResult
            | Type::QueryStateNext
            | Type::QueryStateClose
            | Type::GetHistoryForKey
            | Type::GetStateMetadata
            | Type::PutStateMetadata
            | Type::GetPrivateDataHash
            | Type::PurgePrivateData
    )
}

fn decode<M: Message + Default>(payload: &[u8], what: &str) -> Result<M, SimulationError> {
    M::decode(payload).map_err(|error| format!("unmarshal failed: {what}: {error}"))
}

fn query_response(id: String, batch: Batch) -> Vec<u8> {
    QueryResponse {
        results: batch
            .results
            .into_iter()
            .map(|result_bytes| QueryResultBytes { result_bytes })
            .collect(),
        has_more: batch.has_more,
        id,
        metadata: batch
            .page
            .map(|(fetched_records_count, bookmark)| {
                QueryResponseMetadata {
                    fetched_records_count,
                    bookmark,
                }
                .encode_to_vec()
            })
            .unwrap_or_default(),
    }
    .encode_to_vec()
}

/// This ledger has no private data collections: a request naming one is refused.
fn public_only(collection: &str) -> Result<(), SimulationError> {
    if collection.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "collection {collection} is not defined: this ledger has no private data collections"
        ))
    }
}

/// Pagination applies when the query metadata sets a page size or a bookmark, as on a peer.
fn pagination(metadata: &[u8]) -> Result<Option<QueryMetadata>, SimulationError> {
    if metadata.is_empty() {
        return Ok(None);
    }
    let metadata: QueryMetadata = decode(metadata, "QueryMetadata")?;
    Ok((metadata.page_size != 0 || !metadata.bookmark.is_empty()).then_some(metadata))
}

/// Serves one state request of a transaction; the result is the RESPONSE payload or the ERROR text.
pub(crate) fn serve(
    simulator: &mut Simulator<'_>,
    kind: Type,
    payload: &[u8],
) -> Result<Vec<u8>, SimulationError> {
    match kind {
        Type::GetState => {
            let request: GetState = decode(payload, "GetState")?;
            public_only(&request.collection)?;
            Ok(simulator.get_state(&request.key))
        }
        Type::PutState => {
            let request: PutState = decode(payload, "PutState")?;
            public_only(&request.collection)?;
            simulator.put_state(&request.key, request.value)?;
            Ok(Vec::new())
        }
        Type::DelState => {
            let request: DelState = decode(payload, "DelState")?;
            public_only(&request.collection)?;
            simulator.del_state(&request.key)?;
            Ok(Vec::new())
        }
        Type::GetStateMetadata => {
            let request: GetStateMetadata = decode(payload, "GetStateMetadata")?;
            public_only(&request.collection)?;
            let entries = simulator
                .get_metadata(&request.key)
                .into_iter()
                .map(|(metakey, value)| StateMetadata { metakey, value })
                .collect();
            Ok(StateMetadataResult { entries }.encode_to_vec())
        }
        Type::PutStateMetadata => {
            let request: PutStateMetadata = decode(payload, "PutStateMetadata")?;
            public_only(&request.collection)?;
            let metadata = request
                .metadata
                .ok_or("PutStateMetadata without a metadata entry")?;
            simulator.put_metadata(&request.key, &metadata.metakey, metadata.value)?;
            Ok(Vec::new())
        }
        Type::GetStateByRange => {
            let request: GetStateByRange = decode(payload, "GetStateByRange")?;
            public_only(&request.collection)?;
            let (id, batch) = match pagination(&request.metadata)? {
                None => simulator.open_range(&request.start_key, &request.end_key),
                Some(page) => simulator.open_page(
                    &request.start_key,
                    &request.end_key,
                    page.page_size,
                    &page.bookmark,
                )?,
            };
            Ok(query_response(id, batch))
        }
        Type::GetHistoryForKey => {
            let request: GetHistoryForKey = decode(payload, "GetHistoryForKey")?;
            let (id, batch) = simulator.open_history(&request.key)?;
            Ok(query_response(id, batch))
        }
        Type::QueryStateNext => {
            let request: QueryStateNext = decode(payload, "QueryStateNext")?;
            let batch = simulator.next_batch(&request.id)?;
            Ok(query_response(request.id, batch))
        }
        Type::QueryStateClose => {
            let request: QueryStateClose = decode(payload, "QueryStateClose")?;
            simulator.close(&request.id);
            Ok(query_response(
                request.id,
                Batch {
                    results: Vec::new(),
                    has_more: false,
                    page: None,
                },
            ))
        }
        Type::GetQueryResult => Err(
            "rich queries need a CouchDB state database; this ledger is key-value only".to_owned(),
        ),
        Type::GetPrivateDataHash | Type::PurgePrivateData => {
            Err("this ledger has no private data collections".to_owned())
        }
        Type::InvokeChaincode => {
            Err("chaincode-to-chaincode calls are not supported by this ledger".to_owned())
        }
        other => Err(format!("unexpected message type {}", other.as_str_name())),
    }
}
