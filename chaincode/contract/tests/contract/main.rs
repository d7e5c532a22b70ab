//! The contract's rules through the in-memory stub: every function, every refusal with its exact status
//! and message, and the invariants the helpers check on every call (one event per state change, nothing
//! written on a refusal).

mod agreements;
mod clubs;
mod determinism;
mod governance;
mod helpers;
mod queries;
mod settlement;
mod visits;
