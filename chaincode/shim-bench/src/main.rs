//! Drives two chaincode servers with the same peer-side driver and workload over loopback and prints one
//! table: our shim (`chaincode-shim`) and the `fabric-shim` crate from crates.io, each serving an
//! equivalent minimal contract: `CheckIn(member)` reads a counter and writes it and a visit record;
//! `Read(key)` reads one key. The mix is one check-in to three reads, 64 transactions in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chaincode_driver::{Connection, Invocation, LedgerView, MemoryLedger};
use fabric_protos::kvrwset::Version;
use fabric_protos::protos::ChaincodeInput;
use fabric_sdk::gateway::{ProposalSpec, build_signed_proposal};
use fabric_sdk::identity::Identity;
use fabric_sdk::signer::EcdsaP256Signer;
use tokio::net::TcpListener;

/// Our shim's contract.
struct Ours;

impl chaincode_shim::Chaincode for Ours {
    async fn init<S: chaincode_shim::ChaincodeStub>(&self, _stub: &mut S) -> fabric_protos::protos::Response {
        chaincode_shim::success(Vec::new())
    }

    async fn invoke<S: chaincode_shim::ChaincodeStub>(&self, stub: &mut S) -> fabric_protos::protos::Response {
        let args: Vec<String> = stub.args().iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let result = match args.first().map(String::as_str) {
            Some("CheckIn") => {
                let counter = format!("count-{}", args[1]);
                let count: u64 = match stub.get_state(&counter).await {
                    Ok(value) => value.and_then(|v| String::from_utf8(v).ok()?.parse().ok()).unwrap_or(0),
                    Err(error) => return chaincode_shim::error(500, error.to_string()),
                };
                let visit = format!("visit-{}-{count}", args[1]);
                match async {
                    stub.put_state(&counter, (count + 1).to_string().into_bytes()).await?;
                    stub.put_state(&visit, b"{\"status\":\"checked_in\"}".to_vec()).await
                }
                .await
                {
                    Ok(()) => Ok(count.to_string().into_bytes()),
                    Err(error) => Err(error.to_string()),
                }
            }
            Some("Read") => stub.get_state(&args[1]).await.map(Option::unwrap_or_default).map_err(|e| e.to_string()),
            _ => Err("unknown function".to_owned()),
        };
        match result {
            Ok(payload) => chaincode_shim::success(payload),
            Err(message) => chaincode_shim::error(500, message),
        }
    }
}

/// The same contract on the crates.io shim.
struct Theirs;

#[fabric_shim::async_trait]
impl fabric_shim::Chaincode for Theirs {
    async fn invoke(&self, stub: fabric_shim::ChaincodeStub) -> fabric_shim::Response {
        let args = stub.get_string_args();
        let result: Result<Vec<u8>, String> = match args.first().map(String::as_str) {
            Some("CheckIn") => {
                let counter = format!("count-{}", args[1]);
                let count: u64 = match stub.get_state(&counter).await {
                    Ok(value) => String::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(0),
                    Err(error) => return fabric_shim::Response::error(error.to_string()),
                };
                let visit = format!("visit-{}-{count}", args[1]);
                match async {
                    stub.put_state(&counter, (count + 1).to_string().into_bytes()).await?;
                    stub.put_state(&visit, b"{\"status\":\"checked_in\"}".to_vec()).await
                }
                .await
                {
                    Ok(()) => Ok(count.to_string().into_bytes()),
                    Err(error) => Err(error.to_string()),
                }
            }
            Some("Read") => stub.get_state(&args[1]).await.map_err(|e| e.to_string()),
            _ => Err("unknown function".to_owned()),
        };
        match result {
            Ok(payload) => fabric_shim::Response::success(payload),
            Err(message) => fabric_shim::Response::error(message),
        }
    }
}

fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            Some((fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

struct Row {
    transactions: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_1000: f64,
}

async fn drive(address: String, seconds: u64) -> Row {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let connection = Arc::new(Connection::connect(channel, "bench:1", Duration::from_secs(30)).await.expect("register"));
    let ledger = Arc::new(MemoryLedger::new());
    for i in 0..1000 {
        ledger.put("bench", &format!("key-{i}"), b"value", Version { block_num: 1, tx_num: 0 }, "seed");
    }
    let (signer, pkcs8) = EcdsaP256Signer::generate().expect("key");
    let _ = pkcs8;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()]).expect("params").self_signed(&key).expect("cert");
    let identity = Identity { msp_id: "Org1MSP".to_owned(), cert_pem: cert.pem().into_bytes() };
    let creator = identity.serialize();
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let signer = Arc::new(signer);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (connection, ledger, counter, signer, creator) =
            (Arc::clone(&connection), Arc::clone(&ledger), Arc::clone(&counter), Arc::clone(&signer), creator.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let args: Vec<String> = if n % 4 == 0 {
                    vec!["CheckIn".to_owned(), format!("member-{}", n % 500)]
                } else {
                    vec!["Read".to_owned(), format!("key-{}", n % 1000)]
                };
                let spec = ProposalSpec {
                    channel: "reciprocal".to_owned(),
                    chaincode: "bench".to_owned(),
                    function: args[0].clone(),
                    args: vec![args[1].clone().into_bytes()],
                    transient: Default::default(),
                };
                let bundle = build_signed_proposal(&spec, &creator, signer.as_ref()).expect("proposal");
                let invocation = Invocation {
                    channel_id: "reciprocal".to_owned(),
                    tx_id: bundle.tx_id,
                    signed_proposal: bundle.signed,
                    input: ChaincodeInput { args: args.iter().map(|a| a.clone().into_bytes()).collect(), ..Default::default() },
                    is_init: false,
                };
                let begin = Instant::now();
                match connection.execute(invocation, "bench", ledger.as_ref() as &dyn LedgerView).await {
                    Ok(result) if result.response.status == 200 => latencies.push(begin.elapsed()),
                    Ok(result) => eprintln!("transaction failed: {}", result.response.message),
                    Err(error) => eprintln!("transaction failed: {error}"),
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    latencies.sort();
    let pick = |p: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or_default();
    Row {
        transactions: latencies.len(),
        rate: latencies.len() as f64 / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
        cpu_per_1000: cpu / latencies.len().max(1) as f64 * 1000.0,
    }
}

#[tokio::main]
async fn main() {
    let seconds = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);

    let ours = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ours_address = ours.local_addr().expect("address");
    let config = chaincode_shim::ServerConfig { address: ours_address, chaincode_id: "bench:1".to_owned(), tls: None };
    tokio::spawn(chaincode_shim::serve_with_listener(ours, config, Ours, std::future::pending()));

    let theirs = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let theirs_address = theirs.local_addr().expect("address");
    let server = fabric_shim::Server::new("bench:1", &theirs_address.to_string()).expect("server");
    tokio::spawn(server.serve_with_listener(Theirs, theirs, std::future::pending()));

    println!("| shim (64 in flight, 1 check-in : 3 reads) | transactions | tx/s | p50 | p99 | CPU s per 1,000 tx |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, address) in [("chaincode-shim (ours)", ours_address), ("fabric-shim 0.1.1 (crates.io)", theirs_address)] {
        let row = drive(address.to_string(), seconds).await;
        println!(
            "| {name} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} |",
            row.transactions,
            row.rate,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
            row.cpu_per_1000
        );
    }
}
