//! The caller a request acts for. The API gateway authenticates the user and sets these gRPC metadata
//! keys; the services behind it read them, decide what the caller may do, and write to the ledger as the
//! caller's club and role (the chaincode checks again from the certificate it signs with).

use std::fmt;

use tonic::Status;
use tonic::metadata::{MetadataMap, MetadataValue};

/// Metadata key of the request id, the same on every hop of one request.
pub const REQUEST_ID: &str = "x-request-id";
/// Metadata key of the authenticated subject (the JWT `sub`).
pub const SUBJECT: &str = "x-actor-subject";
/// Metadata key of the caller's role.
pub const ROLE: &str = "x-actor-role";
/// Metadata key of the caller's club.
pub const CLUB: &str = "x-actor-club";
/// Metadata key of the member id, for a member acting for themselves.
pub const MEMBER: &str = "x-actor-member";

/// What a caller may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Acts for the network: bootstrap, emergency suspension.
    NetworkAdmin,
    /// Runs a club: agreements, members, votes.
    ClubAdmin,
    /// Receives visitors at a club.
    FrontDesk,
    /// A member of a club, acting for themselves.
    Member,
}

impl Role {
    /// Every role, as written.
    pub const ALL: [&'static str; 4] = ["network_admin", "club_admin", "front_desk", "member"];

    /// The role as written in tokens, metadata and the Fabric CA `role` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetworkAdmin => "network_admin",
            Self::ClubAdmin => "club_admin",
            Self::FrontDesk => "front_desk",
            Self::Member => "member",
        }
    }

    /// Parses a written role.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "network_admin" => Some(Self::NetworkAdmin),
            "club_admin" => Some(Self::ClubAdmin),
            "front_desk" => Some(Self::FrontDesk),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The request id.
    pub request_id: String,
    /// The authenticated subject.
    pub subject: String,
    /// The role.
    pub role: Role,
    /// The club the caller belongs to (none for the network admin).
    pub club: Option<String>,
    /// The member the caller is (members only).
    pub member: Option<String>,
}

fn text<'a>(metadata: &'a MetadataMap, key: &str) -> Option<&'a str> {
    metadata
        .get(key)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

