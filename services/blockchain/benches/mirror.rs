//! The mirror's catch-up rate over a large ledger, and its lag behind commit under steady load.
//!
//! Run with `cargo bench -p blockchain-service --bench mirror`. For each block size in
//! `BENCH_BLOCK_SIZES` (default `10,500`: the Fabric test network's `MaxMessageCount`, and the dev
//! ledger's) it builds a dev ledger of `BENCH_TRANSACTIONS` (default 100,000) `UpsertMemberAnchor`
//! transactions with the real chaincode, mirrors it into a fresh Postgres database from block 0, and
//! prints the rate. Then, with the mirror following, it submits at each rate in `BENCH_RATES` (default
//! `100,500,1000` tx/s) for `BENCH_SECONDS` (default 15) and prints how long after a client saw its
//! transaction committed the mirror had written its block. `DATABASE_ADMIN_URL` names the Postgres
//! server (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blockchain_service::mirror::Mirror;
use devnet::RunningDevnet;
use devnet::embedded::{gateway_as, start_embedded};
use devnet::orderer::BatchConfig;
use fabric_sdk::gateway::Gateway;
use reciprocal_chaincode::ReciprocalContract;
use sqlx::PgPool;
use tokio::sync::watch;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn env_list(name: &str, default: &str) -> Result<Vec<u64>, Failure> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|item| {
            item.trim()
                .parse()
                .map_err(|_| format!("{name}: {item:?} is not a whole number").into())
        })
        .collect()
}

fn env_number(name: &str, default: u64) -> Result<u64, Failure> {
    Ok(env_list(name, &default.to_string())?
        .first()
        .copied()
        .unwrap_or(default))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

struct Ledger {
    running: RunningDevnet,
    dir: std::path::PathBuf,
    clients: Vec<Arc<Gateway>>,
    admin: Gateway,
    next_member: AtomicU64,
}

impl Ledger {
    async fn start(block_size: usize) -> Result<Self, Failure> {
        let dir =
            std::env::temp_dir().join(format!("mirror-bench-{}-{block_size}", std::process::id()));
        let running = start_embedded(
            &dir,
            &["club-alpha"],
            ReciprocalContract,
            Some(BatchConfig {
                max_transactions: block_size,
                timeout: Duration::from_millis(10),
            }),
        )
        .await?;
        let connect = |user| gateway_as(&running, user);
        let admin = connect("networkadmin").await?;
        admin
            .network("reciprocal")
            .contract("reciprocal")
            .submit_transaction(
                "CreateClub",
                &[r#"{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}"#],
            )
            .await?;
        let mut clients = Vec::new();
        for _ in 0..8 {
            clients.push(Arc::new(connect("clubadmin-alpha").await?));
        }
        Ok(Self {
            running,
            dir,
            clients,
            admin,
            next_member: AtomicU64::new(0),
        })
    }

    /// Submits one member anchor; answers the block it was committed in and when the client learnt it.
    async fn submit_one(client: &Gateway, member: u64) -> Result<(u64, Instant), Failure> {
        let anchor = format!(
            r#"{{"member_ref":"{member:064x}","status":"active","valid_until":"2099-12-31"}}"#
        );
        let submitted = client
            .network("reciprocal")
            .contract("reciprocal")
            .submit(
                "UpsertMemberAnchor",
                fabric_sdk::gateway::TransactionOptions::with_args(&[anchor]),
            )
            .await?;
        Ok((submitted.block_number, Instant::now()))
    }

    /// Fills the ledger with `count` transactions from 64 concurrent clients; answers the height.
    async fn fill(self: &Arc<Self>, count: u64) -> Result<u64, Failure> {
        let target = self.next_member.load(Ordering::Relaxed) + count;
        let mut tasks = Vec::new();
        for task in 0..64 {
            let ledger = Arc::clone(self);
            tasks.push(tokio::spawn(async move {
                let client = Arc::clone(&ledger.clients[task % ledger.clients.len()]);
                let mut tip = 0;
                loop {
                    let member = ledger.next_member.fetch_add(1, Ordering::Relaxed);
                    if member >= target {
                        return Ok::<u64, Failure>(tip);
                    }
                    tip = tip.max(Self::submit_one(&client, member).await?.0);
                }
            }));
        }
        let mut tip = 0;
        for task in tasks {
            tip = tip.max(task.await??);
        }
        Ok(tip + 1)
    }
}

async fn fresh_database(admin_url: &str, name: &str) -> Result<(PgPool, String), Failure> {
    let admin = PgPool::connect(admin_url).await?;
    // The name is ours (a constant and the process id), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    admin.close().await;
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => return Err(format!("DATABASE_ADMIN_URL {admin_url} names no database").into()),
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await?;
    Mirror::migrate(&pool).await?;
    Ok((pool, name.to_owned()))
}

async fn drop_database(admin_url: &str, pool: PgPool, name: &str) -> Result<(), Failure> {
    pool.close().await;
    let admin = PgPool::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&admin)
    .await?;
    Ok(())
}

/// Records when the mirror reached each height it reported.
fn record_heights(mut heights: watch::Receiver<u64>) -> Arc<std::sync::Mutex<Vec<(u64, Instant)>>> {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while heights.changed().await.is_ok() {
            let height = *heights.borrow_and_update();
            if let Ok(mut seen) = record.lock() {
                seen.push((height, Instant::now()));
            }
        }
    });
    seen
}

