//! Reading blocks from files: single blocks as `peer channel fetch` writes them (one serialized
//! `common.Block`), and ledger block files (`blockfile_NNNNNN`), which hold a run of records, each a varint
//! length followed by one block.
//!
//! Fabric's block store does not write protobuf inside those records but its own layout: the block number
//! as a varint, the data hash and the previous hash as length-prefixed bytes, then a count and the
//! length-prefixed envelopes, then a count and the length-prefixed metadata entries. The dev ledger of this
//! project frames serialized `common.Block`s the same way, so a record is read in Fabric's layout first and
//! as protobuf second.

use std::path::Path;

use fabric_protos::common::{Block, BlockData, BlockHeader, BlockMetadata};
use prost::Message;
use prost::encoding::{decode_varint, encode_varint};

use super::error::{BlockError, LedgerRecordError, RecordProblem};

/// Reads a block file as `peer channel fetch` writes it: one serialized `common.Block`.
pub fn read_block_file(path: &Path) -> Result<Block, BlockError> {
    let bytes = read(path)?;
    decode_single(path, &bytes)
}

/// Reads every block of a file: one serialized block (`peer channel fetch` output), or a ledger block file
/// (`blockfile_NNNNNN` from a peer's `ledgersData/chains/chains/<channel>/`, or the dev ledger's). A torn
/// or damaged record is an error naming its byte offset; blocks are returned in file order.
pub fn read_blocks(path: &Path) -> Result<Vec<Block>, BlockError> {
    let bytes = read(path)?;
    let named_like_a_block_file = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("blockfile"));
    if !named_like_a_block_file {
        return match decode_single(path, &bytes) {
            Ok(block) => Ok(vec![block]),
            // A ledger block file copied under another name still reads; if it is not one either, the
            // single-block complaint is the one that makes sense for the file's name.
            Err(single) => parse_block_file(&bytes).map_err(|_| single),
        };
    }
    parse_block_file(&bytes).map_err(|(offset, problem)| BlockError::Record {
        path: path.to_path_buf(),
        offset,
        problem,
    })
}

/// Decodes one block in the layout Fabric's block store writes inside a block-file record (the record's
/// length prefix excluded).
pub fn decode_ledger_block(bytes: &[u8]) -> Result<Block, LedgerRecordError> {
    let mut reader = Reader { rest: bytes };
    let number = reader.varint(|| "block number".to_owned())?;
    let data_hash = reader.bytes(|| "data hash".to_owned())?.to_vec();
    let previous_hash = reader.bytes(|| "previous hash".to_owned())?.to_vec();
    // A protobuf-framed record misread in this layout takes its header bytes for the data hash, so the
    // hash lengths tell the two layouts apart.
    if data_hash.len() != 32 {
        return Err(LedgerRecordError::HashLength {
            field: "data hash",
            length: data_hash.len(),
        });
    }
    if !(previous_hash.is_empty() || previous_hash.len() == 32) {
        return Err(LedgerRecordError::HashLength {
            field: "previous hash",
            length: previous_hash.len(),
        });
    }
    let envelopes = reader.varint(|| "envelope count".to_owned())?;
    let mut data = Vec::new();
    for index in 0..envelopes {
        data.push(reader.bytes(|| format!("envelope {index}"))?.to_vec());
    }
    let entries = reader.varint(|| "metadata count".to_owned())?;
    let mut metadata = Vec::new();
    for index in 0..entries {
        metadata.push(reader.bytes(|| format!("metadata entry {index}"))?.to_vec());
    }
    if !reader.rest.is_empty() {
        return Err(LedgerRecordError::Trailing(reader.rest.len()));
    }
    Ok(Block {
        header: Some(BlockHeader {
            number,
            previous_hash,
            data_hash,
        }),
        data: Some(BlockData { data }),
        metadata: Some(BlockMetadata { metadata }),
    })
}

