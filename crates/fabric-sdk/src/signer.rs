//! Signing and verifying as Fabric does: ECDSA P-256 over SHA-256, DER-encoded signatures, and always
//! low-S (s ≤ n/2), because every Fabric verifier rejects the high-S twin of a valid signature.
//!
//! [`Signer`] is a trait so a hardware or remote signer can take the place of the in-process key.

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

/// The order n of the P-256 group, big-endian.
pub const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// n/2 for P-256, big-endian: the largest `s` Fabric accepts.
pub const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key could not be read.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The signing operation failed.
    #[error("signing failed: {0}")]
    Failed(String),
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature is not a DER `SEQUENCE { INTEGER r, INTEGER s }`.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// s > n/2: valid mathematically, refused by Fabric.
    #[error("invalid S: must be smaller than half the order")]
    HighS,
    /// The signature does not match the message and key.
    #[error("signature does not verify")]
    Mismatch,
}

/// Something that signs messages as a Fabric identity.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// A DER-encoded, low-S ECDSA signature over SHA-256(`message`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// An ECDSA P-256 key held in memory.
pub struct EcdsaP256Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaP256Signer")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl EcdsaP256Signer {
    /// From a PKCS#8 DER private key (as cryptogen and fabric-ca-client write, once PEM-decoded).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(
            |error| SignError::InvalidKey(format!("not a PKCS#8 EC P-256 key: {error}")),
        )?;
        Ok(Self { key, rng })
    }

    /// From a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &[u8]) -> Result<Self, SignError> {
        let der = crate::identity::pem_block(pem, &["PRIVATE KEY"])
            .map_err(|error| SignError::InvalidKey(error.to_string()))?;
        Self::from_pkcs8_der(&der)
    }

    /// A new random key; returns the signer and its PKCS#8 DER encoding.
    pub fn generate() -> Result<(Self, Vec<u8>), SignError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|error| SignError::Failed(error.to_string()))?;
        let signer = Self::from_pkcs8_der(pkcs8.as_ref())?;
        Ok((signer, pkcs8.as_ref().to_vec()))
    }

    /// The uncompressed public key point (65 bytes).
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
}

impl Signer for EcdsaP256Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let fixed = self
            .key
            .sign(&self.rng, message)
            .map_err(|error| SignError::Failed(error.to_string()))?;
        low_s_der_from_fixed(fixed.as_ref())
    }
}

