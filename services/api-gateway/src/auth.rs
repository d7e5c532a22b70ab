//! Authentication: a Hanko session JWT (`Authorization: Bearer …` or the `hanko` cookie) verified against
//! the keys of a JWKS URL (cached by `kid`, fetched again when a token names an unknown one), its `exp`
//! and `aud` checked; then the token's subject mapped to a platform user (role, club, member).
//!
//! With dev sign-in on, the gateway is its own issuer: it keeps an RSA key, serves its JWKS, and signs
//! Hanko-shaped RS256 tokens for the users it has.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use platform::caller::Role;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;

use crate::error::ApiError;

/// How long a user mapping is cached.
const USER_CACHE: Duration = Duration::from_secs(10);
/// The shortest time between two fetches of the JWKS: tokens naming unknown keys cannot flood the
/// identity provider.
pub const REFETCH_AFTER: Duration = Duration::from_secs(1);
/// Lifetime of a dev token.
const DEV_TOKEN_SECONDS: u64 = 12 * 3600;

/// The claims the gateway reads from a session token (Hanko's: `sub`, `aud`, `exp`, `iat`, `session_id`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Audiences (one, or several).
    pub aud: Audience,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: u64,
    /// The session.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// A token's `aud`: a string or an array of strings, as JWTs allow both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// A platform user: what a subject may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    /// The token subject.
    pub subject: String,
    /// A unique login name.
    pub name: String,
    /// `network_admin`, `club_admin`, `front_desk` or `member`.
    pub role: String,
    /// The club (none for the network admin).
    pub club: Option<String>,
    /// The member (members only).
    pub member_id: Option<String>,
}

impl User {
    /// The role, parsed.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

/// The gateway's own signing key for dev sign-in.
#[derive(Clone)]
pub struct DevIssuer {
    kid: String,
    encoding: EncodingKey,
    jwks: serde_json::Value,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("kid", &self.kid).finish()
    }
}

impl DevIssuer {
    /// Loads the RSA key at `path` (PKCS#8 PEM), creating a 2048-bit one there if there is none.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
        use rsa::traits::PublicKeyParts as _;
        let key = if path.exists() {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the dev sign-in key {}", path.display()))?;
            rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
                .with_context(|| format!("{} is not a PKCS#8 RSA key", path.display()))?
        } else {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .context("generating the dev sign-in key")?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .context("encoding the dev sign-in key")?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            write_private(path, pem.as_bytes())?;
            key
        };
        let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&key)
            .context("encoding the dev sign-in key")?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let digest = ring::digest::digest(&ring::digest::SHA256, n.as_bytes());
        let kid = format!("dev-{}", &hex::encode(digest.as_ref())[..16]);
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        }]});
        Ok(Self {
            kid,
            encoding,
            jwks,
        })
    }

    /// The JWKS of the key.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// A Hanko-shaped session token for `subject`.
    pub fn token(&self, subject: &str, audience: &str) -> Result<String, ApiError> {
        let now = unix_now();
        self.sign(&Claims {
            sub: subject.to_owned(),
            aud: Audience::Many(vec![audience.to_owned()]),
            exp: now + DEV_TOKEN_SECONDS,
            iat: now,
            session_id: Some(platform::ledger::new_uuid()),
        })
    }

    /// Signs `claims` with RS256 and the key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|error| {
            tracing::error!(%error, "signing a dev token");
            ApiError::unavailable("cannot sign a token")
        })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Where keys come from.
#[derive(Debug)]
enum Keys {
    /// A JWKS URL (Hanko's public API).
    Remote {
        url: String,
        client: reqwest::Client,
        last_fetch: Mutex<Option<Instant>>,
        fetching: tokio::sync::Mutex<()>,
    },
    /// The gateway's own dev key.
    Local(DevIssuer),
}

/// Verifies tokens and maps subjects to users.
#[derive(Debug, Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keys: Keys,
    cache: RwLock<HashMap<String, DecodingKey>>,
    validation: Validation,
    audience: String,
    pool: PgPool,
    users: RwLock<HashMap<String, (Option<User>, Instant)>>,
    /// Tokens already verified: their subject and expiry (Unix seconds).
    verified: RwLock<HashMap<String, (String, u64)>>,
}

