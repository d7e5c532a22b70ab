//! Visits: check-in with every rule of the agreement, host veto, check-out, cancellation and disputes.
//!
//! Quotas are kept in counter keys per member, host and month / year, which every check-in reads and
//! writes: two concurrent check-ins of one member therefore conflict at validation (MVCC), so the count
//! stays exact however many front desks record at once.

use chaincode_shim::ChaincodeStub;

use crate::agreements::{latest_agreement_between, open_agreement_between};
use crate::clubs::{acting_for, club, member};
use crate::context::{Context, Role};
use crate::dates::Date;
use crate::error::{ContractError, ContractResult, bad_request, conflict, not_found};
use crate::model::{Visit, VisitInput, validate_text, validate_uuid};
use crate::settlement::settled;

/// `\0visit\0<visit_id>\0`.
pub const VISIT: &str = "visit";
/// `\0hostvisit\0<host>\0<YYYY-MM>\0<visit_id>\0`.
pub const HOST_INDEX: &str = "hostvisit";
/// `\0membervisit\0<member_ref>\0<YYYY-MM>\0<visit_id>\0`.
pub const MEMBER_INDEX: &str = "membervisit";
/// `\0visitcount\0<member_ref>\0<host>\0<YYYY or YYYY-MM>\0` → visits that count towards quotas.
pub const COUNTER: &str = "visitcount";

/// Who records visits at a host club.
const DESK: &[Role] = &[Role::FrontDesk, Role::ClubAdmin];

/// The visit `id`, or 404.
pub async fn visit<S: ChaincodeStub>(ctx: &mut Context<'_, S>, id: &str) -> ContractResult<Visit> {
    validate_uuid(id)?;
    let key = ctx.key(VISIT, &[id])?;
    ctx.get(&key)
        .await?
        .ok_or_else(|| not_found(format!("visit {id} does not exist")))
}

async fn counter<S: ChaincodeStub>(ctx: &mut Context<'_, S>, key: &str) -> ContractResult<u32> {
    match ctx.stub.get_state(key).await? {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| ContractError::Ledger(format!("visit counter {key:?} is not a number"))),
    }
}

async fn set_counter<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    key: &str,
    value: u32,
) -> ContractResult<()> {
    if value == 0 {
        ctx.stub.del_state(key).await?;
    } else {
        ctx.stub
            .put_state(key, value.to_string().into_bytes())
            .await?;
    }
    Ok(())
}

fn counter_keys<S: ChaincodeStub>(
    ctx: &Context<'_, S>,
    visit: &Visit,
    date: Date,
) -> ContractResult<[String; 2]> {
    Ok([
        ctx.key(
            COUNTER,
            &[&visit.member_ref, &visit.host_club, &date.month_key()],
        )?,
        ctx.key(
            COUNTER,
            &[&visit.member_ref, &visit.host_club, &date.year_key()],
        )?,
    ])
}

async fn write_visit<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    visit: &Visit,
    date: Date,
) -> ContractResult<()> {
    let key = ctx.key(VISIT, &[&visit.visit_id])?;
    ctx.put(&key, visit).await?;
    let month = date.month_key();
    let by_host = ctx.key(HOST_INDEX, &[&visit.host_club, &month, &visit.visit_id])?;
    ctx.stub.put_state(&by_host, vec![0]).await?;
    let by_member = ctx.key(MEMBER_INDEX, &[&visit.member_ref, &month, &visit.visit_id])?;
    ctx.stub.put_state(&by_member, vec![0]).await?;
    Ok(())
}

/// Days a visit may be recorded after it took place (a front desk catching up from paper).
pub const LATE_RECORDING_DAYS: i64 = 30;

/// A visit is recorded on its day: at most one day ahead of the UTC date (clubs east of UTC reach a
/// date first) and at most [`LATE_RECORDING_DAYS`] late.
fn check_recording_window<S: ChaincodeStub>(
    ctx: &Context<'_, S>,
    date: Date,
    text: &str,
) -> ContractResult<()> {
    if date > ctx.today.plus_days(1) {
        return Err(bad_request(format!(
            "visit_date {text} is in the future (the transaction date is {} UTC)",
            ctx.today
        )));
    }
    if date < ctx.today.plus_days(-LATE_RECORDING_DAYS) {
        return Err(bad_request(format!(
            "visit_date {text} is more than {LATE_RECORDING_DAYS} days ago (the transaction date is {} UTC)",
            ctx.today
        )));
    }
    Ok(())
}

