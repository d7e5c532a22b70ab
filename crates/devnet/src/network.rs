//! A dev network on disk (`devnet init`) and running (`devnet start`): the directory layout, the settings
//! recorded at init, and the wiring of ledger, orderer, chaincode link and gRPC services.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::chaincode_link::{ChaincodeLink, ChaincodeLinkConfig};
use crate::channel_msp::ChannelMsps;
use crate::crypto::{self, DemoUser, InitError, OrgLayout};
use crate::deliver::DeliverService;
use crate::gateway::GatewayService;
use crate::genesis::{ChannelSettings, channel_config, genesis_block};
use crate::ledger::Ledger;
use crate::orderer::{self, BatchConfig, OrdererContext};
use crate::peer::Peer;

/// How long `stop` waits for connections to close before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Name of the settings file `devnet init` writes in the network directory.
pub const SETTINGS_FILE: &str = "devnet.json";

/// What `devnet init` decided, read back by `devnet start`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Channel name.
    pub channel: String,
    /// Chaincode name.
    pub chaincode: String,
    /// Application org MSP id.
    pub msp_id: String,
    /// Application org domain.
    pub org_domain: String,
    /// Orderer org MSP id.
    pub orderer_msp_id: String,
    /// Orderer org domain.
    pub orderer_domain: String,
    /// Demo clubs that have identities.
    pub clubs: Vec<String>,
    /// Demo users: enrollment id → (club, role).
    pub users: Vec<DemoUserSettings>,
}

/// A demo user as recorded in the settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoUserSettings {
    /// Enrollment id (folder `users/<name>@<domain>`).
    pub name: String,
    /// The `club` attribute.
    pub club: Option<String>,
    /// The `role` attribute.
    pub role: String,
    /// The user's MSP folder.
    pub msp_dir: PathBuf,
}

/// The paths of a dev network directory.
#[derive(Debug, Clone)]
pub struct NetworkLayout {
    /// The network directory.
    pub dir: PathBuf,
    /// Settings from init.
    pub settings: NetworkSettings,
    /// The application org.
    pub org: OrgLayout,
    /// The orderer org.
    pub orderer: OrgLayout,
}

impl NetworkLayout {
    /// Reads the layout of an initialised network directory.
    pub fn open(dir: &Path) -> Result<Self, StartError> {
        let path = dir.join(SETTINGS_FILE);
        let bytes = std::fs::read(&path).map_err(|source| StartError::NotInitialised {
            dir: dir.to_path_buf(),
            source,
        })?;
        let settings: NetworkSettings =
            serde_json::from_slice(&bytes).map_err(|error| StartError::Settings {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            org: OrgLayout::peer_org(dir, &settings.org_domain),
            orderer: OrgLayout::orderer_org(dir, &settings.orderer_domain),
            dir: dir.to_path_buf(),
            settings,
        })
    }

    /// The MSP folder of a demo or standard user (`Admin`, `User1`, `clubadmin-alpha`, …).
    pub fn user_msp(&self, name: &str) -> PathBuf {
        self.org.user_msp(name)
    }

    /// The directory holding the channel's block file.
    pub fn ledger_dir(&self) -> PathBuf {
        self.dir.join("ledger").join(&self.settings.channel)
    }
}

