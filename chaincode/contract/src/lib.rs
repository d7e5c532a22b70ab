//! The reciprocal clubs contract: the rules every club's peer enforces on agreements, visits and
//! governance.
//!
//! # Callers
//! The caller is the transaction creator: its MSP id and the Fabric CA attributes `club` and `role`
//! (`network_admin`, `club_admin`, `front_desk`) in its certificate. A caller acts only for its own club,
//! and a club belongs to one MSP (`Club.msp_id`), so a certificate from another organisation cannot act
//! for it even with a forged `club` attribute. A network admin bootstraps the first clubs and may suspend
//! a club in an emergency.
//!
//! # Time
//! Every time comes from the transaction timestamp (the client's clock in the channel header, identical on
//! every endorser); dates are UTC calendar dates. Nothing reads a clock, a random source or iterates a
//! hash map into an output, so endorsements from different peers are byte-identical.
//!
//! # Functions
//! Arguments are strings; structured inputs are one JSON argument (unknown fields are refused). Every
//! response payload is JSON with stable snake_case field names. Refusals carry status 400 (bad input), 403
//! (not allowed), 404 (unknown record) or 409 (conflict with the current state or the agreement), and
//! nothing is written. Every state change emits exactly one chaincode event whose payload is the new
//! record. See [`FUNCTIONS`] for the list (also served by `org.hyperledger.fabric:GetMetadata`).
//!
//! # Choices where the rules are silent
//! - Clubs: `CreateClub` works only during the bootstrap, which ends with `CloseBootstrap` or with the
//!   first proposal. An `admit_club` proposal records the club as `pending`; if it fails or is cancelled
//!   the pending record is removed (its history remains).
//! - Stays: `nights` counts nights; 0 is a day visit; `max_stay_days` bounds nights.
//! - Quotas count `checked_in`, `checked_out` and `disputed` visits; cancelled and refused ones do not.
//! - A refusal (host veto) may be recorded without an agreement; it never counts.
//! - Disputes are raised by the home club's admin on a checked-in or checked-out visit and resolved by the
//!   host's admin (back to `checked_out`, optionally lowering the fee). Disputed visits are left out of
//!   statements until resolved.
//! - Termination takes effect `notice_period_days` after the notice (the agreement's, else the network
//!   rule); visits dated on or after that day are refused.
//! - `advance_notice_hours` is recorded for reservations, which are kept off the ledger.
//! - Votes: quorum counts yes, no and abstain; the threshold compares yes with yes + no.
//!
//! # Keys
//! Records live under composite keys `\0<type>\0<id>\0`: `club`, `member` (member_ref), `agreement`,
//! `visit`, `proposal`, `vote` (proposal, club), `settlement` (host, home, month), `networkrules`. Indexes:
//! `agreementpair` (the open agreement of a pair), `clubagreement` (club, agreement), `hostvisit` (host,
//! month, visit), `membervisit` (member, month, visit), `proposalstatus` (status, proposal), and the quota
//! counters `visitcount` (member, host, month or year).

pub mod agreements;
pub mod clubs;
pub mod context;
pub mod dates;
pub mod error;
pub mod governance;
pub mod metadata;
pub mod model;
pub mod queries;
pub mod settlement;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod visits;

use chaincode_shim::{Chaincode, ChaincodeStub};
use fabric_protos::protos::Response;
use serde::Serialize;

use crate::context::{Context, parse_json, parse_text, to_json};
use crate::error::{ContractResult, bad_request};

pub use metadata::FUNCTIONS;

/// The contract, served by the shim.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReciprocalContract;

impl Chaincode for ReciprocalContract {
    async fn init<S: ChaincodeStub>(&self, _stub: &mut S) -> Response {
        // Nothing to initialise: network rules have defaults until amended.
        chaincode_shim::success(Vec::new())
    }

    async fn invoke<S: ChaincodeStub>(&self, stub: &mut S) -> Response {
        let args = stub.args().to_vec();
        let Some((function, rest)) = args.split_first() else {
            return chaincode_shim::error(400, "no function given");
        };
        let function = String::from_utf8_lossy(function).into_owned();
        let mut ctx = Context::new(stub);
        match dispatch(&mut ctx, &function, rest).await {
            Ok(payload) => chaincode_shim::success(payload),
            Err(error) => chaincode_shim::error(error.status(), error.to_string()),
        }
    }
}