async fn run(
    block_size: usize,
    transactions: u64,
    rates: &[u64],
    seconds: u64,
    admin_url: &str,
) -> Result<(), Failure> {
    let ledger = Arc::new(Ledger::start(block_size).await?);
    let filling = Instant::now();
    let height = ledger.fill(transactions).await?;
    let filled = filling.elapsed();
    eprintln!(
        "block size {block_size}: {transactions} transactions in {height} blocks written in {:.1} s",
        filled.as_secs_f64()
    );

    // The mirror's own rate: the ledger's blocks, fetched first, written from memory into Postgres.
    let mut fetched = Vec::new();
    let mut stream = ledger
        .admin
        .network("reciprocal")
        .block_events(&fabric_sdk::gateway::EventsOptions {
            checkpoint: Some(fabric_sdk::gateway::Checkpoint {
                block_number: 0,
                transaction_id: None,
            }),
            ..Default::default()
        })
        .await?;
    while (fetched.len() as u64) < height {
        match stream.next().await {
            Some(block) => fetched.push(block?),
            None => return Err("the ledger ended its block stream".into()),
        }
    }
    drop(stream);
    let name = format!("mirror_bench_{}_{block_size}_memory", std::process::id());
    let (pool, name) = fresh_database(admin_url, &name).await?;
    let mirror = Mirror::new(pool.clone(), "reciprocal");
    let started = Instant::now();
    mirror
        .follow_stream(
            futures_util::stream::iter(fetched.into_iter().map(Ok)),
            std::future::pending(),
        )
        .await?;
    let from_memory = started.elapsed().as_secs_f64();
    drop_database(admin_url, pool, &name).await?;

    // From the ledger's Deliver service, as the blockchain service follows it.
    let name = format!("mirror_bench_{}_{block_size}", std::process::id());
    let (pool, name) = fresh_database(admin_url, &name).await?;
    let mirror = Mirror::new(pool.clone(), "reciprocal");
    let heights = mirror.subscribe();
    let (stop, stopped) = watch::channel(false);
    let network = ledger.admin.network("reciprocal");
    let follower = {
        let mirror = mirror.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            mirror
                .follow(&network, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        })
    };
    let started = Instant::now();
    let mut caught_up = heights.clone();
    caught_up.wait_for(|mirrored| *mirrored >= height).await?;
    let from_deliver = started.elapsed().as_secs_f64();
    let mirrored: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&pool)
        .await?;
    println!();
    println!("Catch-up, block size {block_size}:");
    println!();
    println!("| blocks from | blocks | transactions | seconds | blocks/s | tx/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (source, elapsed) in [
        ("memory", from_memory),
        ("the ledger's Deliver", from_deliver),
    ] {
        println!(
            "| {source} | {height} | {mirrored} | {elapsed:.2} | {:.0} | {:.0} |",
            height as f64 / elapsed,
            mirrored as f64 / elapsed
        );
    }

    println!();
    println!("Lag behind commit, block size {block_size} ({seconds} s per rate):");
    println!();
    println!("| offered tx/s | committed | failed | lag p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rate in rates {
        let seen = record_heights(heights.clone());
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut submissions = Vec::new();
        let mut index = 0;
        while Instant::now() < deadline {
            ticker.tick().await;
            let client = Arc::clone(&ledger.clients[index % ledger.clients.len()]);
            index += 1;
            let member = ledger.next_member.fetch_add(1, Ordering::Relaxed);
            submissions.push(tokio::spawn(async move {
                Ledger::submit_one(&client, member).await
            }));
        }
        let mut commits = Vec::new();
        let mut failed = 0;
        for submission in submissions {
            match submission.await? {
                Ok(commit) => commits.push(commit),
                Err(error) => {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!("transaction failed: {error}");
                    }
                }
            }
        }
        let last = commits.iter().map(|(block, _)| *block).max().unwrap_or(0);
        let mut following = heights.clone();
        following.wait_for(|mirrored| *mirrored > last).await?;
        let mut lags: Vec<Duration> = {
            let seen = seen.lock().map_err(|_| "height recorder panicked")?;
            commits
                .iter()
                .filter_map(|(block, committed)| {
                    seen.iter()
                        .find(|(mirrored, _)| mirrored > block)
                        .map(|(_, at)| at.saturating_duration_since(*committed))
                })
                .collect()
        };
        lags.sort();
        println!(
            "| {rate} | {} | {failed} | {:.1} ms | {:.1} ms | {:.1} ms |",
            commits.len(),
            millis(percentile(&lags, 0.50)),
            millis(percentile(&lags, 0.99)),
            millis(lags.last().copied().unwrap_or_default()),
        );
    }

    stop.send(true)?;
    follower.await??;
    drop_database(admin_url, pool, &name).await?;
    let Ok(ledger) = Arc::try_unwrap(ledger) else {
        return Err("the ledger is still in use".into());
    };
    ledger.running.stop().await;
    let _ = std::fs::remove_dir_all(&ledger.dir);
    Ok(())
}

#[tokio::main]
async fn main() {
    // `RUST_LOG=blockchain_service=debug` shows each batch the mirror writes.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let settings = (|| -> Result<_, Failure> {
        Ok((
            env_list("BENCH_BLOCK_SIZES", "10,500")?,
            env_number("BENCH_TRANSACTIONS", 100_000)?,
            env_list("BENCH_RATES", "100,500,1000")?,
            env_number("BENCH_SECONDS", 15)?,
        ))
    })();
    let (block_sizes, transactions, rates, seconds) = match settings {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("mirror bench: {error}");
            std::process::exit(2);
        }
    };
    let admin_url = std::env::var("DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    for block_size in block_sizes {
        let block_size = usize::try_from(block_size.max(1)).unwrap_or(usize::MAX);
        if let Err(error) = run(block_size, transactions, &rates, seconds, &admin_url).await {
            eprintln!("mirror bench, block size {block_size}: {error}");
            std::process::exit(1);
        }
    }
}
