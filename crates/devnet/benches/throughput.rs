//! Committed transactions per second and commit latency of the dev ledger with the real chaincode, at
//! several numbers of concurrent clients. Run with `cargo bench -p devnet --bench throughput`
//! (`BENCH_SECONDS` sets the duration of each run, default 10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chaincode_shim::server::{ServerConfig, serve_with_listener};
use devnet::chaincode_link::ChaincodeLinkConfig;
use devnet::orderer::BatchConfig;
use devnet::{DevnetConfig, init, start};
use fabric_sdk::gateway::Gateway;
use fabric_sdk::msp::MspFolder;
use reciprocal_chaincode::ReciprocalContract;
use tokio::net::TcpListener;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (clock ticks of 1/100 s on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("devnet-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = init(&dir, &["club-alpha".to_owned()]) {
        eprintln!("init: {error}");
        std::process::exit(1);
    }
    let chaincode_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let chaincode_address = chaincode_listener.local_addr().expect("address");
    tokio::spawn(serve_with_listener(
        chaincode_listener,
        ServerConfig {
            address: chaincode_address,
            chaincode_id: "reciprocal:dev".to_owned(),
            tls: None,
        },
        ReciprocalContract,
        std::future::pending(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = DevnetConfig {
        chaincode: ChaincodeLinkConfig {
            address: chaincode_address.to_string(),
            ..ChaincodeLinkConfig::default()
        },
        batch: BatchConfig {
            max_transactions: 500,
            timeout: Duration::from_millis(10),
        },
        ..DevnetConfig::new(dir.clone())
    };
    let running = start(config, Some(listener)).await.expect("devnet starts");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.address))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let gateway = |user: &str| {
        let signing = MspFolder::load(&running.layout.user_msp(user), "Org1MSP")
            .and_then(|folder| folder.signing_identity())
            .expect("identity");
        Gateway::new(
            channel.clone(),
            signing.identity().clone(),
            signing.signer(),
        )
    };
    let admin = gateway("networkadmin");
    admin
        .network("reciprocal")
        .contract("reciprocal")
        .submit_transaction(
            "CreateClub",
            &[r#"{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}"#],
        )
        .await
        .expect("seed club");
    // Clients spread over several connections, as separate applications would be.
    let mut connections = Vec::new();
    for _ in 0..8 {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", running.address))
                .expect("endpoint")
                .connect()
                .await
                .expect("connect");
        let signing = MspFolder::load(&running.layout.user_msp("clubadmin-alpha"), "Org1MSP")
            .and_then(|folder| folder.signing_identity())
            .expect("identity");
        connections.push(Arc::new(Gateway::new(
            channel,
            signing.identity().clone(),
            signing.signer(),
        )));
    }

    println!("| clients | committed tx | tx/s | commit latency p50 | p99 | CPU s per 1,000 tx |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let counter = Arc::new(AtomicU64::new(0));
    for clients in [1usize, 16, 64] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..clients {
            let club_admin = Arc::clone(&connections[client % connections.len()]);
            let counter = Arc::clone(&counter);
            tasks.push(tokio::spawn(async move {
                let contract = club_admin.network("reciprocal").contract("reciprocal");
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let anchor = format!(
                        r#"{{"member_ref":"{n:064x}","status":"active","valid_until":"2099-12-31"}}"#
                    );
                    let begin = Instant::now();
                    match contract.submit_transaction("UpsertMemberAnchor", &[anchor]).await {
                        Ok(_) => latencies.push(begin.elapsed()),
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
        let committed = latencies.len();
        println!(
            "| {clients} | {committed} | {:.0} | {:.1} ms | {:.1} ms | {:.2} |",
            committed as f64 / elapsed,
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            if committed > 0 {
                cpu / committed as f64 * 1000.0
            } else {
                0.0
            },
        );
    }
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
