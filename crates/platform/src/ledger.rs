//! The ledger as the domain services see it: writes through the blockchain service (answered only after
//! a VALID commit), and reads from its Postgres mirror once the mirror holds a given block.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reciprocal_api::v1::blockchain_client::BlockchainClient;
use reciprocal_api::v1::{Record, RecordList, SubmitRequest, WaitForMirrorRequest, WriteResult};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use crate::caller::Caller;

/// Longest a read waits for the mirror to reach its `min_block`.
pub const MIRROR_WAIT: Duration = Duration::from_secs(5);

/// The channel the mirror follows.
pub const CHANNEL: &str = "reciprocal";

/// A lazily connected gRPC channel to `url` (`http://host:port`).
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|error| anyhow::anyhow!("invalid gRPC URL {url:?}: {error}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .connect_lazy())
}

/// Where a domain service finds the ledger: the blockchain service, and the mirror's database it keeps.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerConfig {
    /// Postgres database of the ledger's mirror, which the blockchain service keeps (read only).
    #[arg(
        long,
        env = "MIRROR_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal"
    )]
    pub mirror_database_url: String,
    /// Connections to the mirror's database at most.
    #[arg(long, env = "MIRROR_CONNECTIONS", default_value_t = 8)]
    pub mirror_connections: u32,
    /// gRPC URL of the blockchain service, which writes to the ledger.
    #[arg(
        long,
        env = "BLOCKCHAIN_GRPC_URL",
        default_value = "http://127.0.0.1:9084"
    )]
    pub blockchain_grpc_url: String,
}

impl LedgerConfig {
    /// The ledger, connected lazily: the mirror belongs to the blockchain service and may come up later,
    /// so a service starts without it and its `/readyz` says whether it answers.
    pub fn connect(&self) -> anyhow::Result<Ledger> {
        let mirror = sqlx::postgres::PgPoolOptions::new()
            .max_connections(self.mirror_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(&self.mirror_database_url)
            .map_err(|error| {
                anyhow::anyhow!(
                    "invalid mirror database URL {:?}: {error}",
                    self.mirror_database_url
                )
            })?;
        Ok(Ledger::new(channel(&self.blockchain_grpc_url)?, mirror))
    }
}

/// The Postgres channel on which the mirror announces its height (migration 0005 of the blockchain
/// service): payload `<channel> <next block>`.
pub const HEIGHT_NOTIFICATIONS: &str = "mirror_height";

/// The most pages [`Ledger::page_at`] keeps.
const CACHED_PAGES: usize = 4096;

/// How long a page read at an older height may still answer a read that names no `min_block`, while
/// the page at the new height is being read.
pub const STALE_PAGE: Duration = Duration::from_millis(100);

/// Writes through the blockchain service and reads its mirror.
#[derive(Debug, Clone)]
pub struct Ledger {
    blockchain: BlockchainClient<Channel>,
    mirror: PgPool,
    /// The mirror's height as its notifications tell it; `None` while not listening.
    height: watch::Receiver<Option<u64>>,
    pages: Arc<Mutex<HashMap<String, Slot>>>,
    /// How long an older page may answer; [`STALE_PAGE`] unless set.
    stale_for: Duration,
}

/// A read of a page at a height, shared by every reader that waits for it.
type Read = Arc<tokio::sync::OnceCell<RecordList>>;

/// What is kept of one page: the newest read (its height, when it ended, the page) and the read under way.
#[derive(Debug, Default)]
struct Slot {
    latest: Option<(u64, Instant, RecordList)>,
    reading: Option<(u64, Read)>,
}

/// How [`Ledger::page_at`] answers.
enum Answer {
    /// With a page already read.
    Kept(RecordList),
    /// With this read, at this height.
    Join(u64, Read),
    /// With a read of its own, the cache being full.
    Alone,
}

impl Ledger {
    /// A ledger over the blockchain service at `blockchain` and the mirror's database `mirror`. Listens
    /// (in a task of its own, reconnecting) to the mirror's height notifications.
    pub fn new(blockchain: Channel, mirror: PgPool) -> Self {
        let (sender, height) = watch::channel(None);
        tokio::spawn(follow_height(mirror.clone(), sender));
        Self {
            blockchain: BlockchainClient::new(blockchain),
            mirror,
            height,
            pages: Arc::new(Mutex::new(HashMap::new())),
            stale_for: STALE_PAGE,
        }
    }

