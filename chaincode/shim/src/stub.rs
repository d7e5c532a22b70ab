//! The interface a transaction function sees: its input, its caller and the ledger.
//!
//! Contracts are written against the [`ChaincodeStub`] trait, so unit tests can drive them with an
//! in-memory stub and production drives them with the shim's stream-backed stub. Semantics follow a
//! real Fabric peer: reads return the committed value (no read-your-own-writes), putting an empty value
//! deletes the key, and paginated queries are only allowed in read-only transactions.

use std::collections::BTreeMap;
use std::future::Future;

/// Separates the parts of a composite key; also its first byte.
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
/// Appended to a partial composite key to make the exclusive end of its range.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';
/// The metadata key under which Fabric keeps a key-level endorsement policy.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// Why a ledger call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// The peer answered the request with ERROR; the text is the peer's.
    #[error("peer refused {request}: {message}")]
    Peer {
        /// The request type, e.g. `GET_STATE`.
        request: &'static str,
        /// The peer's error text.
        message: String,
    },
    /// A key or composite key part is not acceptable to Fabric.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The peer's answer could not be decoded, or the stream is gone.
    #[error("chaincode stream: {0}")]
    Stream(String),
    /// The call is not allowed in this transaction (e.g. a write after a paginated query).
    #[error("{0}")]
    NotAllowed(String),
}

/// One key and its value, as range queries return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key (for composite keys, including the 0x00 separators).
    pub key: String,
    /// The committed value.
    pub value: Vec<u8>,
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The records of this page, in key order.
    pub records: Vec<KeyValue>,
    /// How many records the peer fetched for this page.
    pub fetched_records_count: i32,
    /// Where the next page starts; empty when the range is exhausted.
    pub bookmark: String,
}

/// One entry of a key's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyModification {
    /// The transaction that wrote this value.
    pub tx_id: String,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// That transaction's timestamp.
    pub timestamp: Option<prost_types::Timestamp>,
    /// Whether the transaction deleted the key.
    pub is_delete: bool,
}

/// Who submitted the transaction, from the creator of the signed proposal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientIdentity {
    /// The creator's MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The creator's certificate as PEM.
    pub cert_pem: Vec<u8>,
    /// The certificate's subject distinguished name.
    pub subject: String,
    /// The certificate's issuer distinguished name.
    pub issuer: String,
    /// The organisational units of the subject (NodeOU roles such as `client`, `admin`).
    pub organizational_units: Vec<String>,
    /// Fabric CA attributes from extension 1.2.3.4.5.6.7.8.1 (e.g. `club`, `role`).
    pub attributes: BTreeMap<String, String>,
}

impl ClientIdentity {
    /// The value of a Fabric CA attribute, if the certificate carries it.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

/// What a transaction function may do. One stub serves exactly one transaction.
///
/// Futures are `Send` so a transaction can run on any runtime thread.
pub trait ChaincodeStub: Send {
    /// The transaction id.
    fn tx_id(&self) -> &str;
    /// The channel the transaction runs on.
    fn channel_id(&self) -> &str;
    /// The transaction timestamp from the channel header (the client's clock, identical on every
    /// endorser). Contracts must use it instead of the local clock.
    fn tx_timestamp(&self) -> prost_types::Timestamp;
    /// The invocation arguments; by convention the first one is the function name.
    fn args(&self) -> &[Vec<u8>];
    /// Transient data of the proposal (never written to the ledger).
    fn transient(&self) -> &BTreeMap<String, Vec<u8>>;
    /// The submitting client.
    fn creator(&self) -> &ClientIdentity;

