//! The channel configuration carried by CONFIG transactions: its sequence, the organisations (MSP ids and
//! CA certificates, which is what verifying identities and orderer signatures needs), the orderer
//! endpoints and consenters, and the capabilities.

use std::collections::BTreeMap;

use fabric_protos::common::{Capabilities, ConfigEnvelope, ConfigGroup, OrdererAddresses};
use fabric_protos::msp::{FabricMspConfig, MspConfig};
use fabric_protos::orderer::ConsensusType;
use fabric_protos::protos::AnchorPeers;
use serde::{Serialize, Serializer};

use super::decode::{Fault, decode_as};

/// The configuration in a config block.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigSummary {
    /// Configuration sequence (0 for the genesis block, +1 per config update).
    pub sequence: u64,
    /// Organisations of the `Application` and `Orderer` groups, each group sorted by name.
    pub organizations: Vec<OrganizationSummary>,
    /// Capabilities per level (`Channel`, `Application`, `Orderer`), sorted.
    pub capabilities: BTreeMap<String, Vec<String>>,
    /// Consensus type (`etcdraft`, `BFT`).
    pub consensus_type: Option<String>,
    /// The consenters (etcdraft metadata, or the BFT consenter mapping).
    pub consenters: Vec<Consenter>,
    /// Channel-level orderer addresses (deprecated by Fabric in favour of per-organisation endpoints).
    pub orderer_addresses: Vec<String>,
}

/// An organisation in a channel configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrganizationSummary {
    /// `Application` or `Orderer`.
    pub group: String,
    /// The organisation's group name in the configuration (e.g. `OrdererOrg`).
    pub name: String,
    /// MSP id.
    pub msp_id: String,
    /// Root CA certificates (PEM).
    #[serde(serialize_with = "pem_texts")]
    pub root_certs: Vec<Vec<u8>>,
    /// Intermediate CA certificates (PEM).
    #[serde(serialize_with = "pem_texts")]
    pub intermediate_certs: Vec<Vec<u8>>,
    /// TLS root CA certificates (PEM).
    #[serde(serialize_with = "pem_texts")]
    pub tls_root_certs: Vec<Vec<u8>>,
    /// Orderer endpoints (`host:port`) of an orderer organisation.
    pub endpoints: Vec<String>,
    /// Anchor peers (`host:port`) of an application organisation.
    pub anchor_peers: Vec<String>,
}

/// A consenting orderer node.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Consenter {
    /// Consenter id (BFT only).
    pub id: Option<u32>,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u32,
    /// MSP id (BFT only).
    pub msp_id: Option<String>,
}

/// PEM certificates are ASCII; anything else is shown as hex rather than lost.
fn pem_texts<S: Serializer>(certs: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(certs.iter().map(|cert| match std::str::from_utf8(cert) {
        Ok(text) => text.to_owned(),
        Err(_) => hex::encode(cert),
    }))
}

/// `etcdraft.ConfigMetadata`, the `ConsensusType.metadata` of an etcdraft channel. Declared here because
/// only the consenter addresses are needed from it (field numbers as in Fabric's
/// `orderer/etcdraft/configuration.proto`).
#[derive(Clone, PartialEq, prost::Message)]
struct EtcdRaftConfigMetadata {
    #[prost(message, repeated, tag = "1")]
    consenters: Vec<EtcdRaftConsenter>,
}

/// `etcdraft.Consenter` (the TLS certificates, fields 3 and 4, are not needed).
#[derive(Clone, PartialEq, prost::Message)]
struct EtcdRaftConsenter {
    #[prost(string, tag = "1")]
    host: String,
    #[prost(uint32, tag = "2")]
    port: u32,
}

/// `common.Orderers`, the BFT consenter mapping at `/Channel/Orderer/Orderers` (Fabric 3.x).
#[derive(Clone, PartialEq, prost::Message)]
struct BftOrderers {
    #[prost(message, repeated, tag = "1")]
    consenter_mapping: Vec<BftConsenter>,
}

/// `common.Consenter` (identity and TLS certificates, fields 5 to 7, are not needed).
#[derive(Clone, PartialEq, prost::Message)]
struct BftConsenter {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(string, tag = "2")]
    host: String,
    #[prost(uint32, tag = "3")]
    port: u32,
    #[prost(string, tag = "4")]
    msp_id: String,
}

