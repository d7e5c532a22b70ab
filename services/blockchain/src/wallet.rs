//! The identities the service acts as: one enrolled identity per club and role. Each comes from an MSP
//! folder; the club and role are read from the certificate's Fabric CA attributes `club` and `role`, so
//! the wallet cannot be configured to let one club's request be signed as another club.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fabric_sdk::gateway::{Gateway, Timeouts};
use fabric_sdk::msp::{MspFolder, SigningIdentity};
use tonic::transport::Channel;

/// The role attribute of the network administrator, who acts for no club.
pub const NETWORK_ADMIN: &str = "network_admin";

/// Roles the contract knows.
pub const ROLES: &[&str] = &[NETWORK_ADMIN, "club_admin", "front_desk"];

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Actor {
    /// The club (empty for the network admin).
    pub club: String,
    /// The role.
    pub role: String,
}

impl Actor {
    /// The wallet's key for this actor: the network admin acts for no club, whatever a request names.
    fn normalized(&self) -> Self {
        Self {
            club: if self.role == NETWORK_ADMIN {
                String::new()
            } else {
                self.club.clone()
            },
            role: self.role.clone(),
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.club.is_empty() {
            write!(f, "{}", self.role)
        } else {
            write!(f, "{} of {}", self.role, self.club)
        }
    }
}

/// Where identities are loaded from: `MSPID=DIR`, where DIR is an MSP folder or a folder of identities
/// (`users/` of a cryptogen organisation: each `<name>/msp`, or each `<name>` an MSP folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSource {
    /// The MSP id of the identities.
    pub msp_id: String,
    /// The folder.
    pub dir: PathBuf,
}

impl std::str::FromStr for WalletSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (msp_id, dir) = text
            .split_once('=')
            .filter(|(msp_id, dir)| !msp_id.is_empty() && !dir.is_empty())
            .ok_or_else(|| format!("expected MSPID=DIR, got {text:?}"))?;
        Ok(Self {
            msp_id: msp_id.to_owned(),
            dir: PathBuf::from(dir),
        })
    }
}

/// Why the wallet could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A folder could not be read.
    #[error("wallet folder {path}: {reason}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// An identity has no usable `role` attribute.
    #[error("identity {path}: {reason}")]
    Identity {
        /// Its MSP folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// Two identities claim the same club and role.
    #[error("identities {first} and {second} both act as {actor}")]
    Duplicate {
        /// The club and role.
        actor: String,
        /// One folder.
        first: String,
        /// The other.
        second: String,
    },
    /// The wallet holds no identity at all.
    #[error("the wallet holds no identity with a club/role attribute")]
    Empty,
    /// No identity for this actor.
    #[error("the wallet holds no identity for {0}")]
    Unknown(Actor),
}

struct Entry {
    path: PathBuf,
    identity: SigningIdentity,
}

/// One identity per (club, role).
pub struct Wallet {
    entries: BTreeMap<Actor, Entry>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

fn msp_folders(dir: &Path) -> Result<Vec<PathBuf>, WalletError> {
    if dir.join("signcerts").is_dir() {
        return Ok(vec![dir.to_owned()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|error| WalletError::Folder {
        path: dir.display().to_string(),
        reason: error.to_string(),
    })?;
    let mut folders = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.join("msp").join("signcerts").is_dir() {
            folders.push(path.join("msp"));
        } else if path.join("signcerts").is_dir() {
            folders.push(path);
        }
    }
    folders.sort();
    Ok(folders)
}

impl Wallet {
    /// Loads every identity under `sources` that carries a `role` attribute (identities without one, such
    /// as a peer's or cryptogen's `Admin`, are skipped).
    pub fn load(sources: &[WalletSource]) -> Result<Self, WalletError> {
        let mut entries: BTreeMap<Actor, Entry> = BTreeMap::new();
        for source in sources {
            for path in msp_folders(&source.dir)? {
                let invalid = |reason: String| WalletError::Identity {
                    path: path.display().to_string(),
                    reason,
                };
                let identity = MspFolder::load(&path, &source.msp_id)
                    .and_then(|folder| folder.signing_identity())
                    .map_err(|error| invalid(error.to_string()))?;
                let certificate = identity
                    .identity()
                    .certificate()
                    .map_err(|error| invalid(error.to_string()))?;
                let Some(role) = certificate.attribute("role") else {
                    continue;
                };
                if !ROLES.contains(&role) {
                    return Err(invalid(format!("unknown role attribute {role:?}")));
                }
                let club = certificate.attribute("club").unwrap_or_default();
                if role != NETWORK_ADMIN && club.is_empty() {
                    return Err(invalid(format!("role {role} without a club attribute")));
                }
                let actor = Actor {
                    club: club.to_owned(),
                    role: role.to_owned(),
                }
                .normalized();
                if let Some(existing) = entries.get(&actor) {
                    return Err(WalletError::Duplicate {
                        actor: actor.to_string(),
                        first: existing.path.display().to_string(),
                        second: path.display().to_string(),
                    });
                }
                entries.insert(actor, Entry { path, identity });
            }
        }
        if entries.is_empty() {
            return Err(WalletError::Empty);
        }
        Ok(Self { entries })
    }

    /// The actors the wallet can act as.
    pub fn actors(&self) -> impl Iterator<Item = &Actor> {
        self.entries.keys()
    }

    /// The identity of `actor`. The network admin is found whatever club the request names.
    pub fn identity(&self, actor: &Actor) -> Result<&SigningIdentity, WalletError> {
        self.entries
            .get(&actor.normalized())
            .map(|entry| &entry.identity)
            .ok_or_else(|| WalletError::Unknown(actor.clone()))
    }

    /// One gateway per identity over the same connection.
    pub fn gateways(&self, channel: &Channel, timeouts: Timeouts) -> Gateways {
        Gateways {
            gateways: Arc::new(
                self.entries
                    .iter()
                    .map(|(actor, entry)| {
                        let gateway = Gateway::with_timeouts(
                            channel.clone(),
                            entry.identity.identity().clone(),
                            entry.identity.signer(),
                            timeouts,
                        );
                        (actor.clone(), gateway)
                    })
                    .collect(),
            ),
        }
    }
}

/// A gateway per actor.
#[derive(Debug, Clone)]
pub struct Gateways {
    gateways: Arc<BTreeMap<Actor, Gateway>>,
}

impl Gateways {
    /// The gateway acting as `actor`; the network admin's whatever club the request names.
    pub fn get(&self, actor: &Actor) -> Result<&Gateway, WalletError> {
        self.gateways
            .get(&actor.normalized())
            .ok_or_else(|| WalletError::Unknown(actor.clone()))
    }

    /// Some gateway, for reading blocks: the network admin's if there is one.
    pub fn any(&self) -> Option<&Gateway> {
        self.gateways
            .iter()
            .find(|(key, _)| key.role == NETWORK_ADMIN)
            .or_else(|| self.gateways.iter().next())
            .map(|(_, gateway)| gateway)
    }
}
