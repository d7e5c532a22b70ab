//! The gRPC API (`reciprocal.v1.Reciprocal`). Each write checks the caller and every field, then submits
//! one contract function as the caller's club and role; the contract checks again against the ledger.
//! Each read waits for the mirror to reach the block the caller names and answers from its views.

use std::sync::Arc;

use platform::caller::{Caller, Role};
use platform::ledger::{Ledger, new_uuid, page_size, today};
use reciprocal_api::v1::members_client::MembersClient;
use reciprocal_api::v1::reciprocal_server::Reciprocal;
use reciprocal_api::v1::{
    AgreementActionRequest, CheckInRequest, CheckInResult, GetMemberRequest, GetRequest,
    ListAgreementsRequest, ListVisitsRequest, ProposeAgreementRequest, Record, RecordList,
    ResolvedMember, VisitActionRequest, WriteResult,
};
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::input::{AGREEMENT_STATUSES, Side, VISIT_STATUSES, agreement_call, visit_call};
use crate::mirror::{self, AgreementFilter, VisitFilter};
use platform::input::{given, is_date, is_month, is_uuid, json_object, required};

/// A club's staff: who receives visitors.
const STAFF: &[Role] = &[Role::FrontDesk, Role::ClubAdmin];

/// The service behind the gRPC API.
#[derive(Debug, Clone)]
pub struct ReciprocalApi {
    ledger: Ledger,
    members: MembersClient<Channel>,
}

/// The club a request names, or the caller's own when it names none.
fn club_or_own(caller: &Caller, club: &str, name: &str) -> Result<String, Status> {
    given(club)
        .or_else(|| caller.club.clone())
        .ok_or_else(|| Status::invalid_argument(format!("{name} is required")))
}

/// A field of a visit record.
fn field<'a>(value: &'a serde_json::Value, name: &str) -> &'a str {
    value.get(name).and_then(|v| v.as_str()).unwrap_or_default()
}

impl ReciprocalApi {
    /// The API over `ledger`, resolving members through `members`.
    pub fn new(ledger: Ledger, members: MembersClient<Channel>) -> Self {
        Self { ledger, members }
    }

    /// Whether the mirror, the blockchain service and the member service answer.
    pub async fn ready(&self) -> Vec<(&'static str, bool)> {
        let mut checks = self.ledger.ready().await;
        // A request without a caller is refused by the member service, and so proves that it answers.
        let member = match self
            .members
            .clone()
            .resolve_member(GetMemberRequest::default())
            .await
        {
            Ok(_) => true,
            Err(status) => status.code() != Code::Unavailable,
        };
        checks.push(("member", member));
        checks
    }

    /// The member service's answer for `member_id`, asked on behalf of `caller`.
    async fn resolve(&self, caller: &Caller, member_id: &str) -> Result<ResolvedMember, Status> {
        let request = caller.request(GetMemberRequest {
            id: member_id.to_owned(),
        });
        match self.members.clone().resolve_member(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if status.code() == Code::Unavailable => {
                tracing::warn!(%status, "member service unavailable");
                Err(Status::unavailable(
                    "the member service is unavailable; retry later",
                ))
            }
            // NotFound, FailedPrecondition and PermissionDenied speak to the caller as they are.
            Err(status) => Err(status),
        }
    }

    /// Refuses unless the caller may see `visit`: the network admin, the staff of its host or home
    /// club, or the visiting member.
    async fn may_see_visit(
        &self,
        caller: &Caller,
        visit: &serde_json::Value,
    ) -> Result<(), Status> {
        let id = field(visit, "visit_id");
        match caller.role {
            Role::NetworkAdmin => Ok(()),
            Role::ClubAdmin | Role::FrontDesk => {
                let own = caller.club.as_deref().unwrap_or_default();
                if own == field(visit, "host_club") || own == field(visit, "home_club") {
                    Ok(())
                } else {
                    Err(Status::permission_denied(format!(
                        "visit {id} is neither hosted by nor a visit of a member of {own}"
                    )))
                }
            }
            Role::Member => {
                let member = caller.member.as_deref().unwrap_or_default();
                let resolved = self.resolve(caller, member).await?;
                if resolved.member_ref == field(visit, "member_ref") {
                    Ok(())
                } else {
                    Err(Status::permission_denied(format!(
                        "visit {id} is not one of your visits"
                    )))
                }
            }
        }
    }
}