fn ok<T: Serialize>(value: &T) -> ContractResult<Vec<u8>> {
    to_json(value)
}

/// The `index`th argument as text.
fn text(args: &[Vec<u8>], index: usize, name: &str) -> ContractResult<String> {
    let bytes = args
        .get(index)
        .ok_or_else(|| bad_request(format!("missing argument {}: {name}", index + 1)))?;
    parse_text(name, bytes)
}

/// The `index`th argument as JSON.
fn json<T: serde::de::DeserializeOwned>(
    args: &[Vec<u8>],
    index: usize,
    name: &str,
) -> ContractResult<T> {
    let bytes = args
        .get(index)
        .ok_or_else(|| bad_request(format!("missing argument {}: {name}", index + 1)))?;
    parse_json(name, bytes)
}

/// An optional numeric argument.
fn number<T: std::str::FromStr>(
    args: &[Vec<u8>],
    index: usize,
    name: &str,
    default: T,
) -> ContractResult<T> {
    match args.get(index) {
        None => Ok(default),
        Some(bytes) if bytes.is_empty() => Ok(default),
        Some(bytes) => parse_text(name, bytes)?
            .parse()
            .map_err(|_| bad_request(format!("{name} must be a number"))),
    }
}

/// An optional text argument.
fn optional_text(args: &[Vec<u8>], index: usize, name: &str) -> ContractResult<String> {
    match args.get(index) {
        None => Ok(String::new()),
        Some(bytes) => parse_text(name, bytes),
    }
}

