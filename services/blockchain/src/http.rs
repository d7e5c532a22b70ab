//! HTTP on 8084: `/healthz`, `/readyz`, `/metrics`, and the audit queries as JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::audit::{Audit, AuditError};
use crate::metrics::Metrics;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The audit queries.
    pub audit: Audit,
    /// The metrics.
    pub metrics: Metrics,
    /// The database.
    pub pool: sqlx::PgPool,
    /// NATS, when events are published.
    pub nats: Option<async_nats::Client>,
    /// Whether the block listener is connected to the peer.
    pub following: Arc<AtomicBool>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

impl IntoResponse for AuditError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest(message) => error(StatusCode::BAD_REQUEST, "bad_request", message),
            Self::NotFound(message) => error(StatusCode::NOT_FOUND, "not_found", message),
            Self::Ledger(message) => error(StatusCode::BAD_GATEWAY, "ledger_unavailable", message),
            Self::Database(database) => {
                tracing::error!(error = %database, "Audit query failed");
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the mirror's database is unavailable",
                )
            }
        }
    }
}

/// The HTTP routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/audit/history/{record_type}", get(history_without_id))
        .route("/audit/history/{record_type}/{*id}", get(history))
        .route("/audit/tx/{tx_id}", get(proof))
        .route("/audit/verify", post(verify))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let nats = state
        .nats
        .as_ref()
        .is_none_or(|client| client.connection_state() == async_nats::connection::State::Connected);
    let ledger = state.following.load(Ordering::Relaxed);
    let body = Json(json!({"database": database, "nats": nats, "ledger": ledger}));
    if database && nats && ledger {
        (StatusCode::OK, body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// `mirror` (default) or `ledger` (the chaincode's `GetHistory`).
    #[serde(default)]
    source: Option<String>,
}

async fn history_of(
    state: &HttpState,
    record_type: &str,
    id: &str,
    query: HistoryQuery,
) -> Response {
    match query.source.as_deref().unwrap_or("mirror") {
        "mirror" => match state.audit.history(record_type, id).await {
            Ok(history) => Json(history).into_response(),
            Err(error) => error.into_response(),
        },
        "ledger" => match state.audit.ledger_history(record_type, id).await {
            Ok(history) => Json(json!({"record_type": record_type, "id": id, "entries": history}))
                .into_response(),
            Err(error) => error.into_response(),
        },
        other => error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("source must be mirror or ledger, got {other:?}"),
        ),
    }
}

async fn history(
    State(state): State<HttpState>,
    Path((record_type, id)): Path<(String, String)>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    history_of(&state, &record_type, &id, query).await
}

async fn history_without_id(
    State(state): State<HttpState>,
    Path(record_type): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    history_of(&state, &record_type, "", query).await
}

async fn proof(State(state): State<HttpState>, Path(tx_id): Path<String>) -> Response {
    match state.audit.proof(&tx_id).await {
        Ok(proof) => Json(proof).into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    /// Also compare with the peer's blocks and the chaincode (default true).
    #[serde(default)]
    ledger: Option<bool>,
}

async fn verify(State(state): State<HttpState>, Query(query): Query<VerifyQuery>) -> Response {
    match state.audit.verify(query.ledger.unwrap_or(true)).await {
        Ok(report) => {
            let status = if report.ok() {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            (status, Json(report)).into_response()
        }
        Err(error) => error.into_response(),
    }
}
