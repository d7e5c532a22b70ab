//! The service process killed with SIGKILL again and again while it catches up on a few thousand
//! transactions: once it runs to the end, the mirror is identical to the ledger with nothing missing or
//! duplicated, and JetStream holds each event once.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blockchain_service::audit::Audit;
use fabric_sdk::gateway::{RetryPolicy, TransactionOptions};
use serde_json::json;
use support::{database, drop_database, gateway_as, ledger_with_clubs};

const TRANSACTIONS: usize = 2_000;

fn member_ref(i: usize) -> String {
    format!("{:064x}", i + 1)
}

/// The service process; killed if the test ends before it does.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_service(
    running: &devnet::RunningDevnet,
    database_url: &str,
    tag: &str,
    http_addr: &str,
) -> Service {
    let users = running
        .layout
        .user_msp("networkadmin")
        .parent()
        .and_then(|user| user.parent())
        .unwrap()
        .to_owned();
    Command::new(env!("CARGO_BIN_EXE_blockchain-service"))
        .args(["--http-addr", http_addr, "--grpc-addr", "127.0.0.1:0"])
        .args(["--peer-endpoint", &running.address.to_string()])
        .arg("--wallet")
        .arg(format!("Org1MSP={}", users.display()))
        .args(["--database-url", database_url])
        .args(["--events-stream", &format!("EVENTS_{tag}")])
        .args(["--events-prefix", &format!("{tag}.events")])
        .args(["--log-format", "text"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Service)
        .unwrap()
}

async fn height(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(next_block), 0) FROM mirror_checkpoint")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_catch_up_loses_and_repeats_nothing() {
    let pool = database("crash").await;
    let database_url: String = {
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&pool)
            .await
            .unwrap();
        format!("postgres://postgres@127.0.0.1:5432/{name}")
    };
    let (running, admin, dir) = ledger_with_clubs("crash", &["club-alpha"]).await;
    let contract = admin.network("reciprocal").contract("reciprocal");
    let club = json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP"}).to_string();
    contract
        .submit_transaction("CreateClub", &[club])
        .await
        .unwrap();

    // A few thousand member anchors from 32 concurrent clients.
    let club_admin = Arc::new(gateway_as(&running, "clubadmin-alpha").await);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let gateway = club_admin.clone();
        let next = next.clone();
        clients.push(tokio::spawn(async move {
            let contract = gateway.network("reciprocal").contract("reciprocal");
            let mut last = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= TRANSACTIONS {
                    return last;
                }
                let anchor = json!({"member_ref": member_ref(i), "status": "active", "valid_until": "2099-12-31"});
                let submitted = contract
                    .submit(
                        "UpsertMemberAnchor",
                        TransactionOptions {
                            retry: Some(RetryPolicy::default()),
                            ..TransactionOptions::with_args(&[anchor.to_string()])
                        },
                    )
                    .await
                    .unwrap();
                last = last.max(submitted.block_number);
            }
        }));
    }
    let mut tip = 0;
    for client in clients {
        tip = tip.max(client.await.unwrap());
    }
    let ledger_height = i64::try_from(tip + 1).unwrap();

    let tag = format!("crash{}", std::process::id());
    let mut heights = Vec::new();
    for delay in [150, 250, 350, 450, 600, 800] {
        let mut service = spawn_service(&running, &database_url, &tag, "127.0.0.1:0");
        tokio::time::sleep(Duration::from_millis(delay)).await;
        service.0.kill().unwrap();
        service.0.wait().unwrap();
        heights.push(height(&pool).await);
    }
    eprintln!("mirror heights after each kill: {heights:?} of {ledger_height}");
    assert!(heights.windows(2).all(|pair| pair[0] <= pair[1]));

    // The last run listens on a known port, so the test can tell when it has started: a SIGTERM that
    // arrives before the process has installed its handlers ends it like any other process.
    let http_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .to_string();
    let mut service = spawn_service(&running, &database_url, &tag, &http_addr);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&http_addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the service listens on {http_addr}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while height(&pool).await < ledger_height {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "mirror caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the publisher drain, then stop the service with SIGTERM.
    let published = async {
        loop {
            let done: bool = sqlx::query_scalar(
                "SELECT coalesce((SELECT (p.next_block, p.next_position) > (e.block_number, e.position)
                    FROM event_publication p,
                        (SELECT block_number, position FROM events
                         ORDER BY block_number DESC, position DESC LIMIT 1) e), false)",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), published)
        .await
        .expect("events published");
    let pid = service.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = service.0.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");

    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM blocks").await, ledger_height);
    // The genesis block's configuration transaction, CreateClub and the anchors, each once.
    assert_eq!(
        count("SELECT count(*) FROM transactions WHERE validation = 'VALID'").await,
        i64::try_from(TRANSACTIONS + 2).unwrap()
    );
    assert_eq!(
        count("SELECT count(DISTINCT tx_id) FROM transactions").await,
        count("SELECT count(*) FROM transactions").await
    );
    assert_eq!(
        count("SELECT count(*) FROM member_anchors").await,
        i64::try_from(TRANSACTIONS).unwrap()
    );
    let events = count("SELECT count(*) FROM events").await;
    assert_eq!(events, i64::try_from(TRANSACTIONS + 1).unwrap());

    let audit = Audit::new(
        pool.clone(),
        "reciprocal",
        "reciprocal",
        Some((*club_admin).clone()),
    );
    let report = audit.verify(true).await.unwrap();
    assert!(
        report.ok(),
        "{:#?}",
        &report.problems[..report.problems.len().min(10)]
    );
    assert_eq!(report.ledger_blocks_compared, tip + 1);

    let jetstream =
        async_nats::jetstream::new(async_nats::connect("nats://127.0.0.1:4222").await.unwrap());
    let mut stream = jetstream.get_stream(format!("EVENTS_{tag}")).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    assert_eq!(
        messages,
        u64::try_from(events).unwrap(),
        "each event once in JetStream"
    );
    jetstream
        .delete_stream(format!("EVENTS_{tag}"))
        .await
        .unwrap();

    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    drop_database(pool).await;
}
