//! Governance: proposals, one final vote per active club, and closing — at the end of the window or as
//! soon as the outcome can no longer change — with binding proposals executed in the closing transaction.

use chaincode_shim::ChaincodeStub;
use serde::Deserialize;

use crate::clubs::{CLUB, acting_club, club, put_club, put_rules, rules};
use crate::context::{Context, Role};
use crate::error::{ContractError, ContractResult, bad_request, conflict, forbidden, not_found};
use crate::model::{
    Club, ClubInput, Fraction, NetworkRules, Proposal, Tally, Vote, validate_id, validate_text,
};

/// `\0proposal\0<id>\0`.
pub const PROPOSAL: &str = "proposal";
/// `\0proposalstatus\0<status>\0<id>\0`.
pub const STATUS_INDEX: &str = "proposalstatus";
/// `\0vote\0<proposal>\0<club>\0`.
pub const VOTE: &str = "vote";

/// Input of `CreateProposal`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalInput {
    /// Proposal id.
    pub proposal_id: String,
    /// Kind.
    pub kind: String,
    /// Kind-specific payload.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Length of the voting window (default: the network rule, 7 days).
    #[serde(default)]
    pub voting_days: Option<u32>,
    /// Quorum override.
    #[serde(default)]
    pub quorum: Option<Fraction>,
    /// Threshold override.
    #[serde(default)]
    pub threshold: Option<Fraction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClubTarget {
    club_id: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleChange {
    rule: String,
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextPayload {
    text: String,
}

fn payload<T: serde::de::DeserializeOwned>(
    kind: &str,
    value: &serde_json::Value,
) -> ContractResult<T> {
    serde_json::from_value(value.clone())
        .map_err(|error| bad_request(format!("payload of a {kind} proposal: {error}")))
}

/// Applies a rule change to `rules`, validating it.
fn apply_rule(rules: &mut NetworkRules, change: &RuleChange) -> ContractResult<()> {
    let number = || {
        change
            .value
            .as_u64()
            .and_then(|value| u32::try_from(value).ok())
            .ok_or_else(|| bad_request(format!("{} must be a whole number", change.rule)))
    };
    let fraction = || -> ContractResult<Fraction> {
        let fraction: Fraction = serde_json::from_value(change.value.clone())
            .map_err(|error| bad_request(format!("{}: {error}", change.rule)))?;
        fraction.validate(&change.rule)?;
        Ok(fraction)
    };
    match change.rule.as_str() {
        "default_notice_period_days" => {
            let days = number()?;
            if days > 365 {
                return Err(bad_request(
                    "default_notice_period_days must be at most 365",
                ));
            }
            rules.default_notice_period_days = days;
        }
        "default_voting_days" => {
            let days = number()?;
            if days == 0 || days > 90 {
                return Err(bad_request("default_voting_days must be between 1 and 90"));
            }
            rules.default_voting_days = days;
        }
        "default_quorum" => rules.default_quorum = fraction()?,
        "default_threshold" => rules.default_threshold = fraction()?,
        "expel_threshold" => rules.expel_threshold = fraction()?,
        other => {
            return Err(bad_request(format!(
                "unknown network rule {other}: default_notice_period_days, default_voting_days, default_quorum, default_threshold or expel_threshold"
            )));
        }
    }
    Ok(())
}

/// The proposal `id`, or 404.
pub async fn proposal<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Proposal> {
    validate_id("proposal id", id)?;
    let key = ctx.key(PROPOSAL, &[id])?;
    ctx.get(&key)
        .await?
        .ok_or_else(|| not_found(format!("proposal {id} does not exist")))
}

async fn save<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    proposal: &Proposal,
    old_status: Option<&str>,
) -> ContractResult<()> {
    let key = ctx.key(PROPOSAL, &[&proposal.id])?;
    ctx.put(&key, proposal).await?;
    if old_status != Some(proposal.status.as_str()) {
        if let Some(old) = old_status {
            let old_key = ctx.key(STATUS_INDEX, &[old, &proposal.id])?;
            ctx.stub.del_state(&old_key).await?;
        }
        let index = ctx.key(STATUS_INDEX, &[&proposal.status, &proposal.id])?;
        ctx.stub.put_state(&index, vec![0]).await?;
    }
    Ok(())
}

/// `CreateProposal(input)`: a club admin of an active club opens a vote.
pub async fn create<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: ProposalInput,
) -> ContractResult<Proposal> {
    let proposer = ctx
        .caller
        .club_with_role(&[Role::ClubAdmin], "CreateProposal")?
        .to_owned();
    validate_id("proposal_id", &input.proposal_id)?;
    let mut rules = rules(ctx).await?;
    let voting_days = input.voting_days.unwrap_or(rules.default_voting_days);
    if voting_days == 0 || voting_days > 90 {
        return Err(bad_request("voting_days must be between 1 and 90"));
    }
    let default_threshold = if input.kind == "expel_club" {
        rules.expel_threshold
    } else {
        rules.default_threshold
    };
    // A proposer may ask for more than the network rules require, never less: otherwise one club could
    // set a quorum of nothing and decide alone.
    for (name, requested, default) in [
        ("quorum", input.quorum, rules.default_quorum),
        ("threshold", input.threshold, default_threshold),
    ] {
        if let Some(requested) = requested {
            requested.validate(name)?;
            if !requested.at_least_as_strict_as(default) {
                return Err(bad_request(format!(
                    "{name} {requested} is below the network rule ({default})"
                )));
            }
        }
    }
    let mut pending_club = None;
    let target_club = match input.kind.as_str() {
        "admit_club" => {
            let club_input: ClubInput = payload(&input.kind, &input.payload)?;
            club_input.validate()?;
            let key = ctx.key(CLUB, &[&club_input.id])?;
            if ctx.get::<Club>(&key).await?.is_some() {
                return Err(conflict(format!("club {} already exists", club_input.id)));
            }
            let club = Club {
                id: club_input.id.clone(),
                name: club_input.name,
                msp_id: club_input.msp_id,
                status: "pending".to_owned(),
                joined_at: None,
                contact_ref: club_input.contact_ref,
                residency_zone: club_input.residency_zone,
                status_reason: Some(format!(
                    "admission proposed by {proposer} ({})",
                    input.proposal_id
                )),
            };
            pending_club = Some(club);
            Some(club_input.id)
        }
        "suspend_club" | "reinstate_club" | "expel_club" => {
            let target: ClubTarget = payload(&input.kind, &input.payload)?;
            if let Some(reason) = &target.reason {
                validate_text("reason", reason, 500)?;
            }
            let club = club(ctx, &target.club_id).await?;
            let expected = match input.kind.as_str() {
                "suspend_club" => &["active"][..],
                "reinstate_club" => &["suspended"][..],
                _ => &["active", "suspended"][..],
            };
            if !expected.contains(&club.status.as_str()) {
                return Err(conflict(format!(
                    "{}: club {} is {}",
                    input.kind, club.id, club.status
                )));
            }
            if club.id == proposer {
                return Err(bad_request("a club cannot propose a vote about itself"));
            }
            Some(club.id)
        }
        "amend_network_rule" => {
            let change: RuleChange = payload(&input.kind, &input.payload)?;
            let mut preview = rules.clone();
            apply_rule(&mut preview, &change)?;
            None
        }
        "text" => {
            let text: TextPayload = payload(&input.kind, &input.payload)?;
            validate_text("text", &text.text, 2000)?;
            None
        }
        other => {
            return Err(bad_request(format!(
                "kind must be admit_club, suspend_club, reinstate_club, expel_club, amend_network_rule or text, got {other:?}"
            )));
        }
    };
    let own = acting_club(ctx, &[Role::ClubAdmin], "CreateProposal").await?;
    if own.status != "active" {
        return Err(forbidden(format!(
            "CreateProposal: club {proposer} is {}",
            own.status
        )));
    }
    let key = ctx.key(PROPOSAL, &[&input.proposal_id])?;
    if ctx.get::<Proposal>(&key).await?.is_some() {
        return Err(conflict(format!(
            "proposal {} already exists",
            input.proposal_id
        )));
    }
    let closes_at_seconds = ctx.now_seconds + i64::from(voting_days) * 86_400;
    let proposal = Proposal {
        id: input.proposal_id,
        kind: input.kind,
        payload: input.payload,
        proposer_club: proposer,
        target_club,
        opens_at: ctx.now.clone(),
        closes_at: crate::dates::rfc3339(&prost_types::Timestamp {
            seconds: closes_at_seconds,
            nanos: 0,
        }),
        closes_at_seconds,
        quorum: input.quorum.unwrap_or(rules.default_quorum),
        threshold: input.threshold.unwrap_or(default_threshold),
        status: "open".to_owned(),
        tally: None,
        decided_at: None,
    };
    if let Some(club) = &pending_club {
        put_club(ctx, club).await?;
    }
    // The first proposal ends the bootstrap: from now on the network governs itself.
    if rules.bootstrap_open {
        rules.bootstrap_open = false;
        put_rules(ctx, &rules).await?;
    }
    save(ctx, &proposal, None).await?;
    ctx.emit("ProposalCreated", &proposal)?;
    Ok(proposal)
}

