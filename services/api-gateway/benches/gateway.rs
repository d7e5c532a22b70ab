//! Requests per second and latency through the gateway, on the whole platform in one process (dev ledger
//! with the real chaincode, blockchain service, domain services, gateway) against the machine's Postgres
//! and NATS:
//!
//! - the front desk's read route `GET /api/v1/visits?host=…&month=…` at fixed request rates (open loop:
//!   requests start on schedule whether or not earlier ones answered, so queueing shows in the latency);
//! - check-in `POST /api/v1/visits` at a few concurrencies (closed loop), each answered after its VALID
//!   commit.
//!
//! The reads run twice: alone, and while BENCH_MIXED_WRITERS front desks record visits without pause,
//! so that the mirror's height, and with it the page, changes all through the reads.
//!
//! `cargo bench -p api-gateway --bench gateway`. Environment: BENCH_READ_RATES (default 250,500,1000),
//! BENCH_MIXED_RATES (500,1000), BENCH_MIXED_WRITERS (8), BENCH_SECONDS (10), BENCH_CHECKIN_CONCURRENCY
//! (1,8,32), BENCH_CHECKINS (200 per concurrency).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::Stack;

fn list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|value| value.trim().parse().ok())
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn terms(year: u32) -> serde_json::Value {
    json!({
        "max_visits_per_month": 31, "max_visits_per_year": 366, "max_stay_days": 3, "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 2500, "per_guest_minor": 1000, "currency": "GBP"},
        "settlement": "bill_home_club",
        "valid_from": format!("{year}-01-01"), "valid_until": format!("{}-12-31", year + 1),
    })
}

