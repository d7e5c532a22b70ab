//! Reciprocal agreements: proposal and acceptance, amendments (versioned, old terms kept), suspension
//! and resumption, notice of termination. At most one open agreement per pair of clubs.

use chaincode_shim::ChaincodeStub;
use serde::Deserialize;

use crate::clubs::{acting_club, active_club, club, rules};
use crate::context::{Context, Role};
use crate::error::{ContractError, ContractResult, conflict, forbidden, not_found};
use crate::model::{
    Agreement, Amendment, PastTerms, Termination, Terms, validate_id, validate_text,
};

/// `\0agreement\0<id>\0`.
pub const AGREEMENT: &str = "agreement";
/// `\0agreementpair\0<lower club>\0<higher club>\0` → the pair's open agreement id.
pub const PAIR: &str = "agreementpair";
/// `\0clubagreement\0<club>\0<agreement id>\0` → index for listing a club's agreements.
pub const CLUB_INDEX: &str = "clubagreement";

/// Input of `ProposeAgreement`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeInput {
    /// Agreement id chosen by the proposer.
    pub agreement_id: String,
    /// The other club.
    pub counterparty_club: String,
    /// The terms.
    pub terms: Terms,
}

fn pair<'a>(a: &'a str, b: &'a str) -> [&'a str; 2] {
    if a <= b { [a, b] } else { [b, a] }
}

/// The agreement `id` with its effective status as of today, or 404.
pub async fn agreement<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Agreement> {
    validate_id("agreement id", id)?;
    let key = ctx.key(AGREEMENT, &[id])?;
    let mut agreement: Agreement = ctx
        .get(&key)
        .await?
        .ok_or_else(|| not_found(format!("agreement {id} does not exist")))?;
    agreement.effective_status = agreement.status_on(ctx.today);
    Ok(agreement)
}

async fn save<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    agreement: &mut Agreement,
) -> ContractResult<()> {
    agreement.updated_at = ctx.now.clone();
    agreement.effective_status = agreement.status_on(ctx.today);
    let key = ctx.key(AGREEMENT, &[&agreement.id])?;
    ctx.put(&key, agreement).await
}

/// The latest agreement of two clubs that was not rejected or withdrawn (it may have expired or been
/// terminated since), if any.
pub async fn latest_agreement_between<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    a: &str,
    b: &str,
) -> ContractResult<Option<Agreement>> {
    let key = ctx.key(PAIR, &pair(a, b))?;
    let Some(id) = ctx.stub.get_state(&key).await? else {
        return Ok(None);
    };
    let id = String::from_utf8(id)
        .map_err(|_| ContractError::Ledger(format!("pair index {key:?} is not UTF-8")))?;
    Ok(Some(agreement(ctx, &id).await?))
}

/// The open (proposed, active or suspended) agreement of two clubs, if any.
pub async fn open_agreement_between<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    a: &str,
    b: &str,
) -> ContractResult<Option<Agreement>> {
    let today = ctx.today;
    Ok(latest_agreement_between(ctx, a, b)
        .await?
        .filter(|agreement| agreement.is_open(today)))
}

async fn release_pair<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    agreement: &Agreement,
) -> ContractResult<()> {
    let key = ctx.key(PAIR, &pair(&agreement.club_a, &agreement.club_b))?;
    ctx.stub.del_state(&key).await?;
    Ok(())
}

/// The caller's club, which must be a party of `agreement`, acting as club admin.
async fn party<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    agreement: &Agreement,
    action: &str,
) -> ContractResult<String> {
    let club = ctx.caller.club_with_role(&[Role::ClubAdmin], action)?;
    if agreement.counterparty(club).is_none() {
        return Err(forbidden(format!(
            "{action}: {club} is not a party of agreement {}",
            agreement.id
        )));
    }
    Ok(acting_club(ctx, &[Role::ClubAdmin], action).await?.id)
}

fn require_status(agreement: &Agreement, allowed: &[&str], action: &str) -> ContractResult<()> {
    if allowed.contains(&agreement.effective_status.as_str()) {
        Ok(())
    } else {
        Err(conflict(format!(
            "{action}: agreement {} is {}",
            agreement.id, agreement.effective_status
        )))
    }
}