async fn active_clubs<S: ChaincodeStub>(ctx: &mut Context<'_, S>) -> ContractResult<Vec<String>> {
    Ok(crate::clubs::list_clubs(ctx)
        .await?
        .into_iter()
        .filter(|club| club.status == "active")
        .map(|club| club.id)
        .collect())
}

async fn votes_of<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    proposal_id: &str,
) -> ContractResult<Vec<Vote>> {
    let rows = ctx
        .stub
        .get_state_by_partial_composite_key(VOTE, &[proposal_id])
        .await?;
    rows.iter()
        .map(|row| {
            serde_json::from_slice(&row.value).map_err(|error| {
                ContractError::Ledger(format!("stored vote is not valid: {error}"))
            })
        })
        .collect()
}

/// `CastVote(proposal_id, choice)`: one final vote per active club, by its club admin, while open.
pub async fn vote<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    choice: &str,
) -> ContractResult<Vote> {
    let club = ctx
        .caller
        .club_with_role(&[Role::ClubAdmin], "CastVote")?
        .to_owned();
    if !matches!(choice, "yes" | "no" | "abstain") {
        return Err(bad_request("choice must be yes, no or abstain"));
    }
    let proposal = proposal(ctx, id).await?;
    if proposal.status != "open" {
        return Err(conflict(format!(
            "CastVote: proposal {id} is {}",
            proposal.status
        )));
    }
    if ctx.now_seconds >= proposal.closes_at_seconds {
        return Err(conflict(format!(
            "CastVote: voting on proposal {id} closed at {}",
            proposal.closes_at
        )));
    }
    if proposal.target_club.as_deref() == Some(club.as_str()) {
        return Err(forbidden(format!(
            "CastVote: {club} is the subject of proposal {id} and does not vote"
        )));
    }
    let own = acting_club(ctx, &[Role::ClubAdmin], "CastVote").await?;
    if own.status != "active" {
        return Err(forbidden(format!(
            "CastVote: club {club} is {}",
            own.status
        )));
    }
    let key = ctx.key(VOTE, &[id, &club])?;
    if ctx.get::<Vote>(&key).await?.is_some() {
        return Err(conflict(format!(
            "CastVote: {club} has already voted on proposal {id}; a vote is final"
        )));
    }
    let vote = Vote {
        proposal_id: id.to_owned(),
        club,
        choice: choice.to_owned(),
        cast_at: ctx.now.clone(),
    };
    ctx.put(&key, &vote).await?;
    ctx.emit("VoteCast", &vote)?;
    Ok(vote)
}