/// Encodes a block in the layout Fabric's block store writes inside a block-file record (without the
/// record's length prefix).
pub fn encode_ledger_block(block: &Block) -> Vec<u8> {
    let header = block.header.clone().unwrap_or_default();
    let empty = Vec::new();
    let data = block.data.as_ref().map_or(&empty, |data| &data.data);
    let metadata = block
        .metadata
        .as_ref()
        .map_or(&empty, |metadata| &metadata.metadata);
    let mut out = Vec::new();
    encode_varint(header.number, &mut out);
    put_bytes(&header.data_hash, &mut out);
    put_bytes(&header.previous_hash, &mut out);
    encode_varint(data.len() as u64, &mut out);
    for envelope in data {
        put_bytes(envelope, &mut out);
    }
    encode_varint(metadata.len() as u64, &mut out);
    for entry in metadata {
        put_bytes(entry, &mut out);
    }
    out
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn read(path: &Path) -> Result<Vec<u8>, BlockError> {
    let bytes = std::fs::read(path).map_err(|source| BlockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(BlockError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

fn decode_single(path: &Path, bytes: &[u8]) -> Result<Block, BlockError> {
    let block = Block::decode(bytes).map_err(|source| BlockError::NotABlock {
        path: path.to_path_buf(),
        source,
    })?;
    if block.header.is_none() {
        return Err(BlockError::NoHeader {
            path: path.to_path_buf(),
        });
    }
    Ok(block)
}

/// The blocks of a block file, or the offset of the first bad record and what is wrong with it.
fn parse_block_file(bytes: &[u8]) -> Result<Vec<Block>, (usize, RecordProblem)> {
    let mut blocks = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let length = decode_varint(&mut rest)
            .map_err(|error| (offset, RecordProblem::LengthPrefix(error)))?;
        let record_length = usize::try_from(length)
            .ok()
            .filter(|length| *length <= rest.len())
            .ok_or((
                offset,
                RecordProblem::Torn {
                    length,
                    available: rest.len(),
                },
            ))?;
        let (record, tail) = rest.split_at(record_length);
        blocks.push(decode_record(record).map_err(|problem| (offset, problem))?);
        rest = tail;
    }
    Ok(blocks)
}

fn decode_record(record: &[u8]) -> Result<Block, RecordProblem> {
    let ledger = match decode_ledger_block(record) {
        Ok(block) => return Ok(block),
        Err(error) => error,
    };
    match Block::decode(record) {
        Ok(block) if block.header.is_some() => Ok(block),
        Ok(_) => Err(RecordProblem::Undecodable {
            ledger,
            protobuf: "no block header".to_owned(),
        }),
        Err(error) => Err(RecordProblem::Undecodable {
            ledger,
            protobuf: error.to_string(),
        }),
    }
}

/// Reads varints and length-prefixed byte strings, naming the field when one is cut short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self, field: impl FnOnce() -> String) -> Result<u64, LedgerRecordError> {
        decode_varint(&mut self.rest).map_err(|_| LedgerRecordError::Truncated { field: field() })
    }

    fn bytes(&mut self, field: impl FnOnce() -> String) -> Result<&'a [u8], LedgerRecordError> {
        let length = decode_varint(&mut self.rest).ok();
        match length.and_then(|length| usize::try_from(length).ok()) {
            Some(length) if length <= self.rest.len() => {
                let (bytes, rest) = self.rest.split_at(length);
                self.rest = rest;
                Ok(bytes)
            }
            _ => Err(LedgerRecordError::Truncated { field: field() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the layout byte by byte rather than trusting `encode_ledger_block` to be its own oracle.
    #[test]
    fn ledger_layout_is_number_data_hash_previous_hash_envelopes_metadata() {
        let mut bytes = vec![0x96, 0x01]; // block 150 as a varint
        bytes.push(32);
        bytes.extend([0xdd; 32]); // data hash comes before the previous hash
        bytes.push(32);
        bytes.extend([0x99; 32]);
        bytes.extend([2, 3, b'a', b'b', b'c', 1, b'z']); // two envelopes
        bytes.extend([3, 0, 1, 7, 0]); // three metadata entries, two of them empty
        let block = decode_ledger_block(&bytes).unwrap();
        let header = block.header.as_ref().unwrap();
        assert_eq!(header.number, 150);
        assert_eq!(header.data_hash, [0xdd; 32]);
        assert_eq!(header.previous_hash, [0x99; 32]);
        assert_eq!(
            block.data.as_ref().unwrap().data,
            [b"abc".to_vec(), b"z".to_vec()]
        );
        assert_eq!(
            block.metadata.as_ref().unwrap().metadata,
            [vec![], vec![7], vec![]]
        );
        assert_eq!(encode_ledger_block(&block), bytes);
    }

    #[test]
    fn damaged_ledger_records_name_the_field() {
        let mut bytes = vec![1, 32];
        bytes.extend([0xdd; 32]);
        bytes.extend([0, 1, 5, b'x']);
        assert_eq!(
            decode_ledger_block(&bytes),
            Err(LedgerRecordError::Truncated {
                field: "envelope 0".to_owned()
            })
        );
        let mut short_hash = vec![1, 3, 1, 2, 3, 0, 0, 0];
        assert!(matches!(
            decode_ledger_block(&short_hash),
            Err(LedgerRecordError::HashLength {
                field: "data hash",
                length: 3
            })
        ));
        short_hash.truncate(1);
        assert!(matches!(
            decode_ledger_block(&short_hash),
            Err(LedgerRecordError::Truncated { .. })
        ));
        let mut trailing = vec![0, 32];
        trailing.extend([0xdd; 32]);
        trailing.extend([0, 0, 0, 9, 9]);
        assert_eq!(
            decode_ledger_block(&trailing),
            Err(LedgerRecordError::Trailing(2))
        );
    }

    #[test]
    fn protobuf_framed_blocks_are_not_mistaken_for_the_ledger_layout() {
        let block = Block {
            header: Some(BlockHeader {
                number: 10,
                previous_hash: vec![1; 32],
                data_hash: vec![2; 32],
            }),
            data: Some(BlockData {
                data: vec![vec![3; 40]],
            }),
            metadata: Some(BlockMetadata {
                metadata: vec![vec![], vec![], vec![]],
            }),
        };
        let protobuf = block.encode_to_vec();
        assert!(decode_ledger_block(&protobuf).is_err());
        assert_eq!(decode_record(&protobuf).unwrap(), block);
        assert_eq!(decode_record(&encode_ledger_block(&block)).unwrap(), block);
    }
}
