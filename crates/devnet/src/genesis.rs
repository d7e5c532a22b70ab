//! The genesis block of the dev channel: a CONFIG transaction whose channel configuration names the
//! application org (`Org1MSP`) and the orderer org (`OrdererMSP`) with their MSP definitions and policies,
//! in the shape `configtxgen` produces, so tools that read a channel's configuration (the orderer
//! organisation's certificates, the application orgs) work on devnet's ledger as on Fabric's.

use std::collections::HashMap;

use fabric_protos::common::{
    self, Block, BlockData, BlockHeader, BlockMetadata, ChannelHeader, ConfigGroup, ConfigPolicy,
    ConfigValue, HeaderType, ImplicitMetaPolicy, MspPrincipal, MspRole, Payload, Policy,
    SignatureHeader, SignaturePolicy, SignaturePolicyEnvelope, implicit_meta_policy, msp_principal,
    msp_role, policy, signature_policy,
};
use fabric_protos::msp::{
    FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, MspConfig,
};
use fabric_protos::orderer::{BatchSize, BatchTimeout, ConsensusType};
use prost::Message;

/// What the genesis configuration needs to know about an organisation.
#[derive(Debug, Clone)]
pub struct OrgDefinition {
    /// MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// PEM root CA certificates.
    pub root_certs: Vec<Vec<u8>>,
    /// PEM TLS root CA certificates.
    pub tls_root_certs: Vec<Vec<u8>>,
}

/// Channel-wide settings recorded in the configuration.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// Channel name.
    pub channel_id: String,
    /// Orderer endpoint advertised in the orderer org.
    pub orderer_endpoint: String,
    /// Block cutting: most transactions per block.
    pub max_message_count: u32,
    /// Block cutting: longest wait, as a Go duration string ("20ms").
    pub batch_timeout: String,
}

fn msp_value(org: &OrgDefinition) -> Vec<u8> {
    let ou = |name: &str| {
        Some(FabricOuIdentifier {
            certificate: org.root_certs.first().cloned().unwrap_or_default(),
            organizational_unit_identifier: name.to_owned(),
        })
    };
    let fabric = FabricMspConfig {
        name: org.msp_id.clone(),
        root_certs: org.root_certs.clone(),
        tls_root_certs: org.tls_root_certs.clone(),
        crypto_config: Some(FabricCryptoConfig {
            signature_hash_family: "SHA2".to_owned(),
            identity_identifier_hash_function: "SHA256".to_owned(),
        }),
        fabric_node_ous: Some(FabricNodeOUs {
            enable: true,
            client_ou_identifier: ou("client"),
            peer_ou_identifier: ou("peer"),
            admin_ou_identifier: ou("admin"),
            orderer_ou_identifier: ou("orderer"),
        }),
        ..FabricMspConfig::default()
    };
    MspConfig {
        r#type: 0,
        config: fabric.encode_to_vec(),
    }
    .encode_to_vec()
}

/// A signature policy "any one of these roles of `msp_id`".
fn signature_policy(msp_id: &str, roles: &[msp_role::MspRoleType]) -> ConfigPolicy {
    let identities = roles
        .iter()
        .map(|role| MspPrincipal {
            principal_classification: msp_principal::Classification::Role as i32,
            principal: MspRole {
                msp_identifier: msp_id.to_owned(),
                role: *role as i32,
            }
            .encode_to_vec(),
        })
        .collect();
    let rules = (0..roles.len() as i32)
        .map(|index| SignaturePolicy {
            r#type: Some(signature_policy::Type::SignedBy(index)),
        })
        .collect();
    let envelope = SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: 1,
                rules,
            })),
        }),
        identities,
    };
    config_policy(policy::PolicyType::Signature, envelope.encode_to_vec())
}

fn implicit_meta(sub_policy: &str, rule: implicit_meta_policy::Rule) -> ConfigPolicy {
    let value = ImplicitMetaPolicy {
        sub_policy: sub_policy.to_owned(),
        rule: rule as i32,
    }
    .encode_to_vec();
    config_policy(policy::PolicyType::ImplicitMeta, value)
}

fn config_policy(kind: policy::PolicyType, value: Vec<u8>) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: kind as i32,
            value,
        }),
        mod_policy: "Admins".to_owned(),
    }
}

fn config_value(value: Vec<u8>) -> ConfigValue {
    ConfigValue {
        version: 0,
        value,
        mod_policy: "Admins".to_owned(),
    }
}

fn capabilities(name: &str) -> ConfigValue {
    let mut capabilities = HashMap::new();
    capabilities.insert(name.to_owned(), common::Capability {});
    config_value(common::Capabilities { capabilities }.encode_to_vec())
}

fn group(
    groups: HashMap<String, ConfigGroup>,
    values: HashMap<String, ConfigValue>,
    policies: HashMap<String, ConfigPolicy>,
) -> ConfigGroup {
    ConfigGroup {
        version: 0,
        groups,
        values,
        policies,
        mod_policy: "Admins".to_owned(),
    }
}

fn application_org(org: &OrgDefinition) -> ConfigGroup {
    use msp_role::MspRoleType::{Admin, Client, Peer};
    let id = org.msp_id.as_str();
    group(
        HashMap::new(),
        HashMap::from([("MSP".to_owned(), config_value(msp_value(org)))]),
        HashMap::from([
            (
                "Readers".to_owned(),
                signature_policy(id, &[Admin, Peer, Client]),
            ),
            ("Writers".to_owned(), signature_policy(id, &[Admin, Client])),
            ("Admins".to_owned(), signature_policy(id, &[Admin])),
            ("Endorsement".to_owned(), signature_policy(id, &[Peer])),
        ]),
    )
}