/// The outcome of a proposal with `tally`: `Some(passed)` once it is decided, `None` while the votes
/// still outstanding could change it.
///
/// Passing needs both the quorum (votes cast, abstentions included, against eligible clubs) and the
/// threshold (yes against yes + no). Before the window closes, the outcome is fixed when it is the same
/// under the extremes of what the outstanding clubs may do: a pass must survive both "nobody else votes"
/// (the fewest votes for the quorum) and "everybody else votes no" (the worst threshold) — every mix in
/// between is bounded by these two — and a failure must survive "everybody else votes yes".
pub fn decide(proposal: &Proposal, tally: &Tally, window_closed: bool) -> Option<bool> {
    let cast = tally.yes + tally.no + tally.abstain;
    let outstanding = tally.eligible.saturating_sub(cast);
    let passes = |yes: u64, no: u64, cast: u64| {
        proposal.quorum.met(cast, tally.eligible) && proposal.threshold.met(yes, yes + no)
    };
    let now = passes(tally.yes, tally.no, cast);
    if window_closed || outstanding == 0 {
        return Some(now);
    }
    if now && passes(tally.yes, tally.no + outstanding, tally.eligible) {
        Some(true)
    } else if !passes(tally.yes + outstanding, tally.no, tally.eligible) {
        Some(false)
    } else {
        None
    }
}

