//! The context every transaction function takes first: the stub, the caller (MSP id and the Fabric CA
//! attributes `club` and `role`), the transaction time, and typed helpers for records and events.

use serde::Serialize;
use serde::de::DeserializeOwned;

use chaincode_shim::ChaincodeStub;
use chaincode_shim::stub::create_composite_key;

use crate::dates::{Date, rfc3339};
use crate::error::{ContractError, ContractResult, bad_request, forbidden};

/// The roles a certificate's `role` attribute may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts for the network: bootstrap and emergency suspension.
    NetworkAdmin,
    /// Acts for its club: agreements, members, votes.
    ClubAdmin,
    /// Records visits at its club.
    FrontDesk,
}

/// Who submitted the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The creator's MSP id.
    pub msp_id: String,
    /// The `club` attribute.
    pub club: Option<String>,
    /// The `role` attribute, if it is one the contract knows.
    pub role: Option<Role>,
}

impl Caller {
    /// The caller's club when it holds one of `roles` for it.
    pub fn club_with_role(&self, roles: &[Role], action: &str) -> ContractResult<&str> {
        let role = self.role.ok_or_else(|| {
            forbidden(format!(
                "{action}: the caller's certificate carries no known role attribute"
            ))
        })?;
        if !roles.contains(&role) {
            return Err(forbidden(format!(
                "{action}: role {} may not do this",
                role_name(role)
            )));
        }
        self.club
            .as_deref()
            .filter(|club| !club.is_empty())
            .ok_or_else(|| {
                forbidden(format!(
                    "{action}: the caller's certificate carries no club attribute"
                ))
            })
    }

    /// Requires the caller to act for `club` with one of `roles`.
    pub fn require_club(&self, club: &str, roles: &[Role], action: &str) -> ContractResult<()> {
        let own = self.club_with_role(roles, action)?;
        if own != club {
            return Err(forbidden(format!(
                "{action}: a caller of {own} cannot act for {club}"
            )));
        }
        Ok(())
    }

    /// Requires the network admin role.
    pub fn require_network_admin(&self, action: &str) -> ContractResult<()> {
        if self.role == Some(Role::NetworkAdmin) {
            Ok(())
        } else {
            Err(forbidden(format!(
                "{action}: only a network_admin may do this"
            )))
        }
    }
}

/// The name of a role as certificates spell it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::NetworkAdmin => "network_admin",
        Role::ClubAdmin => "club_admin",
        Role::FrontDesk => "front_desk",
    }
}

/// A transaction's context.
#[derive(Debug)]
pub struct Context<'a, S: ChaincodeStub> {
    /// The stub.
    pub stub: &'a mut S,
    /// The caller.
    pub caller: Caller,
    /// The transaction's date (UTC), from its timestamp.
    pub today: Date,
    /// The transaction's time as RFC 3339.
    pub now: String,
    /// The transaction's time in Unix seconds.
    pub now_seconds: i64,
}

impl<'a, S: ChaincodeStub> Context<'a, S> {
    /// Builds the context of the current transaction.
    pub fn new(stub: &'a mut S) -> Self {
        let creator = stub.creator();
        let role = match creator.attribute("role") {
            Some("network_admin") => Some(Role::NetworkAdmin),
            Some("club_admin") => Some(Role::ClubAdmin),
            Some("front_desk") => Some(Role::FrontDesk),
            _ => None,
        };
        let caller = Caller {
            msp_id: creator.msp_id.clone(),
            club: creator.attribute("club").map(str::to_owned),
            role,
        };
        let timestamp = stub.tx_timestamp();
        Self {
            today: Date::from_unix_seconds(timestamp.seconds),
            now: rfc3339(&timestamp),
            now_seconds: timestamp.seconds,
            caller,
            stub,
        }
    }

    /// The composite key of a record.
    pub fn key(&self, object_type: &str, attributes: &[&str]) -> ContractResult<String> {
        Ok(create_composite_key(object_type, attributes)?)
    }

    /// Reads a JSON record.
    pub async fn get<T: DeserializeOwned>(&mut self, key: &str) -> ContractResult<Option<T>> {
        match self.stub.get_state(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                ContractError::Ledger(format!("stored record is not valid: {error}"))
            }),
        }
    }

    /// Writes a JSON record.
    pub async fn put<T: Serialize>(&mut self, key: &str, record: &T) -> ContractResult<()> {
        let bytes = to_json(record)?;
        self.stub.put_state(key, bytes).await?;
        Ok(())
    }

    /// Sets the transaction's event: `name` with the record as JSON.
    pub fn emit<T: Serialize>(&mut self, name: &str, record: &T) -> ContractResult<()> {
        let bytes = to_json(record)?;
        self.stub.set_event(name, bytes)?;
        Ok(())
    }
}

/// A record as JSON bytes (struct fields serialize in declaration order: stable across endorsers).
pub fn to_json<T: Serialize>(record: &T) -> ContractResult<Vec<u8>> {
    serde_json::to_vec(record)
        .map_err(|error| ContractError::Ledger(format!("cannot encode record: {error}")))
}

/// Parses a JSON argument into `T`, naming the argument in the error.
pub fn parse_json<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> ContractResult<T> {
    serde_json::from_slice(bytes).map_err(|error| bad_request(format!("{name}: {error}")))
}

/// A UTF-8 string argument.
pub fn parse_text(name: &str, bytes: &[u8]) -> ContractResult<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad_request(format!("{name} must be UTF-8 text")))
}