#[tonic::async_trait]
impl Reciprocal for ReciprocalApi {
    async fn propose_agreement(
        &self,
        request: Request<ProposeAgreementRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let club = club_or_own(&caller, &request.club, "club")?;
        caller.require(&club, &[Role::ClubAdmin], "proposing an agreement")?;
        let counterparty = required("counterparty", &request.counterparty)?;
        if counterparty == club {
            return Err(Status::invalid_argument(
                "counterparty must be another club than the proposer",
            ));
        }
        let terms = json_object("terms_json", &request.terms_json)?;
        let agreement_id = given(&request.agreement_id).unwrap_or_else(new_uuid);
        let input = json!({
            "agreement_id": agreement_id,
            "counterparty_club": counterparty,
            "terms": terms,
        });
        let written = self
            .ledger
            .submit(&caller, "ProposeAgreement", vec![input.to_string()])
            .await?;
        Ok(Response::new(written))
    }

    async fn agreement_action(
        &self,
        request: Request<AgreementActionRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let call = agreement_call(&request)?;
        let action = request.action.trim();
        caller.require_role(&[Role::ClubAdmin], &format!("{action} on an agreement"))?;
        let id = request.agreement_id.trim();
        // The parties never change, so even a mirror behind the ledger tells who may act. An agreement
        // the mirror does not hold yet is left to the contract.
        if let Some((club_a, club_b)) = mirror::agreement_parties(self.ledger.mirror(), id).await? {
            let own = caller.club.as_deref().unwrap_or_default();
            if own != club_a && own != club_b {
                return Err(Status::permission_denied(format!(
                    "{own} is not a party of agreement {id} (between {club_a} and {club_b})"
                )));
            }
        }
        let written = self
            .ledger
            .submit(&caller, call.function, call.args)
            .await?;
        Ok(Response::new(written))
    }

