//! The `Members` gRPC API: who may do what, and the order of the database and ledger writes that keeps
//! them in step (a member's row changes only together with a committed anchor on the ledger).

use platform::caller::{Caller, Role};
use platform::ledger::{Ledger, database_error, new_uuid, page_size, today};
use reciprocal_api::v1::members_server::Members;
use reciprocal_api::v1::{
    CreateMemberRequest, GetMemberRequest, ListMembersRequest, Member, MemberList, MemberWrite,
    ResolvedMember, UpdateMemberRequest, Verification, VerifyMemberRequest,
};
use tonic::{Request, Response, Status};

use crate::store::{self, MemberRow, NewMember, Store};
use crate::validate;
use crate::verify::{self, Facts};

/// The contract function that writes a member's anchor.
pub const UPSERT_ANCHOR: &str = "UpsertMemberAnchor";

/// Club staff: who may look at a club's members.
const STAFF: &[Role] = &[Role::ClubAdmin, Role::FrontDesk];

/// The service.
#[derive(Debug, Clone)]
pub struct MembersApi {
    store: Store,
    ledger: Ledger,
}

impl MembersApi {
    /// The API over the member database and the ledger.
    pub fn new(store: Store, ledger: Ledger) -> Self {
        Self { store, ledger }
    }

    async fn member(&self, id: &str) -> Result<MemberRow, Status> {
        self.store.get(id).await?.ok_or_else(|| not_found(id))
    }
}

fn not_found(id: &str) -> Status {
    Status::not_found(format!("member {id} does not exist"))
}

fn erased(id: &str) -> Status {
    Status::failed_precondition(format!("member {id} has been erased"))
}

fn write(row: &MemberRow) -> MemberWrite {
    MemberWrite {
        member: Some(row.to_api()),
        tx_id: row.anchor_tx_id.clone().unwrap_or_default(),
        block_number: row.anchor_block.unwrap_or_default() as u64,
    }
}

/// Whether `caller` may see `member`: the network admin any; club staff their own club's; a member only
/// themselves.
fn may_read(caller: &Caller, member: &MemberRow) -> Result<(), Status> {
    match caller.role {
        Role::NetworkAdmin => Ok(()),
        Role::Member => {
            if caller.member.as_deref() == Some(member.id.as_str())
                && caller.club.as_deref() == Some(member.club.as_str())
            {
                Ok(())
            } else {
                Err(Status::permission_denied(
                    "a member may only see their own record",
                ))
            }
        }
        Role::ClubAdmin | Role::FrontDesk => {
            caller.require(&member.club, STAFF, "reading a member")
        }
    }
}

#[tonic::async_trait]
impl Members for MembersApi {
    async fn create_member(
        &self,
        request: Request<CreateMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        let caller = Caller::of(&request)?;
        let input = request.into_inner();
        validate::club("club", &input.club)?;
        caller.require(&input.club, &[Role::ClubAdmin], "creating a member")?;
        let id = new_uuid();
        let mut member = NewMember {
            name: validate::name(&input.name)?,
            email: validate::email(&input.email)?,
            membership_number: validate::membership_number(&input.membership_number)?,
            photo_url: validate::photo_url(&input.photo_url)?,
            status: validate::status(&input.status, Some("active"))?,
            valid_until: validate::date("valid_until", &input.valid_until)?,
            residency_zone: validate::residency_zone(&input.residency_zone)?,
            member_ref: String::new(),
            club: input.club,
            id,
        };
        let secret = self.store.club_secret(&member.club).await?;
        member.member_ref = store::member_ref(&secret, &member.id);

        // The row exists for others only once its anchor committed: a failed submit rolls it back.
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        let row = store::insert(&mut *tx, &member).await?;
        let anchor = row.anchor(&row.status, &row.valid_until);
        let written = self
            .ledger
            .submit(&caller, UPSERT_ANCHOR, vec![anchor])
            .await?;
        let row = store::set_anchor(
            &mut *tx,
            &row.id,
            &row.status,
            &row.valid_until,
            &written.tx_id,
            written.block_number,
        )
        .await?;
        tx.commit().await.map_err(|error| {
            tracing::error!(member_ref = %row.member_ref, tx_id = %written.tx_id,
                "the anchor was written but the member could not be stored");
            database_error(error)
        })?;
        tracing::info!(member = %row.id, club = %row.club, tx_id = %written.tx_id, "member created");
        Ok(Response::new(write(&row)))
    }