    /// The same ledger, giving out pages of an older height for `stale_for` (0: never).
    pub fn with_stale_pages(self, stale_for: Duration) -> Self {
        Self { stale_for, ..self }
    }

    /// Whether the mirror's height notifications are being received (else heights are read, and waits
    /// asked of the blockchain service).
    pub fn follows_height(&self) -> bool {
        self.height.borrow().is_some()
    }

    /// A page of records under `key` (which must name everything that decides the page) at mirror
    /// height `height`, as `read(height)` reads it. Mirrored records change only with the height, so:
    ///
    /// - a page is read once per height: readers arriving while it is read wait for that read;
    /// - a reader is answered at once with the page of an older height that was read less than
    ///   [`STALE_PAGE`] ago (see [`Ledger::with_stale_pages`]) and holds its `min_block` (any page holds `min_block` 0), while the page at
    ///   `height` is read in the background; the answer's `mirror_height` says which height it shows;
    /// - otherwise the reader waits for the page at `height` (or for a read under way that holds its
    ///   `min_block`).
    pub async fn page_at<R, F>(
        &self,
        height: u64,
        min_block: u64,
        key: String,
        read: R,
    ) -> Result<RecordList, Status>
    where
        R: Fn(u64) -> F,
        F: Future<Output = Result<RecordList, Status>> + Send + 'static,
    {
        let (answer, refresh) = self.plan(height, min_block, &key);
        if let Some(cell) = refresh {
            let (ledger, key, reading) = (self.clone(), key.clone(), read(height));
            tokio::spawn(async move {
                let _ = ledger.finish(&key, height, &cell, reading).await;
            });
        }
        match answer {
            Answer::Kept(page) => Ok(page),
            Answer::Join(at, cell) => self.finish(&key, at, &cell, read(at)).await,
            Answer::Alone => read(height).await,
        }
    }

    /// Decides how to answer a reader of `key` at `height` that needs `min_block`, and whether to read
    /// the page at `height` in the background.
    fn plan(&self, height: u64, min_block: u64, key: &str) -> (Answer, Option<Read>) {
        let Ok(mut pages) = self.pages.lock() else {
            return (Answer::Alone, None);
        };
        if pages.len() >= CACHED_PAGES && !pages.contains_key(key) {
            pages.retain(|_, slot| {
                slot.reading.is_some()
                    || slot
                        .latest
                        .as_ref()
                        .is_some_and(|(_, at, _)| at.elapsed() < self.stale_for)
            });
            if pages.len() >= CACHED_PAGES {
                return (Answer::Alone, None);
            }
        }
        let slot = pages.entry(key.to_owned()).or_default();
        let start = |slot: &mut Slot| {
            let cell = Read::default();
            slot.reading = Some((height, cell.clone()));
            cell
        };
        match &slot.latest {
            Some((at, _, page)) if *at >= height => return (Answer::Kept(page.clone()), None),
            Some((at, when, page)) if *at > min_block && when.elapsed() < self.stale_for => {
                let page = page.clone();
                let refresh = match &slot.reading {
                    Some((at, _)) if *at >= height => None,
                    _ => Some(start(slot)),
                };
                return (Answer::Kept(page), refresh);
            }
            _ => {}
        }
        match &slot.reading {
            // A read under way at a height that holds the block the reader needs.
            Some((at, cell)) if *at > min_block && (min_block > 0 || *at >= height) => {
                (Answer::Join(*at, cell.clone()), None)
            }
            _ => (Answer::Join(height, start(slot)), None),
        }
    }

    /// Waits for (or does) the read of `key` at `height` in `cell`, then keeps its page as the newest.
    async fn finish(
        &self,
        key: &str,
        height: u64,
        cell: &Read,
        read: impl Future<Output = Result<RecordList, Status>>,
    ) -> Result<RecordList, Status> {
        let page = cell.get_or_try_init(|| read).await.cloned();
        if let Ok(mut pages) = self.pages.lock()
            && let Some(slot) = pages.get_mut(key)
        {
            if let Ok(page) = &page
                && slot.latest.as_ref().is_none_or(|(at, _, _)| *at < height)
            {
                slot.latest = Some((height, Instant::now(), page.clone()));
            }
            // Done, or failed: the next reader reads again.
            if slot
                .reading
                .as_ref()
                .is_some_and(|(_, reading)| Arc::ptr_eq(reading, cell))
            {
                slot.reading = None;
            }
        }
        page
    }