impl Caller {
    /// Reads the caller from a request's metadata; a request without one is unauthenticated.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let role = text(metadata, ROLE)
            .ok_or_else(|| Status::unauthenticated("the request carries no caller"))?;
        let role = Role::parse(role).ok_or_else(|| {
            Status::unauthenticated(format!(
                "unknown caller role {role:?}; one of {}",
                Role::ALL.join(", ")
            ))
        })?;
        let caller = Self {
            request_id: text(metadata, REQUEST_ID).unwrap_or_default().to_owned(),
            subject: text(metadata, SUBJECT).unwrap_or_default().to_owned(),
            role,
            club: text(metadata, CLUB).map(str::to_owned),
            member: text(metadata, MEMBER).map(str::to_owned),
        };
        if role != Role::NetworkAdmin && caller.club.is_none() {
            return Err(Status::unauthenticated(format!(
                "a {role} caller must belong to a club"
            )));
        }
        if role == Role::Member && caller.member.is_none() {
            return Err(Status::unauthenticated(
                "a member caller must name the member",
            ));
        }
        Ok(caller)
    }

    /// Reads the caller of a gRPC request.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Self, Status> {
        Self::from_metadata(request.metadata())
    }

    /// Writes the caller into outgoing metadata.
    pub fn write(&self, metadata: &mut MetadataMap) {
        let mut put = |key: &'static str, value: &str| {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(key, value);
            }
        };
        put(REQUEST_ID, &self.request_id);
        put(SUBJECT, &self.subject);
        put(ROLE, self.role.as_str());
        if let Some(club) = &self.club {
            put(CLUB, club);
        }
        if let Some(member) = &self.member {
            put(MEMBER, member);
        }
    }

    /// A request to another service on behalf of this caller.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        self.write(request.metadata_mut());
        request
    }

    /// Whether the caller is the network admin.
    pub fn is_network_admin(&self) -> bool {
        self.role == Role::NetworkAdmin
    }

    /// Whether the caller acts for `club` in one of `roles` (the network admin acts for none).
    pub fn acts_for(&self, club: &str, roles: &[Role]) -> bool {
        roles.contains(&self.role) && self.club.as_deref() == Some(club)
    }

    /// Refuses unless the caller acts for `club` in one of `roles`.
    pub fn require(&self, club: &str, roles: &[Role], action: &str) -> Result<(), Status> {
        if self.acts_for(club, roles) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        Err(Status::permission_denied(match &self.club {
            Some(own) if own != club => {
                format!("{action} is for {club}'s staff; you act for {own}")
            }
            _ => format!(
                "{action} needs the role {} of {club}; you are {}",
                allowed.join(" or "),
                self.role
            ),
        }))
    }

    /// Refuses unless the caller has one of `roles` (for whichever club).
    pub fn require_role(&self, roles: &[Role], action: &str) -> Result<(), Status> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        Err(Status::permission_denied(format!(
            "{action} needs the role {}; you are {}",
            allowed.join(" or "),
            self.role
        )))
    }

    /// Refuses unless the caller is the network admin or acts for `club` in one of `roles`.
    pub fn require_admin_or(&self, club: &str, roles: &[Role], action: &str) -> Result<(), Status> {
        if self.is_network_admin() {
            return Ok(());
        }
        self.require(club, roles, action)
    }

    /// The identity the blockchain service writes with for this caller: its club and role. Members do not
    /// write to the ledger.
    pub fn ledger_actor(&self) -> Result<reciprocal_api::v1::Actor, Status> {
        if self.role == Role::Member {
            return Err(Status::permission_denied(
                "members cannot write to the ledger; their club's staff do",
            ));
        }
        Ok(reciprocal_api::v1::Actor {
            club: self.club.clone().unwrap_or_default(),
            role: self.role.as_str().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, club: Option<&str>) -> Caller {
        Caller {
            request_id: "req-1".into(),
            subject: "user-1".into(),
            role,
            club: club.map(str::to_owned),
            member: (role == Role::Member).then(|| "m-1".to_owned()),
        }
    }

    #[test]
    fn a_caller_survives_the_trip_through_metadata() {
        for original in [
            caller(Role::NetworkAdmin, None),
            caller(Role::ClubAdmin, Some("club-alpha")),
            caller(Role::Member, Some("club-beta")),
        ] {
            let request = original.request(());
            assert_eq!(Caller::of(&request).unwrap(), original);
        }
    }

    #[test]
    fn metadata_without_a_usable_caller_is_unauthenticated() {
        let empty = MetadataMap::new();
        assert_eq!(
            Caller::from_metadata(&empty).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let mut clubless = MetadataMap::new();
        clubless.insert(ROLE, MetadataValue::from_static("front_desk"));
        let error = Caller::from_metadata(&clubless).unwrap_err();
        assert!(
            error.message().contains("must belong to a club"),
            "{error:?}"
        );
        let mut unknown = MetadataMap::new();
        unknown.insert(ROLE, MetadataValue::from_static("root"));
        assert!(Caller::from_metadata(&unknown).is_err());
    }

    #[test]
    fn a_club_role_acts_only_for_its_own_club() {
        let desk = caller(Role::FrontDesk, Some("club-alpha"));
        assert!(
            desk.require("club-alpha", &[Role::FrontDesk], "check-in")
                .is_ok()
        );
        let other = desk
            .require("club-beta", &[Role::FrontDesk], "check-in")
            .unwrap_err();
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
        assert!(
            other.message().contains("you act for club-alpha"),
            "{other:?}"
        );
        let role = desk
            .require("club-alpha", &[Role::ClubAdmin], "accepting an agreement")
            .unwrap_err();
        assert!(
            role.message().contains("needs the role club_admin"),
            "{role:?}"
        );
        let admin = caller(Role::NetworkAdmin, None);
        assert!(
            admin
                .require("club-alpha", &[Role::ClubAdmin], "x")
                .is_err()
        );
        assert!(
            admin
                .require_admin_or("club-alpha", &[Role::ClubAdmin], "x")
                .is_ok()
        );
        assert_eq!(
            caller(Role::Member, Some("club-alpha"))
                .ledger_actor()
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
    }
}