/// Routes a call to its function after checking the number of arguments.
pub async fn dispatch<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    function: &str,
    args: &[Vec<u8>],
) -> ContractResult<Vec<u8>> {
    let spec = FUNCTIONS
        .iter()
        .find(|spec| spec.name == function)
        .ok_or_else(|| bad_request(format!("unknown function {function:?}")))?;
    let required = spec.parameters.iter().filter(|p| !p.optional).count();
    if args.len() < required || args.len() > spec.parameters.len() {
        let names: Vec<&str> = spec.parameters.iter().map(|p| p.name).collect();
        return Err(bad_request(format!(
            "{function} takes {} arguments ({}), got {}",
            if required == spec.parameters.len() {
                required.to_string()
            } else {
                format!("{required} to {}", spec.parameters.len())
            },
            names.join(", "),
            args.len()
        )));
    }
    match function {
        "org.hyperledger.fabric:GetMetadata" => ok(&metadata::contract_metadata()),
        "CreateClub" => ok(&clubs::create_club(ctx, json(args, 0, "club")?).await?),
        "CloseBootstrap" => ok(&clubs::close_bootstrap(ctx).await?),
        "SuspendClub" => {
            ok(
                &clubs::suspend_club(ctx, &text(args, 0, "club_id")?, &text(args, 1, "reason")?)
                    .await?,
            )
        }
        "GetClub" => ok(&clubs::club(ctx, &text(args, 0, "club_id")?).await?),
        "ListClubs" => ok(&clubs::list_clubs(ctx).await?),
        "GetNetworkRules" => ok(&clubs::rules(ctx).await?),
        "UpsertMemberAnchor" => ok(&clubs::upsert_member(ctx, json(args, 0, "anchor")?).await?),
        "GetMemberAnchor" => ok(&clubs::member(ctx, &text(args, 0, "member_ref")?).await?),
        "ProposeAgreement" => ok(&agreements::propose(ctx, json(args, 0, "agreement")?).await?),
        "AcceptAgreement" => ok(&agreements::accept(ctx, &text(args, 0, "agreement_id")?).await?),
        "RejectAgreement" => ok(&agreements::reject(
            ctx,
            &text(args, 0, "agreement_id")?,
            &text(args, 1, "reason")?,
        )
        .await?),
        "WithdrawAgreement" => {
            ok(&agreements::withdraw(ctx, &text(args, 0, "agreement_id")?).await?)
        }
        "ProposeAmendment" => ok(&agreements::propose_amendment(
            ctx,
            &text(args, 0, "agreement_id")?,
            json(args, 1, "terms")?,
        )
        .await?),
        "AcceptAmendment" => {
            ok(&agreements::accept_amendment(ctx, &text(args, 0, "agreement_id")?).await?)
        }
        "RejectAmendment" => ok(&agreements::reject_amendment(
            ctx,
            &text(args, 0, "agreement_id")?,
            &text(args, 1, "reason")?,
        )
        .await?),
        "SuspendAgreement" => ok(&agreements::suspend(
            ctx,
            &text(args, 0, "agreement_id")?,
            &text(args, 1, "reason")?,
        )
        .await?),
        "ResumeAgreement" => ok(&agreements::resume(ctx, &text(args, 0, "agreement_id")?).await?),
        "TerminateAgreement" => ok(&agreements::terminate(
            ctx,
            &text(args, 0, "agreement_id")?,
            &text(args, 1, "reason")?,
        )
        .await?),
        "GetAgreement" => ok(&agreements::agreement(ctx, &text(args, 0, "agreement_id")?).await?),
        "ListAgreementsByClub" => {
            ok(&agreements::list_by_club(ctx, &text(args, 0, "club_id")?).await?)
        }
        "CheckIn" => ok(&visits::check_in(ctx, json(args, 0, "visit")?).await?),
        "RefuseVisit" => ok(&visits::refuse(ctx, json(args, 0, "visit")?).await?),
        "CheckOut" => ok(&visits::check_out(ctx, &text(args, 0, "visit_id")?).await?),
        "CancelVisit" => {
            ok(
                &visits::cancel(ctx, &text(args, 0, "visit_id")?, &text(args, 1, "reason")?)
                    .await?,
            )
        }
        "DisputeVisit" => {
            ok(
                &visits::dispute(ctx, &text(args, 0, "visit_id")?, &text(args, 1, "reason")?)
                    .await?,
            )
        }
        "ResolveDispute" => {
            let fee = match args.get(2) {
                Some(bytes) if !bytes.is_empty() => Some(number(args, 2, "fee_minor", 0u64)?),
                _ => None,
            };
            ok(&visits::resolve(
                ctx,
                &text(args, 0, "visit_id")?,
                &text(args, 1, "resolution")?,
                fee,
            )
            .await?)
        }
        "GetVisit" => ok(&visits::visit(ctx, &text(args, 0, "visit_id")?).await?),
        "ListVisitsByHost" => ok(&queries::by_host(
            ctx,
            &text(args, 0, "host_club")?,
            &text(args, 1, "month")?,
            number(args, 2, "page_size", 50)?,
            &optional_text(args, 3, "bookmark")?,
        )
        .await?),
        "ListVisitsByMember" => ok(&queries::by_member(
            ctx,
            &text(args, 0, "member_ref")?,
            &text(args, 1, "month")?,
            number(args, 2, "page_size", 50)?,
            &optional_text(args, 3, "bookmark")?,
        )
        .await?),
        "GetStatement" => ok(&settlement::statement(
            ctx,
            &text(args, 0, "host_club")?,
            &text(args, 1, "home_club")?,
            &text(args, 2, "month")?,
        )
        .await?),
        "RecordSettlement" => ok(&settlement::record(ctx, json(args, 0, "settlement")?).await?),
        "GetSettlement" => ok(&settlement::get(
            ctx,
            &text(args, 0, "host_club")?,
            &text(args, 1, "home_club")?,
            &text(args, 2, "month")?,
        )
        .await?),
        "CreateProposal" => ok(&governance::create(ctx, json(args, 0, "proposal")?).await?),
        "CastVote" => ok(&governance::vote(
            ctx,
            &text(args, 0, "proposal_id")?,
            &text(args, 1, "choice")?,
        )
        .await?),
        "CloseProposal" => ok(&governance::close(ctx, &text(args, 0, "proposal_id")?).await?),
        "CancelProposal" => ok(&governance::cancel(ctx, &text(args, 0, "proposal_id")?).await?),
        "GetProposal" => ok(&governance::proposal(ctx, &text(args, 0, "proposal_id")?).await?),
        "ListProposalsByStatus" => {
            ok(&governance::list_by_status(ctx, &text(args, 0, "status")?).await?)
        }
        "ListVotes" => ok(&governance::list_votes(ctx, &text(args, 0, "proposal_id")?).await?),
        "GetHistory" => {
            ok(
                &queries::history(ctx, &text(args, 0, "record_type")?, &text(args, 1, "id")?)
                    .await?,
            )
        }
        other => Err(bad_request(format!("unknown function {other:?}"))),
    }
}
