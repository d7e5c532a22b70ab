//! The API gateway: the platform's public REST API under `/api/v1` (OpenAPI 3 at
//! `/api/v1/openapi.json`). It authenticates each request by a Hanko session JWT ([`auth`]), limits each
//! client's rate ([`limit`]), gives every request an id that travels to the services and comes back in
//! the answer, and routes to the member, reciprocal, governance and blockchain services over gRPC
//! ([`routes`]). Errors answer `{"error": {"code", "message", "request_id"}}` ([`error`]).

pub mod auth;
pub mod error;
pub mod limit;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use platform::ops::Metrics;
use reciprocal_api::v1::blockchain_client::BlockchainClient;
use reciprocal_api::v1::governance_client::GovernanceClient;
use reciprocal_api::v1::members_client::MembersClient;
use reciprocal_api::v1::reciprocal_client::ReciprocalClient;
use tonic::transport::Channel;

use crate::auth::{Authenticator, DevIssuer};
use crate::error::{ApiError, REQUEST_ID};
use crate::limit::RateLimiter;

/// The API gateway: the public REST API of the platform.
///
/// Every option can also be set from the environment variable shown.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "api-gateway", version)]
pub struct Config {
    /// HTTP address of the REST API, /healthz, /readyz and /metrics.
    #[arg(long, env = "GATEWAY_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// gRPC address: the standard health check (grpc.health.v1) only.
    #[arg(long, env = "GATEWAY_GRPC_ADDR", default_value = "127.0.0.1:9080")]
    pub grpc_addr: SocketAddr,
    /// Postgres database of the user mappings (created if missing).
    #[arg(
        long,
        env = "GATEWAY_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal_gateway"
    )]
    pub database_url: String,
    /// gRPC URL of the member service.
    #[arg(long, env = "MEMBER_GRPC_URL", default_value = "http://127.0.0.1:9082")]
    pub member_url: String,
    /// gRPC URL of the reciprocal service.
    #[arg(
        long,
        env = "RECIPROCAL_GRPC_URL",
        default_value = "http://127.0.0.1:9083"
    )]
    pub reciprocal_url: String,
    /// gRPC URL of the governance service.
    #[arg(
        long,
        env = "GOVERNANCE_GRPC_URL",
        default_value = "http://127.0.0.1:9087"
    )]
    pub governance_url: String,
    /// gRPC URL of the blockchain service (audit queries).
    #[arg(
        long,
        env = "BLOCKCHAIN_GRPC_URL",
        default_value = "http://127.0.0.1:9084"
    )]
    pub blockchain_url: String,
    /// JWKS of the identity provider that signs session tokens (Hanko's public API).
    #[arg(
        long,
        env = "JWKS_URL",
        default_value = "http://localhost:8000/.well-known/jwks.json"
    )]
    pub jwks_url: String,
    /// The audience session tokens must name (Hanko's relying party id).
    #[arg(long, env = "JWT_AUDIENCE", default_value = "localhost")]
    pub audience: String,
    /// Dev sign-in: the gateway signs its own tokens (POST /api/v1/dev/token) and trusts only them.
    /// Never in production.
    #[arg(
        long,
        env = "DEV_AUTH",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dev_auth: bool,
    /// The RSA key of dev sign-in (PKCS#8 PEM), created if missing.
    #[arg(long, env = "DEV_AUTH_KEY", default_value = ".state/dev-auth-key.pem")]
    pub dev_auth_key: PathBuf,
    /// With dev sign-in, the clubs whose demo users to add (<short>-admin and <short>-desk, and admin).
    #[arg(long, env = "DEV_CLUBS", value_delimiter = ',')]
    pub dev_clubs: Vec<String>,
    /// Requests per second each client may make on average (0: no limit).
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 50)]
    pub rate_limit_per_second: u32,
    /// Requests a client may make at once above the average.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// What the routes share.
#[derive(Debug, Clone)]
pub struct AppState {
    auth: Authenticator,
    limiter: RateLimiter,
    members: MembersClient<Channel>,
    reciprocal: ReciprocalClient<Channel>,
    governance: GovernanceClient<Channel>,
    blockchain: BlockchainClient<Channel>,
    metrics: Metrics,
    upstreams: Arc<Vec<(&'static str, Channel)>>,
}

impl AppState {
    fn members(&self) -> MembersClient<Channel> {
        self.members.clone()
    }

    fn reciprocal(&self) -> ReciprocalClient<Channel> {
        self.reciprocal.clone()
    }

    fn governance(&self) -> GovernanceClient<Channel> {
        self.governance.clone()
    }