    /// The mirror's database.
    pub fn mirror(&self) -> &PgPool {
        &self.mirror
    }

    /// Submits contract function `function` as the caller's club and role; answers once it committed
    /// VALID, with the record the function returned.
    pub async fn submit(
        &self,
        caller: &Caller,
        function: &str,
        args: Vec<String>,
    ) -> Result<WriteResult, Status> {
        let actor = caller.ledger_actor()?;
        let request = caller.request(SubmitRequest {
            actor: Some(actor),
            function: function.to_owned(),
            args,
            transient: Default::default(),
        });
        let response = self.blockchain.clone().submit(request).await?.into_inner();
        Ok(WriteResult {
            tx_id: response.tx_id,
            block_number: response.block_number,
            json: String::from_utf8_lossy(&response.result).into_owned(),
        })
    }

    /// Waits (at most [`MIRROR_WAIT`]) until the mirror holds block `min_block`; answers its height.
    /// `min_block` 0 does not wait.
    pub async fn wait_for(&self, min_block: u64) -> Result<u64, Status> {
        if min_block == 0 {
            return self.height().await;
        }
        let mut height = self.height.clone();
        if height.borrow().is_some() {
            let reached = tokio::time::timeout(
                MIRROR_WAIT,
                height.wait_for(|height| height.is_none_or(|height| height > min_block)),
            )
            .await
            .map(|known| known.map(|known| *known));
            match reached {
                Ok(Ok(known)) => {
                    if let Some(known) = known {
                        return Ok(known);
                    }
                    // Stopped listening meanwhile: ask the blockchain service.
                }
                Ok(Err(_)) => {}
                // Not announced within the wait: the blockchain service says whether that is the
                // mirror's fault or the block's.
                Err(_) => return self.ask_for(min_block, 0).await,
            }
        }
        self.ask_for(min_block, MIRROR_WAIT.as_millis() as u32)
            .await
    }

    /// Asks the blockchain service to wait up to `timeout_ms` for the mirror to hold `min_block`.
    async fn ask_for(&self, min_block: u64, timeout_ms: u32) -> Result<u64, Status> {
        let reply = self
            .blockchain
            .clone()
            .wait_for_mirror(WaitForMirrorRequest {
                min_block,
                timeout_ms,
            })
            .await?
            .into_inner();
        if reply.reached {
            return Ok(reply.height);
        }
        if reply.following {
            // The mirror keeps up with the peer, so the block is not on the ledger.
            return Err(Status::invalid_argument(format!(
                "min_block {min_block} is not on the ledger: the mirror follows the peer and holds blocks below {}; pass the block of a write",
                reply.height
            )));
        }
        Err(Status::unavailable(format!(
            "the mirror has not reached block {min_block} within {} s (it holds blocks below {} and is reconnecting to the peer); retry later",
            MIRROR_WAIT.as_secs(),
            reply.height
        )))
    }

    /// The mirror's height (the next block it needs), without waiting: as last announced, or read from
    /// the database while not listening.
    pub async fn height(&self) -> Result<u64, Status> {
        if let Some(height) = *self.height.borrow() {
            return Ok(height);
        }
        let height: Option<i64> =
            sqlx::query_scalar("SELECT next_block FROM mirror_checkpoint WHERE channel = $1")
                .bind(CHANNEL)
                .fetch_optional(&self.mirror)
                .await
                .map_err(database_error)?;
        Ok(height.unwrap_or(0) as u64)
    }

