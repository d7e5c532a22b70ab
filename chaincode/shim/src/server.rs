//! The chaincode-as-a-service server: `protos.Chaincode/Connect` on `CHAINCODE_SERVER_ADDRESS`, with
//! optional TLS and mutual TLS (ALPN h2, as Fabric's gRPC client requires), message limits large enough for
//! real payloads, keepalive compatible with the peer's 60 s pings, and a graceful drain on shutdown.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fabric_protos::protos::ChaincodeMessage;
use fabric_protos::protos::chaincode_server::{Chaincode as ChaincodeService, ChaincodeServer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use crate::chaincode::Chaincode;
use crate::handler::handle_stream;

/// Largest message accepted or sent (Fabric's peers allow 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;
/// How long in-flight transactions may take to finish after a shutdown signal.
pub const DRAIN_GRACE: Duration = Duration::from_secs(30);

/// The environment the server reads, with defaults.
pub const ENV_HELP: &str = "\
Environment:
  CHAINCODE_SERVER_ADDRESS      address to listen on                  [default: 0.0.0.0:7052]
  CHAINCODE_ID                  package id installed on the peer (label:hash); required
  CORE_CHAINCODE_ID_NAME        accepted instead of CHAINCODE_ID
  CHAINCODE_TLS_DISABLED        serve plaintext when true             [default: true]
  CHAINCODE_TLS_CERT            server certificate file (PEM)
  CHAINCODE_TLS_CERT_PEM        server certificate as PEM text
  CHAINCODE_TLS_KEY             server private key file (PEM)
  CHAINCODE_TLS_KEY_PEM         server private key as PEM text
  CHAINCODE_CLIENT_CA_CERT      CA file for client certificates: enables mutual TLS
  CHAINCODE_CLIENT_CA_CERT_PEM  the same as PEM text
  RUST_LOG                      log filter                            [default: info]";

/// TLS settings of the server.
#[derive(Clone)]
pub struct TlsSettings {
    /// Server certificate (PEM).
    pub cert_pem: Vec<u8>,
    /// Server private key (PEM).
    pub key_pem: Vec<u8>,
    /// CA for client certificates; set for mutual TLS.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub address: SocketAddr,
    /// The package id sent in REGISTER.
    pub chaincode_id: String,
    /// TLS, when enabled.
    pub tls: Option<TlsSettings>,
}

/// A configuration problem, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong.
    pub problem: String,
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the address failed.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS could not be configured.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A variable's value; unset and blank are the same (compose files often set `VAR=`).
fn lookup_var(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|value| !value.trim().is_empty())
}

/// A PEM from `pem_variable` (the text itself) or else `file_variable` (a path).
fn pem_from(
    lookup: &impl Fn(&str) -> Option<String>,
    file_variable: &'static str,
    pem_variable: &'static str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    if let Some(pem) = lookup_var(lookup, pem_variable) {
        return Ok(Some(pem.into_bytes()));
    }
    match lookup_var(lookup, file_variable) {
        Some(path) => std::fs::read(&path).map(Some).map_err(|error| ConfigError {
            variable: file_variable,
            problem: format!("cannot read {path}: {error}"),
        }),
        None => Ok(None),
    }
}