impl Authenticator {
    /// Verifies tokens with the keys of `jwks_url`, or with `dev`'s key when dev sign-in is on, for
    /// `audience`; users come from `pool`.
    pub fn new(
        jwks_url: &str,
        dev: Option<DevIssuer>,
        audience: &str,
        pool: PgPool,
    ) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 30;
        let mut cache = HashMap::new();
        let keys = match dev {
            Some(dev) => {
                let set: JwkSet = serde_json::from_value(dev.jwks().clone())
                    .context("the dev sign-in key's JWKS")?;
                for jwk in &set.keys {
                    if let Some(kid) = &jwk.common.key_id {
                        cache.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
                    }
                }
                Keys::Local(dev)
            }
            None => Keys::Remote {
                url: jwks_url.to_owned(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .context("building the JWKS client")?,
                last_fetch: Mutex::new(None),
                fetching: tokio::sync::Mutex::new(()),
            },
        };
        Ok(Self {
            inner: Arc::new(Inner {
                keys,
                cache: RwLock::new(cache),
                validation,
                audience: audience.to_owned(),
                pool,
                users: RwLock::new(HashMap::new()),
                verified: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The dev issuer, when dev sign-in is on.
    pub fn dev(&self) -> Option<&DevIssuer> {
        match &self.inner.keys {
            Keys::Local(dev) => Some(dev),
            Keys::Remote { .. } => None,
        }
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The users' database.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Verifies `token` and answers the user it signs in. A token verified before is not verified again
    /// until it expires: its signature cannot have changed.
    pub async fn authenticate(&self, token: &str) -> Result<User, ApiError> {
        let known = self.inner.verified.read().ok().and_then(|verified| {
            verified
                .get(token)
                .filter(|(_, exp)| *exp > unix_now())
                .map(|(subject, _)| subject.clone())
        });
        let subject = match known {
            Some(subject) => subject,
            None => self.verify(token).await?,
        };
        self.user(&subject).await?.ok_or_else(|| {
            ApiError::forbidden(
                "you are signed in, but your account is not linked to a club or a member of this network",
            )
        })
    }

    /// Checks `token`'s signature, expiry and audience; answers its subject.
    async fn verify(&self, token: &str) -> Result<String, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| ApiError::unauthenticated(format!("malformed token: {error}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::unauthenticated(format!(
                "tokens must be signed with RS256, not {:?}",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::unauthenticated("the token names no key (kid)"))?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.inner.validation)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                ApiError::unauthenticated(match error.kind() {
                    ErrorKind::ExpiredSignature => {
                        "the token has expired; sign in again".to_owned()
                    }
                    ErrorKind::InvalidAudience => format!(
                        "the token is not for this API (audience {:?})",
                        self.inner.audience
                    ),
                    ErrorKind::InvalidSignature => "the token's signature is not valid".to_owned(),
                    _ => format!("invalid token: {error}"),
                })
            })?
            .claims;
        if let Ok(mut verified) = self.inner.verified.write() {
            if verified.len() > 100_000 {
                verified.clear();
            }
            verified.insert(token.to_owned(), (claims.sub.clone(), claims.exp));
        }
        Ok(claims.sub)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, ApiError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let Keys::Remote {
            url,
            client,
            last_fetch,
            fetching,
        } = &self.inner.keys
        else {
            return Err(ApiError::unauthenticated(format!(
                "unknown signing key {kid:?}"
            )));
        };
        // One fetch at a time, and at most one per REFETCH_AFTER however many unknown kids arrive.
        let _guard = fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let recent = last_fetch
            .lock()
            .map(|last| last.is_some_and(|at| at.elapsed() < REFETCH_AFTER))
            .unwrap_or(false);
        if !recent {
            if let Ok(mut last) = last_fetch.lock() {
                *last = Some(Instant::now());
            }
            let set = fetch_jwks(client, url).await?;
            let mut keys = HashMap::new();
            for jwk in &set.keys {
                if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                    keys.insert(kid.clone(), key);
                }
            }
            tracing::info!(url, keys = keys.len(), "Fetched the JWKS");
            if let Ok(mut cache) = self.inner.cache.write() {
                *cache = keys;
            }
        }
        self.cached(kid)
            .ok_or_else(|| ApiError::unauthenticated(format!("unknown signing key {kid:?}")))
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.inner
            .cache
            .read()
            .ok()
            .and_then(|cache| cache.get(kid).cloned())
    }

    /// The user of `subject`, from a short-lived cache or the database.
    pub async fn user(&self, subject: &str) -> Result<Option<User>, ApiError> {
        if let Ok(users) = self.inner.users.read()
            && let Some((user, at)) = users.get(subject)
            && at.elapsed() < USER_CACHE
        {
            return Ok(user.clone());
        }
        let user: Option<User> = sqlx::query_as(
            "SELECT subject, name, role, club, member_id FROM users WHERE subject = $1",
        )
        .bind(subject)
        .fetch_optional(&self.inner.pool)
        .await
        .map_err(database_error)?;
        if let Ok(mut users) = self.inner.users.write() {
            if users.len() > 100_000 {
                users.clear();
            }
            users.insert(subject.to_owned(), (user.clone(), Instant::now()));
        }
        Ok(user)
    }

    /// Forgets the cached mapping of `subject`.
    pub fn forget(&self, subject: &str) {
        if let Ok(mut users) = self.inner.users.write() {
            users.remove(subject);
        }
    }
}

async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<JwkSet, ApiError> {
    let unavailable = |error: &dyn std::fmt::Display| {
        tracing::warn!(url, %error, "Cannot fetch the JWKS");
        ApiError::unavailable(format!(
            "cannot fetch the signing keys from {url}; is the identity provider (Hanko) running?"
        ))
    };
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| unavailable(&error))?;
    if !response.status().is_success() {
        return Err(unavailable(&response.status()));
    }
    response.json().await.map_err(|error| unavailable(&error))
}

/// A database failure, logged; the caller sees 503.
pub fn database_error(error: sqlx::Error) -> ApiError {
    if platform::ledger::refused_text(&error) {
        return ApiError::bad_request(
            "text with a NUL character (or one the database cannot store) is not accepted",
        );
    }
    tracing::error!(%error, "database query failed");
    ApiError::unavailable("the gateway's database is unavailable; retry later")
}

/// Adds the demo users of dev sign-in, if missing: `admin` (network admin), and for each club
/// `<short>-admin` (club admin) and `<short>-desk` (front desk), where `<short>` is the club id without
/// its `club-` prefix.
pub async fn seed_demo_users(pool: &PgPool, clubs: &[String]) -> anyhow::Result<()> {
    let mut users = vec![("admin".to_owned(), "network_admin", None)];
    for club in clubs {
        let short = club.strip_prefix("club-").unwrap_or(club);
        users.push((format!("{short}-admin"), "club_admin", Some(club.clone())));
        users.push((format!("{short}-desk"), "front_desk", Some(club.clone())));
    }
    for (name, role, club) in users {
        sqlx::query(
            "INSERT INTO users (subject, name, role, club) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(platform::ledger::new_uuid())
        .bind(&name)
        .bind(role)
        .bind(club)
        .execute(pool)
        .await
        .with_context(|| format!("adding demo user {name}"))?;
    }
    Ok(())
}