    /// The committed value of `key`, or `None` when the key does not exist.
    fn get_state(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StubError>> + Send;
    /// Writes `value` at `key` (an empty value deletes the key, as on a peer).
    fn put_state(
        &mut self,
        key: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), StubError>> + Send;
    /// Deletes `key`.
    fn del_state(&mut self, key: &str) -> impl Future<Output = Result<(), StubError>> + Send;
    /// All keys in `[start, end)` (an empty `end` means unbounded), in key order.
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> impl Future<Output = Result<Vec<KeyValue>, StubError>> + Send;
    /// One page of keys in `[start, end)` starting at `bookmark` (read-only transactions only).
    fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> impl Future<Output = Result<Page, StubError>> + Send;
    /// Every committed modification of `key`, newest first as the peer returns them.
    fn get_history_for_key(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<KeyModification>, StubError>> + Send;
    /// Sets the transaction's chaincode event (at most one per transaction: the last call wins).
    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError>;

    /// The metadata entries of `key` as committed (e.g. its key-level endorsement policy under
    /// [`VALIDATION_PARAMETER`]). Stubs without metadata support refuse the call.
    fn get_state_metadata(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<u8>>, StubError>> + Send {
        let _ = key;
        async {
            Err(StubError::NotAllowed(
                "this stub has no state metadata".to_owned(),
            ))
        }
    }

    /// Sets the metadata of `key` to the single entry `name` = `value`; as on a peer, this replaces
    /// the key's metadata as a whole. Stubs without metadata support refuse the call.
    fn put_state_metadata(
        &mut self,
        key: &str,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), StubError>> + Send {
        let _ = (key, name, value);
        async {
            Err(StubError::NotAllowed(
                "this stub has no state metadata".to_owned(),
            ))
        }
    }

    /// The key-level endorsement policy of `key` (a serialized `common.SignaturePolicyEnvelope`), if any.
    fn get_state_validation_parameter(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StubError>> + Send {
        let key = key.to_owned();
        async move {
            Ok(self
                .get_state_metadata(&key)
                .await?
                .remove(VALIDATION_PARAMETER))
        }
    }

    /// Sets the key-level endorsement policy of `key` (a serialized `common.SignaturePolicyEnvelope`).
    fn set_state_validation_parameter(
        &mut self,
        key: &str,
        policy: Vec<u8>,
    ) -> impl Future<Output = Result<(), StubError>> + Send {
        let key = key.to_owned();
        async move {
            self.put_state_metadata(&key, VALIDATION_PARAMETER, policy)
                .await
        }
    }

    /// The first `limit` keys in `[start, end)` (an empty `end` means unbounded), in key order. A
    /// stream-backed stub stops fetching there and releases the peer's iterator, so the transaction's
    /// read set covers only what was scanned.
    fn get_state_by_range_limited(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<KeyValue>, StubError>> + Send {
        let (start, end) = (start.to_owned(), end.to_owned());
        async move {
            let mut records = self.get_state_by_range(&start, &end).await?;
            records.truncate(limit);
            Ok(records)
        }
    }

    /// All composite keys with `object_type` and the leading `attributes`.
    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> impl Future<Output = Result<Vec<KeyValue>, StubError>> + Send {
        let start = create_composite_key(object_type, attributes);
        async move {
            let start = start?;
            let end = format!("{start}{MAX_UNICODE_RUNE}");
            self.get_state_by_range(&start, &end).await
        }
    }

    /// One page of composite keys with `object_type` and the leading `attributes`.
    fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: i32,
        bookmark: &str,
    ) -> impl Future<Output = Result<Page, StubError>> + Send {
        let start = create_composite_key(object_type, attributes);
        let bookmark = bookmark.to_owned();
        async move {
            let start = start?;
            let end = format!("{start}{MAX_UNICODE_RUNE}");
            self.get_state_by_range_with_pagination(&start, &end, page_size, &bookmark)
                .await
        }
    }
}

/// Builds a composite key: `0x00 object_type 0x00 attr1 0x00 … attrN 0x00`.
pub fn create_composite_key(object_type: &str, attributes: &[&str]) -> Result<String, StubError> {
    validate_composite_key_part(object_type)?;
    let mut key = String::with_capacity(
        2 + object_type.len() + attributes.iter().map(|a| a.len() + 1).sum::<usize>(),
    );
    key.push(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push(COMPOSITE_KEY_NAMESPACE);
    for attribute in attributes {
        validate_composite_key_part(attribute)?;
        key.push_str(attribute);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), StubError> {
    let rest = key
        .strip_prefix(COMPOSITE_KEY_NAMESPACE)
        .ok_or_else(|| StubError::InvalidKey(format!("{key:?} is not a composite key")))?;
    let mut parts: Vec<String> = rest
        .split(COMPOSITE_KEY_NAMESPACE)
        .map(str::to_owned)
        .collect();
    // A well-formed key ends with the separator, which leaves one empty trailing piece.
    if parts.pop().as_deref() != Some("") || parts.is_empty() {
        return Err(StubError::InvalidKey(format!(
            "{key:?} is not a composite key"
        )));
    }
    let object_type = parts.remove(0);
    Ok((object_type, parts))
}

fn validate_composite_key_part(part: &str) -> Result<(), StubError> {
    if part.contains(COMPOSITE_KEY_NAMESPACE) || part.contains(MAX_UNICODE_RUNE) {
        return Err(StubError::InvalidKey(format!(
            "composite key part {part:?} contains U+0000 or U+10FFFF"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_key_round_trip() {
        let key = create_composite_key("visit", &["club-a", "2026-12"]).unwrap();
        assert_eq!(key, "\u{0}visit\u{0}club-a\u{0}2026-12\u{0}");
        let (object_type, attributes) = split_composite_key(&key).unwrap();
        assert_eq!(object_type, "visit");
        assert_eq!(attributes, vec!["club-a".to_owned(), "2026-12".to_owned()]);
    }

    #[test]
    fn composite_key_rejects_separator_in_parts() {
        assert!(matches!(
            create_composite_key("visit", &["a\u{0}b"]),
            Err(StubError::InvalidKey(_))
        ));
        assert!(matches!(
            create_composite_key("vi\u{10FFFF}sit", &[]),
            Err(StubError::InvalidKey(_))
        ));
        assert!(split_composite_key("plain").is_err());
    }
}
