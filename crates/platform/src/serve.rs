//! Serving a service: its gRPC API and its HTTP endpoints side by side, both stopping gracefully on one
//! signal, with every gRPC call counted in the service's metrics.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codegen::http;

use crate::ops::Metrics;

/// Binds `addr`, naming it in the error.
async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// Serves `routes` over gRPC on `grpc_addr` and `http_router` on `http_addr` until `shutdown`
/// completes, then lets requests in flight finish (at most 30 s). The gRPC server also answers the
/// standard health protocol (`grpc.health.v1.Health`): SERVING until the shutdown begins.
pub async fn serve(
    name: &str,
    grpc_addr: SocketAddr,
    routes: tonic::service::Routes,
    http_addr: SocketAddr,
    http_router: axum::Router,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let grpc = bind(grpc_addr, "gRPC").await?;
    let http = bind(http_addr, "HTTP").await?;
    // The addresses bound (a port 0 asked for any).
    let (grpc_addr, http_addr) = (grpc.local_addr()?, http.local_addr()?);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let routes = routes.add_service(health_service);
    let (stop_sender, stop) = watch::channel(false);
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let mut grpc_task = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(MetricsLayer { metrics })
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc),
                stopped(stop.clone()),
            ),
    );
    let mut http_task = tokio::spawn(std::future::IntoFuture::into_future(
        // The client's address is there for handlers that want it (rate limits of anonymous clients).
        axum::serve(
            http,
            http_router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop.clone())),
    ));
    tracing::info!(http = %http_addr, grpc = %grpc_addr, "{name} started");
    let failure = tokio::select! {
        () = shutdown => None,
        result = &mut grpc_task => Some(format!("gRPC server stopped: {result:?}")),
        result = &mut http_task => Some(format!("HTTP server stopped: {result:?}")),
    };
    tracing::info!("{name} shutting down");
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let _ = stop_sender.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = grpc_task.await;
        let _ = http_task.await;
    })
    .await;
    match failure {
        Some(failure) => anyhow::bail!(failure),
        None => Ok(()),
    }
}

/// Counts each gRPC call by method and status code.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        // Everything the call logs carries its method and the request id the gateway gave it.
        let span = tracing::info_span!(
            "grpc",
            method = %method,
            request_id = request
                .headers()
                .get(crate::caller::REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default(),
        );
        let answer = span.in_scope(|| self.inner.call(request));
        Box::pin(tracing::Instrument::instrument(
            async move {
                let result = answer.await;
                let code = match &result {
                    // An error answer carries grpc-status in its headers; a streamed success in trailers.
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("0")
                        .to_owned(),
                    Err(_) => "transport".to_owned(),
                };
                metrics.observe(&method, &code, started);
                if code != "0" {
                    tracing::info!(code, "gRPC call refused or failed");
                }
                result
            },
            span,
        ))
    }
}
