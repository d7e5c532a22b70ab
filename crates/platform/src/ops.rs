//! Logs, shutdown, and the operational HTTP endpoints every service serves: `GET /healthz` (the process
//! answers), `GET /readyz` (its dependencies answer) and `GET /metrics` (Prometheus text).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::json;

/// Structured logs on stderr: JSON (`json`) or human-readable (`text`); the level from `RUST_LOG`.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Listens for SIGTERM and SIGINT from now on; the future completes at the first.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// The body of every service's `main`: logs in `log_format`, the SIGTERM/SIGINT handlers installed before
/// anything else (so a stop requested while the service starts is a graceful one), then `run` until that
/// signal; a failure is logged and printed, and exits 1.
pub async fn main<F, Fut>(name: &str, log_format: &str, run: F) -> std::process::ExitCode
where
    F: FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    init_logging(log_format);
    let result = match shutdown_signal() {
        Ok(shutdown) => run(Box::pin(shutdown)).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("{name}: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Labels of a request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route or gRPC method.
    pub route: String,
    /// The HTTP status or gRPC code.
    pub status: String,
}

/// Request counts and latencies, and the registry `/metrics` encodes.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
}

impl Metrics {
    /// Metrics of service `service` (the metric prefix).
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix(service.replace('-', "_"));
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register("requests", "Requests served", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            requests,
            latency,
        }
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, status: &str, started: Instant) {
        let labels = RequestLabels {
            route: route.to_owned(),
            status: status.to_owned(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    /// Registers more metrics of the service.
    pub fn register(&self, apply: impl FnOnce(&mut Registry)) {
        if let Ok(mut registry) = self.registry.lock() {
            apply(&mut registry);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}

/// A readiness check: the names of the dependencies and whether each answers.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<(&'static str, bool)>> + Send>> + Send + Sync>;

/// A readiness check from an async function.
pub fn readiness<F, Fut>(check: F) -> ReadinessCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<(&'static str, bool)>> + Send + 'static,
{
    Arc::new(move || Box::pin(check()))
}

#[derive(Clone)]
struct OpsState {
    metrics: Metrics,
    ready: ReadinessCheck,
}

/// `/healthz`, `/readyz` (503 naming what does not answer) and `/metrics`.
pub fn router(metrics: Metrics, ready: ReadinessCheck) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(OpsState { metrics, ready })
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let checks = (state.ready)().await;
    let ready = checks.iter().all(|(_, ok)| *ok);
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, ok)| (name.to_owned(), ok.into()))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(state): State<OpsState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