/// Returns the stored visit when `input` repeats it exactly, 409 when the id is taken by other content.
async fn idempotent<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: &VisitInput,
    refusal: bool,
) -> ContractResult<Option<Visit>> {
    let key = ctx.key(VISIT, &[&input.visit_id])?;
    let Some(existing) = ctx.get::<Visit>(&key).await? else {
        return Ok(None);
    };
    let same = existing.member_ref == input.member_ref
        && existing.host_club == input.host_club
        && existing.visit_date == input.visit_date
        && existing.nights == input.nights
        && existing.guests == input.guests
        && existing.guests_family == input.guests_family
        && existing.facilities == input.facilities
        && (existing.status == "refused") == refusal
        && (!refusal || existing.reason == input.reason);
    if same {
        Ok(Some(existing))
    } else {
        Err(conflict(format!(
            "visit {} was already recorded with different content",
            input.visit_id
        )))
    }
}

/// `CheckIn(visit)`: the host's front desk (or admin) records a visit after checking every rule.
pub async fn check_in<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: VisitInput,
) -> ContractResult<Visit> {
    let date = input.validate()?;
    if input.reason.is_some() {
        return Err(bad_request("reason is only for RefuseVisit"));
    }
    let host = acting_for(ctx, &input.host_club, DESK, "CheckIn").await?;
    if let Some(existing) = idempotent(ctx, &input, false).await? {
        return Ok(existing);
    }
    check_recording_window(ctx, date, &input.visit_date)?;
    let refuse = |reason: String| conflict(format!("check-in refused: {reason}"));

    let anchor = member(ctx, &input.member_ref).await?;
    if anchor.home_club == host.id {
        return Err(bad_request(format!(
            "member {} belongs to {}: a club's own members are not visitors",
            input.member_ref, host.id
        )));
    }
    let home = club(ctx, &anchor.home_club).await?;
    if host.status != "active" {
        return Err(refuse(format!("host club {} is {}", host.id, host.status)));
    }
    if home.status != "active" {
        return Err(refuse(format!("home club {} is {}", home.id, home.status)));
    }
    let agreement = latest_agreement_between(ctx, &host.id, &home.id)
        .await?
        .ok_or_else(|| {
            refuse(format!(
                "there is no agreement between {} and {}",
                home.id, host.id
            ))
        })?;
    // The stored status decides whether the agreement works; expiry and termination are judged against
    // the visit's date below, so a visit recorded late under a since-expired agreement still counts.
    if agreement.status != "active" {
        return Err(refuse(format!(
            "agreement {} is {}",
            agreement.id, agreement.status
        )));
    }
    let terms = &agreement.terms;
    let (from, until) = (
        Date::parse(&terms.valid_from),
        Date::parse(&terms.valid_until),
    );
    let ends = agreement
        .termination
        .as_ref()
        .and_then(|termination| Date::parse(&termination.effective_on));
    let covered = from.is_some_and(|from| from <= date)
        && until.is_some_and(|until| date <= until)
        && ends.is_none_or(|ends| date < ends);
    if !covered {
        return Err(refuse(format!(
            "agreement {} does not cover {}",
            agreement.id, input.visit_date
        )));
    }
    if terms.in_blackout(date) {
        return Err(refuse(format!(
            "{} is in a blackout period of agreement {}",
            input.visit_date, agreement.id
        )));
    }
    if anchor.status != "active" {
        return Err(refuse(format!(
            "member {} is {}",
            anchor.member_ref, anchor.status
        )));
    }
    if Date::parse(&anchor.valid_until).is_none_or(|valid_until| valid_until < date) {
        return Err(refuse(format!(
            "membership of {} is valid only until {}",
            anchor.member_ref, anchor.valid_until
        )));
    }
    if input.nights > terms.max_stay_days {
        return Err(refuse(format!(
            "a stay of {} nights exceeds the limit of {}",
            input.nights, terms.max_stay_days
        )));
    }
    if input.guests > terms.max_guests_per_visit {
        return Err(refuse(format!(
            "{} guests exceed the limit of {}",
            input.guests, terms.max_guests_per_visit
        )));
    }
    if input.guests > 0 && terms.guests_family_only && !input.guests_family {
        return Err(refuse(
            "guests must be family of the member under this agreement".to_owned(),
        ));
    }
    if terms.residency_exclusion
        && let (Some(member_zone), Some(host_zone)) = (&anchor.residency_zone, &host.residency_zone)
        && member_zone == host_zone
    {
        return Err(refuse(format!(
            "members residing in {host_zone} cannot visit {} under the residency exclusion",
            host.id
        )));
    }
    if !terms.allowed_facilities.is_empty()
        && let Some(facility) = input
            .facilities
            .iter()
            .find(|f| !terms.allowed_facilities.contains(f))
    {
        return Err(refuse(format!(
            "facility {facility} is not open to visitors under this agreement"
        )));
    }

    if terms.settlement == "bill_home_club"
        && let Some(settled) = settled(ctx, &host.id, &home.id, &date.month_key()).await?
    {
        return Err(refuse(format!(
            "{} is already settled between {} and {} (reference {})",
            settled.month, host.id, home.id, settled.reference
        )));
    }
    let fee_minor = terms.fee.per_visit_minor + u64::from(input.guests) * terms.fee.per_guest_minor;
    let visit = Visit {
        visit_id: input.visit_id,
        member_ref: input.member_ref,
        home_club: home.id,
        host_club: host.id,
        agreement_id: Some(agreement.id.clone()),
        agreement_version: Some(agreement.version),
        visit_date: input.visit_date,
        nights: input.nights,
        guests: input.guests,
        guests_family: input.guests_family,
        facilities: input.facilities,
        status: "checked_in".to_owned(),
        fee_minor,
        currency: terms.fee.currency.clone(),
        settlement: terms.settlement.clone(),
        reason: None,
        resolution: None,
        recorded_at: ctx.now.clone(),
        updated_at: ctx.now.clone(),
    };
    let [month_key, year_key] = counter_keys(ctx, &visit, date)?;
    let this_month = counter(ctx, &month_key).await?;
    let this_year = counter(ctx, &year_key).await?;
    if this_month >= terms.max_visits_per_month {
        return Err(refuse(format!(
            "monthly quota reached: {this_month} of {} visits to {} in {}",
            terms.max_visits_per_month,
            visit.host_club,
            date.month_key()
        )));
    }
    if this_year >= terms.max_visits_per_year {
        return Err(refuse(format!(
            "yearly quota reached: {this_year} of {} visits to {} in {}",
            terms.max_visits_per_year,
            visit.host_club,
            date.year_key()
        )));
    }
    set_counter(ctx, &month_key, this_month + 1).await?;
    set_counter(ctx, &year_key, this_year + 1).await?;
    write_visit(ctx, &visit, date).await?;
    ctx.emit("VisitRecorded", &visit)?;
    Ok(visit)
}

