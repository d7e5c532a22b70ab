//! The blockchain service: the platform's only Fabric client. It submits and evaluates contract functions
//! for the other services as the identity of the caller's club and role ([`wallet`], [`api`]), mirrors
//! every block into Postgres ([`mirror`]), publishes each committed chaincode event to NATS JetStream
//! ([`events`]), and answers auditors ([`audit`]) over gRPC and HTTP ([`http`]).

pub mod api;
pub mod audit;
pub mod events;
pub mod http;
pub mod metrics;
pub mod mirror;
pub mod server;
pub mod wallet;
