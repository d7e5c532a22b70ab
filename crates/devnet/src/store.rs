//! The block store: blocks appended to a file as a Fabric peer's block store writes them (each record a
//! varint length, then the block in Fabric's block-file layout), fsynced before anyone hears of the
//! commit, so Fabric's own tooling and `clubs block` read the file.
//!
//! The file is the single source of truth: the world state, history and transaction index are rebuilt from
//! it at start. A crash can only leave a torn last record, which [`BlockStore::open`] detects and cuts off,
//! so nothing half-written is ever visible and nothing acknowledged is ever lost.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use fabric_protos::common::Block;
use fabric_sdk::block::{decode_ledger_block, encode_ledger_block};

/// Why the block store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the block file failed.
    #[error("block file {path}: {source}")]
    Io {
        /// The block file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A complete record in the middle of the file does not decode: the file was damaged, not torn.
    #[error("block file {path}: record at offset {offset} is corrupt: {reason}")]
    Corrupt {
        /// The block file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A block was appended out of order.
    #[error("block {got} appended where block {expected} was due")]
    OutOfOrder {
        /// The number the store expected.
        expected: u64,
        /// The number it was given.
        got: u64,
    },
}

/// Append-only storage of a channel's blocks.
#[derive(Debug)]
pub struct BlockStore {
    path: PathBuf,
    file: File,
    /// `(offset of the block bytes, length)` of every block, indexed by block number.
    index: Vec<(u64, u32)>,
    end: u64,
}

/// What [`BlockStore::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Blocks found intact.
    pub blocks: u64,
    /// Bytes of a torn final record that were cut off (0 after a clean stop).
    pub truncated_bytes: u64,
}

impl BlockStore {
    /// Opens (or creates) the block file at `path`, indexing every intact block and cutting off a torn tail.
    pub fn open(path: &Path) -> Result<(Self, Recovery), StoreError> {
        let io_err = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;

        let mut index = Vec::new();
        let mut offset = 0usize;
        while offset < bytes.len() {
            let Some((length, header_len)) = decode_varint(&bytes[offset..]) else {
                break; // torn length prefix
            };
            let start = offset + header_len;
            let Some(end) = usize::try_from(length)
                .ok()
                .and_then(|length| start.checked_add(length))
                .filter(|end| *end <= bytes.len())
            else {
                break; // torn block bytes
            };
            let block = match decode_ledger_block(&bytes[start..end]) {
                Ok(block) => block,
                // A final record whose bytes never reached the disk reads as garbage: torn, not corrupt.
                Err(_) if end == bytes.len() => break,
                Err(error) => {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        offset: offset as u64,
                        reason: error.to_string(),
                    });
                }
            };
            let number = block.header.as_ref().map_or(0, |header| header.number);
            if number != index.len() as u64 {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    offset: offset as u64,
                    reason: format!("holds block {number} where block {} was due", index.len()),
                });
            }
            let length = u32::try_from(end - start).map_err(|_| StoreError::Corrupt {
                path: path.to_path_buf(),
                offset: offset as u64,
                reason: "block larger than 4 GiB".to_owned(),
            })?;
            index.push((start as u64, length));
            offset = end;
        }

        let truncated_bytes = (bytes.len() - offset) as u64;
        if truncated_bytes > 0 {
            file.set_len(offset as u64).map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io_err)?;
        let recovery = Recovery {
            blocks: index.len() as u64,
            truncated_bytes,
        };
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                index,
                end: offset as u64,
            },
            recovery,
        ))
    }

    /// The number of blocks stored (the ledger height).
    pub fn height(&self) -> u64 {
        self.index.len() as u64
    }

    /// Appends `block` (which must be the next number) and syncs it to disk before returning.
    pub fn append(&mut self, block: &Block) -> Result<(), StoreError> {
        let number = block.header.as_ref().map_or(0, |header| header.number);
        if number != self.height() {
            return Err(StoreError::OutOfOrder {
                expected: self.height(),
                got: number,
            });
        }
        let body = encode_ledger_block(block);
        let length = u32::try_from(body.len()).map_err(|_| StoreError::Corrupt {
            path: self.path.clone(),
            offset: self.end,
            reason: "block larger than 4 GiB".to_owned(),
        })?;
        let mut record = Vec::with_capacity(body.len() + 5);
        prost::encoding::encode_varint(body.len() as u64, &mut record);
        let header_len = record.len() as u64;
        record.extend_from_slice(&body);
        let io_err = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&record).map_err(io_err)?;
        self.file.sync_data().map_err(io_err)?;
        self.index.push((self.end + header_len, length));
        self.end += record.len() as u64;
        Ok(())
    }

    /// The stored record of block `number` (Fabric's block-file layout), if stored.
    fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(&(offset, length)) = usize::try_from(number)
            .ok()
            .and_then(|number| self.index.get(number))
        else {
            return Ok(None);
        };
        let mut bytes = vec![0; length as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(Some(bytes))
    }

    /// Block `number`, decoded, if stored.
    pub fn block(&self, number: u64) -> Result<Option<Block>, StoreError> {
        let Some(bytes) = self.block_bytes(number)? else {
            return Ok(None);
        };
        decode_ledger_block(&bytes)
            .map(Some)
            .map_err(|error| StoreError::Corrupt {
                path: self.path.clone(),
                offset: self.index[number as usize].0,
                reason: error.to_string(),
            })
    }
}

