//! What the service's tests share: a fresh Postgres database per test, and a dev ledger driving the real
//! chaincode.

#![allow(dead_code)]

use std::path::PathBuf;

use blockchain_service::mirror::Mirror;
use devnet::RunningDevnet;
use devnet::embedded::start_embedded;
use fabric_sdk::gateway::Gateway;
use reciprocal_chaincode::ReciprocalContract;
use sqlx::postgres::PgPool;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Drops a test database once its pool is closed.
pub async fn drop_database(pool: PgPool) {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let admin = PgPool::connect(
        &std::env::var("DATABASE_ADMIN_URL").unwrap_or_else(|_| ADMIN_URL.to_owned()),
    )
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database}"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// A fresh database for one test.
pub async fn database(name: &str) -> PgPool {
    let admin = PgPool::connect(
        &std::env::var("DATABASE_ADMIN_URL").unwrap_or_else(|_| ADMIN_URL.to_owned()),
    )
    .await
    .expect("Postgres is running on 127.0.0.1:5432");
    let database = format!("mirror_{name}_{}", std::process::id());
    // The name is ours (test name and process id), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database}"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&admin)
        .await
        .unwrap();
    let pool = PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{database}"))
        .await
        .unwrap();
    Mirror::migrate(&pool).await.unwrap();
    pool
}

pub async fn ledger(name: &str) -> (RunningDevnet, Gateway, PathBuf) {
    ledger_with_clubs(name, &["club-alpha"]).await
}

/// A dev ledger with demo identities for `clubs`, and a gateway as the network admin.
pub async fn ledger_with_clubs(name: &str, clubs: &[&str]) -> (RunningDevnet, Gateway, PathBuf) {
    let dir = std::env::temp_dir().join(format!("mirror-{name}-{}", std::process::id()));
    let running = start_embedded(&dir, clubs, ReciprocalContract, None)
        .await
        .unwrap();
    let gateway = gateway_as(&running, "networkadmin").await;
    (running, gateway, dir)
}

/// A gateway over `running` as demo user `user` (`networkadmin`, `clubadmin-alpha`, …).
pub async fn gateway_as(running: &RunningDevnet, user: &str) -> Gateway {
    devnet::embedded::gateway_as(running, user).await.unwrap()
}
