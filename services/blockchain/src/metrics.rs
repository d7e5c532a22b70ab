//! The service's Prometheus metrics: submits and their commit latency, the mirror's height and lag, and
//! events published.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a submit or evaluate.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `submit` or `evaluate`.
    pub kind: String,
    /// Contract function.
    pub function: String,
    /// `ok`, or the gRPC code name of the failure.
    pub outcome: String,
}

/// The metrics, shared by the service's tasks.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Submits and evaluates by function and outcome.
    pub calls: Family<CallLabels, Counter>,
    /// Seconds from a submit's request to its commit.
    pub commit_seconds: Histogram,
    /// The mirror's height (next block it needs).
    pub mirror_height: Gauge,
    /// The highest block delivered by the peer, plus one.
    pub ledger_height: Gauge,
    /// Seconds from a transaction's creation to its block being in the mirror.
    pub mirror_lag_seconds: Histogram,
    /// Events published to NATS and acknowledged by JetStream.
    pub events_published: Counter,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ]
    .into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("blockchain");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Submits and evaluates by function and outcome",
            calls.clone(),
        );
        let commit_seconds = Histogram::new(latency_buckets());
        registry.register(
            "commit_seconds",
            "Seconds from a submit's request to its commit",
            commit_seconds.clone(),
        );
        let mirror_height = Gauge::default();
        registry.register(
            "mirror_height",
            "The next block the mirror needs",
            mirror_height.clone(),
        );
        let ledger_height = Gauge::default();
        registry.register(
            "ledger_height",
            "The highest block the peer delivered, plus one",
            ledger_height.clone(),
        );
        let mirror_lag_seconds = Histogram::new(latency_buckets());
        registry.register(
            "mirror_lag_seconds",
            "Seconds from a transaction's creation to its block being in the mirror",
            mirror_lag_seconds.clone(),
        );
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Chaincode events published to NATS JetStream and acknowledged",
            events_published.clone(),
        );
        Self {
            registry: Arc::new(registry),
            calls,
            commit_seconds,
            mirror_height,
            ledger_height,
            mirror_lag_seconds,
            events_published,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts one call.
    pub fn count(&self, kind: &str, function: &str, outcome: &str) {
        self.calls
            .get_or_create(&CallLabels {
                kind: kind.to_owned(),
                function: function.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}
