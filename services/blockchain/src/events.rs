//! Publishes each committed chaincode event to NATS JetStream on `<prefix>.<EventName>`
//! (`reciprocal.events.ClubAdmitted`, …), in ledger order, from the mirror's `events` table.
//!
//! Exactly once: each message carries `Nats-Msg-Id: <channel>/<tx id>`, so JetStream drops a republished
//! event within its duplicate window; and on start the publisher resumes after the last event the stream
//! holds (read from that message's headers), so an event published just before a crash is not published
//! again even after the window. The cursor in `event_publication` advances only past acknowledged events.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context, stream};
use serde_json::json;
use sqlx::Row;
use sqlx::postgres::PgPool;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// Header naming the event's block.
pub const BLOCK_HEADER: &str = "Reciprocal-Block";
/// Header naming the event's position in its block.
pub const POSITION_HEADER: &str = "Reciprocal-Position";
/// Header carrying the transaction id.
pub const TX_HEADER: &str = "Reciprocal-Tx-Id";

/// Events published per round.
const BATCH: i64 = 1_000;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// NATS failed.
    #[error("NATS: {0}")]
    Nats(String),
}

fn nats<E: std::fmt::Display>(error: E) -> EventsError {
    EventsError::Nats(error.to_string())
}

/// Where events go.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The JetStream stream.
    pub stream: String,
    /// Subject prefix; events go to `<prefix>.<EventName>`.
    pub subject_prefix: String,
    /// How long JetStream remembers message ids.
    pub duplicate_window: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            stream: "RECIPROCAL_EVENTS".to_owned(),
            subject_prefix: "reciprocal.events".to_owned(),
            duplicate_window: Duration::from_secs(600),
        }
    }
}

/// A NATS subject token for an event name: anything but letters, digits, `_` and `-` becomes `_`.
pub fn subject_token(name: &str) -> String {
    let token: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if token.is_empty() {
        "_".to_owned()
    } else {
        token
    }
}

/// The publisher of one channel's events.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    pool: PgPool,
    channel: String,
    jetstream: Context,
    config: EventsConfig,
    metrics: Metrics,
}