/// The low-S DER signature for a fixed-size `r ‖ s` (64 bytes, big-endian), the form ring and PKCS#11
/// tokens return; a hardware or remote [`Signer`] finishes with this.
pub fn low_s_der_from_fixed(fixed: &[u8]) -> Result<Vec<u8>, SignError> {
    let wrong_length = || {
        SignError::Failed(format!(
            "a P-256 r ‖ s signature is 64 bytes, got {}",
            fixed.len()
        ))
    };
    let (r, s) = fixed.split_first_chunk::<32>().ok_or_else(wrong_length)?;
    let mut s: [u8; 32] = (*s).try_into().map_err(|_| wrong_length())?;
    if s > P256_HALF_ORDER {
        s = subtract(&P256_ORDER, &s);
    }
    Ok(encode_der(r, &s))
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` exactly as given, without low-S normalisation (use
/// [`normalize_low_s`] or [`low_s_der_from_fixed`] for something Fabric accepts).
pub fn encode_der_signature(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    encode_der(r, s)
}

/// `a − b` for 256-bit big-endian numbers with a ≥ b.
fn subtract(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if digit < 0 {
            digit += 256;
            borrow = 1;
        }
        out[i] = digit as u8;
    }
    out
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian unsigned integers.
fn encode_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(value: &[u8], out: &mut Vec<u8>) {
        let first_non_zero = value
            .iter()
            .position(|byte| *byte != 0)
            .unwrap_or(value.len() - 1);
        let value = &value[first_non_zero..];
        let pad = value.first().is_some_and(|byte| byte & 0x80 != 0);
        out.push(0x02);
        out.push((value.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }
    let mut body = Vec::with_capacity(72);
    integer(r, &mut body);
    integer(s, &mut body);
    let mut der = Vec::with_capacity(body.len() + 2);
    der.push(0x30);
    der.push(body.len() as u8);
    der.extend_from_slice(&body);
    der
}

/// Parses a DER ECDSA signature into 32-byte big-endian `(r, s)`.
pub fn parse_der_signature(der: &[u8]) -> Result<([u8; 32], [u8; 32]), VerifyError> {
    let malformed = |what: &str| VerifyError::Malformed(what.to_owned());
    let (&tag, rest) = der.split_first().ok_or_else(|| malformed("empty"))?;
    if tag != 0x30 {
        return Err(malformed("not a SEQUENCE"));
    }
    let (&length, body) = rest.split_first().ok_or_else(|| malformed("truncated"))?;
    if length as usize != body.len() || length & 0x80 != 0 {
        return Err(malformed("SEQUENCE length does not match"));
    }
    let (r, body) = parse_integer(body)?;
    let (s, body) = parse_integer(body)?;
    if !body.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    Ok((r, s))
}

fn parse_integer(input: &[u8]) -> Result<([u8; 32], &[u8]), VerifyError> {
    let malformed = |what: &str| VerifyError::Malformed(what.to_owned());
    let [0x02, length, rest @ ..] = input else {
        return Err(malformed("expected an INTEGER"));
    };
    let length = *length as usize;
    if length == 0 || length > rest.len() || length > 33 {
        return Err(malformed("bad INTEGER length"));
    }
    let (value, rest) = rest.split_at(length);
    if value[0] & 0x80 != 0 {
        return Err(malformed("negative INTEGER"));
    }
    let value = if value.len() == 33 {
        if value[0] != 0 {
            return Err(malformed("INTEGER too large"));
        }
        &value[1..]
    } else {
        value
    };
    let mut out = [0u8; 32];
    out[32 - value.len()..].copy_from_slice(value);
    Ok((out, rest))
}

/// Whether a DER signature's s is at most n/2.
pub fn is_low_s(der: &[u8]) -> Result<bool, VerifyError> {
    let (_, s) = parse_der_signature(der)?;
    Ok(s <= P256_HALF_ORDER)
}

/// The low-S twin of a DER signature (unchanged if it already is low-S).
pub fn normalize_low_s(der: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let (r, s) = parse_der_signature(der)?;
    if s >= P256_ORDER {
        // n − s would wrap: no valid signature has such an s.
        return Err(VerifyError::Malformed(
            "s is not below the P-256 group order".to_owned(),
        ));
    }
    let s = if s > P256_HALF_ORDER {
        subtract(&P256_ORDER, &s)
    } else {
        s
    };
    Ok(encode_der(&r, &s))
}

/// Verifies a DER ECDSA P-256/SHA-256 signature like Fabric: a high-S signature is refused even though it
/// is mathematically valid.
pub fn verify(public_key: &[u8], message: &[u8], der_signature: &[u8]) -> Result<(), VerifyError> {
    if !is_low_s(der_signature)? {
        return Err(VerifyError::HighS);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, der_signature)
        .map_err(|_| VerifyError::Mismatch)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_low_s_and_verify() {
        let (signer, _) = EcdsaP256Signer::generate().unwrap();
        for i in 0..200u32 {
            let message = i.to_be_bytes();
            let signature = signer.sign(&message).unwrap();
            assert!(is_low_s(&signature).unwrap());
            verify(signer.public_key(), &message, &signature).unwrap();
            assert_eq!(
                verify(signer.public_key(), b"other", &signature),
                Err(VerifyError::Mismatch)
            );
        }
    }

    #[test]
    fn high_s_twin_is_refused_and_normalised_back() {
        let (signer, _) = EcdsaP256Signer::generate().unwrap();
        let signature = signer.sign(b"message").unwrap();
        let (r, s) = parse_der_signature(&signature).unwrap();
        let high = encode_der(&r, &subtract(&P256_ORDER, &s));
        assert!(!is_low_s(&high).unwrap());
        // The high-S twin is mathematically valid (ring accepts it) but Fabric's rule refuses it.
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, signer.public_key())
                .verify(b"message", &high)
                .is_ok()
        );
        assert_eq!(
            verify(signer.public_key(), b"message", &high),
            Err(VerifyError::HighS)
        );
        assert_eq!(normalize_low_s(&high).unwrap(), signature);
    }

    #[test]
    fn half_order_itself_counts_as_low() {
        let der = encode_der(&[1; 32], &P256_HALF_ORDER);
        assert!(is_low_s(&der).unwrap());
        let mut above = P256_HALF_ORDER;
        above[31] += 1;
        assert!(!is_low_s(&encode_der(&[1; 32], &above)).unwrap());
    }

    #[test]
    fn der_integers_are_minimal() {
        let mut r = [0u8; 32];
        r[31] = 5;
        let s = [0x80; 32];
        let der = encode_der(&r, &s);
        assert_eq!(&der[..5], &[0x30, 3 + 35, 0x02, 0x01, 0x05]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(parse_der_signature(&der).unwrap(), (r, s));
    }

    #[test]
    fn garbage_signatures_are_errors() {
        for garbage in [
            &[][..],
            &[0x30],
            &[0x30, 0x02, 0x02, 0x00],
            &[0x31, 0x00],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01],
        ] {
            assert!(
                matches!(parse_der_signature(garbage), Err(VerifyError::Malformed(_))),
                "{garbage:?}"
            );
        }
        assert!(EcdsaP256Signer::from_pkcs8_der(b"not a key").is_err());
        assert!(matches!(
            normalize_low_s(&encode_der(&[1; 32], &[0xff; 32])),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn fixed_signatures_become_low_s_der() {
        let r = [7u8; 32];
        let mut high = [0u8; 64];
        high[..32].copy_from_slice(&r);
        high[32..].copy_from_slice(&subtract(&P256_ORDER, &[3; 32]));
        let der = low_s_der_from_fixed(&high).unwrap();
        assert_eq!(parse_der_signature(&der).unwrap(), (r, [3; 32]));
        assert!(matches!(
            low_s_der_from_fixed(&high[..63]),
            Err(SignError::Failed(message)) if message.contains("got 63")
        ));
    }
}
