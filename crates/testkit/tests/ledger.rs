//! The domain services' view of the mirror's height: announced by Postgres notifications when a block's
//! transaction commits, waited for without asking the blockchain service, and the pages read at a height
//! reused until the height moves.

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
    let ledger = Ledger::new(nowhere, pool.clone());

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
    let read = |tag: &'static str| {
        let reads = reads.clone();
        async move {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(RecordList {
                next_after: tag.to_owned(),
                ..RecordList::default()
            })
        }
    };
    let first = ledger.page_at(6, "k".into(), read("first")).await.unwrap();
    let again = ledger.page_at(6, "k".into(), read("second")).await.unwrap();
    assert_eq!(
        (first.next_after.as_str(), again.next_after.as_str()),
        ("first", "first")
    );
    let other = ledger
        .page_at(6, "other".into(), read("other"))
        .await
        .unwrap();
    assert_eq!(other.next_after, "other");
    let moved = ledger.page_at(7, "k".into(), read("third")).await.unwrap();
    assert_eq!(moved.next_after, "third");
    assert_eq!(reads.load(Ordering::SeqCst), 3);

    // Readers arriving while a page is being read wait for that read instead of starting their own.
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let (ledger, reads) = (ledger.clone(), reads.clone());
            tokio::spawn(async move {
                ledger
                    .page_at(8, "k".into(), async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(RecordList {
                            next_after: "shared".to_owned(),
                            ..RecordList::default()
                        })
                    })
                    .await
            })
        })
        .collect();
    for reader in concurrent {
        assert_eq!(reader.await.unwrap().unwrap().next_after, "shared");
    }
    assert_eq!(reads.load(Ordering::SeqCst), 4);

    pool.close().await;
    testkit::drop_database(&name).await;
}
