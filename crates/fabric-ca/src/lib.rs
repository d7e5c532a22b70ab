//! A client for Hyperledger Fabric CA's REST API (v1.5).
