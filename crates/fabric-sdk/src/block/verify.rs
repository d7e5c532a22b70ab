//! Checking that blocks are what the ordering service produced: the hash chain (data hashes and
//! previous-hash links) and the orderer signatures in each block's SIGNATURES metadata.

use fabric_protos::common::{Block, BlockData, Metadata, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use prost::Message;
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;

use super::hash::{block_data_hash, block_header_bytes, block_header_hash};

/// What a verified chain looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Number of blocks checked.
    pub blocks: usize,
    /// Number of the first block.
    pub first: u64,
    /// Number of the last block.
    pub tip: u64,
    /// Header hash of the last block.
    pub tip_hash: [u8; 32],
}

/// Why a chain of blocks does not verify; names the first broken block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No blocks were given.
    #[error("no blocks to verify")]
    Empty,
    /// A block has no header.
    #[error("the block at position {position} has no header")]
    MissingHeader {
        /// Position in the input.
        position: usize,
    },
    /// The data hash in the header does not match the data.
    #[error(
        "block {block}: data hash {recorded} does not match the data, which hashes to {computed}"
    )]
    DataHash {
        /// Block number.
        block: u64,
        /// Hash in the header (hex).
        recorded: String,
        /// Hash of the data (hex).
        computed: String,
    },
    /// Numbers are not consecutive.
    #[error("block {block} follows block {previous}: block numbers must be consecutive")]
    Gap {
        /// The block number.
        block: u64,
        /// The previous block's number.
        previous: u64,
    },
    /// The previous-hash link is broken.
    #[error(
        "block {block}: previous hash {recorded} is not the header hash of block {previous} ({computed})"
    )]
    PreviousHash {
        /// Block number.
        block: u64,
        /// The previous block.
        previous: u64,
        /// Hash recorded (hex).
        recorded: String,
        /// Hash computed from the previous header (hex).
        computed: String,
    },
}

impl ChainError {
    /// The block the error is about, when it is about one.
    pub fn block(&self) -> Option<u64> {
        match self {
            Self::DataHash { block, .. }
            | Self::Gap { block, .. }
            | Self::PreviousHash { block, .. } => Some(*block),
            Self::Empty | Self::MissingHeader { .. } => None,
        }
    }
}

/// Verifies, in order, each block's data hash and that each block's number and previous hash follow
/// from the block before it. Blocks must be given in ascending order; the first block's own previous
/// hash is taken on trust (it need not be the genesis block).
pub fn verify_chain(blocks: &[Block]) -> Result<ChainReport, ChainError> {
    let mut previous: Option<(u64, [u8; 32])> = None;
    let mut first = None;
    for (position, block) in blocks.iter().enumerate() {
        let header = block
            .header
            .as_ref()
            .ok_or(ChainError::MissingHeader { position })?;
        let computed = match &block.data {
            Some(data) => block_data_hash(data),
            None => block_data_hash(&BlockData::default()),
        };
        if computed.as_slice() != header.data_hash.as_slice() {
            return Err(ChainError::DataHash {
                block: header.number,
                recorded: hex::encode(&header.data_hash),
                computed: hex::encode(computed),
            });
        }
        if let Some((previous_number, previous_hash)) = previous {
            if previous_number.checked_add(1) != Some(header.number) {
                return Err(ChainError::Gap {
                    block: header.number,
                    previous: previous_number,
                });
            }
            if header.previous_hash.as_slice() != previous_hash.as_slice() {
                return Err(ChainError::PreviousHash {
                    block: header.number,
                    previous: previous_number,
                    recorded: hex::encode(&header.previous_hash),
                    computed: hex::encode(previous_hash),
                });
            }
        }
        first.get_or_insert(header.number);
        previous = Some((header.number, block_header_hash(header)));
    }
    match (first, previous) {
        (Some(first), Some((tip, tip_hash))) => Ok(ChainReport {
            blocks: blocks.len(),
            first,
            tip,
            tip_hash,
        }),
        _ => Err(ChainError::Empty),
    }
}

