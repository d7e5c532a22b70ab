//! Postgres: each service creates its own database on first start and migrates it.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// Creates the database named in `url` if it does not exist (names of letters, digits and `_` only).
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let Some((server, name)) = url.rsplit_once('/') else {
        return Ok(());
    };
    let name = name.split('?').next().unwrap_or(name);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let admin = PgPool::connect(&format!("{server}/postgres"))
        .await
        .with_context(|| format!("cannot connect to Postgres at {server}"))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        // The name was checked to be letters, digits and underscores.
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await;
        if let Err(error) = created {
            // Another instance may have created it meanwhile.
            tracing::debug!(%error, "CREATE DATABASE");
        }
    }
    admin.close().await;
    Ok(())
}

/// A pool of at most `max_connections` to `url`.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to Postgres at {url}"))
}