#[tokio::main]
async fn main() {
    let read_rates = list("BENCH_READ_RATES", "250,500,1000");
    let seconds = list("BENCH_SECONDS", "10").first().copied().unwrap_or(10);
    let concurrencies = list("BENCH_CHECKIN_CONCURRENCY", "1,8,32");
    let checkins = list("BENCH_CHECKINS", "200")
        .first()
        .copied()
        .unwrap_or(200);
    let mixed_rates = list("BENCH_MIXED_RATES", "500,1000");
    let mixed_writers = list("BENCH_MIXED_WRITERS", "8")
        .first()
        .copied()
        .unwrap_or(8);

    let stack = Arc::new(Stack::start("bench", 0).await);
    let admin = stack.token("admin").await;
    let alpha_admin = stack.token("alpha-admin").await;
    let beta_admin = stack.token("beta-admin").await;
    let desk = stack.token("alpha-desk").await;
    for id in support::CLUBS {
        let reply = stack
            .call(
                Some(&admin),
                Method::POST,
                "/api/v1/clubs",
                Some(json!({"id": id, "name": id, "msp_id": "Org1MSP"})),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let today = platform::ledger::today();
    let year: u32 = today[..4].parse().expect("a year");
    let proposed = stack
        .call(
            Some(&alpha_admin),
            Method::POST,
            "/api/v1/agreements",
            Some(json!({"counterparty": "club-beta", "terms": terms(year)})),
        )
        .await;
    let agreement = proposed.body["agreement"]["id"]
        .as_str()
        .expect("an agreement id")
        .to_owned();
    let accepted = stack
        .call(
            Some(&beta_admin),
            Method::POST,
            &format!("/api/v1/agreements/{agreement}/accept"),
            None,
        )
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    // Enough members that none reaches the monthly quota of 31, and concurrent workers never share one.
    let max_concurrency = concurrencies.iter().copied().max().unwrap_or(1) as usize;
    let uses = checkins as usize * concurrencies.len();
    let pool = max_concurrency.max(uses.div_ceil(30));
    let mut members = Vec::new();
    for n in 0..pool {
        let reply = stack.call(Some(&beta_admin), Method::POST, "/api/v1/members", Some(json!({"name": format!("Member {n}"), "email": format!("m{n}@beta.example"), "membership_number": format!("B-{n}"), "valid_until": "2099-12-31"}))).await;
        assert_eq!(reply.status, 201, "{reply:?}");
        members.push(
            reply.body["member"]["id"]
                .as_str()
                .expect("a member id")
                .to_owned(),
        );
    }

    // Check-in: in round i, worker w checks in member (i * concurrency + w) of the pool, today.
    println!(
        "\nCheck-in through the gateway (POST /api/v1/visits, answered after the VALID commit)\n"
    );
    println!("| concurrency | check-ins | refused | rps | p50 ms | p99 ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let members = Arc::new(members);
    let mut round_offset = 0u64;
    let mut last_block = 0;
    for &concurrency in &concurrencies {
        let per_worker = checkins / concurrency;
        let started = Instant::now();
        let mut workers = Vec::new();
        for worker in 0..concurrency as usize {
            let stack = stack.clone();
            let desk = desk.clone();
            let members = members.clone();
            let today = today.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut refused = 0;
                let mut last = 0;
                for i in 0..per_worker {
                    let round = round_offset + i;
                    let member =
                        &members[(round as usize * concurrency as usize + worker) % members.len()];
                    let date = &today;
                    let at = Instant::now();
                    let reply = stack
                        .call(
                            Some(&desk),
                            Method::POST,
                            "/api/v1/visits",
                            Some(json!({"member_id": member, "visit_date": date})),
                        )
                        .await;
                    latencies.push(at.elapsed());
                    if reply.status == 201 {
                        last = reply.body["block"].as_u64().unwrap_or(0);
                    } else {
                        refused += 1;
                    }
                }
                (latencies, refused, last)
            }));
        }
        let mut latencies = Vec::new();
        let mut refused = 0;
        for worker in workers {
            let (mut l, r, last) = worker.await.expect("a check-in worker");
            latencies.append(&mut l);
            refused += r;
            last_block = last_block.max(last);
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "| {concurrency} | {} | {refused} | {:.0} | {:.1} | {:.1} |",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        round_offset += per_worker;
    }

    // Reads: the host's visits of one month, 50 a page.
    let month = today[..7].to_owned();
    let path = format!("/api/v1/visits?host=club-alpha&month={month}");
    let warm = stack
        .call(
            Some(&desk),
            Method::GET,
            &format!("{path}&min_block={last_block}"),
            None,
        )
        .await;
    let page = warm.body["items"].as_array().map_or(0, Vec::len);
    println!(
        "\nRead through the gateway (GET {path}: {page} visits a page), open loop for {seconds} s\n"
    );
    println!(
        "| target rps | achieved rps | errors | p50 ms | p99 ms | max ms | check-ins meanwhile /s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (rate, writers) in read_rates
        .iter()
        .map(|rate| (*rate, 0))
        .chain(mixed_rates.iter().map(|rate| (*rate, mixed_writers)))
    {
        // Writers record the host's refusals (no quota applies), so the list and the mirror's height
        // change all through the reads.
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let mut writing = Vec::new();
        for writer in 0..writers {
            let (stack, desk, stop, written) =
                (stack.clone(), desk.clone(), stop.clone(), written.clone());
            let member = members[writer as usize % members.len()].clone();
            writing.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"member_id": member, "refusal_reason": "benchmark"});
                    let reply = stack
                        .call(Some(&desk), Method::POST, "/api/v1/visits", Some(body))
                        .await;
                    if reply.status == 201 {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let total = rate * seconds;
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for n in 0..total {
            let due = started + interval * n as u32;
            tokio::time::sleep_until(due.into()).await;
            let stack = stack.clone();
            let desk = desk.clone();
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let (status, _) = stack.fetch(&desk, &path).await;
                (due.elapsed(), status)
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let mut errors = 0;
        let mut statuses = std::collections::BTreeMap::new();
        for task in tasks {
            let (latency, status) = task.await.expect("a read");
            latencies.push(latency);
            if status != 200 {
                errors += 1;
                *statuses.entry(status).or_insert(0u64) += 1;
            }
        }
        if !statuses.is_empty() {
            eprintln!("read errors at {rate} rps by HTTP status (0: no answer): {statuses:?}");
        }
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for writer in writing {
            let _ = writer.await;
        }
        latencies.sort();
        println!(
            "| {rate} | {:.0} | {errors} | {:.2} | {:.2} | {:.2} | {:.0} |",
            total as f64 / elapsed,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies
                .last()
                .map_or(f64::NAN, |max| max.as_secs_f64() * 1000.0),
            written.load(Ordering::Relaxed) as f64 / elapsed
        );
    }
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}