    async fn get_agreement(
        &self,
        request: Request<GetRequest>,
    ) -> Result<Response<Record>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let id = required("id", &request.id)?;
        self.ledger.wait_for(request.min_block).await?;
        let row = mirror::agreement(self.ledger.mirror(), id, &today())
            .await?
            .ok_or_else(|| Status::not_found(format!("agreement {id} does not exist")))?;
        Ok(Response::new(mirror::into_record(row)))
    }

    async fn list_agreements(
        &self,
        request: Request<ListAgreementsRequest>,
    ) -> Result<Response<RecordList>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let filter = AgreementFilter {
            club: given(&request.club),
            status: given(&request.status),
        };
        if let Some(status) = &filter.status
            && !AGREEMENT_STATUSES.contains(&status.as_str())
        {
            return Err(Status::invalid_argument(format!(
                "status must be one of {}, got {status:?}",
                AGREEMENT_STATUSES.join(", ")
            )));
        }
        let height = self.ledger.wait_for(request.min_block).await?;
        let rows = mirror::agreements(
            self.ledger.mirror(),
            &filter,
            &today(),
            request.after.trim(),
            limit,
        )
        .await?;
        Ok(Response::new(mirror::page(rows, limit, height)))
    }

    async fn check_in(
        &self,
        request: Request<CheckInRequest>,
    ) -> Result<Response<CheckInResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let host = club_or_own(&caller, &request.host_club, "host_club")?;
        caller.require(&host, STAFF, "checking a visitor in")?;
        let member_id = required("member_id", &request.member_id)?;
        let visit_id = match given(&request.visit_id) {
            Some(id) if is_uuid(&id) => id,
            Some(id) => {
                return Err(Status::invalid_argument(format!(
                    "visit_id must be a lowercase UUID, got {id:?}"
                )));
            }
            None => new_uuid(),
        };
        let visit_date = match given(&request.visit_date) {
            Some(date) if is_date(&date) => date,
            Some(date) => {
                return Err(Status::invalid_argument(format!(
                    "visit_date must be a date YYYY-MM-DD, got {date:?}"
                )));
            }
            None => today(),
        };
        let refusal = given(&request.refusal_reason);
        let member = self.resolve(&caller, member_id).await?;
        let mut input = json!({
            "visit_id": visit_id,
            "member_ref": member.member_ref,
            "host_club": host,
            "visit_date": visit_date,
            "nights": request.nights,
            "guests": request.guests,
            "guests_family": request.guests_family,
            "facilities": request.facilities,
        });
        let function = match refusal {
            Some(reason) => {
                input["reason"] = json!(reason);
                "RefuseVisit"
            }
            None => "CheckIn",
        };
        // A refusal by the contract (quota, agreement, membership) arrives as FailedPrecondition with
        // the contract's reason.
        let visit = self
            .ledger
            .submit(&caller, function, vec![input.to_string()])
            .await?;
        Ok(Response::new(CheckInResult {
            visit: Some(visit),
            member: Some(member),
        }))
    }

    async fn visit_action(
        &self,
        request: Request<VisitActionRequest>,
    ) -> Result<Response<WriteResult>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let (call, rule) = visit_call(&request)?;
        caller.require_role(rule.roles, rule.what)?;
        let id = request.visit_id.trim();
        // A visit the mirror does not hold yet is left to the contract, which applies the same rule.
        if let Some((_, visit, ..)) = mirror::visit(self.ledger.mirror(), id).await? {
            let visit: serde_json::Value = serde_json::from_str(&visit).map_err(|error| {
                Status::internal(format!("visit {id} in the mirror is not JSON: {error}"))
            })?;
            let club = match rule.side {
                Side::Host => field(&visit, "host_club"),
                Side::Home => field(&visit, "home_club"),
            };
            caller.require(club, rule.roles, rule.what)?;
        }
        let written = self
            .ledger
            .submit(&caller, call.function, call.args)
            .await?;
        Ok(Response::new(written))
    }

    async fn get_visit(&self, request: Request<GetRequest>) -> Result<Response<Record>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let id = required("id", &request.id)?;
        self.ledger.wait_for(request.min_block).await?;
        let row = mirror::visit(self.ledger.mirror(), id)
            .await?
            .ok_or_else(|| Status::not_found(format!("visit {id} does not exist")))?;
        let visit: serde_json::Value = serde_json::from_str(&row.1).map_err(|error| {
            Status::internal(format!("visit {id} in the mirror is not JSON: {error}"))
        })?;
        self.may_see_visit(&caller, &visit).await?;
        Ok(Response::new(mirror::into_record(row)))
    }

    async fn list_visits(
        &self,
        request: Request<ListVisitsRequest>,
    ) -> Result<Response<RecordList>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let mut filter = VisitFilter {
            host_club: given(&request.host_club),
            home_club: given(&request.home_club),
            member_ref: None,
            month: given(&request.month),
            status: given(&request.status),
        };
        if let Some(month) = &filter.month
            && !is_month(month)
        {
            return Err(Status::invalid_argument(format!(
                "month must be YYYY-MM, got {month:?}"
            )));
        }
        if let Some(status) = &filter.status
            && !VISIT_STATUSES.contains(&status.as_str())
        {
            return Err(Status::invalid_argument(format!(
                "status must be one of {}, got {status:?}",
                VISIT_STATUSES.join(", ")
            )));
        }
        let mut member_id = given(&request.member_id);
        match caller.role {
            Role::NetworkAdmin => {}
            Role::ClubAdmin | Role::FrontDesk => {
                let own = caller.club.as_deref();
                if filter.host_club.as_deref() != own && filter.home_club.as_deref() != own {
                    return Err(Status::permission_denied(format!(
                        "club staff list their own club's visits: set host_club or home_club to {}",
                        own.unwrap_or_default()
                    )));
                }
            }
            Role::Member => {
                let own = caller.member.clone();
                if member_id.is_some() && member_id != own {
                    return Err(Status::permission_denied(
                        "a member lists only their own visits",
                    ));
                }
                member_id = own;
            }
        }
        if let Some(member_id) = member_id {
            filter.member_ref = Some(self.resolve(&caller, &member_id).await?.member_ref);
        }
        let height = self.ledger.wait_for(request.min_block).await?;
        let after = request.after.trim().to_owned();
        // The front desks of a club poll the same page: it is read once per mirror height.
        let key = format!("visits {filter:?} after {after:?} limit {limit}");
        let (pool, filter) = (self.ledger.mirror().clone(), Arc::new(filter));
        let page = self
            .ledger
            .page_at(height, request.min_block, key, |height| {
                let (pool, filter, after) = (pool.clone(), filter.clone(), after.clone());
                async move {
                    let rows = mirror::visits(&pool, &filter, &after, limit).await?;
                    Ok(mirror::page(rows, limit, height))
                }
            })
            .await?;
        Ok(Response::new(page))
    }
}