    /// Whether the blockchain service and the mirror's database answer.
    pub async fn ready(&self) -> Vec<(&'static str, bool)> {
        let mirror = sqlx::query("SELECT 1").execute(&self.mirror).await.is_ok();
        let blockchain = self
            .blockchain
            .clone()
            .wait_for_mirror(WaitForMirrorRequest {
                min_block: 0,
                timeout_ms: 0,
            })
            .await
            .is_ok();
        vec![("mirror", mirror), ("blockchain", blockchain)]
    }
}

/// Keeps `sender` at the mirror's height: listens to its notifications, reads the height once listening,
/// and says `None` while the connection is down (reconnecting every second) until no one watches.
async fn follow_height(pool: PgPool, sender: watch::Sender<Option<u64>>) {
    loop {
        let followed = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(HEIGHT_NOTIFICATIONS).await?;
            // Read after listening, so no change falls between the two.
            let height: Option<i64> =
                sqlx::query_scalar("SELECT next_block FROM mirror_checkpoint WHERE channel = $1")
                    .bind(CHANNEL)
                    .fetch_optional(&pool)
                    .await?;
            sender.send_replace(Some(height.unwrap_or(0) as u64));
            loop {
                let notification = tokio::select! {
                    notification = listener.try_recv() => notification?,
                    () = sender.closed() => return Ok(()),
                };
                let Some(notification) = notification else {
                    return Ok::<(), sqlx::Error>(());
                };
                let announced = notification
                    .payload()
                    .split_once(' ')
                    .filter(|(channel, _)| *channel == CHANNEL)
                    .and_then(|(_, height)| height.parse::<u64>().ok());
                if let Some(announced) = announced {
                    sender.send_if_modified(|height| {
                        let newer = height.is_none_or(|height| announced > height);
                        if newer {
                            *height = Some(announced);
                        }
                        newer
                    });
                }
            }
        }
        .await;
        sender.send_replace(None);
        if let Err(error) = followed {
            tracing::debug!(%error, "Not listening to the mirror's height; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = sender.closed() => return,
        }
    }
}

/// A database failure as the caller sees it: unavailable, with the detail in the log only.
pub fn database_error(error: sqlx::Error) -> Status {
    if refused_text(&error) {
        return Status::invalid_argument(
            "text with a NUL character (or one the database cannot store) is not accepted",
        );
    }
    tracing::error!(%error, "database query failed");
    Status::unavailable("the database is unavailable; retry later")
}

/// Whether Postgres refused a text value itself (a NUL character, an untranslatable one): the caller's
/// input, not an outage.
pub fn refused_text(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("22021" | "22P05")))
}

/// A record read from a mirror view: its value (JSON text), block and transaction.
pub fn record(json: String, block_number: i64, tx_id: String) -> Record {
    Record {
        json,
        block_number: block_number as u64,
        tx_id,
    }
}

/// One record as read from a mirror view: its id, value (JSON text: select `value::text`, which Postgres
/// renders without a round trip through a JSON tree here), block and transaction.
pub type Row = (String, String, i64, String);

/// A page of at most `limit` records from `rows` (fetched with one row more than the page, which tells
/// whether another page follows).
pub fn page(mut rows: Vec<Row>, limit: i64, mirror_height: u64) -> RecordList {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_after = match rows.last() {
        Some((id, ..)) if more => id.clone(),
        _ => String::new(),
    };
    RecordList {
        records: rows.into_iter().map(into_record).collect(),
        next_after,
        mirror_height,
    }
}

/// The record of a row.
pub fn into_record((_, value, block_number, tx_id): Row) -> Record {
    record(value, block_number, tx_id)
}

/// Page sizes: `limit` 0 means the default of 50; at most 500.
pub fn page_size(limit: u32) -> Result<i64, Status> {
    match limit {
        0 => Ok(50),
        1..=500 => Ok(i64::from(limit)),
        _ => Err(Status::invalid_argument(format!(
            "limit must be between 1 and 500, got {limit}"
        ))),
    }
}

/// A new random UUID (version 4), for ids the client did not choose.
pub fn new_uuid() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system generator does not fail on the platforms this runs on; a zero id would be refused as
    // a duplicate by the contract rather than pass silently.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    civil_from_days(days)
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_become_calendar_dates() {
        assert_eq!(civil_from_days(0), "1970-01-01");
        assert_eq!(civil_from_days(59), "1970-03-01");
        assert_eq!(civil_from_days(11_016), "2000-02-29");
        assert_eq!(civil_from_days(20_791), "2026-12-04");
        assert_eq!(civil_from_days(-1), "1969-12-31");
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let one = new_uuid();
        let two = new_uuid();
        assert_ne!(one, two);
        assert_eq!(one.len(), 36);
        assert_eq!(one.as_bytes()[14], b'4');
        assert!(matches!(one.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn a_page_names_where_the_next_one_starts() {
        let row = |id: &str| (id.to_owned(), format!(r#"{{"id":"{id}"}}"#), 1, "tx".into());
        let full = page(vec![row("a"), row("b"), row("c")], 2, 7);
        assert_eq!(full.records.len(), 2);
        assert_eq!(full.next_after, "b");
        assert_eq!(full.records[1].json, r#"{"id":"b"}"#);
        assert_eq!(full.mirror_height, 7);
        let last = page(vec![row("a"), row("b")], 2, 7);
        assert_eq!(last.next_after, "");
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(500).unwrap(), 500);
        assert_eq!(
            page_size(501).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