/// `RefuseVisit(visit)`: the host's veto, recorded with its reason; it does not count towards quotas.
pub async fn refuse<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: VisitInput,
) -> ContractResult<Visit> {
    let date = input.validate()?;
    let reason = input
        .reason
        .clone()
        .ok_or_else(|| bad_request("reason is required to refuse a visit"))?;
    validate_text("reason", &reason, 500)?;
    let host = acting_for(ctx, &input.host_club, DESK, "RefuseVisit").await?;
    if let Some(existing) = idempotent(ctx, &input, true).await? {
        return Ok(existing);
    }
    check_recording_window(ctx, date, &input.visit_date)?;
    let anchor = member(ctx, &input.member_ref).await?;
    let agreement = open_agreement_between(ctx, &host.id, &anchor.home_club).await?;
    let visit = Visit {
        visit_id: input.visit_id,
        member_ref: input.member_ref,
        home_club: anchor.home_club,
        host_club: host.id,
        agreement_id: agreement.as_ref().map(|a| a.id.clone()),
        agreement_version: agreement.as_ref().map(|a| a.version),
        visit_date: input.visit_date,
        nights: input.nights,
        guests: input.guests,
        guests_family: input.guests_family,
        facilities: input.facilities,
        status: "refused".to_owned(),
        fee_minor: 0,
        currency: agreement.map(|a| a.terms.fee.currency).unwrap_or_default(),
        settlement: String::new(),
        reason: Some(reason),
        resolution: None,
        recorded_at: ctx.now.clone(),
        updated_at: ctx.now.clone(),
    };
    write_visit(ctx, &visit, date).await?;
    ctx.emit("VisitRefused", &visit)?;
    Ok(visit)
}

