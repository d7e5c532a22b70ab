//! The contract side of the shim: what the server calls for each INIT and TRANSACTION.

use std::future::Future;

use fabric_protos::protos::Response;

use crate::ChaincodeStub;

/// Status of a successful chaincode response (the gateway treats anything below 200 or from 400 up as a
/// failure, so an unset status of 0 is a failure too).
pub const OK: i32 = 200;
/// Lowest status that marks a response as an error the endorser will not endorse.
pub const ERROR_THRESHOLD: i32 = 400;
/// Status of an unexpected failure.
pub const ERROR: i32 = 500;

/// A chaincode the shim can serve. Each call gets the stub of one transaction.
pub trait Chaincode: Send + Sync + 'static {
    /// Handles INIT (only sent for chaincode definitions with `--init-required`).
    fn init<S: ChaincodeStub>(&self, stub: &mut S) -> impl Future<Output = Response> + Send;
    /// Handles TRANSACTION: `stub.args()[0]` is the function name.
    fn invoke<S: ChaincodeStub>(&self, stub: &mut S) -> impl Future<Output = Response> + Send;
}

/// A successful response carrying `payload`.
pub fn success(payload: Vec<u8>) -> Response {
    Response {
        status: OK,
        message: String::new(),
        payload,
    }
}

/// A failed response with `status` (400..=599) and a message for the caller.
pub fn error(status: i32, message: impl Into<String>) -> Response {
    Response {
        status,
        message: message.into(),
        payload: Vec::new(),
    }
}