/// Why an orderer signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// One of the orderer CA certificates given is not a PEM certificate.
    #[error("orderer root certificate {index}: {problem}")]
    RootCertificate {
        /// Position in the list given.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// No orderer CA certificates were given.
    #[error("no orderer root certificates to verify against")]
    NoRoots,
    /// The block has no header.
    #[error("the block has no header")]
    NoHeader,
    /// The block carries no orderer signature.
    #[error("block {0} carries no orderer signature")]
    Unsigned(u64),
    /// The SIGNATURES metadata or a signature's header does not decode.
    #[error("block {block}: malformed SIGNATURES metadata: {problem}")]
    Malformed {
        /// Block number.
        block: u64,
        /// What is wrong.
        problem: String,
    },
    /// A BFT orderer named itself by consenter id; resolving it needs the channel's consenter mapping.
    #[error(
        "block {block}: signature {index} names BFT consenter {consenter}, which needs the consenter mapping (not supported)"
    )]
    ConsenterIdentifier {
        /// Block number.
        block: u64,
        /// Position of the signature.
        index: usize,
        /// The consenter id.
        consenter: u32,
    },
    /// A signer is not issued by the orderer organisation's CAs.
    #[error(
        "block {block}: signer {subject} of {msp_id} is not issued by the orderer organisation's CA"
    )]
    UntrustedSigner {
        /// Block number.
        block: u64,
        /// Signer's MSP id.
        msp_id: String,
        /// Signer's certificate subject.
        subject: String,
    },
    /// A signature does not verify.
    #[error("block {block}: the signature of {subject} does not verify: {reason}")]
    BadSignature {
        /// Block number.
        block: u64,
        /// Signer's certificate subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// Verifies every orderer signature in a block's SIGNATURES metadata, as a peer does before accepting a
/// block: each is an ECDSA signature (low-S, as Fabric requires) over
/// `Metadata.value ‖ signature_header ‖ DER(block header)` by a certificate issued by one of
/// `orderer_root_certs` (PEM, from the orderer organisation in the channel configuration). Returns how
/// many signatures verified.
pub fn verify_orderer_signatures(
    block: &Block,
    orderer_root_certs: &[Vec<u8>],
) -> Result<usize, SignatureError> {
    let root_ders = root_ders(orderer_root_certs)?;
    let roots = root_ders
        .iter()
        .map(|(index, der)| {
            X509Certificate::from_der(der)
                .map(|(_, certificate)| certificate)
                .map_err(|e| SignatureError::RootCertificate {
                    index: *index,
                    problem: format!("does not parse: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let header = block.header.as_ref().ok_or(SignatureError::NoHeader)?;
    let number = header.number;
    let malformed = |problem: String| SignatureError::Malformed {
        block: number,
        problem,
    };
    let slot = block
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.metadata.first())
        .filter(|slot| !slot.is_empty())
        .ok_or(SignatureError::Unsigned(number))?;
    let metadata = Metadata::decode(slot.as_slice()).map_err(|e| malformed(e.to_string()))?;
    if metadata.signatures.is_empty() {
        return Err(SignatureError::Unsigned(number));
    }
    let header_der = block_header_bytes(header);
    for (index, signature) in metadata.signatures.iter().enumerate() {
        if signature.signature_header.is_empty() && !signature.identifier_header.is_empty() {
            let identifier = fabric_protos::common::IdentifierHeader::decode(
                signature.identifier_header.as_slice(),
            )
            .map_err(|e| malformed(format!("signature {index}: IdentifierHeader: {e}")))?;
            return Err(SignatureError::ConsenterIdentifier {
                block: number,
                index,
                consenter: identifier.identifier,
            });
        }
        let signature_header = SignatureHeader::decode(signature.signature_header.as_slice())
            .map_err(|e| malformed(format!("signature {index}: SignatureHeader: {e}")))?;
        let creator = SerializedIdentity::decode(signature_header.creator.as_slice())
            .map_err(|e| malformed(format!("signature {index}: SerializedIdentity: {e}")))?;
        let signer_der = Pem::iter_from_buffer(&creator.id_bytes)
            .next()
            .and_then(Result::ok)
            .filter(|pem| pem.label == "CERTIFICATE")
            .map(|pem| pem.contents)
            .ok_or_else(|| {
                malformed(format!(
                    "signature {index}: the signer's identity is not a PEM certificate"
                ))
            })?;
        let (_, signer) = X509Certificate::from_der(&signer_der).map_err(|e| {
            malformed(format!(
                "signature {index}: the signer's certificate does not parse: {e}"
            ))
        })?;
        let subject = signer.subject().to_string();
        let issued_by_a_root = roots.iter().any(|root| {
            root.subject() == signer.issuer()
                && signer.verify_signature(Some(root.public_key())).is_ok()
        });
        if !issued_by_a_root {
            return Err(SignatureError::UntrustedSigner {
                block: number,
                msp_id: creator.mspid,
                subject,
            });
        }
        let mut signed = Vec::with_capacity(
            metadata.value.len() + signature.signature_header.len() + header_der.len(),
        );
        signed.extend_from_slice(&metadata.value);
        signed.extend_from_slice(&signature.signature_header);
        signed.extend_from_slice(&header_der);
        let public_key = &signer.public_key().subject_public_key.data;
        crate::signer::verify(public_key, &signed, &signature.signature).map_err(|error| {
            SignatureError::BadSignature {
                block: number,
                subject,
                reason: error.to_string(),
            }
        })?;
    }
    Ok(metadata.signatures.len())
}

/// The DER of every root certificate; each PEM text may hold several.
fn root_ders(pems: &[Vec<u8>]) -> Result<Vec<(usize, Vec<u8>)>, SignatureError> {
    let mut ders = Vec::new();
    for (index, pem) in pems.iter().enumerate() {
        let problem = |problem: String| SignatureError::RootCertificate { index, problem };
        let before = ders.len();
        for block in Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| problem(format!("not PEM: {e}")))?;
            if block.label != "CERTIFICATE" {
                return Err(problem(format!(
                    "a {} PEM block, not a CERTIFICATE",
                    block.label
                )));
            }
            ders.push((index, block.contents));
        }
        if ders.len() == before {
            return Err(problem("no PEM block".to_owned()));
        }
    }
    if ders.is_empty() {
        return Err(SignatureError::NoRoots);
    }
    Ok(ders)
}

/// Verifies the orderer signatures of a channel's blocks read in order, each against the orderer CAs of the
/// configuration in force before it: a config block is itself signed under the configuration it replaces,
/// and the genesis block is taken on trust.
#[derive(Debug, Clone, Default)]
pub struct OrdererSignatureVerifier {
    roots: Option<Vec<Vec<u8>>>,
}

/// Why [`OrdererSignatureVerifier::verify`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrdererVerifyError {
    /// A block past the genesis block came before any configuration.
    #[error("block {0}: no channel configuration (block 0) was read before it")]
    NoConfiguration(u64),
    /// A signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A config block does not decode.
    #[error("block {block}: configuration does not decode: {reason}")]
    Config {
        /// Block number.
        block: u64,
        /// Why.
        reason: String,
    },
}

impl OrdererSignatureVerifier {
    /// A verifier that has read no configuration yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Verifies `block` (the next one in order) and, when it is a config block, takes its orderer CAs for the
    /// blocks after it. Returns how many signatures verified (0 for the genesis block).
    pub fn verify(&mut self, block: &Block) -> Result<usize, OrdererVerifyError> {
        let number = block.header.as_ref().map_or(0, |header| header.number);
        let mut verified = 0;
        if number > 0 {
            let roots = self
                .roots
                .as_ref()
                .ok_or(OrdererVerifyError::NoConfiguration(number))?;
            verified = verify_orderer_signatures(block, roots)?;
        }
        let config = super::decode::decode_config_block(block).map_err(|error| {
            OrdererVerifyError::Config {
                block: number,
                reason: error.to_string(),
            }
        })?;
        if let Some(config) = config {
            self.roots = Some(
                config
                    .organizations
                    .into_iter()
                    .filter(|org| org.group == "Orderer")
                    .flat_map(|org| org.root_certs.into_iter().chain(org.intermediate_certs))
                    .collect(),
            );
        }
        Ok(verified)
    }
}