/// Decodes the `ConfigEnvelope` of a CONFIG transaction.
pub(super) fn decode_config(data: &[u8]) -> Result<ConfigSummary, Fault> {
    let envelope: ConfigEnvelope = decode_as(data, "ConfigEnvelope")?;
    let config = envelope
        .config
        .ok_or(Fault::Missing("ConfigEnvelope has no config"))?;
    let channel = config
        .channel_group
        .ok_or(Fault::Missing("Config has no channel group"))?;
    let mut summary = ConfigSummary {
        sequence: config.sequence,
        organizations: Vec::new(),
        capabilities: BTreeMap::new(),
        consensus_type: None,
        consenters: Vec::new(),
        orderer_addresses: Vec::new(),
    };
    summary
        .capabilities
        .insert("Channel".to_owned(), capability_names(&channel, "Channel")?);
    if let Some(value) = channel.values.get("OrdererAddresses") {
        summary.orderer_addresses =
            decode_as::<OrdererAddresses>(&value.value, "Channel OrdererAddresses")?.addresses;
    }
    for group_name in ["Application", "Orderer"] {
        let Some(group) = channel.groups.get(group_name) else {
            continue;
        };
        summary
            .capabilities
            .insert(group_name.to_owned(), capability_names(group, group_name)?);
        // BTreeMap-ordered so that the output does not depend on the map's iteration order.
        let orgs: BTreeMap<&String, &ConfigGroup> = group.groups.iter().collect();
        for (name, org) in orgs {
            if let Some(organization) = organization(group_name, name, org)? {
                summary.organizations.push(organization);
            }
        }
    }
    if let Some(orderer) = channel.groups.get("Orderer") {
        consensus(orderer, &mut summary)?;
    }
    Ok(summary)
}

fn organization(
    group: &str,
    name: &str,
    org: &ConfigGroup,
) -> Result<Option<OrganizationSummary>, Fault> {
    let Some(value) = org.values.get("MSP") else {
        return Ok(None);
    };
    let msp: MspConfig = decode_as(&value.value, format!("MSPConfig of {group}/{name}"))?;
    let fabric: FabricMspConfig =
        decode_as(&msp.config, format!("FabricMSPConfig of {group}/{name}"))?;
    let endpoints = match org.values.get("Endpoints") {
        Some(value) => {
            decode_as::<OrdererAddresses>(&value.value, format!("Endpoints of {group}/{name}"))?
                .addresses
        }
        None => Vec::new(),
    };
    let anchor_peers = match org.values.get("AnchorPeers") {
        Some(value) => {
            decode_as::<AnchorPeers>(&value.value, format!("AnchorPeers of {group}/{name}"))?
                .anchor_peers
                .into_iter()
                .map(|peer| format!("{}:{}", peer.host, peer.port))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Some(OrganizationSummary {
        group: group.to_owned(),
        name: name.to_owned(),
        msp_id: fabric.name,
        root_certs: fabric.root_certs,
        intermediate_certs: fabric.intermediate_certs,
        tls_root_certs: fabric.tls_root_certs,
        endpoints,
        anchor_peers,
    }))
}

fn consensus(orderer: &ConfigGroup, summary: &mut ConfigSummary) -> Result<(), Fault> {
    if let Some(value) = orderer.values.get("ConsensusType") {
        let consensus: ConsensusType = decode_as(&value.value, "Orderer ConsensusType")?;
        if consensus.r#type == "etcdraft" {
            let metadata: EtcdRaftConfigMetadata =
                decode_as(&consensus.metadata, "etcdraft ConfigMetadata")?;
            summary.consenters = metadata
                .consenters
                .into_iter()
                .map(|consenter| Consenter {
                    id: None,
                    host: consenter.host,
                    port: consenter.port,
                    msp_id: None,
                })
                .collect();
        }
        summary.consensus_type = Some(consensus.r#type);
    }
    if let Some(value) = orderer.values.get("Orderers") {
        let orderers: BftOrderers = decode_as(&value.value, "Orderer Orderers")?;
        summary.consenters = orderers
            .consenter_mapping
            .into_iter()
            .map(|consenter| Consenter {
                id: Some(consenter.id),
                host: consenter.host,
                port: consenter.port,
                msp_id: Some(consenter.msp_id),
            })
            .collect();
    }
    Ok(())
}

fn capability_names(group: &ConfigGroup, level: &str) -> Result<Vec<String>, Fault> {
    let Some(value) = group.values.get("Capabilities") else {
        return Ok(Vec::new());
    };
    let capabilities: Capabilities = decode_as(&value.value, format!("{level} Capabilities"))?;
    let mut names: Vec<String> = capabilities.capabilities.into_keys().collect();
    names.sort();
    Ok(names)
}