/// `ProposeAgreement(input)`.
pub async fn propose<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: ProposeInput,
) -> ContractResult<Agreement> {
    let proposer = ctx
        .caller
        .club_with_role(&[Role::ClubAdmin], "ProposeAgreement")?
        .to_owned();
    validate_id("agreement_id", &input.agreement_id)?;
    validate_id("counterparty_club", &input.counterparty_club)?;
    input.terms.validate()?;
    if input.counterparty_club == proposer {
        return Err(crate::error::bad_request(
            "an agreement needs two distinct clubs",
        ));
    }
    acting_club(ctx, &[Role::ClubAdmin], "ProposeAgreement").await?;
    active_club(ctx, &proposer).await?;
    active_club(ctx, &input.counterparty_club).await?;
    let key = ctx.key(AGREEMENT, &[&input.agreement_id])?;
    if ctx.get::<Agreement>(&key).await?.is_some() {
        return Err(conflict(format!(
            "agreement {} already exists",
            input.agreement_id
        )));
    }
    if let Some(open) = open_agreement_between(ctx, &proposer, &input.counterparty_club).await? {
        return Err(conflict(format!(
            "clubs {proposer} and {} already have agreement {} ({})",
            input.counterparty_club, open.id, open.effective_status
        )));
    }
    let mut agreement = Agreement {
        id: input.agreement_id,
        club_a: proposer,
        club_b: input.counterparty_club,
        status: "proposed".to_owned(),
        effective_status: String::new(),
        version: 1,
        terms: input.terms,
        history: Vec::new(),
        pending_amendment: None,
        proposed_at: ctx.now.clone(),
        accepted_at: None,
        suspended_by: None,
        reason: None,
        termination: None,
        updated_at: String::new(),
    };
    save(ctx, &mut agreement).await?;
    let pair_key = ctx.key(PAIR, &pair(&agreement.club_a, &agreement.club_b))?;
    ctx.stub
        .put_state(&pair_key, agreement.id.clone().into_bytes())
        .await?;
    for club in [agreement.club_a.clone(), agreement.club_b.clone()] {
        let index = ctx.key(CLUB_INDEX, &[&club, &agreement.id])?;
        ctx.stub.put_state(&index, vec![0]).await?;
    }
    ctx.emit("AgreementProposed", &agreement)?;
    Ok(agreement)
}

/// Which party of an agreement may take a step on a proposal.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// The proposing club (`club_a`).
    Proposer,
    /// The other club (`club_b`).
    Counterparty,
}

/// Loads proposal `id` for a step only `side` may take (`verb` names it in the refusal).
async fn proposal_step<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    action: &str,
    side: Side,
    verb: &str,
) -> ContractResult<Agreement> {
    let agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, action).await?;
    require_status(&agreement, &["proposed"], action)?;
    let allowed = match side {
        Side::Proposer => &agreement.club_a,
        Side::Counterparty => &agreement.club_b,
    };
    if club != *allowed {
        return Err(forbidden(format!(
            "{action}: only {allowed} can {verb} agreement {id}"
        )));
    }
    Ok(agreement)
}

/// `AcceptAgreement(id)`: the counterparty accepts a proposal.
pub async fn accept<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Agreement> {
    let mut agreement =
        proposal_step(ctx, id, "AcceptAgreement", Side::Counterparty, "accept").await?;
    active_club(ctx, &agreement.club_a).await?;
    active_club(ctx, &agreement.club_b).await?;
    agreement.status = "active".to_owned();
    agreement.accepted_at = Some(ctx.now.clone());
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementAccepted", &agreement)?;
    Ok(agreement)
}

/// `RejectAgreement(id, reason)`: the counterparty declines a proposal.
pub async fn reject<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Agreement> {
    validate_text("reason", reason, 500)?;
    let mut agreement =
        proposal_step(ctx, id, "RejectAgreement", Side::Counterparty, "reject").await?;
    agreement.status = "rejected".to_owned();
    agreement.reason = Some(reason.to_owned());
    save(ctx, &mut agreement).await?;
    release_pair(ctx, &agreement).await?;
    ctx.emit("AgreementRejected", &agreement)?;
    Ok(agreement)
}

/// `WithdrawAgreement(id)`: the proposer takes back a proposal.
pub async fn withdraw<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Agreement> {
    let mut agreement =
        proposal_step(ctx, id, "WithdrawAgreement", Side::Proposer, "withdraw").await?;
    agreement.status = "withdrawn".to_owned();
    save(ctx, &mut agreement).await?;
    release_pair(ctx, &agreement).await?;
    ctx.emit("AgreementWithdrawn", &agreement)?;
    Ok(agreement)
}

/// `ProposeAmendment(id, terms)`: either party proposes new terms to an active agreement.
pub async fn propose_amendment<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    terms: Terms,
) -> ContractResult<Agreement> {
    terms.validate()?;
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "ProposeAmendment").await?;
    require_status(&agreement, &["active", "suspended"], "ProposeAmendment")?;
    if let Some(pending) = &agreement.pending_amendment {
        return Err(conflict(format!(
            "ProposeAmendment: agreement {id} already has an amendment proposed by {}",
            pending.proposed_by
        )));
    }
    agreement.pending_amendment = Some(Amendment {
        terms,
        proposed_by: club,
        proposed_at: ctx.now.clone(),
    });
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementAmendmentProposed", &agreement)?;
    Ok(agreement)
}

