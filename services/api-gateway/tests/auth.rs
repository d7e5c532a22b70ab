//! Session tokens against a JWKS served over HTTP, as Hanko serves it: keys cached by `kid` and fetched
//! again on an unknown one, `exp` and `aud` checked, and subjects mapped to users in Postgres.

use std::sync::{Arc, Mutex};

use api_gateway::auth::{Audience, Authenticator, Claims, DevIssuer, unix_now};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::Value;
use sqlx::postgres::PgPool;

async fn jwks_server(keys: Arc<Mutex<Value>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys.lock().unwrap().clone()) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/.well-known/jwks.json")
}

fn issuer(dir: &std::path::Path, name: &str) -> DevIssuer {
    DevIssuer::load_or_create(&dir.join(name)).unwrap()
}

fn claims(subject: &str, audience: &str, exp: u64) -> Claims {
    Claims {
        sub: subject.to_owned(),
        aud: Audience::Many(vec![audience.to_owned()]),
        exp,
        iat: unix_now(),
        session_id: None,
    }
}

#[tokio::test]
async fn tokens_are_checked_against_the_jwks_and_mapped_to_users() {
    let db = format!("gateway_auth_{}", std::process::id());
    let url = testkit::fresh_database(&db).await.unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    sqlx::migrate!().run(&pool).await.unwrap();
    sqlx::query("INSERT INTO users (subject, name, role, club) VALUES ('u-1', 'alpha-desk', 'front_desk', 'club-alpha')")
        .execute(&pool)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("gateway-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = issuer(&dir, "first.pem");
    let second = issuer(&dir, "second.pem");
    // The key file is kept: loading it again gives the same key.
    assert_eq!(issuer(&dir, "first.pem").jwks(), first.jwks());

    let served = Arc::new(Mutex::new(first.jwks().clone()));
    let jwks_url = jwks_server(served.clone()).await;
    let auth = Authenticator::new(&jwks_url, None, "localhost", pool.clone()).unwrap();

    let valid = first
        .sign(&claims("u-1", "localhost", unix_now() + 600))
        .unwrap();
    let user = auth.authenticate(&valid).await.unwrap();
    assert_eq!(user.role, "front_desk");
    assert_eq!(user.club.as_deref(), Some("club-alpha"));

    // `aud` may also be a single string.
    let single = Claims {
        aud: Audience::One("localhost".to_owned()),
        ..claims("u-1", "localhost", unix_now() + 600)
    };
    assert_eq!(
        auth.authenticate(&first.sign(&single).unwrap())
            .await
            .unwrap()
            .subject,
        "u-1"
    );

    // The provider rotates its key: a token with the new kid makes the gateway fetch the JWKS again.
    *served.lock().unwrap() = second.jwks().clone();
    tokio::time::sleep(api_gateway::auth::REFETCH_AFTER).await;
    let rotated = second
        .sign(&claims("u-1", "localhost", unix_now() + 600))
        .unwrap();
    assert_eq!(auth.authenticate(&rotated).await.unwrap().subject, "u-1");

    let refused = |token: String| {
        let auth = auth.clone();
        async move { auth.authenticate(&token).await.unwrap_err() }
    };
    let expired = refused(
        first
            .sign(&claims("u-1", "localhost", unix_now() - 120))
            .unwrap(),
    )
    .await;
    // The first key is gone from the JWKS now, so the old token is refused for its key or its expiry.
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let expired = refused(
        second
            .sign(&claims("u-1", "localhost", unix_now() - 120))
            .unwrap(),
    )
    .await;
    assert!(expired.message.contains("expired"), "{expired:?}");
    let audience = refused(
        second
            .sign(&claims("u-1", "elsewhere", unix_now() + 600))
            .unwrap(),
    )
    .await;
    assert!(audience.message.contains("audience"), "{audience:?}");
    let mut tampered = rotated.clone();
    tampered.pop();
    tampered.push(if rotated.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(refused(tampered).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused("not.a.token".to_owned()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let stranger = refused(
        second
            .sign(&claims("u-2", "localhost", unix_now() + 600))
            .unwrap(),
    )
    .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);

    // An identity provider that does not answer: 503, not a crash and not a pass.
    let down = Authenticator::new(
        "http://127.0.0.1:9/jwks.json",
        None,
        "localhost",
        pool.clone(),
    )
    .unwrap();
    assert_eq!(
        down.authenticate(&valid).await.unwrap_err().status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    pool.close().await;
    testkit::drop_database(&db).await;
    let _ = std::fs::remove_dir_all(&dir);
}
