//! The blockchain service: the only process of the platform that talks to Fabric. This crate holds its
//! Postgres mirror of the ledger; the gRPC submit/evaluate API, NATS events and audit endpoints build on it.

pub mod mirror;
