//! The gRPC API (`reciprocal.v1.Governance`). Each write checks the caller and its input, then submits
//! one contract function as the caller's club and role; the contract checks again against the ledger
//! (bootstrap still open, active clubs, one final vote per club, the voting window). Each read waits for
//! the mirror to reach the block the caller names and answers from its views.

use platform::caller::{Caller, Role};
use platform::input::{json_object, required, status_filter};
use platform::ledger::{Ledger, new_uuid, page_size};
use reciprocal_api::v1::governance_server::Governance;
use reciprocal_api::v1::{
    CastVoteRequest, CreateClubRequest, CreateProposalRequest, GetRequest, ListClubsRequest,
    ListProposalsRequest, ProposalDetail, Record, RecordList, WriteResult,
};
use tonic::{Request, Response, Status};

use crate::mirror::{self, View};

/// Club statuses.
pub const CLUB_STATUSES: [&str; 4] = ["pending", "active", "suspended", "expelled"];
/// Proposal statuses.
pub const PROPOSAL_STATUSES: [&str; 5] = ["open", "passed", "rejected", "executed", "cancelled"];
/// Proposal kinds.
pub const PROPOSAL_KINDS: [&str; 6] = [
    "admit_club",
    "suspend_club",
    "reinstate_club",
    "expel_club",
    "amend_network_rule",
    "text",
];
/// Vote choices.
pub const CHOICES: [&str; 3] = ["yes", "no", "abstain"];

/// The service behind the gRPC API.
#[derive(Debug, Clone)]
pub struct GovernanceApi {
    ledger: Ledger,
}

impl GovernanceApi {
    /// The API over `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

#[tonic::async_trait]
impl Governance for GovernanceApi {
    async fn create_club(
        &self,
        request: Request<CreateClubRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        if !caller.is_network_admin() {
            return Err(Status::permission_denied(format!(
                "creating a club directly is for the network admin during the bootstrap; you are {} (clubs join by an admit_club proposal)",
                caller.role
            )));
        }
        let club = json_object("club_json", &request.club_json)?;
        let written = self
            .ledger
            .submit(
                &caller,
                "CreateClub",
                vec![serde_json::Value::Object(club).to_string()],
            )
            .await?;
        Ok(Response::new(written))
    }

    async fn get_club(&self, request: Request<GetRequest>) -> Result<Response<Record>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let id = required("id", &request.id)?;
        self.ledger.wait_for(request.min_block).await?;
        let row = mirror::one(self.ledger.mirror(), View::Clubs, id)
            .await?
            .ok_or_else(|| Status::not_found(format!("club {id} does not exist")))?;
        Ok(Response::new(mirror::into_record(row)))
    }