/// Creates a dev network in `dir`: crypto material for Org1 (peer, admin, a user, and a network admin plus
/// a club admin and a front desk per club) and the orderer org, and the settings file.
pub fn init(dir: &Path, clubs: &[String]) -> Result<NetworkLayout, InitError> {
    let users: Vec<DemoUser> = crypto::demo_users(clubs);
    let settings = NetworkSettings {
        channel: "reciprocal".to_owned(),
        chaincode: "reciprocal".to_owned(),
        msp_id: "Org1MSP".to_owned(),
        org_domain: "org1.example.com".to_owned(),
        orderer_msp_id: "OrdererMSP".to_owned(),
        orderer_domain: "example.com".to_owned(),
        clubs: clubs.to_vec(),
        users: Vec::new(),
    };
    crypto::write_network(dir, &settings.org_domain, &settings.orderer_domain, &users)?;
    let org = OrgLayout::peer_org(dir, &settings.org_domain);
    let settings = NetworkSettings {
        users: users
            .iter()
            .map(|user| DemoUserSettings {
                name: user.name.clone(),
                club: user.club.clone(),
                role: user.role.clone(),
                msp_dir: org.user_msp(&user.name),
            })
            .collect(),
        ..settings
    };
    let path = dir.join(SETTINGS_FILE);
    let json = serde_json::to_vec_pretty(&settings).map_err(|error| InitError::Write {
        path: path.clone(),
        source: std::io::Error::other(error),
    })?;
    std::fs::write(&path, json).map_err(|source| InitError::Write { path, source })?;
    Ok(NetworkLayout {
        orderer: OrgLayout::orderer_org(dir, &settings.orderer_domain),
        org,
        dir: dir.to_path_buf(),
        settings,
    })
}

/// How to run a dev network.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The network directory (from `devnet init`).
    pub dir: PathBuf,
    /// Where the Gateway and Deliver services listen.
    pub listen: SocketAddr,
    /// How to reach the chaincode server.
    pub chaincode: ChaincodeLinkConfig,
    /// Block cutting.
    pub batch: BatchConfig,
    /// Serve TLS with the peer's TLS certificate (`peers/peer0.<domain>/tls`).
    pub tls: bool,
}

impl DevnetConfig {
    /// The defaults of the design: 127.0.0.1:7051, chaincode at 127.0.0.1:7052 with id `reciprocal:dev`,
    /// blocks of at most 500 transactions cut after at most 10 ms, plaintext.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 7051)),
            chaincode: ChaincodeLinkConfig::default(),
            batch: BatchConfig {
                max_transactions: 500,
                timeout: Duration::from_millis(10),
            },
            tls: false,
        }
    }
}

/// Why the dev network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The directory holds no network.
    #[error("{dir} holds no dev network (run `devnet init {dir}` first): {source}", dir = .dir.display())]
    NotInitialised {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The settings file is malformed.
    #[error("{path}: {reason}", path = .path.display())]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Loading an MSP or identity failed.
    #[error("{0}")]
    Identity(String),
    /// The ledger could not be opened or written.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// Binding or serving failed.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A running dev network.
#[derive(Debug)]
pub struct RunningDevnet {
    /// Where the services listen.
    pub address: SocketAddr,
    /// The network's layout.
    pub layout: NetworkLayout,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    orderer: JoinHandle<Result<(), crate::ledger::LedgerError>>,
}

impl RunningDevnet {
    /// Stops serving, lets the orderer commit what it holds, and waits for both.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Clients that keep idle connections open would hold a graceful shutdown forever.
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        let _ = (&mut self.orderer).await;
    }

    /// Waits until the server stops (it stops on its own only on error).
    pub async fn wait(&mut self) -> Result<(), String> {
        tokio::select! {
            served = &mut self.server => served.map_err(|e| e.to_string())?.map_err(|e| e.to_string()),
            ordered = &mut self.orderer => ordered.map_err(|e| e.to_string())?.map_err(|e| e.to_string()),
        }
    }
}

