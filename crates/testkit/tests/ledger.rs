//! The domain services' view of the mirror's height: announced by Postgres notifications when a block's
//! transaction commits, waited for without asking the blockchain service, and the pages read at a height
//! reused until the height moves (and, briefly, while the page at the new height is read).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use blockchain_service::mirror::Mirror;
use platform::ledger::Ledger;
use reciprocal_api::v1::RecordList;
use sqlx::postgres::PgPool;

async fn set_height(pool: &PgPool, height: i64) {
    sqlx::query(
        "INSERT INTO mirror_checkpoint (channel, next_block) VALUES ('reciprocal', $1) \
         ON CONFLICT (channel) DO UPDATE SET next_block = EXCLUDED.next_block",
    )
    .bind(height)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_height_follows_notifications_and_pages_are_read_once_per_height() {
    let name = format!("ledger_height_{}", std::process::id());
    let url = testkit::fresh_database(&name).await.unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    Mirror::migrate(&pool).await.unwrap();
    set_height(&pool, 3).await;
    // No blockchain service listens there: every answer below comes from the database.
    let nowhere = platform::ledger::channel("http://127.0.0.1:9").unwrap();
    // Pages of an older height answer for a second here, so that no pause of a loaded machine ends it.
    let ledger = Ledger::new(nowhere, pool.clone()).with_stale_pages(Duration::from_secs(1));

    for _ in 0..250 {
        if ledger.follows_height() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ledger.follows_height(), "listening within 5 s");
    assert_eq!(ledger.height().await.unwrap(), 3);
    // Block 2 is held already; block 5 arrives while we wait for it.
    assert_eq!(ledger.wait_for(2).await.unwrap(), 3);
    let waiting = tokio::spawn({
        let ledger = ledger.clone();
        async move { ledger.wait_for(5).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    set_height(&pool, 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "block 5 is not held at height 4");
    set_height(&pool, 6).await;
    let reached = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the notification ends the wait")
        .unwrap()
        .unwrap();
    assert_eq!(reached, 6);

    // A page is read once per height and key.
    let reads = Arc::new(AtomicUsize::new(0));
    let read_slowly = |tag: &'static str, pause: u64| {
        let reads = reads.clone();
        move |height: u64| {
            let reads = reads.clone();
            async move {
                reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                Ok(RecordList {
                    next_after: tag.to_owned(),
                    mirror_height: height,
                    ..RecordList::default()
                })
            }
        }
    };
    let read = |tag: &'static str| read_slowly(tag, 0);
    let first = ledger
        .page_at(6, 0, "k".into(), read("first"))
        .await
        .unwrap();
    let again = ledger
        .page_at(6, 0, "k".into(), read("second"))
        .await
        .unwrap();
    assert_eq!(
        (first.next_after.as_str(), again.next_after.as_str()),
        ("first", "first")
    );
    let other = ledger
        .page_at(6, 0, "other".into(), read("other"))
        .await
        .unwrap();
    assert_eq!(other.next_after, "other");
    assert_eq!(reads.load(Ordering::SeqCst), 2);

    // At a new height, a reader with no min_block gets the page just read at the old one at once, and
    // the page at the new height is read behind it, once, for the next readers.
    let stale = ledger
        .page_at(7, 0, "k".into(), read_slowly("third", 200))
        .await
        .unwrap();
    assert_eq!(
        (stale.next_after.as_str(), stale.mirror_height),
        ("first", 6)
    );
    let mut fresh = stale;
    for _ in 0..200 {
        fresh = ledger
            .page_at(7, 0, "k".into(), read("never"))
            .await
            .unwrap();
        if fresh.mirror_height == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        (fresh.next_after.as_str(), fresh.mirror_height),
        ("third", 7)
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        3,
        "readers meanwhile read nothing"
    );

    // A reader naming block 7 does not get the page of height 7 (blocks 0-6): it waits for height 8.
    let holding = ledger
        .page_at(8, 7, "k".into(), read("sixth"))
        .await
        .unwrap();
    assert_eq!(
        (holding.next_after.as_str(), holding.mirror_height),
        ("sixth", 8)
    );

    // A page older than that second is not given out: the reader waits for the page at the height.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = ledger
        .page_at(9, 0, "k".into(), read("seventh"))
        .await
        .unwrap();
    assert_eq!(
        (later.next_after.as_str(), later.mirror_height),
        ("seventh", 9)
    );
    assert_eq!(reads.load(Ordering::SeqCst), 5);

    // Readers arriving while a page is being read wait for that read instead of starting their own.
    let slow = |reads: Arc<AtomicUsize>| {
        move |height: u64| {
            let reads = reads.clone();
            async move {
                reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(RecordList {
                    next_after: "shared".to_owned(),
                    mirror_height: height,
                    ..RecordList::default()
                })
            }
        }
    };
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let (ledger, reads) = (ledger.clone(), reads.clone());
            tokio::spawn(async move { ledger.page_at(10, 9, "k".into(), slow(reads)).await })
        })
        .collect();
    for reader in concurrent {
        let page = reader.await.unwrap().unwrap();
        assert_eq!(
            (page.next_after.as_str(), page.mirror_height),
            ("shared", 10)
        );
    }
    assert_eq!(reads.load(Ordering::SeqCst), 6);

    // A failed read is not kept: the next reader reads again.
    let failing = |_height: u64| async { Err(tonic::Status::unavailable("mirror down")) };
    let failed = ledger
        .page_at(11, 10, "k".into(), failing)
        .await
        .unwrap_err();
    assert_eq!(failed.code(), tonic::Code::Unavailable);
    let recovered = ledger
        .page_at(11, 10, "k".into(), read("eighth"))
        .await
        .unwrap();
    assert_eq!(
        (recovered.next_after.as_str(), recovered.mirror_height),
        ("eighth", 11)
    );

    pool.close().await;
    testkit::drop_database(&name).await;
}

#[tokio::test]
async fn text_postgres_refuses_is_bad_input_and_an_unreachable_database_an_outage() {
    let name = format!("ledger_text_{}", std::process::id());
    let url = testkit::fresh_database(&name).await.unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    let nul = sqlx::query("SELECT $1::text")
        .bind("club-alpha\0")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(platform::ledger::refused_text(&nul), "{nul:?}");
    let status = platform::ledger::database_error(nul);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("NUL"), "{status:?}");
    pool.close().await;
    testkit::drop_database(&name).await;

    let closed = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:9/none")
        .unwrap();
    let down = sqlx::query("SELECT 1").execute(&closed).await.unwrap_err();
    assert!(!platform::ledger::refused_text(&down));
    assert_eq!(
        platform::ledger::database_error(down).code(),
        tonic::Code::Unavailable
    );
}
