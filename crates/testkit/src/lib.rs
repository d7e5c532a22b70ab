//! What the services' tests start: a dev ledger driving the real chaincode in process, the blockchain
//! service in process (mirror in a fresh Postgres database, events to the machine's NATS under subjects
//! of the test's own), and more fresh databases on request. Everything listens on ports the OS picks.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use blockchain_service::server::{Config, run};
use devnet::RunningDevnet;
use devnet::embedded::start_embedded;
use platform::caller::{Caller, Role};
use reciprocal_chaincode::ReciprocalContract;
use sqlx::postgres::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The Postgres server the tests use (trust authentication).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// The NATS server the tests use.
pub const NATS: &str = "nats://127.0.0.1:4222";

/// A free local address: bound, read and released (the OS does not hand it out again at once).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("the bound address")
}

/// Waits until something listens on `addr` (at most 30 s).
pub async fn wait_listening(addr: SocketAddr) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {addr} after 30 s");
}

/// A plain HTTP/1.1 GET of `path` on `addr`; answers the whole response, status line included.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting for an HTTP GET");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sending the GET");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("reading the answer");
    response
}

/// What a service's `run` is given to wait on for its graceful stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service's `run` in a task of the test, stopped gracefully by [`Service::stop`].
#[derive(Debug)]
pub struct Service {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// Starts `run` with the shutdown signal and waits until it listens on every address of
    /// `listening`.
    pub async fn start<Fut>(run: impl FnOnce(Shutdown) -> Fut, listening: &[SocketAddr]) -> Self
    where
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(Box::pin(async move {
            let _ = stopped.await;
        })));
        for addr in listening {
            wait_listening(*addr).await;
        }
        Self { stop, task }
    }

    /// Asks the service to stop and answers how its `run` ended (an error after 30 s).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(panicked)) => Err(anyhow::anyhow!("the service's task failed: {panicked}")),
            Err(_) => Err(anyhow::anyhow!("the service did not stop within 30 s")),
        }
    }
}

/// Creates an empty database `name` (dropping an old one) and answers its URL.
pub async fn fresh_database(name: &str) -> Result<String, Failure> {
    let admin = PgPool::connect(&format!("{POSTGRES}/postgres")).await?;
    // Names come from the tests themselves, not from input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(format!("{POSTGRES}/{name}"))
}

/// Drops database `name`.
pub async fn drop_database(name: &str) {
    if let Ok(admin) = PgPool::connect(&format!("{POSTGRES}/postgres")).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// A caller as the API gateway would send it.
pub fn caller(role: Role, club: Option<&str>) -> Caller {
    Caller {
        request_id: "test-request".to_owned(),
        subject: format!("{role}-{}", club.unwrap_or("network")),
        role,
        club: club.map(str::to_owned),
        member: None,
    }
}

/// The network admin.
pub fn network_admin() -> Caller {
    caller(Role::NetworkAdmin, None)
}

/// A club's admin.
pub fn club_admin(club: &str) -> Caller {
    caller(Role::ClubAdmin, Some(club))
}

/// A club's front desk.
pub fn front_desk(club: &str) -> Caller {
    caller(Role::FrontDesk, Some(club))
}

/// A dev ledger and the blockchain service, for one test.
#[derive(Debug)]
pub struct Ledger {
    /// The dev network.
    pub devnet: RunningDevnet,
    /// Its folder.
    pub dir: PathBuf,
    /// The mirror's database URL.
    pub mirror_url: String,
    /// The blockchain service's gRPC URL (`http://…`).
    pub blockchain_url: String,
    /// The blockchain service's HTTP address.
    pub blockchain_http: SocketAddr,
    databases: Vec<String>,
    prefix: String,
    service: Option<Service>,
}

impl Ledger {
    /// Starts a dev ledger with demo identities for `clubs` (`club-alpha`, …; their admins and front
    /// desks, and the network admin) and the blockchain service acting with them. `name` keeps this
    /// test's databases, folders and event subjects apart from other tests'.
    pub async fn start(name: &str, clubs: &[&str]) -> Result<Self, Failure> {
        let prefix = format!("{name}_{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("testkit-{prefix}"));
        let devnet = start_embedded(&dir, clubs, ReciprocalContract, None).await?;
        let users = devnet
            .layout
            .user_msp("networkadmin")
            .parent()
            .and_then(|user| user.parent())
            .map(PathBuf::from)
            .ok_or("the dev network has no users folder")?;
        let mirror_db = format!("{prefix}_mirror");
        let mirror_url = fresh_database(&mirror_db).await?;
        let grpc = free_addr();
        let http = free_addr();
        let config = Config {
            http_addr: http,
            grpc_addr: grpc,
            peer_endpoint: devnet.address.to_string(),
            tls_root_cert: None,
            tls_server_name: None,
            channel: "reciprocal".to_owned(),
            chaincode: "reciprocal".to_owned(),
            wallet: vec![format!("Org1MSP={}", users.display()).parse()?],
            database_url: mirror_url.clone(),
            nats_url: NATS.to_owned(),
            events_stream: format!("TEST_{}", prefix.to_uppercase()),
            events_prefix: format!("test.{prefix}.events"),
            log_format: "text".to_owned(),
        };
        let service = Service::start(|shutdown| run(config, shutdown), &[grpc, http]).await;
        Ok(Self {
            devnet,
            dir,
            mirror_url,
            blockchain_url: format!("http://{grpc}"),
            blockchain_http: http,
            databases: vec![mirror_db],
            prefix,
            service: Some(service),
        })
    }

    /// Where a domain service finds this ledger.
    pub fn config(&self) -> platform::ledger::LedgerConfig {
        platform::ledger::LedgerConfig {
            mirror_database_url: self.mirror_url.clone(),
            mirror_connections: 8,
            blockchain_grpc_url: self.blockchain_url.clone(),
        }
    }

    /// A fresh database for this test, named after it and `purpose`; dropped by [`Ledger::stop`].
    pub async fn database(&mut self, purpose: &str) -> Result<String, Failure> {
        let name = format!("{}_{purpose}", self.prefix);
        let url = fresh_database(&name).await?;
        self.databases.push(name);
        Ok(url)
    }

    /// The JetStream subject prefix this test's events go to.
    pub fn events_prefix(&self) -> String {
        format!("test.{}.events", self.prefix)
    }

    /// Stops the service and the ledger, and drops the databases and the folder.
    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            let _ = service.stop().await;
        }
        self.devnet.stop().await;
        // The test's own JetStream stream goes too, so runs do not pile streams up on the server.
        if let Ok(client) = async_nats::connect(NATS).await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(format!("TEST_{}", self.prefix.to_uppercase()))
                .await;
        }
        for name in &self.databases {
            drop_database(name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
