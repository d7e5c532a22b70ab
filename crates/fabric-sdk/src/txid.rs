//! Transaction ids as Fabric computes them: lowercase hex of SHA-256(nonce ‖ creator), where the creator is
//! the exact serialized identity bytes placed in the signature header, and the nonce is 24 random bytes.

use ring::rand::{SecureRandom, SystemRandom};

/// Fabric's nonce size.
pub const NONCE_SIZE: usize = 24;

/// A fresh random nonce. Falls back to a time-derived value only if the system RNG fails, which it does
/// not on supported platforms.
pub fn new_nonce() -> [u8; NONCE_SIZE] {
    let mut nonce = [0u8; NONCE_SIZE];
    if SystemRandom::new().fill(&mut nonce).is_err() {
        let elapsed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seed = crate::signer::sha256(&elapsed.as_nanos().to_le_bytes());
        nonce.copy_from_slice(&seed[..NONCE_SIZE]);
    }
    nonce
}

/// The transaction id of a proposal with this nonce and creator.
pub fn compute_tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(nonce);
    context.update(creator);
    hex::encode(context.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn matches_the_protocol_vector() {
        let creator = Identity {
            msp_id: "Org1MSP".to_owned(),
            cert_pem: b"CERT".to_vec(),
        }
        .serialize();
        assert_eq!(hex::encode(&creator), "0a074f7267314d5350120443455254");
        let nonce: Vec<u8> = (0u8..24).collect();
        assert_eq!(
            compute_tx_id(&nonce, &creator),
            "aa7642bfac5976c7a73b32b04694f509f4591e2a1c8c03169590497304694503"
        );
    }

    #[test]
    fn nonces_are_fresh() {
        assert_ne!(new_nonce(), new_nonce());
    }
}
