//! Arbitrary bytes as a `ChaincodeMessage` from the peer: decoding must fail cleanly, never panic,
//! including the nested signed proposal of a TRANSACTION.

#![no_main]

use chaincode_shim::proposal::decode_signed_proposal;
use fabric_protos::protos::{ChaincodeInput, ChaincodeMessage, chaincode_message};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ChaincodeMessage::decode(data) else {
        return;
    };
    if message.r#type == chaincode_message::Type::Transaction as i32 {
        let _ = ChaincodeInput::decode(message.payload.as_slice());
        if let Some(proposal) = &message.proposal {
            let _ = decode_signed_proposal(proposal);
        }
    }
    // What decodes re-encodes and decodes to the same message.
    let again = ChaincodeMessage::decode(message.encode_to_vec().as_slice()).expect("re-decode");
    assert_eq!(again, message);
});