    async fn get_member(
        &self,
        request: Request<GetMemberRequest>,
    ) -> Result<Response<Member>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().id;
        validate::member_id("id", &id)?;
        if caller.role == Role::Member && caller.member.as_deref() != Some(id.as_str()) {
            return Err(Status::permission_denied(
                "a member may only see their own record",
            ));
        }
        let row = self.member(&id).await?;
        may_read(&caller, &row)?;
        Ok(Response::new(row.to_api()))
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<MemberList>, Status> {
        let caller = Caller::of(&request)?;
        let input = request.into_inner();
        let limit = page_size(input.limit)?;
        if input.after.len() > 64 {
            return Err(Status::invalid_argument(
                "after must be a member id from next_after",
            ));
        }
        if !input.club.is_empty() {
            validate::club("club", &input.club)?;
        }
        let club = match caller.role {
            Role::NetworkAdmin => (!input.club.is_empty()).then_some(input.club.as_str()),
            Role::ClubAdmin | Role::FrontDesk => {
                if input.club.is_empty() {
                    return Err(Status::invalid_argument("club is required"));
                }
                caller.require(&input.club, STAFF, "listing members")?;
                Some(input.club.as_str())
            }
            Role::Member => {
                // A member sees a list of one: themselves.
                let own = caller.club.as_deref().unwrap_or_default();
                if !input.club.is_empty() && input.club != own {
                    return Err(Status::permission_denied(
                        "a member may only see their own record",
                    ));
                }
                let me = caller.member.as_deref().unwrap_or_default();
                let members = match self.store.get(me).await? {
                    Some(row) if row.club == own && row.id.as_str() > input.after.as_str() => {
                        vec![row.to_api()]
                    }
                    _ => Vec::new(),
                };
                return Ok(Response::new(MemberList {
                    members,
                    next_after: String::new(),
                }));
            }
        };
        let mut rows = self.store.list(club, &input.after, limit).await?;
        let next_after = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|row| row.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(MemberList {
            members: rows.iter().map(MemberRow::to_api).collect(),
            next_after,
        }))
    }

    async fn update_member(
        &self,
        request: Request<UpdateMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        let caller = Caller::of(&request)?;
        let input = request.into_inner();
        validate::member_id("id", &input.id)?;
        if input.status.is_empty() && input.valid_until.is_empty() {
            return Err(Status::invalid_argument(
                "nothing to change: give status and/or valid_until",
            ));
        }
        let status = (!input.status.is_empty())
            .then(|| validate::status(&input.status, None))
            .transpose()?;
        let valid_until = (!input.valid_until.is_empty())
            .then(|| validate::date("valid_until", &input.valid_until))
            .transpose()?;

        // The row stays locked until the new anchor committed, so concurrent updates of one member reach
        // the ledger and the database in the same order; a failed submit leaves the old values.
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        let row = store::get(&mut *tx, &input.id, true)
            .await?
            .ok_or_else(|| not_found(&input.id))?;
        caller.require(&row.club, &[Role::ClubAdmin], "updating a member")?;
        if row.erased {
            return Err(erased(&row.id));
        }
        let status = status.unwrap_or_else(|| row.status.clone());
        let valid_until = valid_until.unwrap_or_else(|| row.valid_until.clone());
        let written = self
            .ledger
            .submit(
                &caller,
                UPSERT_ANCHOR,
                vec![row.anchor(&status, &valid_until)],
            )
            .await?;
        let row = store::set_anchor(
            &mut *tx,
            &row.id,
            &status,
            &valid_until,
            &written.tx_id,
            written.block_number,
        )
        .await?;
        tx.commit().await.map_err(database_error)?;
        tracing::info!(member = %row.id, %status, %valid_until, tx_id = %written.tx_id, "member updated");
        Ok(Response::new(write(&row)))
    }

    async fn erase_personal_data(
        &self,
        request: Request<GetMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().id;
        validate::member_id("id", &id)?;
        let mut tx = self.store.pool().begin().await.map_err(database_error)?;
        let row = store::get(&mut *tx, &id, true)
            .await?
            .ok_or_else(|| not_found(&id))?;
        caller.require(
            &row.club,
            &[Role::ClubAdmin],
            "erasing a member's personal data",
        )?;
        if row.erased {
            // Erased already: the same answer, no second ledger write.
            return Ok(Response::new(write(&row)));
        }
        // Lapsed on the ledger first, so that the member can no longer check in anywhere.
        let written = self
            .ledger
            .submit(
                &caller,
                UPSERT_ANCHOR,
                vec![row.anchor("lapsed", &row.valid_until)],
            )
            .await?;
        let row = store::erase(&mut *tx, &row.id, &written.tx_id, written.block_number).await?;
        tx.commit().await.map_err(database_error)?;
        tracing::info!(member = %row.id, club = %row.club, tx_id = %written.tx_id, "personal data erased");
        Ok(Response::new(write(&row)))
    }

    async fn verify_member(
        &self,
        request: Request<VerifyMemberRequest>,
    ) -> Result<Response<Verification>, Status> {
        let caller = Caller::of(&request)?;
        let input = request.into_inner();
        validate::member_id("member_id", &input.member_id)?;
        validate::club("host_club", &input.host_club)?;
        let date = if input.date.is_empty() {
            today()
        } else {
            validate::date("date", &input.date)?
        };
        caller.require_admin_or(
            &input.host_club,
            &[Role::FrontDesk, Role::ClubAdmin],
            "verifying a visitor",
        )?;
        let row = self.member(&input.member_id).await?;
        if row.erased {
            return Err(Status::not_found(format!(
                "member {} has been erased",
                row.id
            )));
        }
        // The mirror must show at least the member's latest anchor.
        if let Some(block) = row.anchor_block {
            self.ledger.wait_for(block as u64).await?;
        }
        let mirror = self.ledger.mirror();
        let host = input.host_club.as_str();
        let (anchor, home, host_row, agreement, settled, counts) = tokio::try_join!(
            verify::anchor(mirror, &row.member_ref),
            verify::club(mirror, &row.club),
            verify::club(mirror, host),
            verify::agreement(mirror, &row.club, host),
            verify::settled(mirror, host, &row.club, &date),
            verify::counts(mirror, &row.member_ref, host, &date),
        )?;
        let reason = verify::refusal(&Facts {
            home_club: &row.club,
            host_club: host,
            home: home.as_ref(),
            host: host_row.as_ref(),
            date: &date,
            anchor: anchor.as_ref(),
            agreement: agreement.as_ref(),
            settled: settled.as_deref(),
            counts,
        });
        let (remaining_this_month, remaining_this_year) = agreement
            .as_ref()
            .map(|agreement| {
                (
                    agreement
                        .terms
                        .max_visits_per_month
                        .saturating_sub(counts.month),
                    agreement
                        .terms
                        .max_visits_per_year
                        .saturating_sub(counts.year),
                )
            })
            .unwrap_or_default();
        let (status, valid_until) = match anchor {
            Some(anchor) => (anchor.status, anchor.valid_until),
            None => (row.status.clone(), row.valid_until.clone()),
        };
        Ok(Response::new(Verification {
            member_id: row.id.clone(),
            name: row.name.clone().unwrap_or_default(),
            photo_url: row.photo_url.clone().unwrap_or_default(),
            home_club: row.club.clone(),
            status,
            valid_until,
            date,
            admissible: reason.is_none(),
            reason: reason.unwrap_or_default(),
            agreement_id: agreement.map(|agreement| agreement.id).unwrap_or_default(),
            visits_this_month: counts.month,
            visits_this_year: counts.year,
            remaining_this_month,
            remaining_this_year,
        }))
    }

    async fn resolve_member(
        &self,
        request: Request<GetMemberRequest>,
    ) -> Result<Response<ResolvedMember>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().id;
        validate::member_id("id", &id)?;
        // Staff resolve visitors of any club; a member resolves only themselves (to list their visits).
        let staff = matches!(
            caller.role,
            Role::NetworkAdmin | Role::ClubAdmin | Role::FrontDesk
        );
        if !staff && caller.member.as_deref() != Some(id.as_str()) {
            return Err(Status::permission_denied(format!(
                "resolving a visitor needs the role front_desk, club_admin or network_admin; you are {}",
                caller.role
            )));
        }
        let row = self.member(&id).await?;
        if !staff {
            // Themselves, at their own club.
            may_read(&caller, &row)?;
        }
        if row.erased {
            return Err(erased(&row.id));
        }
        Ok(Response::new(ResolvedMember {
            member_id: row.id.clone(),
            member_ref: row.member_ref.clone(),
            home_club: row.club.clone(),
            status: row.status.clone(),
            name: row.name.clone().unwrap_or_default(),
            photo_url: row.photo_url.clone().unwrap_or_default(),
        }))
    }
}
