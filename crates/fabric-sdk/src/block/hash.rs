//! Block hashes exactly as Fabric computes them, since they chain blocks together and orderers sign them.
//!
//! The header hash is SHA-256 of the ASN.1 DER `SEQUENCE { INTEGER number, OCTET STRING previous_hash,
//! OCTET STRING data_hash }` (the DER is written by hand: three fields do not warrant an ASN.1 library);
//! the data hash is SHA-256 of the block's envelopes concatenated (Fabric's "flat" data hashing, width
//! `u32::MAX` in the channel's `BlockDataHashingStructure`).

use fabric_protos::common::{BlockData, BlockHeader};

/// DER lengths: one byte below 128, otherwise `0x80 | n` followed by the length in `n` big-endian bytes
/// with no leading zeros. DER admits only this minimal form, and any other would change the hash.
fn der_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let first = bytes
            .iter()
            .position(|byte| *byte != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
}

/// A DER INTEGER is signed two's complement: minimal bytes, plus a leading zero when the top bit is set,
/// as Go's `asn1.Marshal` of a `big.Int` writes block numbers.
fn der_unsigned_integer(value: u64, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes();
    let first = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len() - 1);
    let digits = &bytes[first..];
    let pad = digits[0] & 0x80 != 0;
    out.push(0x02);
    der_length(digits.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
}

fn der_octet_string(value: &[u8], out: &mut Vec<u8>) {
    out.push(0x04);
    der_length(value.len(), out);
    out.extend_from_slice(value);
}

/// The DER encoding of a block header: the bytes whose SHA-256 is the header hash, and which orderers
/// sign.
pub fn block_header_bytes(header: &BlockHeader) -> Vec<u8> {
    let mut body = Vec::with_capacity(80);
    der_unsigned_integer(header.number, &mut body);
    der_octet_string(&header.previous_hash, &mut body);
    der_octet_string(&header.data_hash, &mut body);
    let mut der = Vec::with_capacity(body.len() + 4);
    der.push(0x30);
    der_length(body.len(), &mut der);
    der.extend_from_slice(&body);
    der
}

/// The header hash of a block (what the next block's `previous_hash` holds).
pub fn block_header_hash(header: &BlockHeader) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, &block_header_bytes(header));
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The data hash of a block: SHA-256 over its envelopes, concatenated.
pub fn block_data_hash(data: &BlockData) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for envelope in &data.data {
        context.update(envelope);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_hash_matches_the_protocol_vector() {
        let header = BlockHeader {
            number: 1,
            previous_hash: vec![1; 32],
            data_hash: vec![2; 32],
        };
        let der = block_header_bytes(&header);
        assert_eq!(&der[..5], &[0x30, 0x47, 0x02, 0x01, 0x01]);
        assert_eq!(
            hex::encode(block_header_hash(&header)),
            "8958d309221dff9175606e70d8b0f60d44326787f5375730953d3e4c7277894b"
        );
    }

    #[test]
    fn integers_are_minimal_and_empty_hashes_encode() {
        let header = BlockHeader {
            number: 200,
            previous_hash: Vec::new(),
            data_hash: Vec::new(),
        };
        assert_eq!(
            hex::encode(block_header_bytes(&header)),
            "3008020200c804000400"
        );
        let zero = BlockHeader::default();
        assert_eq!(
            hex::encode(block_header_bytes(&zero)),
            "30070201000400".to_owned() + "0400"
        );
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let header = BlockHeader {
            number: u64::MAX,
            previous_hash: vec![7; 200],
            data_hash: vec![8; 32],
        };
        let der = block_header_bytes(&header);
        assert_eq!(&der[..3], &[0x30, 0x81, (der.len() - 3) as u8]);
        // u64::MAX needs a leading zero so it is not read as negative.
        assert_eq!(&der[3..6], &[0x02, 0x09, 0x00]);
    }
}
