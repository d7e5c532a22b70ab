//! A dev network with the real reciprocal chaincode, both in this test process on ports chosen by the OS.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chaincode_shim::server::{ServerConfig, serve_with_listener};
use devnet::chaincode_link::ChaincodeLinkConfig;
use devnet::orderer::BatchConfig;
use devnet::{DevnetConfig, RunningDevnet, init, start};
use fabric_sdk::gateway::Gateway;
use fabric_sdk::msp::MspFolder;
use reciprocal_chaincode::ReciprocalContract;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

/// A running dev network and chaincode.
pub struct TestNetwork {
    pub dir: PathBuf,
    pub devnet: Option<RunningDevnet>,
    pub chaincode_address: String,
    chaincode_stop: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devnet-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts the reciprocal chaincode on a free port; returns its address and a stop handle.
pub async fn start_chaincode(chaincode_id: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        address,
        chaincode_id: chaincode_id.to_owned(),
        tls: None,
    };
    tokio::spawn(serve_with_listener(
        listener,
        config,
        ReciprocalContract,
        async {
            let _ = stopped.await;
        },
    ));
    (address.to_string(), stop)
}

impl TestNetwork {
    pub async fn start(name: &str) -> Self {
        Self::start_with(
            name,
            BatchConfig {
                max_transactions: 100,
                timeout: Duration::from_millis(10),
            },
        )
        .await
    }

    pub async fn start_with(name: &str, batch: BatchConfig) -> Self {
        let dir = temp_dir(name);
        init(
            &dir,
            &[
                "club-alpha".to_owned(),
                "club-beta".to_owned(),
                "club-gamma".to_owned(),
            ],
        )
        .unwrap();
        let (chaincode_address, stop) = start_chaincode("reciprocal:dev").await;
        let mut network = Self {
            dir,
            devnet: None,
            chaincode_address,
            chaincode_stop: Some(stop),
        };
        network.start_devnet(batch).await;
        network
    }

    /// (Re)starts devnet on the same directory.
    pub async fn start_devnet(&mut self, batch: BatchConfig) {
        self.start_devnet_with(batch, false).await;
    }

    /// (Re)starts devnet, serving TLS when `tls` is set.
    pub async fn start_devnet_with(&mut self, batch: BatchConfig, tls: bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = DevnetConfig {
            chaincode: ChaincodeLinkConfig {
                address: self.chaincode_address.clone(),
                ..ChaincodeLinkConfig::default()
            },
            batch,
            tls,
            ..DevnetConfig::new(self.dir.clone())
        };
        self.devnet = Some(start(config, Some(listener)).await.unwrap());
    }

    pub fn address(&self) -> String {
        format!("http://{}", self.devnet.as_ref().unwrap().address)
    }

    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.address())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A gateway acting as a demo user (`networkadmin`, `clubadmin-alpha`, `frontdesk-beta`, …).
    pub async fn gateway(&self, user: &str) -> Gateway {
        let layout = &self.devnet.as_ref().unwrap().layout;
        let folder = MspFolder::load(&layout.user_msp(user), "Org1MSP").unwrap();
        let signing = folder.signing_identity().unwrap();
        Gateway::new(
            self.channel().await,
            signing.identity().clone(),
            signing.signer(),
        )
    }

    pub fn block_file(&self) -> PathBuf {
        self.dir.join("ledger/reciprocal/blockfile_000000")
    }

    pub async fn stop_devnet(&mut self) {
        if let Some(devnet) = self.devnet.take() {
            devnet.stop().await;
        }
    }

    pub async fn stop(mut self) {
        self.stop_devnet().await;
        if let Some(stop) = self.chaincode_stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn shared<T>(value: T) -> Arc<T> {
    Arc::new(value)
}