/// `CloseProposal(id)`: anyone may close; binding proposals that pass are executed at once.
pub async fn close<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Proposal> {
    let mut proposal = proposal(ctx, id).await?;
    if proposal.status != "open" {
        return Err(conflict(format!(
            "CloseProposal: proposal {id} is {}",
            proposal.status
        )));
    }
    let eligible: Vec<String> = active_clubs(ctx)
        .await?
        .into_iter()
        .filter(|club| proposal.target_club.as_deref() != Some(club.as_str()))
        .collect();
    let votes = votes_of(ctx, id).await?;
    let counted = |choice: &str| {
        votes
            .iter()
            .filter(|vote| vote.choice == choice && eligible.contains(&vote.club))
            .count() as u64
    };
    let tally = Tally {
        yes: counted("yes"),
        no: counted("no"),
        abstain: counted("abstain"),
        eligible: eligible.len() as u64,
    };
    let window_closed = ctx.now_seconds >= proposal.closes_at_seconds;
    let Some(passed) = decide(&proposal, &tally, window_closed) else {
        return Err(conflict(format!(
            "CloseProposal: proposal {id} is open until {} and its outcome can still change ({} yes, {} no, {} abstain of {} eligible)",
            proposal.closes_at, tally.yes, tally.no, tally.abstain, tally.eligible
        )));
    };
    let old_status = proposal.status.clone();
    proposal.tally = Some(tally);
    proposal.decided_at = Some(ctx.now.clone());
    if passed {
        execute(ctx, &proposal).await?;
        proposal.status = if proposal.kind == "text" {
            "passed"
        } else {
            "executed"
        }
        .to_owned();
    } else {
        proposal.status = "rejected".to_owned();
        if proposal.kind == "admit_club" {
            remove_pending_club(ctx, &proposal).await?;
        }
    }
    save(ctx, &proposal, Some(&old_status)).await?;
    ctx.emit("ProposalDecided", &proposal)?;
    Ok(proposal)
}

async fn remove_pending_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    proposal: &Proposal,
) -> ContractResult<()> {
    if let Some(target) = &proposal.target_club {
        let key = ctx.key(CLUB, &[target])?;
        if ctx
            .get::<Club>(&key)
            .await?
            .is_some_and(|club| club.status == "pending")
        {
            ctx.stub.del_state(&key).await?;
        }
    }
    Ok(())
}

async fn execute<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    proposal: &Proposal,
) -> ContractResult<()> {
    let reason = format!("proposal {} ({})", proposal.id, proposal.kind);
    match proposal.kind.as_str() {
        "admit_club" | "suspend_club" | "reinstate_club" | "expel_club" => {
            let target = proposal.target_club.as_deref().ok_or_else(|| {
                ContractError::Ledger(format!("proposal {} has no target club", proposal.id))
            })?;
            let mut club = club(ctx, target).await?;
            club.status = match proposal.kind.as_str() {
                "admit_club" | "reinstate_club" => "active",
                "suspend_club" => "suspended",
                _ => "expelled",
            }
            .to_owned();
            if proposal.kind == "admit_club" {
                club.joined_at = Some(ctx.now.clone());
            }
            club.status_reason = Some(reason);
            put_club(ctx, &club).await
        }
        "amend_network_rule" => {
            let change: RuleChange = payload(&proposal.kind, &proposal.payload)?;
            let mut rules = rules(ctx).await?;
            apply_rule(&mut rules, &change)?;
            put_rules(ctx, &rules).await
        }
        _ => Ok(()),
    }
}

/// `CancelProposal(id)`: the proposer withdraws it before any vote.
pub async fn cancel<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Proposal> {
    let club = ctx
        .caller
        .club_with_role(&[Role::ClubAdmin], "CancelProposal")?
        .to_owned();
    let mut proposal = proposal(ctx, id).await?;
    acting_club(ctx, &[Role::ClubAdmin], "CancelProposal").await?;
    if proposal.proposer_club != club {
        return Err(forbidden(format!(
            "CancelProposal: only {} can cancel proposal {id}",
            proposal.proposer_club
        )));
    }
    if proposal.status != "open" {
        return Err(conflict(format!(
            "CancelProposal: proposal {id} is {}",
            proposal.status
        )));
    }
    if !votes_of(ctx, id).await?.is_empty() {
        return Err(conflict(format!(
            "CancelProposal: proposal {id} already has votes"
        )));
    }
    proposal.status = "cancelled".to_owned();
    proposal.decided_at = Some(ctx.now.clone());
    if proposal.kind == "admit_club" {
        remove_pending_club(ctx, &proposal).await?;
    }
    save(ctx, &proposal, Some("open")).await?;
    ctx.emit("ProposalCancelled", &proposal)?;
    Ok(proposal)
}

