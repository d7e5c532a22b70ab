//! The reciprocal clubs contract: the rules every club's peer enforces on clubs, member anchors,
//! reciprocal agreements, visits, settlement and governance. This page is the chaincode's reference.
//!
//! # Callers
//! The caller is the transaction creator: its MSP id and the Fabric CA attributes `club` and `role`
//! (`network_admin`, `club_admin`, `front_desk`) in its certificate. A caller acts only for its own club,
//! and a club belongs to one MSP (`Club.msp_id`): a certificate from another organisation cannot act for
//! the club even with the club's id in its `club` attribute (403). A network admin bootstraps the first
//! clubs and may suspend a club in an emergency; it acts for no club. Queries are open to every member of
//! the channel: the ledger holds no personal data.
//!
//! # Calling conventions
//! `args[0]` is the function, optionally prefixed with the contract name as fabric-contract-api clients
//! send it (`ReciprocalContract:CheckIn`). Arguments are UTF-8 strings; structured inputs are one JSON
//! argument whose unknown fields are refused. Every response payload is JSON with stable snake_case field
//! names (records serialize their fields in declaration order, so every endorser returns the same bytes).
//! Refusals carry status 400 (bad input), 403 (not allowed), 404 (unknown record) or 409 (conflict with
//! the current state or with the agreement; check-in refusals start with `check-in refused:`), with a
//! message naming the field or record; 500 means the ledger failed. A refused call writes nothing and
//! emits no event. Every state change emits exactly one chaincode event whose payload is the new record,
//! byte for byte the response payload.
//!
//! # Functions
//! | function | arguments | who | event |
//! |---|---|---|---|
//! | `CreateClub` | `{id, name, msp_id, contact_ref?, residency_zone?}` | network admin, during the bootstrap | `ClubAdmitted` |
//! | `CloseBootstrap` | – | network admin | `NetworkRulesChanged` |
//! | `SuspendClub` | club_id, reason | network admin (emergency) | `ClubStatusChanged` |
//! | `GetClub`, `ListClubs`, `GetNetworkRules` | club_id / – / – | anyone | – |
//! | `UpsertMemberAnchor` | `{member_ref, status, valid_until, residency_zone?}` | home club admin | `MemberAnchored` |
//! | `GetMemberAnchor` | member_ref | anyone | – |
//! | `ProposeAgreement` | `{agreement_id, counterparty_club, terms}` | club admin of the proposer | `AgreementProposed` |
//! | `AcceptAgreement`, `RejectAgreement` | agreement_id [, reason] | counterparty's club admin | `AgreementAccepted`, `AgreementRejected` |
//! | `WithdrawAgreement` | agreement_id | proposer's club admin | `AgreementWithdrawn` |
//! | `ProposeAmendment` | agreement_id, terms | either party's club admin | `AgreementAmendmentProposed` |
//! | `AcceptAmendment`, `RejectAmendment` | agreement_id [, reason] | the other party's club admin | `AgreementAmended`, `AgreementAmendmentRejected` |
//! | `SuspendAgreement`, `ResumeAgreement` | agreement_id [, reason] | either party / only the suspender | `AgreementSuspended`, `AgreementResumed` |
//! | `TerminateAgreement` | agreement_id, reason | either party's club admin | `AgreementTerminationNoticed` |
//! | `GetAgreement`, `ListAgreementsByClub` | agreement_id / club_id | anyone | – |
//! | `CheckIn` | `{visit_id, member_ref, host_club, visit_date, nights?, guests?, guests_family?, facilities?}` | host's front desk or club admin | `VisitRecorded` |
//! | `RefuseVisit` | the same with `reason` | host's front desk or club admin | `VisitRefused` |
//! | `CheckOut`, `CancelVisit` | visit_id [, reason] | host's front desk or club admin | `VisitCheckedOut`, `VisitCancelled` |
//! | `DisputeVisit` | visit_id, reason | home club admin | `VisitDisputed` |
//! | `ResolveDispute` | visit_id, resolution [, fee_minor] | host club admin | `DisputeResolved` |
//! | `GetVisit` | visit_id | anyone | – |
//! | `ListVisitsByHost`, `ListVisitsByMember` | host_club or member_ref, YYYY-MM [, page_size (1–200, default 50), bookmark] | anyone | – |
//! | `GetStatement`, `GetSettlement` | host_club, home_club, YYYY-MM | anyone | – |
//! | `RecordSettlement` | `{host_club, home_club, month, reference}` | either club's admin | `SettlementRecorded` |
//! | `CreateProposal` | `{proposal_id, kind, payload, voting_days?, quorum?, threshold?}` | club admin of an active club | `ProposalCreated` |
//! | `CastVote` | proposal_id, yes\|no\|abstain | club admin of an active club | `VoteCast` |
//! | `CloseProposal` | proposal_id | anyone | `ProposalDecided` |
//! | `CancelProposal` | proposal_id | the proposer's club admin, before any vote | `ProposalCancelled` |
//! | `GetProposal`, `ListProposalsByStatus`, `ListVotes` | proposal_id / status / proposal_id | anyone | – |
//! | `GetHistory` | record_type, id (parts joined by `/`) | anyone | – |
//! | `org.hyperledger.fabric:GetMetadata` | – | anyone | – |
//!
//! Proposal payloads: `admit_club` → a club input as for `CreateClub`; `suspend_club`, `reinstate_club`,
//! `expel_club` → `{club_id, reason?}`; `amend_network_rule` → `{rule, value}` with rule
//! `default_notice_period_days`, `default_voting_days`, `default_quorum`, `default_threshold` or
//! `expel_threshold` (fractions are `{numerator, denominator, strict}`); `text` → `{text}`.
//!
//! # Rules, and the choices made where the domain rules are silent
//! - **Time.** Every time comes from the transaction timestamp (the client's clock in the channel header,
//!   identical on every endorser); dates are UTC calendar dates `YYYY-MM-DD`. Nothing reads a clock or a
//!   random source or iterates a hash map into an output.
//! - **No personal data.** `member_ref` must be exactly 64 lowercase hex characters (an HMAC-SHA256).
//!   Free text (names, reasons, references, proposal texts) is bounded, free of control characters, and
//!   refused when it holds an `@` or an international phone number. Residency zones are coarse codes
//!   (`GB-LND`), nothing finer.
//! - **Clubs.** `CreateClub` works only during the bootstrap, which ends with `CloseBootstrap` or with the
//!   first proposal. An `admit_club` proposal records the club as `pending`; if the proposal fails or is
//!   cancelled the pending record is deleted (its history remains). An emergency suspension is lifted only
//!   by a `reinstate_club` vote. Suspended and expelled clubs neither host, send visitors, propose nor
//!   vote; a suspended club may still update its member anchors, an expelled one may not.
//! - **Agreements.** Between two distinct active clubs; at most one open (proposed, active or suspended)
//!   agreement per pair, whoever proposed it. Amendments apply to active or suspended agreements and take
//!   effect on acceptance: the version increases and the old terms go to `history`. `effective_status` is
//!   derived at read time: `expired` after `valid_until`, `terminated` from the day the notice takes
//!   effect (`notice_period_days` after the notice, from the terms or else the network rule). Expired and
//!   terminated agreements free the pair for a new one.
//! - **Visits.** `nights` counts nights (0 = a day visit) and is bounded by `max_stay_days`. A visit is
//!   recorded on its day: at most one day ahead of the UTC date (clubs east of UTC reach a date first) and
//!   at most 30 days late. Check-in requires, in this order: both clubs active; an agreement between them
//!   that is active (not proposed or suspended), valid on the date and, after a notice of termination,
//!   dated before the termination takes effect (judged on the visit date, so a visit recorded late
//!   under a since-expired agreement is accepted); the date outside blackouts; the member's anchor active and valid on the date; stay, guests
//!   (`guests_family_only` is honoured through the request's `guests_family` flag), residency exclusion
//!   (applies when both the member's and the host's zones are known) and facilities (an empty list allows
//!   all); the month not yet settled; then the quotas. Quotas count `checked_in`, `checked_out` and
//!   `disputed` visits per member per host per calendar month and year (of the visit date); cancelled and
//!   refused visits do not count. A refusal (host veto) may be recorded without an agreement.
//!   `advance_notice_hours` is recorded for reservations, which are kept off the ledger. The fee is
//!   `per_visit_minor + guests × per_guest_minor` in the agreement's currency.
//! - **Idempotency.** A `visit_id` repeated with the same content returns the stored visit (as it is now)
//!   without writing; with different content it is 409.
//! - **Disputes and settlement.** The home club's admin disputes a checked-in or checked-out visit; the
//!   host's admin resolves it back to `checked_out`, optionally lowering the fee. A statement sums the
//!   checked-out `bill_home_club` visits of a host, home club and month; visits still checked in or
//!   disputed are listed apart and block recording the settlement. Either club records the settlement once,
//!   with a payment reference; afterwards the month is closed to disputes and to new billed visits.
//! - **Governance.** Eligible voters are the active clubs except the proposal's target, counted when the
//!   proposal is closed. Quorum counts yes, no and abstain; the threshold compares yes with yes + no
//!   (defaults: more than half for both; at least two thirds to expel); a proposal may require more
//!   than the network rules, never less, so no club can decide alone. A vote is final and must be cast
//!   before `closes_at` (the window is `voting_days`, default 7). `CloseProposal` decides at or after
//!   `closes_at`, or earlier once no outstanding vote can change the outcome; a passed binding proposal is
//!   executed in the same transaction (`executed`), a passed `text` proposal is `passed`.
//!
//! # Keys
//! Records live under composite keys `\0<type>\0<part>…\0`:
//!
//! | key | value |
//! |---|---|
//! | `club` (club id) | [`model::Club`] |
//! | `member` (member_ref) | [`model::MemberAnchor`] |
//! | `agreement` (agreement id) | [`model::Agreement`] |
//! | `agreementpair` (lower club id, higher club id) | id of the pair's latest agreement not rejected or withdrawn |
//! | `clubagreement` (club id, agreement id) | index of a club's agreements (value `0x00`) |
//! | `visit` (visit id) | [`model::Visit`] |
//! | `hostvisit` (host club, YYYY-MM, visit id) | index of a host's visits by month |
//! | `membervisit` (member_ref, YYYY-MM, visit id) | index of a member's visits by month |
//! | `visitcount` (member_ref, host club, YYYY or YYYY-MM) | counted visits, decimal text |
//! | `settlement` (host club, home club, YYYY-MM) | [`model::Settlement`] |
//! | `proposal` (proposal id) | [`model::Proposal`] |
//! | `proposalstatus` (status, proposal id) | index of proposals by status |
//! | `vote` (proposal id, club id) | [`model::Vote`] |
//! | `networkrules` | [`model::NetworkRules`] (defaults until first written) |
//!
//! Every check-in reads and writes its member's counters, so two concurrent check-ins of one member at
//! one host conflict in MVCC validation and the loser's client retries: quotas stay exact. A statement
//! is a range read, which the peer re-validates at commit, so a settlement cannot race a new visit.

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
        let function = String::from_utf8_lossy(function);
        // fabric-contract-api clients may name the contract: `ReciprocalContract:CheckIn`.
        let function = function
            .strip_prefix(metadata::CONTRACT_NAME)
            .and_then(|name| name.strip_prefix(':'))
            .unwrap_or(&function)
            .to_owned();
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
        let count = if required == spec.parameters.len() {
            required.to_string()
        } else {
            format!("{required} to {}", spec.parameters.len())
        };
        let noun = if spec.parameters.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        return Err(bad_request(format!(
            "{function} takes {count} {noun} ({}), got {}",
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
