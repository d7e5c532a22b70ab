//! What every service of the platform shares: JSON logs and graceful shutdown ([`ops`]), the
//! `/healthz`, `/readyz` and `/metrics` endpoints beside a gRPC server ([`serve`]), Postgres set-up
//! ([`db`]), and the caller a request acts for, carried from the API gateway in gRPC metadata
//! ([`caller`]).

pub mod caller;
pub mod db;
pub mod input;
pub mod ledger;
pub mod ops;
pub mod serve;