    async fn list_clubs(
        &self,
        request: Request<ListClubsRequest>,
    ) -> Result<Response<RecordList>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let status = status_filter(&request.status, &CLUB_STATUSES)?;
        let height = self.ledger.wait_for(request.min_block).await?;
        let rows = mirror::list(
            self.ledger.mirror(),
            View::Clubs,
            status,
            request.after.trim(),
            limit,
        )
        .await?;
        Ok(Response::new(mirror::page(rows, limit, height)))
    }

    async fn create_proposal(
        &self,
        request: Request<CreateProposalRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        caller.require_role(&[Role::ClubAdmin], "proposing a vote")?;
        let mut proposal = json_object("proposal_json", &request.proposal_json)?;
        match proposal.get("kind").and_then(|kind| kind.as_str()) {
            Some(kind) if PROPOSAL_KINDS.contains(&kind) => {}
            other => {
                return Err(Status::invalid_argument(format!(
                    "proposal_json.kind must be one of {}, got {}",
                    PROPOSAL_KINDS.join(", "),
                    other.map_or_else(|| "none".to_owned(), |kind| format!("{kind:?}"))
                )));
            }
        }
        let absent = match proposal.get("proposal_id") {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::String(id)) => id.trim().is_empty(),
            Some(_) => {
                return Err(Status::invalid_argument(
                    "proposal_json.proposal_id must be a string",
                ));
            }
        };
        if absent {
            proposal.insert("proposal_id".to_owned(), new_uuid().into());
        }
        let written = self
            .ledger
            .submit(
                &caller,
                "CreateProposal",
                vec![serde_json::Value::Object(proposal).to_string()],
            )
            .await?;
        Ok(Response::new(written))
    }

    async fn get_proposal(
        &self,
        request: Request<GetRequest>,
    ) -> Result<Response<ProposalDetail>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let id = required("id", &request.id)?;
        self.ledger.wait_for(request.min_block).await?;
        let proposal = mirror::one(self.ledger.mirror(), View::Proposals, id)
            .await?
            .ok_or_else(|| Status::not_found(format!("proposal {id} does not exist")))?;
        let votes = mirror::votes(self.ledger.mirror(), id).await?;
        Ok(Response::new(ProposalDetail {
            proposal: Some(mirror::into_record(proposal)),
            votes: votes.into_iter().map(mirror::into_record).collect(),
        }))
    }

    async fn list_proposals(
        &self,
        request: Request<ListProposalsRequest>,
    ) -> Result<Response<RecordList>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let status = status_filter(&request.status, &PROPOSAL_STATUSES)?;
        let height = self.ledger.wait_for(request.min_block).await?;
        let rows = mirror::list(
            self.ledger.mirror(),
            View::Proposals,
            status,
            request.after.trim(),
            limit,
        )
        .await?;
        Ok(Response::new(mirror::page(rows, limit, height)))
    }

    async fn cast_vote(
        &self,
        request: Request<CastVoteRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        caller.require_role(&[Role::ClubAdmin], "voting")?;
        let id = required("proposal_id", &request.proposal_id)?;
        let choice = request.choice.trim();
        if !CHOICES.contains(&choice) {
            return Err(Status::invalid_argument(format!(
                "choice must be yes, no or abstain, got {choice:?}"
            )));
        }
        let written = self
            .ledger
            .submit(&caller, "CastVote", vec![id.to_owned(), choice.to_owned()])
            .await?;
        Ok(Response::new(written))
    }

    async fn close_proposal(
        &self,
        request: Request<GetRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        caller.require_role(
            &[Role::NetworkAdmin, Role::ClubAdmin, Role::FrontDesk],
            "closing a proposal",
        )?;
        let id = required("id", &request.id)?;
        let written = self
            .ledger
            .submit(&caller, "CloseProposal", vec![id.to_owned()])
            .await?;
        Ok(Response::new(written))
    }

    async fn cancel_proposal(
        &self,
        request: Request<GetRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        caller.require_role(&[Role::ClubAdmin], "cancelling a proposal")?;
        let id = required("id", &request.id)?;
        // The proposer never changes, so even a mirror behind the ledger tells who may cancel. A
        // proposal the mirror does not hold yet is left to the contract, which applies the same rule.
        if let Some((_, proposal, ..)) =
            mirror::one(self.ledger.mirror(), View::Proposals, id).await?
        {
            let proposal: serde_json::Value = serde_json::from_str(&proposal).map_err(|error| {
                Status::internal(format!("proposal {id} in the mirror is not JSON: {error}"))
            })?;
            let proposer = proposal
                .get("proposer_club")
                .and_then(|club| club.as_str())
                .unwrap_or_default();
            caller.require(proposer, &[Role::ClubAdmin], "cancelling this proposal")?;
        }
        let written = self
            .ledger
            .submit(&caller, "CancelProposal", vec![id.to_owned()])
            .await?;
        Ok(Response::new(written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_status_filters_are_checked() {
        assert!(json_object("club_json", "{\"id\":\"a\"}").is_ok());
        let array = json_object("club_json", "[]").unwrap_err();
        assert_eq!(array.code(), tonic::Code::InvalidArgument);
        assert!(array.message().contains("club_json must be a JSON object"));
        assert!(json_object("club_json", "").is_err());
        assert_eq!(status_filter(" open ", &PROPOSAL_STATUSES).unwrap(), "open");
        assert!(status_filter("closed", &PROPOSAL_STATUSES).is_err());
    }
}