fn orderer_org(org: &OrgDefinition, endpoint: &str) -> ConfigGroup {
    use msp_role::MspRoleType::{Admin, Member};
    let id = org.msp_id.as_str();
    let endpoints = common::OrdererAddresses {
        addresses: vec![endpoint.to_owned()],
    };
    group(
        HashMap::new(),
        HashMap::from([
            ("MSP".to_owned(), config_value(msp_value(org))),
            (
                "Endpoints".to_owned(),
                config_value(endpoints.encode_to_vec()),
            ),
        ]),
        HashMap::from([
            ("Readers".to_owned(), signature_policy(id, &[Member])),
            ("Writers".to_owned(), signature_policy(id, &[Member])),
            ("Admins".to_owned(), signature_policy(id, &[Admin])),
        ]),
    )
}

/// The channel configuration tree for one application org and one orderer org.
pub fn channel_config(
    settings: &ChannelSettings,
    application: &OrgDefinition,
    orderer: &OrgDefinition,
) -> common::Config {
    use implicit_meta_policy::Rule::{Any, Majority};
    let standard_policies = || {
        HashMap::from([
            ("Readers".to_owned(), implicit_meta("Readers", Any)),
            ("Writers".to_owned(), implicit_meta("Writers", Any)),
            ("Admins".to_owned(), implicit_meta("Admins", Majority)),
        ])
    };

    let mut application_policies = standard_policies();
    application_policies.insert(
        "Endorsement".to_owned(),
        implicit_meta("Endorsement", Majority),
    );
    application_policies.insert(
        "LifecycleEndorsement".to_owned(),
        implicit_meta("Endorsement", Majority),
    );
    let application_group = group(
        HashMap::from([(application.msp_id.clone(), application_org(application))]),
        HashMap::from([("Capabilities".to_owned(), capabilities("V2_5"))]),
        application_policies,
    );

    let mut orderer_policies = standard_policies();
    orderer_policies.insert("BlockValidation".to_owned(), implicit_meta("Writers", Any));
    let orderer_group = group(
        HashMap::from([(
            orderer.msp_id.clone(),
            orderer_org(orderer, &settings.orderer_endpoint),
        )]),
        HashMap::from([
            (
                "BatchSize".to_owned(),
                config_value(
                    BatchSize {
                        max_message_count: settings.max_message_count,
                        absolute_max_bytes: 99 * 1024 * 1024,
                        preferred_max_bytes: 512 * 1024,
                    }
                    .encode_to_vec(),
                ),
            ),
            (
                "BatchTimeout".to_owned(),
                config_value(
                    BatchTimeout {
                        timeout: settings.batch_timeout.clone(),
                    }
                    .encode_to_vec(),
                ),
            ),
            (
                "ConsensusType".to_owned(),
                config_value(
                    ConsensusType {
                        r#type: "etcdraft".to_owned(),
                        metadata: Vec::new(),
                        state: 0,
                    }
                    .encode_to_vec(),
                ),
            ),
            ("Capabilities".to_owned(), capabilities("V2_0")),
        ]),
        orderer_policies,
    );

    let channel_group = group(
        HashMap::from([
            ("Application".to_owned(), application_group),
            ("Orderer".to_owned(), orderer_group),
        ]),
        HashMap::from([
            (
                "HashingAlgorithm".to_owned(),
                config_value(
                    common::HashingAlgorithm {
                        name: "SHA256".to_owned(),
                    }
                    .encode_to_vec(),
                ),
            ),
            (
                "BlockDataHashingStructure".to_owned(),
                config_value(common::BlockDataHashingStructure { width: u32::MAX }.encode_to_vec()),
            ),
            ("Capabilities".to_owned(), capabilities("V2_0")),
        ]),
        standard_policies(),
    );
    common::Config {
        sequence: 0,
        channel_group: Some(channel_group),
    }
}

/// Block 0: one CONFIG envelope carrying `config`. Like `configtxgen`'s genesis block it has no creator and
/// no signature; its hashes are Fabric's.
pub fn genesis_block(
    channel_id: &str,
    config: common::Config,
    timestamp: prost_types::Timestamp,
    nonce: [u8; 24],
) -> Block {
    let signature_header = SignatureHeader {
        creator: Vec::new(),
        nonce: nonce.to_vec(),
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::Config as i32,
        version: 1,
        timestamp: Some(timestamp),
        channel_id: channel_id.to_owned(),
        tx_id: fabric_sdk::txid::compute_tx_id(&nonce, &[]),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: Vec::new(),
    };
    let payload = Payload {
        header: Some(common::Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: common::ConfigEnvelope {
            config: Some(config),
            last_update: None,
        }
        .encode_to_vec(),
    };
    let envelope = common::Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    };
    let data = BlockData {
        data: vec![envelope.encode_to_vec()],
    };
    let header = BlockHeader {
        number: 0,
        previous_hash: Vec::new(),
        data_hash: fabric_sdk::block::block_data_hash(&data).to_vec(),
    };
    let last_config = common::Metadata {
        value: common::OrdererBlockMetadata {
            last_config: Some(common::LastConfig { index: 0 }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    };
    Block {
        header: Some(header),
        data: Some(data),
        metadata: Some(BlockMetadata {
            metadata: vec![
                last_config.encode_to_vec(),
                Vec::new(),
                vec![0], // TRANSACTIONS_FILTER: the config transaction is valid
                Vec::new(),
                Vec::new(),
            ],
        }),
    }
}
