//! Settlement between clubs: a month's statement of checked-out visits billed to the home club, and its
//! record as settled.

use chaincode_shim::ChaincodeStub;
use serde::{Deserialize, Serialize};

use crate::clubs::{acting_club, club};
use crate::context::{Context, Role};
use crate::dates::is_month;
use crate::error::{ContractResult, bad_request, conflict, forbidden, not_found};
use crate::model::{Settlement, Visit, validate_id, validate_text};
use crate::visits::{HOST_INDEX, VISIT};

/// `\0settlement\0<host>\0<home>\0<YYYY-MM>\0`.
pub const SETTLEMENT: &str = "settlement";

/// What the home club owes the host club for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// Host club.
    pub host_club: String,
    /// Home club.
    pub home_club: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Visits billed.
    pub visit_count: u64,
    /// Total in minor units.
    pub total_minor: u64,
    /// Currency (empty when there are no visits).
    pub currency: String,
    /// The visits billed, in id order.
    pub visit_ids: Vec<String>,
    /// Visits billed to the home club that are still checked in or disputed: the month cannot be settled
    /// until they are closed.
    pub open_visit_ids: Vec<String>,
}

/// Input of `RecordSettlement`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementInput {
    /// Host club.
    pub host_club: String,
    /// Home club.
    pub home_club: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Payment reference.
    pub reference: String,
}

/// `GetStatement(host, home, month)`: the sum of checked-out `bill_home_club` visits.
pub async fn statement<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    host: &str,
    home: &str,
    month: &str,
) -> ContractResult<Statement> {
    validate_pair(host, home, month)?;
    club(ctx, host).await?;
    club(ctx, home).await?;
    let rows = ctx
        .stub
        .get_state_by_partial_composite_key(HOST_INDEX, &[host, month])
        .await?;
    let mut statement = Statement {
        host_club: host.to_owned(),
        home_club: home.to_owned(),
        month: month.to_owned(),
        visit_count: 0,
        total_minor: 0,
        currency: String::new(),
        visit_ids: Vec::new(),
        open_visit_ids: Vec::new(),
    };
    for row in rows {
        let (_, parts) = chaincode_shim::stub::split_composite_key(&row.key)?;
        let Some(id) = parts.get(2) else { continue };
        let key = ctx.key(VISIT, &[id])?;
        let Some(visit) = ctx.get::<Visit>(&key).await? else {
            continue;
        };
        if visit.home_club != home || visit.settlement != "bill_home_club" {
            continue;
        }
        match visit.status.as_str() {
            "checked_out" => {}
            "checked_in" | "disputed" => {
                statement.open_visit_ids.push(visit.visit_id);
                continue;
            }
            _ => continue,
        }
        if !statement.currency.is_empty() && statement.currency != visit.currency {
            return Err(conflict(format!(
                "visits in {month} are billed in both {} and {}; settle them separately",
                statement.currency, visit.currency
            )));
        }
        statement.currency = visit.currency.clone();
        statement.visit_count += 1;
        statement.total_minor += visit.fee_minor;
        statement.visit_ids.push(visit.visit_id);
    }
    Ok(statement)
}

/// `RecordSettlement(input)`: either club's admin records the month as settled with a reference.
pub async fn record<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: SettlementInput,
) -> ContractResult<Settlement> {
    validate_pair(&input.host_club, &input.home_club, &input.month)?;
    validate_text("reference", &input.reference, 200)?;
    let own = ctx
        .caller
        .club_with_role(&[Role::ClubAdmin], "RecordSettlement")?
        .to_owned();
    if own != input.host_club && own != input.home_club {
        return Err(forbidden(format!(
            "RecordSettlement: {own} is neither {} nor {}",
            input.host_club, input.home_club
        )));
    }
    acting_club(ctx, &[Role::ClubAdmin], "RecordSettlement").await?;
    if let Some(existing) = settled(ctx, &input.host_club, &input.home_club, &input.month).await? {
        return Err(conflict(format!(
            "{} owed by {} for {} is already settled (reference {})",
            input.host_club, input.home_club, input.month, existing.reference
        )));
    }
    let statement = statement(ctx, &input.host_club, &input.home_club, &input.month).await?;
    if !statement.open_visit_ids.is_empty() {
        return Err(conflict(format!(
            "{} owed by {} for {} cannot be settled yet: {} visits are still checked in or disputed",
            input.host_club,
            input.home_club,
            input.month,
            statement.open_visit_ids.len()
        )));
    }
    if statement.visit_count == 0 {
        return Err(conflict(format!(
            "there is nothing to settle between {} and {} for {}",
            input.host_club, input.home_club, input.month
        )));
    }
    let key = ctx.key(
        SETTLEMENT,
        &[&input.host_club, &input.home_club, &input.month],
    )?;
    let settlement = Settlement {
        host_club: statement.host_club,
        home_club: statement.home_club,
        month: statement.month,
        visit_count: statement.visit_count,
        total_minor: statement.total_minor,
        currency: statement.currency,
        visit_ids: statement.visit_ids,
        status: "settled".to_owned(),
        reference: input.reference,
        settled_by: own,
        settled_at: ctx.now.clone(),
    };
    ctx.put(&key, &settlement).await?;
    ctx.emit("SettlementRecorded", &settlement)?;
    Ok(settlement)
}

/// `GetSettlement(host, home, month)`.
pub async fn get<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    host: &str,
    home: &str,
    month: &str,
) -> ContractResult<Settlement> {
    validate_pair(host, home, month)?;
    settled(ctx, host, home, month).await?.ok_or_else(|| {
        not_found(format!(
            "no settlement between {host} and {home} for {month}"
        ))
    })
}

/// The settlement of a month between two clubs, if it has been recorded.
pub async fn settled<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    host: &str,
    home: &str,
    month: &str,
) -> ContractResult<Option<Settlement>> {
    let key = ctx.key(SETTLEMENT, &[host, home, month])?;
    ctx.get(&key).await
}

fn validate_pair(host: &str, home: &str, month: &str) -> ContractResult<()> {
    validate_id("host_club", host)?;
    validate_id("home_club", home)?;
    if host == home {
        return Err(bad_request("host_club and home_club must differ"));
    }
    if !is_month(month) {
        return Err(bad_request(format!("month must be YYYY-MM, got {month:?}")));
    }
    Ok(())
}
