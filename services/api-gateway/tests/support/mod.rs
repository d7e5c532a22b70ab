//! The whole platform in one process for the gateway's end-to-end tests and benchmark: a dev ledger with
//! the real chaincode, the blockchain service, the member, reciprocal and governance services and the
//! gateway with dev sign-in, against the machine's Postgres and NATS, on ports the OS picks.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The demo clubs the ledger has identities for.
pub const CLUBS: [&str; 3] = ["club-alpha", "club-beta", "club-gamma"];

/// An answer of the API.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub request_id: Option<String>,
}

impl Reply {
    /// The error message of an error answer.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// The running platform.
pub struct Stack {
    pub ledger: testkit::Ledger,
    pub base: String,
    /// The gateway's gRPC address (health only).
    pub grpc: std::net::SocketAddr,
    pub client: reqwest::Client,
    dir: PathBuf,
    gateway_db: String,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

fn spawn<F>(
    stops: &mut Vec<oneshot::Sender<()>>,
    start: impl FnOnce(oneshot::Receiver<()>) -> F,
) -> JoinHandle<anyhow::Result<()>>
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    stops.push(stop);
    tokio::spawn(start(stopped))
}

async fn until(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

impl Stack {
    /// Starts everything; `rate_limit` requests per second per client (0: none).
    pub async fn start(name: &str, rate_limit: u32) -> Self {
        let mut ledger = testkit::Ledger::start(name, &CLUBS).await.unwrap();
        let members_db = ledger.database("members").await.unwrap();
        let gateway_db = format!("{name}_{}_gateway", std::process::id());
        let gateway_url = testkit::fresh_database(&gateway_db).await.unwrap();
        let dir = std::env::temp_dir().join(format!("gateway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut stops = Vec::new();
        let mut tasks = Vec::new();

        let member = member_service::Config {
            http_addr: testkit::free_addr(),
            grpc_addr: testkit::free_addr(),
            database_url: members_db,
            ledger: ledger.config(),
            log_format: "text".to_owned(),
        };
        let member_grpc = member.grpc_addr;
        tasks.push(spawn(&mut stops, |stopped| {
            member_service::run(member, until(stopped))
        }));
        let reciprocal = reciprocal_service::Config {
            http_addr: testkit::free_addr(),
            grpc_addr: testkit::free_addr(),
            ledger: ledger.config(),
            member_grpc_url: format!("http://{member_grpc}"),
            log_format: "text".to_owned(),
        };
        let reciprocal_grpc = reciprocal.grpc_addr;
        tasks.push(spawn(&mut stops, |stopped| {
            reciprocal_service::run(reciprocal, until(stopped))
        }));
        let governance = governance_service::Config {
            http_addr: testkit::free_addr(),
            grpc_addr: testkit::free_addr(),
            ledger: ledger.config(),
            log_format: "text".to_owned(),
        };
        let governance_grpc = governance.grpc_addr;
        tasks.push(spawn(&mut stops, |stopped| {
            governance_service::run(governance, until(stopped))
        }));
        let gateway = api_gateway::Config {
            http_addr: testkit::free_addr(),
            grpc_addr: testkit::free_addr(),
            database_url: gateway_url,
            member_url: format!("http://{member_grpc}"),
            reciprocal_url: format!("http://{reciprocal_grpc}"),
            governance_url: format!("http://{governance_grpc}"),
            blockchain_url: ledger.blockchain_url.clone(),
            jwks_url: "http://127.0.0.1:9/unused".to_owned(),
            audience: "localhost".to_owned(),
            dev_auth: true,
            dev_auth_key: dir.join("dev-auth-key.pem"),
            dev_clubs: CLUBS.iter().map(|club| (*club).to_owned()).collect(),
            rate_limit_per_second: rate_limit,
            rate_limit_burst: rate_limit.saturating_mul(2),
            log_format: "text".to_owned(),
        };
        let http = gateway.http_addr;
        let grpc = gateway.grpc_addr;
        tasks.push(spawn(&mut stops, |stopped| {
            api_gateway::run(gateway, until(stopped))
        }));
        for addr in [member_grpc, reciprocal_grpc, governance_grpc, http] {
            testkit::wait_listening(addr).await;
        }
        Self {
            ledger,
            base: format!("http://{http}"),
            grpc,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            dir,
            gateway_db,
            stops,
            tasks,
        }
    }

    /// A dev sign-in token for demo user `user`.
    pub async fn token(&self, user: &str) -> String {
        let reply = self
            .call(
                None,
                Method::POST,
                "/api/v1/dev/token",
                Some(serde_json::json!({"user": user})),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["token"].as_str().unwrap().to_owned()
    }

    /// Calls the API.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// GETs `path` and reads the whole answer without parsing it; answers the status and the body's size.
    pub async fn fetch(&self, token: &str, path: &str) -> (u16, usize) {
        match self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                let size = response.bytes().await.map_or(0, |body| body.len());
                (status, size)
            }
            Err(_) => (0, 0),
        }
    }

    /// Sends a request built by the caller (raw bodies, odd headers).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            request_id,
        }
    }

    /// Stops everything and drops its databases.
    pub async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.ledger.stop().await;
        testkit::drop_database(&self.gateway_db).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