fn decode_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::{BlockData, BlockHeader, BlockMetadata};

    fn block(number: u64) -> Block {
        Block {
            header: Some(BlockHeader {
                number,
                previous_hash: vec![1; 32],
                data_hash: vec![2; 32],
            }),
            data: Some(BlockData {
                data: vec![vec![number as u8; 100]],
            }),
            metadata: Some(BlockMetadata {
                metadata: vec![vec![], vec![], vec![0]],
            }),
        }
    }

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("devnet-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir.join("blockfile_000000")
    }

    #[test]
    fn blocks_survive_reopen() {
        let path = temp_file("reopen");
        let (mut store, recovery) = BlockStore::open(&path).unwrap();
        assert_eq!(recovery.blocks, 0);
        for n in 0..5 {
            store.append(&block(n)).unwrap();
        }
        drop(store);
        let (store, recovery) = BlockStore::open(&path).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                blocks: 5,
                truncated_bytes: 0
            }
        );
        assert_eq!(store.block(3).unwrap().unwrap(), block(3));
        assert!(store.block(5).unwrap().is_none());
    }

    #[test]
    fn torn_tail_is_cut_off_and_appending_continues() {
        let path = temp_file("torn");
        let (mut store, _) = BlockStore::open(&path).unwrap();
        for n in 0..3 {
            store.append(&block(n)).unwrap();
        }
        drop(store);
        let full = fs::read(&path).unwrap();
        // Every possible torn length of the last record recovers to exactly two blocks.
        let body = encode_ledger_block(&block(2)).len();
        let last_record = full.len() - (body + prost::encoding::encoded_len_varint(body as u64));
        for cut in last_record..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (mut store, recovery) = BlockStore::open(&path).unwrap();
            assert_eq!(recovery.blocks, 2, "cut at {cut}");
            assert_eq!(recovery.truncated_bytes, (cut - last_record) as u64);
            store.append(&block(2)).unwrap();
            assert_eq!(store.block(2).unwrap().unwrap(), block(2));
        }
    }

    #[test]
    fn out_of_order_append_is_refused() {
        let path = temp_file("order");
        let (mut store, _) = BlockStore::open(&path).unwrap();
        assert!(matches!(
            store.append(&block(1)),
            Err(StoreError::OutOfOrder {
                expected: 0,
                got: 1
            })
        ));
    }

    #[test]
    fn corrupt_middle_record_is_an_error_not_a_truncation() {
        let path = temp_file("corrupt");
        let (mut store, _) = BlockStore::open(&path).unwrap();
        for n in 0..3 {
            store.append(&block(n)).unwrap();
        }
        drop(store);
        let mut bytes = fs::read(&path).unwrap();
        bytes[2] = 0xff; // inside block 0's header field tag
        bytes[3] = 0xff;
        fs::write(&path, &bytes).unwrap();
        assert!(BlockStore::open(&path).is_err());
    }
}