async fn transition<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    action: &str,
    host_side: bool,
    roles: &[Role],
    from: &[&str],
) -> ContractResult<Visit> {
    let visit = visit(ctx, id).await?;
    let club = if host_side {
        visit.host_club.clone()
    } else {
        visit.home_club.clone()
    };
    acting_for(ctx, &club, roles, action).await?;
    if !from.contains(&visit.status.as_str()) {
        return Err(conflict(format!(
            "{action}: visit {id} is {}",
            visit.status
        )));
    }
    Ok(visit)
}

/// The date of a stored visit (validated when it was written).
fn stored_date(visit: &Visit) -> ContractResult<Date> {
    Date::parse(&visit.visit_date).ok_or_else(|| {
        ContractError::Ledger(format!(
            "stored visit {} has an invalid date {:?}",
            visit.visit_id, visit.visit_date
        ))
    })
}

async fn save<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    visit: &mut Visit,
    event: &str,
) -> ContractResult<()> {
    visit.updated_at = ctx.now.clone();
    let key = ctx.key(VISIT, &[&visit.visit_id])?;
    ctx.put(&key, visit).await?;
    ctx.emit(event, visit)
}

/// `CheckOut(visit_id)`.
pub async fn check_out<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Visit> {
    let mut visit = transition(ctx, id, "CheckOut", true, DESK, &["checked_in"]).await?;
    visit.status = "checked_out".to_owned();
    save(ctx, &mut visit, "VisitCheckedOut").await?;
    Ok(visit)
}

/// `CancelVisit(visit_id, reason)`: the visit no longer counts towards quotas.
pub async fn cancel<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Visit> {
    validate_text("reason", reason, 500)?;
    let mut visit = transition(ctx, id, "CancelVisit", true, DESK, &["checked_in"]).await?;
    let date = stored_date(&visit)?;
    for key in counter_keys(ctx, &visit, date)? {
        let count = counter(ctx, &key).await?;
        set_counter(ctx, &key, count.saturating_sub(1)).await?;
    }
    visit.status = "cancelled".to_owned();
    visit.reason = Some(reason.to_owned());
    save(ctx, &mut visit, "VisitCancelled").await?;
    Ok(visit)
}

/// `DisputeVisit(visit_id, reason)`: the member's home club disputes a visit or its fee.
pub async fn dispute<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Visit> {
    validate_text("reason", reason, 500)?;
    let mut visit = transition(
        ctx,
        id,
        "DisputeVisit",
        false,
        &[Role::ClubAdmin],
        &["checked_in", "checked_out"],
    )
    .await?;
    if visit.settlement == "bill_home_club" {
        let month = stored_date(&visit)?.month_key();
        if let Some(settled) = settled(ctx, &visit.host_club, &visit.home_club, &month).await? {
            return Err(conflict(format!(
                "DisputeVisit: visit {id} was settled with {} (reference {})",
                settled.month, settled.reference
            )));
        }
    }
    visit.status = "disputed".to_owned();
    visit.reason = Some(reason.to_owned());
    save(ctx, &mut visit, "VisitDisputed").await?;
    Ok(visit)
}

/// `ResolveDispute(visit_id, resolution, fee_minor)`: the host resolves, optionally adjusting the fee.
pub async fn resolve<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    resolution: &str,
    fee_minor: Option<u64>,
) -> ContractResult<Visit> {
    validate_text("resolution", resolution, 500)?;
    let mut visit = transition(
        ctx,
        id,
        "ResolveDispute",
        true,
        &[Role::ClubAdmin],
        &["disputed"],
    )
    .await?;
    if let Some(fee) = fee_minor {
        if fee > visit.fee_minor {
            return Err(bad_request("a resolution may lower the fee, not raise it"));
        }
        visit.fee_minor = fee;
    }
    visit.status = "checked_out".to_owned();
    visit.resolution = Some(resolution.to_owned());
    save(ctx, &mut visit, "DisputeResolved").await?;
    Ok(visit)
}