/// `AcceptAmendment(id)`: the other party accepts; the version increases and the old terms are kept.
pub async fn accept_amendment<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Agreement> {
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "AcceptAmendment").await?;
    require_status(&agreement, &["active", "suspended"], "AcceptAmendment")?;
    let amendment = agreement.pending_amendment.take().ok_or_else(|| {
        conflict(format!(
            "AcceptAmendment: agreement {id} has no pending amendment"
        ))
    })?;
    if amendment.proposed_by == club {
        return Err(forbidden(format!(
            "AcceptAmendment: {club} proposed this amendment; the other party must accept it"
        )));
    }
    let old_terms = std::mem::replace(&mut agreement.terms, amendment.terms);
    agreement.history.push(PastTerms {
        version: agreement.version,
        terms: old_terms,
        superseded_at: ctx.now.clone(),
    });
    agreement.version += 1;
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementAmended", &agreement)?;
    Ok(agreement)
}

/// `RejectAmendment(id, reason)`: the other party declines; the agreement keeps its terms.
pub async fn reject_amendment<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Agreement> {
    validate_text("reason", reason, 500)?;
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "RejectAmendment").await?;
    let amendment = agreement.pending_amendment.take().ok_or_else(|| {
        conflict(format!(
            "RejectAmendment: agreement {id} has no pending amendment"
        ))
    })?;
    if amendment.proposed_by == club {
        return Err(forbidden(format!(
            "RejectAmendment: {club} proposed this amendment; the other party must answer it"
        )));
    }
    agreement.reason = Some(reason.to_owned());
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementAmendmentRejected", &agreement)?;
    Ok(agreement)
}

/// `SuspendAgreement(id, reason)`: either party suspends; only it may resume.
pub async fn suspend<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Agreement> {
    validate_text("reason", reason, 500)?;
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "SuspendAgreement").await?;
    require_status(&agreement, &["active"], "SuspendAgreement")?;
    agreement.status = "suspended".to_owned();
    agreement.suspended_by = Some(club);
    agreement.reason = Some(reason.to_owned());
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementSuspended", &agreement)?;
    Ok(agreement)
}

/// `ResumeAgreement(id)`: the suspending party lifts its suspension.
pub async fn resume<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Agreement> {
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "ResumeAgreement").await?;
    require_status(&agreement, &["suspended"], "ResumeAgreement")?;
    if agreement.suspended_by.as_deref() != Some(club.as_str()) {
        return Err(forbidden(format!(
            "ResumeAgreement: only {} can resume agreement {id}",
            agreement
                .suspended_by
                .as_deref()
                .unwrap_or("the suspending party")
        )));
    }
    agreement.status = "active".to_owned();
    agreement.suspended_by = None;
    agreement.reason = None;
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementResumed", &agreement)?;
    Ok(agreement)
}

/// `TerminateAgreement(id, reason)`: either party gives notice; it takes effect after the notice period.
pub async fn terminate<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Agreement> {
    validate_text("reason", reason, 500)?;
    let mut agreement = agreement(ctx, id).await?;
    let club = party(ctx, &agreement, "TerminateAgreement").await?;
    require_status(&agreement, &["active", "suspended"], "TerminateAgreement")?;
    if let Some(termination) = &agreement.termination {
        return Err(conflict(format!(
            "TerminateAgreement: {} already gave notice, effective {}",
            termination.given_by, termination.effective_on
        )));
    }
    let days = match agreement.terms.notice_period_days {
        Some(days) => days,
        None => rules(ctx).await?.default_notice_period_days,
    };
    agreement.termination = Some(Termination {
        given_by: club,
        given_at: ctx.now.clone(),
        effective_on: ctx.today.plus_days(i64::from(days)).to_string(),
        reason: reason.to_owned(),
    });
    save(ctx, &mut agreement).await?;
    ctx.emit("AgreementTerminationNoticed", &agreement)?;
    Ok(agreement)
}

/// `ListAgreementsByClub(club)`.
pub async fn list_by_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    club_id: &str,
) -> ContractResult<Vec<Agreement>> {
    club(ctx, club_id).await?;
    let rows = ctx
        .stub
        .get_state_by_partial_composite_key(CLUB_INDEX, &[club_id])
        .await?;
    let mut agreements = Vec::with_capacity(rows.len());
    for row in rows {
        let (_, parts) = chaincode_shim::stub::split_composite_key(&row.key)?;
        if let Some(id) = parts.get(1) {
            agreements.push(agreement(ctx, id).await?);
        }
    }
    Ok(agreements)
}