/// Starts the dev network: opens (or creates) the ledger, starts the orderer and serves Gateway and Deliver
/// on `listener` (or on `config.listen`).
pub async fn start(
    config: DevnetConfig,
    listener: Option<TcpListener>,
) -> Result<RunningDevnet, StartError> {
    let layout = NetworkLayout::open(&config.dir)?;
    let settings = &layout.settings;
    let identity_error = |error: &dyn std::fmt::Display| StartError::Identity(error.to_string());

    let msps = Arc::new(
        ChannelMsps::load(
            &layout.org.msp_dir,
            &settings.msp_id,
            &layout.orderer.msp_dir,
            &settings.orderer_msp_id,
        )
        .map_err(|e| identity_error(&e))?,
    );
    let (peer_identity, peer_signer) =
        crate::channel_msp::signing_identity(&layout.org.peer_msp("peer0"), &settings.msp_id)
            .map_err(|e| identity_error(&e))?;
    let (orderer_identity, orderer_signer) = crate::channel_msp::signing_identity(
        &layout.orderer.orderer_msp("orderer"),
        &settings.orderer_msp_id,
    )
    .map_err(|e| identity_error(&e))?;

    let (ledger, recovery) = Ledger::open(&layout.ledger_dir())?;
    if recovery.truncated_bytes > 0 {
        tracing::warn!(
            bytes = recovery.truncated_bytes,
            blocks = recovery.blocks,
            "Cut off a torn block write left by a crash"
        );
    }
    if ledger.height() == 0 {
        let definition = |msp_dir: &Path, msp_id: &str| {
            crate::channel_msp::org_definition(msp_dir, msp_id).map_err(|e| identity_error(&e))
        };
        let config_tree = channel_config(
            &ChannelSettings {
                channel_id: settings.channel.clone(),
                orderer_endpoint: format!("orderer.{}:7050", settings.orderer_domain),
                max_message_count: config.batch.max_transactions as u32,
                batch_timeout: format!("{}ms", config.batch.timeout.as_millis()),
            },
            &definition(&layout.org.msp_dir, &settings.msp_id)?,
            &definition(&layout.orderer.msp_dir, &settings.orderer_msp_id)?,
        );
        let genesis = genesis_block(
            &settings.channel,
            config_tree,
            fabric_sdk::gateway::now(),
            fabric_sdk::txid::new_nonce(),
        );
        let transactions = crate::ledger::committed_transactions(&genesis)
            .map_err(|reason| crate::ledger::LedgerError::BadBlock { block: 0, reason })?;
        ledger.commit(&genesis, transactions)?;
    }
    let ledger = Arc::new(ledger);

    let (submit, envelopes) = mpsc::channel(4096);
    let orderer = tokio::spawn(orderer::run(
        envelopes,
        Arc::clone(&ledger),
        OrdererContext {
            channel_id: settings.channel.clone(),
            chaincode: settings.chaincode.clone(),
            msps: Arc::clone(&msps),
            orderer_identity,
            orderer_signer,
        },
        config.batch,
    ));

    let listener = match listener {
        Some(listener) => listener,
        None => TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                address: config.listen,
                source,
            })?,
    };
    let address = listener.local_addr().map_err(|source| StartError::Listen {
        address: config.listen,
        source,
    })?;

    let (stopping, shutdown_watch) = tokio::sync::watch::channel(false);
    let peer = Arc::new(Peer {
        channel_id: settings.channel.clone(),
        chaincode: settings.chaincode.clone(),
        chaincode_version: "1.0".to_owned(),
        address: address.to_string(),
        msps,
        ledger,
        peer_identity,
        peer_signer,
        submit,
        chaincode_link: ChaincodeLink::new(config.chaincode.clone(), settings.channel.clone()),
        shutdown: shutdown_watch,
    });

    let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
    if config.tls {
        let tls_dir = layout.org.peer_tls("peer0");
        let read = |name: &str| {
            std::fs::read(tls_dir.join(name))
                .map_err(|e| StartError::Tls(format!("{}: {e}", tls_dir.join(name).display())))
        };
        let identity =
            tonic::transport::Identity::from_pem(read("server.crt")?, read("server.key")?);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| StartError::Tls(e.to_string()))?;
    }
    let max = fabric_sdk::gateway::MAX_MESSAGE_SIZE;
    let router = builder
        .add_service(
            fabric_protos::gateway::gateway_server::GatewayServer::new(GatewayService::new(
                Arc::clone(&peer),
            ))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        )
        .add_service(
            fabric_protos::protos::deliver_server::DeliverServer::new(DeliverService::new(
                Arc::clone(&peer),
            ))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        );
    let (shutdown_sender, shutdown) = oneshot::channel::<()>();
    // Our own listener bypasses the builder's TCP settings: set TCP_NODELAY on accepted sockets here.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = shutdown.await;
        // End Deliver and event streams and commit-status waits, so connections can close.
        let _ = stopping.send(true);
    }));
    Ok(RunningDevnet {
        address,
        layout,
        shutdown: Some(shutdown_sender),
        server,
        orderer,
    })
}
