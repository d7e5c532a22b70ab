//! The channel's membership: which identities belong to the application org and the orderer org, with
//! which NodeOU role, checked the way Fabric's MSP does (certificate issued by the org's CA, not expired,
//! exactly one NodeOU role) and cached by serialized identity so a hot path verifies each creator once.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use fabric_protos::msp::SerializedIdentity;
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspFolder, NodeRole};
use fabric_sdk::signer::Signer;
use prost::Message;

use crate::genesis::OrgDefinition;

/// NodeOU roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `client`.
    Client,
    /// `peer`.
    Peer,
    /// `admin`.
    Admin,
    /// `orderer`.
    Orderer,
}

impl Role {
    fn from_node_role(role: NodeRole) -> Self {
        match role {
            NodeRole::Client => Self::Client,
            NodeRole::Peer => Self::Peer,
            NodeRole::Admin => Self::Admin,
            NodeRole::Orderer => Self::Orderer,
        }
    }
}

/// An identity that passed MSP validation.
#[derive(Debug)]
pub struct ValidIdentity {
    msp_id: String,
    role: Role,
    public_key: Vec<u8>,
}

impl ValidIdentity {
    /// The MSP the identity belongs to.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// Its NodeOU role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether `signature` is this identity's valid low-S ECDSA signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        fabric_sdk::signer::verify(&self.public_key, message, signature).is_ok()
    }
}

/// One organisation's MSP as the channel knows it.
#[derive(Debug)]
struct OrgMsp {
    msp_id: String,
    folder: MspFolder,
}

/// Upper bound on cached identities; the cache is cleared when it is reached.
const CACHE_LIMIT: usize = 10_000;

/// Upper bound on remembered signatures.
const SIGNATURE_CACHE_LIMIT: usize = 200_000;

fn signature_digest(public_key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [public_key, message, signature] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(context.finish().as_ref());
    digest
}

/// Validation results by serialized identity.
type IdentityCache = HashMap<Vec<u8>, Result<Arc<ValidIdentity>, String>>;

/// The MSPs of the dev channel.
#[derive(Debug)]
pub struct ChannelMsps {
    application: OrgMsp,
    orderer: OrgMsp,
    cache: Mutex<IdentityCache>,
    /// Digests of (public key, message, signature) already verified: an envelope checked at Submit, or an
    /// endorsement this peer made, is not verified again at commit.
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl ChannelMsps {
    /// Loads the application org's and the orderer org's channel MSP folders.
    pub fn load(
        application_dir: &Path,
        application_msp_id: &str,
        orderer_dir: &Path,
        orderer_msp_id: &str,
    ) -> Result<Self, fabric_sdk::msp::MspError> {
        Ok(Self {
            application: OrgMsp {
                msp_id: application_msp_id.to_owned(),
                folder: MspFolder::load(application_dir, application_msp_id)?,
            },
            orderer: OrgMsp {
                msp_id: orderer_msp_id.to_owned(),
                folder: MspFolder::load(orderer_dir, orderer_msp_id)?,
            },
            cache: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether `signature` is `identity`'s valid signature over `message`, remembering the answer.
    pub fn verify_signature(
        &self,
        identity: &ValidIdentity,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let digest = signature_digest(&identity.public_key, message, signature);
        if self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&digest)
        {
            return true;
        }
        let valid = identity.verify(message, signature);
        if valid {
            self.remember(digest);
        }
        valid
    }

    /// Records a signature known to be valid (one this peer just made).
    pub fn remember_signature(&self, identity: &ValidIdentity, message: &[u8], signature: &[u8]) {
        self.remember(signature_digest(&identity.public_key, message, signature));
    }

    fn remember(&self, digest: [u8; 32]) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= SIGNATURE_CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(digest);
    }

    /// The application org's MSP id.
    pub fn application_msp_id(&self) -> &str {
        &self.application.msp_id
    }

    /// Validates a serialized identity and checks it has one of `allowed` roles.
    pub fn validate(
        &self,
        serialized: &[u8],
        allowed: &[Role],
    ) -> Result<Arc<ValidIdentity>, String> {
        let identity = self.validate_cached(serialized)?;
        if allowed.contains(&identity.role) {
            Ok(identity)
        } else {
            Err(format!(
                "identity of {} has role {:?}, which is not one of {allowed:?}",
                identity.msp_id, identity.role
            ))
        }
    }

    fn validate_cached(&self, serialized: &[u8]) -> Result<Arc<ValidIdentity>, String> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(result) = cache.get(serialized) {
            return result.clone();
        }
        let result = self.validate_uncached(serialized).map(Arc::new);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(serialized.to_vec(), result.clone());
        result
    }

    fn validate_uncached(&self, serialized: &[u8]) -> Result<ValidIdentity, String> {
        let identity = SerializedIdentity::decode(serialized)
            .map_err(|error| format!("could not deserialize identity: {error}"))?;
        let org = [&self.application, &self.orderer]
            .into_iter()
            .find(|org| org.msp_id == identity.mspid)
            .ok_or_else(|| format!("MSP {} is not defined on channel", identity.mspid))?;
        let certificate = CertificateInfo::from_pem(&identity.id_bytes)
            .map_err(|error| format!("identity is not a PEM certificate: {error}"))?;
        let role = org
            .folder
            .validate_certificate(&identity.id_bytes)
            .map_err(|error| format!("the supplied identity is not valid: {error}"))?
            .map(Role::from_node_role)
            .ok_or("the MSP does not use NodeOUs, so the identity has no role")?;
        Ok(ValidIdentity {
            msp_id: org.msp_id.clone(),
            role,
            public_key: certificate.public_key,
        })
    }
}

/// The serialized identity and signer of the MSP folder at `dir`.
pub fn signing_identity(
    dir: &Path,
    msp_id: &str,
) -> Result<(Vec<u8>, Arc<dyn Signer>), fabric_sdk::msp::MspError> {
    let folder = MspFolder::load(dir, msp_id)?;
    let signing = folder.signing_identity()?;
    Ok((signing.identity().serialize(), signing.signer()))
}

/// An org's definition for the channel configuration, from its channel MSP folder.
pub fn org_definition(
    dir: &Path,
    msp_id: &str,
) -> Result<OrgDefinition, fabric_sdk::msp::MspError> {
    let folder = MspFolder::load(dir, msp_id)?;
    Ok(OrgDefinition {
        msp_id: msp_id.to_owned(),
        root_certs: folder.ca_certs_pem(),
        tls_root_certs: folder.tls_ca_certs_pem(),
    })
}
