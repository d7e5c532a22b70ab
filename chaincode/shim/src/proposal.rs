//! What a transaction can learn from the signed proposal the peer forwards with it: the transaction
//! timestamp (the client's clock, the same on every endorser), the creator and its certificate facts, and
//! the transient data.

use std::collections::{BTreeMap, HashMap};

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::{ChaincodeProposalPayload, Proposal, SignedProposal};
use prost::Message;

use crate::stub::ClientIdentity;

/// The parts of a signed proposal a transaction uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalContext {
    /// The channel header's timestamp.
    pub timestamp: prost_types::Timestamp,
    /// The creator.
    pub creator: ClientIdentity,
    /// Transient data.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The transaction id from the channel header.
    pub tx_id: String,
    /// The channel from the channel header.
    pub channel_id: String,
}

/// Why a signed proposal could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed signed proposal: {0}")]
pub struct ProposalError(pub String);

/// Decodes a signed proposal: Proposal → Header → ChannelHeader and SignatureHeader (creator) →
/// ChaincodeProposalPayload (transient map). Never panics on garbage.
pub fn decode_signed_proposal(signed: &SignedProposal) -> Result<ProposalContext, ProposalError> {
    let error = |what: &str, e: prost::DecodeError| ProposalError(format!("{what}: {e}"));
    let proposal =
        Proposal::decode(signed.proposal_bytes.as_slice()).map_err(|e| error("Proposal", e))?;
    let header = Header::decode(proposal.header.as_slice()).map_err(|e| error("Header", e))?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| error("ChannelHeader", e))?;
    if channel_header.r#type != HeaderType::EndorserTransaction as i32
        && channel_header.r#type != HeaderType::Config as i32
    {
        return Err(ProposalError(format!(
            "invalid channel header type {}",
            channel_header.r#type
        )));
    }
    let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|e| error("SignatureHeader", e))?;
    let creator = SerializedIdentity::decode(signature_header.creator.as_slice())
        .map_err(|e| error("creator SerializedIdentity", e))?;
    let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
        .map_err(|e| error("ChaincodeProposalPayload", e))?;
    Ok(ProposalContext {
        timestamp: channel_header.timestamp.unwrap_or_default(),
        creator: client_identity(creator),
        transient: payload.transient_map.into_iter().collect(),
        tx_id: channel_header.tx_id,
        channel_id: channel_header.channel_id,
    })
}

/// The client identity of a creator; certificate facts are left empty when the PEM does not parse (the
/// peer has already validated the creator, so this only happens with foreign test input).
pub fn client_identity(creator: SerializedIdentity) -> ClientIdentity {
    // Clients send the same certificate with every proposal: parse each one once.
    static CACHE: std::sync::Mutex<Option<HashMap<Vec<u8>, ClientIdentity>>> =
        std::sync::Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(identity) = cache
        .get(&creator.id_bytes)
        .filter(|identity| identity.msp_id == creator.mspid)
    {
        return identity.clone();
    }
    if cache.len() >= 10_000 {
        cache.clear();
    }
    let identity = parse_client_identity(creator);
    cache.insert(identity.cert_pem.clone(), identity.clone());
    identity
}

fn parse_client_identity(creator: SerializedIdentity) -> ClientIdentity {
    let certificate = fabric_sdk::identity::CertificateInfo::from_pem(&creator.id_bytes).ok();
    ClientIdentity {
        msp_id: creator.mspid,
        subject: certificate
            .as_ref()
            .map(|c| c.subject.clone())
            .unwrap_or_default(),
        issuer: certificate
            .as_ref()
            .map(|c| c.issuer.clone())
            .unwrap_or_default(),
        organizational_units: certificate
            .as_ref()
            .map(|c| c.organizational_units.clone())
            .unwrap_or_default(),
        attributes: certificate.map(|c| c.attributes).unwrap_or_default(),
        cert_pem: creator.id_bytes,
    }
}

#[cfg(test)]
mod tests {
    use fabric_protos::protos::ChaincodeInput;

    use super::*;

    fn signed_proposal(header_type: HeaderType) -> SignedProposal {
        let channel_header = ChannelHeader {
            r#type: header_type as i32,
            channel_id: "reciprocal".to_owned(),
            tx_id: "abc123".to_owned(),
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 5,
            }),
            ..Default::default()
        };
        let creator = SerializedIdentity {
            mspid: "Org1MSP".to_owned(),
            id_bytes: b"not a certificate".to_vec(),
        };
        let signature_header = SignatureHeader {
            creator: creator.encode_to_vec(),
            nonce: vec![7; 24],
        };
        let header = Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        };
        let payload = ChaincodeProposalPayload {
            input: ChaincodeInput::default().encode_to_vec(),
            transient_map: [("secret".to_owned(), b"s3".to_vec())].into(),
        };
        let proposal = Proposal {
            header: header.encode_to_vec(),
            payload: payload.encode_to_vec(),
            extension: Vec::new(),
        };
        SignedProposal {
            proposal_bytes: proposal.encode_to_vec(),
            signature: vec![1, 2, 3],
        }
    }

    #[test]
    fn decodes_timestamp_creator_and_transient_data() {
        let context =
            decode_signed_proposal(&signed_proposal(HeaderType::EndorserTransaction)).unwrap();
        assert_eq!(context.tx_id, "abc123");
        assert_eq!(context.channel_id, "reciprocal");
        assert_eq!(
            (context.timestamp.seconds, context.timestamp.nanos),
            (1_800_000_000, 5)
        );
        assert_eq!(
            context.transient.get("secret").map(Vec::as_slice),
            Some(&b"s3"[..])
        );
        assert_eq!(context.creator.msp_id, "Org1MSP");
        assert_eq!(context.creator.cert_pem, b"not a certificate");
        // Not a certificate: no subject, but the identity is still usable.
        assert!(context.creator.subject.is_empty());
    }

    #[test]
    fn refuses_other_header_types() {
        let error = decode_signed_proposal(&signed_proposal(HeaderType::Message)).unwrap_err();
        assert!(error.to_string().contains("header type"), "{error}");
    }

    #[test]
    fn truncated_or_corrupted_bytes_fail_cleanly() {
        let valid = signed_proposal(HeaderType::EndorserTransaction).proposal_bytes;
        for length in 0..valid.len() {
            let truncated = SignedProposal {
                proposal_bytes: valid[..length].to_vec(),
                signature: Vec::new(),
            };
            // Any outcome but a panic; most prefixes are invalid protobuf.
            let _ = decode_signed_proposal(&truncated);
        }
        let mut flipped = valid.clone();
        for index in 0..flipped.len() {
            flipped[index] ^= 0xff;
            let _ = decode_signed_proposal(&SignedProposal {
                proposal_bytes: flipped.clone(),
                signature: Vec::new(),
            });
            flipped[index] ^= 0xff;
        }
        assert!(decode_signed_proposal(&SignedProposal::default()).is_err());
    }
}