impl ServerConfig {
    /// Reads the configuration from the environment (see [`ENV_HELP`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `lookup` (a variable name to its value), e.g. a map in tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = |name: &str| lookup_var(&lookup, name);
        let address_text =
            env("CHAINCODE_SERVER_ADDRESS").unwrap_or_else(|| "0.0.0.0:7052".to_owned());
        let address = address_text.parse().map_err(|error| ConfigError {
            variable: "CHAINCODE_SERVER_ADDRESS",
            problem: format!("{address_text:?} is not a socket address: {error}"),
        })?;
        let chaincode_id = env("CHAINCODE_ID")
            .or_else(|| env("CORE_CHAINCODE_ID_NAME"))
            .ok_or(ConfigError {
                variable: "CHAINCODE_ID",
                problem: "required: the package id the peer installed (label:hash), or CORE_CHAINCODE_ID_NAME"
                    .to_owned(),
            })?;
        let disabled = match env("CHAINCODE_TLS_DISABLED")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => true,
            Some(value) if value == "true" || value == "1" => true,
            Some(value) if value == "false" || value == "0" => false,
            Some(other) => {
                return Err(ConfigError {
                    variable: "CHAINCODE_TLS_DISABLED",
                    problem: format!("{other:?} is not true or false"),
                });
            }
        };
        let tls = if disabled {
            None
        } else {
            let cert_pem = pem_from(&lookup, "CHAINCODE_TLS_CERT", "CHAINCODE_TLS_CERT_PEM")?
                .ok_or(ConfigError {
                    variable: "CHAINCODE_TLS_CERT",
                    problem:
                        "required when CHAINCODE_TLS_DISABLED=false (or CHAINCODE_TLS_CERT_PEM)"
                            .to_owned(),
                })?;
            let key_pem = pem_from(&lookup, "CHAINCODE_TLS_KEY", "CHAINCODE_TLS_KEY_PEM")?.ok_or(
                ConfigError {
                    variable: "CHAINCODE_TLS_KEY",
                    problem:
                        "required when CHAINCODE_TLS_DISABLED=false (or CHAINCODE_TLS_KEY_PEM)"
                            .to_owned(),
                },
            )?;
            let client_ca_pem = pem_from(
                &lookup,
                "CHAINCODE_CLIENT_CA_CERT",
                "CHAINCODE_CLIENT_CA_CERT_PEM",
            )?;
            Some(TlsSettings {
                cert_pem,
                key_pem,
                client_ca_pem,
            })
        };
        Ok(Self {
            address,
            chaincode_id,
            tls,
        })
    }
}

struct ConnectService<C> {
    chaincode: Arc<C>,
    chaincode_id: String,
    shutdown: watch::Receiver<bool>,
}

type MessageStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl<C: Chaincode> ChaincodeService for ConnectService<C> {
    type ConnectStream = MessageStream;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<MessageStream>, Status> {
        let inbound = request.into_inner();
        let (outbound, receiver) = mpsc::channel::<ChaincodeMessage>(256);
        tokio::spawn(handle_stream(
            Arc::clone(&self.chaincode),
            self.chaincode_id.clone(),
            inbound,
            outbound,
            self.shutdown.clone(),
        ));
        let stream =
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(receiver), Ok);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Binds `config.address` and serves until `shutdown` completes.
pub async fn serve<C: Chaincode>(
    config: ServerConfig,
    chaincode: C,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = TcpListener::bind(config.address)
        .await
        .map_err(|source| ServerError::Bind {
            address: config.address,
            source,
        })?;
    serve_with_listener(listener, config, chaincode, shutdown).await
}

/// Serves on an already-bound listener (tests bind port 0) until `shutdown` completes, then lets the
/// transactions in flight finish (at most [`DRAIN_GRACE`]) before closing the streams.
pub async fn serve_with_listener<C: Chaincode>(
    listener: TcpListener,
    config: ServerConfig,
    chaincode: C,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (drain, draining) = watch::channel(false);
    let service = ConnectService {
        chaincode: Arc::new(chaincode),
        chaincode_id: config.chaincode_id.clone(),
        shutdown: draining,
    };
    let mut builder = Server::builder()
        .tcp_nodelay(true)
        // The peer pings every 60 s; answer pings and keep idle connections, never GOAWAY them.
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if let Some(tls) = &config.tls {
        let mut tls_config =
            ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
        if let Some(ca) = &tls.client_ca_pem {
            tls_config = tls_config.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder
            .tls_config(tls_config)
            .map_err(|error| ServerError::Tls(error.to_string()))?;
    }
    let server = ChaincodeServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    // Our own listener bypasses the builder's TCP settings: set TCP_NODELAY on accepted sockets here.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let (signalled, signal) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        shutdown.await;
        tracing::info!("Shutting down: draining transactions in flight");
        let _ = drain.send(true);
        let _ = signalled.send(());
    };
    let served = builder
        .add_service(server)
        .serve_with_incoming_shutdown(incoming, stop);
    tokio::pin!(served);
    // Streams close once their transactions are done; do not wait forever for a stuck one.
    let grace = async {
        if signal.await.is_ok() {
            tokio::time::sleep(DRAIN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = &mut served => served?,
        () = grace => tracing::warn!("Drain grace period elapsed; closing remaining streams"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        ServerConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_the_package_id() {
        let defaults = config(&[("CHAINCODE_ID", "reciprocal:abc")]).unwrap();
        assert_eq!(defaults.address, "0.0.0.0:7052".parse().unwrap());
        assert_eq!(defaults.chaincode_id, "reciprocal:abc");
        assert!(defaults.tls.is_none(), "TLS is off unless asked for");
        // The legacy variable is accepted; CHAINCODE_ID wins when both are set.
        let legacy = config(&[("CORE_CHAINCODE_ID_NAME", "cc:1")]).unwrap();
        assert_eq!(legacy.chaincode_id, "cc:1");
        let both = config(&[("CORE_CHAINCODE_ID_NAME", "cc:1"), ("CHAINCODE_ID", "cc:2")]).unwrap();
        assert_eq!(both.chaincode_id, "cc:2");
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            config(&[("CHAINCODE_ID", " ")]).unwrap_err().variable,
            "CHAINCODE_ID"
        );
        let address = config(&[
            ("CHAINCODE_ID", "cc:1"),
            ("CHAINCODE_SERVER_ADDRESS", "localhost"),
        ])
        .unwrap_err();
        assert_eq!(address.variable, "CHAINCODE_SERVER_ADDRESS");
        assert!(address.problem.contains("\"localhost\""), "{address}");
        let flag =
            config(&[("CHAINCODE_ID", "cc:1"), ("CHAINCODE_TLS_DISABLED", "no")]).unwrap_err();
        assert_eq!(flag.variable, "CHAINCODE_TLS_DISABLED");
        let tls = [
            ("CHAINCODE_ID", "cc:1"),
            ("CHAINCODE_TLS_DISABLED", "false"),
        ];
        assert_eq!(config(&tls).unwrap_err().variable, "CHAINCODE_TLS_CERT");
        let missing_file = config(&[
            ("CHAINCODE_ID", "cc:1"),
            ("CHAINCODE_TLS_DISABLED", "FALSE"),
            ("CHAINCODE_TLS_CERT", "/nonexistent/server.crt"),
        ])
        .unwrap_err();
        assert_eq!(missing_file.variable, "CHAINCODE_TLS_CERT");
        assert!(missing_file.problem.contains("/nonexistent/server.crt"));
    }

    #[test]
    fn tls_material_comes_from_pem_text_or_files() {
        let dir = std::env::temp_dir().join(format!("shim-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("server.key");
        std::fs::write(&key_file, "KEY FROM FILE").unwrap();
        let config = config(&[
            ("CHAINCODE_ID", "cc:1"),
            ("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:9999"),
            ("CHAINCODE_TLS_DISABLED", "false"),
            ("CHAINCODE_TLS_CERT_PEM", "CERT TEXT"),
            ("CHAINCODE_TLS_KEY", key_file.to_str().unwrap()),
            ("CHAINCODE_CLIENT_CA_CERT_PEM", "CA TEXT"),
        ])
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_pem, b"CERT TEXT");
        assert_eq!(tls.key_pem, b"KEY FROM FILE");
        assert_eq!(tls.client_ca_pem.as_deref(), Some(&b"CA TEXT"[..]));
        assert_eq!(config.address.port(), 9999);
    }

    #[test]
    fn help_lists_every_variable() {
        for variable in [
            "CHAINCODE_SERVER_ADDRESS",
            "CHAINCODE_ID",
            "CORE_CHAINCODE_ID_NAME",
            "CHAINCODE_TLS_DISABLED",
            "CHAINCODE_TLS_CERT",
            "CHAINCODE_TLS_CERT_PEM",
            "CHAINCODE_TLS_KEY",
            "CHAINCODE_TLS_KEY_PEM",
            "CHAINCODE_CLIENT_CA_CERT",
            "CHAINCODE_CLIENT_CA_CERT_PEM",
        ] {
            assert!(ENV_HELP.contains(&format!("  {variable} ")), "{variable}");
        }
    }
}