    fn blockchain(&self) -> BlockchainClient<Channel> {
        self.blockchain.clone()
    }
}

/// The whole HTTP application: the REST API, the operational endpoints, request ids and metrics.
pub fn app(state: AppState) -> axum::Router {
    let ops = platform::ops::router(state.metrics.clone(), readiness(state.clone()));
    routes::api(state.clone())
        .fallback(|| async {
            ApiError::not_found("no such route; the API is described at /api/v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /api/v1/openapi.json",
            )
        })
        .merge(ops)
        .layer(axum::middleware::from_fn_with_state(state, frame))
}

fn readiness(state: AppState) -> platform::ops::ReadinessCheck {
    Arc::new(move || {
        let state = state.clone();
        Box::pin(async move {
            let mut checks = vec![(
                "database",
                sqlx::query("SELECT 1")
                    .execute(state.auth.pool())
                    .await
                    .is_ok(),
            )];
            for (name, channel) in state.upstreams.iter() {
                // The service's own answer to the standard gRPC health check.
                let mut health =
                    tonic_health::pb::health_client::HealthClient::new(channel.clone());
                let serving = tokio::time::timeout(
                    Duration::from_secs(1),
                    health.check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    }),
                )
                .await
                .is_ok_and(|answer| {
                    answer.is_ok_and(|answer| {
                        answer.into_inner().status
                            == tonic_health::pb::health_check_response::ServingStatus::Serving
                                as i32
                    })
                });
                checks.push((*name, serving));
            }
            checks
        })
    })
}

/// A request id (the client's, if it sent a sane one), the same on every hop, in every answer's
/// `x-request-id` and in error bodies; and the request counted by route and status.
async fn frame(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(platform::ledger::new_uuid);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let mut response = REQUEST_ID
        .scope(id.clone(), async move {
            // Text with a NUL or another control character is no id, date or cursor of ours, and the
            // databases behind would refuse it.
            if let Some(part) = control_character(request.uri()) {
                return ApiError::bad_request(format!(
                    "the {part} holds an encoded control character (such as %00); none is allowed"
                ))
                .into_response();
            }
            next.run(request).await
        })
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status();
    state
        .metrics
        .observe(&format!("{method} {route}"), status.as_str(), started);
    if status.is_server_error() {
        tracing::warn!(request_id = %id, %method, route, status = status.as_u16(), "request failed");
    }
    response
}

/// Which part of `uri`, `path` or `query`, percent-encodes a control character (U+0000–U+001F, U+007F).
fn control_character(uri: &axum::http::Uri) -> Option<&'static str> {
    let encodes_one = |text: &str| {
        text.as_bytes().windows(3).any(|window| {
            window[0] == b'%'
                && std::str::from_utf8(&window[1..])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .is_some_and(|byte| byte < 0x20 || byte == 0x7f)
        })
    };
    if encodes_one(uri.path()) {
        Some("path")
    } else if uri.query().is_some_and(encodes_one) {
        Some("query")
    } else {
        None
    }
}

/// Runs the gateway until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    platform::db::ensure_database(&config.database_url).await?;
    let pool = platform::db::connect(&config.database_url, 8).await?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .context("migrating the gateway's database")?;
    let dev = if config.dev_auth {
        let issuer = DevIssuer::load_or_create(&config.dev_auth_key)?;
        auth::seed_demo_users(&pool, &config.dev_clubs).await?;
        tracing::warn!(
            key = %config.dev_auth_key.display(),
            "DEV_AUTH is on: the gateway signs its own tokens (POST /api/v1/dev/token). Never in production."
        );
        Some(issuer)
    } else {
        None
    };
    let auth = Authenticator::new(&config.jwks_url, dev, &config.audience, pool.clone())?;
    let channel = platform::ledger::channel;
    let member = channel(&config.member_url)?;
    let reciprocal = channel(&config.reciprocal_url)?;
    let governance = channel(&config.governance_url)?;
    let blockchain = channel(&config.blockchain_url)?;
    let state = AppState {
        auth,
        limiter: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
        members: MembersClient::new(member.clone()),
        reciprocal: ReciprocalClient::new(reciprocal.clone()),
        governance: GovernanceClient::new(governance.clone()),
        blockchain: BlockchainClient::new(blockchain.clone()),
        metrics: Metrics::new("api_gateway"),
        upstreams: Arc::new(vec![
            ("member", member),
            ("reciprocal", reciprocal),
            ("governance", governance),
            ("blockchain", blockchain),
        ]),
    };
    tracing::info!(
        dev_auth = config.dev_auth,
        "API gateway: REST on HTTP, the gRPC port answers health checks only"
    );
    let metrics = state.metrics.clone();
    let served = platform::serve::serve(
        "API gateway",
        config.grpc_addr,
        tonic::service::Routes::default(),
        config.http_addr,
        app(state),
        metrics,
        shutdown,
    )
    .await;
    pool.close().await;
    served
}