/// `ListProposalsByStatus(status)`.
pub async fn list_by_status<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    status: &str,
) -> ContractResult<Vec<Proposal>> {
    if !matches!(
        status,
        "open" | "passed" | "rejected" | "executed" | "cancelled"
    ) {
        return Err(bad_request(
            "status must be open, passed, rejected, executed or cancelled",
        ));
    }
    let rows = ctx
        .stub
        .get_state_by_partial_composite_key(STATUS_INDEX, &[status])
        .await?;
    let mut proposals = Vec::with_capacity(rows.len());
    for row in rows {
        let (_, parts) = chaincode_shim::stub::split_composite_key(&row.key)?;
        if let Some(id) = parts.get(1) {
            proposals.push(proposal(ctx, id).await?);
        }
    }
    Ok(proposals)
}

/// `ListVotes(proposal_id)`.
pub async fn list_votes<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Vec<Vote>> {
    proposal(ctx, id).await?;
    votes_of(ctx, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(threshold: Fraction) -> Proposal {
        Proposal {
            id: "p".to_owned(),
            kind: "text".to_owned(),
            payload: serde_json::Value::Null,
            proposer_club: "a".to_owned(),
            target_club: None,
            opens_at: String::new(),
            closes_at: String::new(),
            closes_at_seconds: 0,
            quorum: Fraction::MAJORITY,
            threshold,
            status: "open".to_owned(),
            tally: None,
            decided_at: None,
        }
    }

    fn tally(yes: u64, no: u64, abstain: u64, eligible: u64) -> Tally {
        Tally {
            yes,
            no,
            abstain,
            eligible,
        }
    }

    #[test]
    fn decides_early_only_when_no_outstanding_votes_can_change_the_outcome() {
        let majority = proposal(Fraction::MAJORITY);
        let cases = [
            // (yes, no, abstain, eligible) → early decision
            ((0, 0, 0, 5), None),
            ((2, 0, 0, 5), None),       // 3 outstanding no would reject
            ((3, 0, 0, 5), Some(true)), // 3 yes of 5: quorum and majority whatever happens
            ((3, 2, 0, 5), Some(true)),
            ((2, 2, 0, 5), None),        // the fifth vote decides
            ((0, 3, 0, 5), Some(false)), // 2 outstanding yes cannot outweigh 3 no
            ((1, 1, 3, 5), Some(false)), // nobody left: a tie is not a majority
            ((2, 1, 2, 5), Some(true)),
            ((1, 0, 0, 1), Some(true)),
            ((0, 0, 0, 0), Some(false)), // no eligible club: never passes
        ];
        for ((yes, no, abstain, eligible), expected) in cases {
            assert_eq!(
                decide(&majority, &tally(yes, no, abstain, eligible), false),
                expected,
                "{yes} yes, {no} no, {abstain} abstain of {eligible}"
            );
        }
    }

    #[test]
    fn at_the_window_close_quorum_and_threshold_decide() {
        let majority = proposal(Fraction::MAJORITY);
        assert_eq!(
            decide(&majority, &tally(2, 0, 0, 5), true),
            Some(false),
            "2 of 5 is no quorum"
        );
        assert_eq!(decide(&majority, &tally(2, 0, 1, 5), true), Some(true));
        assert_eq!(
            decide(&majority, &tally(1, 1, 1, 5), true),
            Some(false),
            "a tie fails"
        );
        let two_thirds = proposal(Fraction::TWO_THIRDS);
        assert_eq!(
            decide(&two_thirds, &tally(2, 1, 0, 3), true),
            Some(true),
            "exactly two thirds"
        );
        assert_eq!(
            decide(&two_thirds, &tally(3, 2, 0, 6), true),
            Some(false),
            "three fifths"
        );
        assert_eq!(decide(&two_thirds, &tally(4, 2, 0, 6), true), Some(true));
    }
}