impl EventPublisher {
    /// Creates the stream if it does not exist (subjects `<prefix>.>`, file storage, the duplicate window).
    pub async fn new(
        pool: PgPool,
        channel: &str,
        client: async_nats::Client,
        config: EventsConfig,
        metrics: Metrics,
    ) -> Result<Self, EventsError> {
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![format!("{}.>", config.subject_prefix)],
                duplicate_window: config.duplicate_window,
                storage: stream::StorageType::File,
                ..stream::Config::default()
            })
            .await
            .map_err(nats)?;
        Ok(Self {
            pool,
            channel: channel.to_owned(),
            jetstream,
            config,
            metrics,
        })
    }

    async fn cursor(&self) -> Result<(i64, i32), EventsError> {
        let row = sqlx::query(
            "SELECT next_block, next_position FROM event_publication WHERE channel = $1",
        )
        .bind(&self.channel)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => (row.try_get("next_block")?, row.try_get("next_position")?),
            None => (0, 0),
        })
    }

    async fn save_cursor(&self, cursor: (i64, i32)) -> Result<(), EventsError> {
        sqlx::query(
            "INSERT INTO event_publication (channel, next_block, next_position) VALUES ($1, $2, $3)
             ON CONFLICT (channel) DO UPDATE SET next_block = EXCLUDED.next_block,
                 next_position = EXCLUDED.next_position, updated_at = now()
             WHERE (event_publication.next_block, event_publication.next_position)
                   < (EXCLUDED.next_block, EXCLUDED.next_position)",
        )
        .bind(&self.channel)
        .bind(cursor.0)
        .bind(cursor.1)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves the cursor past the last event of this channel the stream already holds: it was published
    /// (perhaps just before a crash) even if its acknowledgement never arrived.
    pub async fn resume_from_stream(&self) -> Result<(), EventsError> {
        let mut stream = self
            .jetstream
            .get_stream(&self.config.stream)
            .await
            .map_err(nats)?;
        let last = stream.info().await.map_err(nats)?.state.last_sequence;
        if last == 0 {
            return Ok(());
        }
        let message = match stream.get_raw_message(last).await {
            Ok(message) => message,
            // Deleted by the stream's limits: nothing to learn from it.
            Err(_) => return Ok(()),
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        let Some(id) = header("Nats-Msg-Id") else {
            return Ok(());
        };
        if !id.starts_with(&format!("{}/", self.channel)) {
            return Ok(());
        }
        let block = header(BLOCK_HEADER).and_then(|value| value.parse::<i64>().ok());
        let position = header(POSITION_HEADER).and_then(|value| value.parse::<i32>().ok());
        if let (Some(block), Some(position)) = (block, position) {
            self.save_cursor((block, position.saturating_add(1)))
                .await?;
        }
        Ok(())
    }

    /// Publishes the events not yet published, up to one batch; returns how many were acknowledged.
    pub async fn publish_pending(&self) -> Result<usize, EventsError> {
        let (block, position) = self.cursor().await?;
        let rows = sqlx::query(
            "SELECT block_number, position, tx_id, chaincode, name, payload FROM events
             WHERE channel = $1 AND (block_number, position) >= ($2, $3)
             ORDER BY block_number, position LIMIT $4",
        )
        .bind(&self.channel)
        .bind(block)
        .bind(position)
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let block: i64 = row.try_get("block_number")?;
            let position: i32 = row.try_get("position")?;
            let tx_id: String = row.try_get("tx_id")?;
            let name: String = row.try_get("name")?;
            let payload: Vec<u8> = row.try_get("payload")?;
            let chaincode: String = row.try_get("chaincode")?;
            let body = json!({
                "name": name,
                "channel": self.channel,
                "chaincode": chaincode,
                "tx_id": tx_id,
                "block": block,
                "position": position,
                "payload": serde_json::from_slice::<serde_json::Value>(&payload)
                    .unwrap_or_else(|_| serde_json::Value::String(hex::encode(&payload))),
            });
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{}/{tx_id}", self.channel).as_str());
            headers.insert(BLOCK_HEADER, block.to_string().as_str());
            headers.insert(POSITION_HEADER, position.to_string().as_str());
            headers.insert(TX_HEADER, tx_id.as_str());
            let subject = format!("{}.{}", self.config.subject_prefix, subject_token(&name));
            let ack = self
                .jetstream
                .publish_with_headers(subject, headers, body.to_string().into())
                .await
                .map_err(nats)?;
            pending.push((block, position, ack));
        }
        let mut acknowledged = 0;
        let mut failure = None;
        let mut cursor = None;
        for (block, position, ack) in pending {
            match ack.await {
                Ok(_) => {
                    acknowledged += 1;
                    cursor = Some((block, position.saturating_add(1)));
                }
                Err(error) => {
                    failure = Some(nats(error));
                    break;
                }
            }
        }
        if let Some(cursor) = cursor {
            self.save_cursor(cursor).await?;
        }
        self.metrics.events_published.inc_by(acknowledged as u64);
        match failure {
            Some(error) => Err(error),
            None => Ok(acknowledged),
        }
    }

    /// Publishes as the mirror grows until `stop` completes. A failure is logged and retried.
    pub async fn run(
        &self,
        mut height: watch::Receiver<u64>,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut resumed = false;
        loop {
            let result = async {
                if !resumed {
                    self.resume_from_stream().await?;
                    resumed = true;
                }
                while self.publish_pending().await? as i64 == BATCH {}
                Ok::<_, EventsError>(())
            }
            .await;
            let wait = match result {
                Ok(()) => Duration::from_secs(1),
                Err(error) => {
                    tracing::warn!(%error, "Publishing events failed; retrying");
                    Duration::from_secs(2)
                }
            };
            tokio::select! {
                () = &mut stop => return,
                _ = height.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subject_token;

    #[test]
    fn event_names_become_single_subject_tokens() {
        assert_eq!(subject_token("ClubAdmitted"), "ClubAdmitted");
        assert_eq!(subject_token("a.b*c >"), "a_b_c__");
        assert_eq!(subject_token(""), "_");
    }
}
