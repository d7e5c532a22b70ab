//! Clubs, member anchors and the network rules.

use chaincode_shim::ChaincodeStub;

use crate::context::{Context, Role};
use crate::error::{ContractResult, bad_request, conflict, forbidden, not_found};
use crate::model::{
    Club, ClubInput, MemberAnchor, MemberAnchorInput, NetworkRules, parse_date, validate_id,
    validate_member_ref, validate_text, validate_zone,
};

/// `\0club\0<id>\0`.
pub const CLUB: &str = "club";
/// `\0member\0<member_ref>\0`.
pub const MEMBER: &str = "member";
/// `\0networkrules\0`.
pub const RULES: &str = "networkrules";

/// The network rules (defaults until amended).
pub async fn rules<S: ChaincodeStub>(ctx: &mut Context<'_, S>) -> ContractResult<NetworkRules> {
    let key = ctx.key(RULES, &[])?;
    Ok(ctx.get(&key).await?.unwrap_or_default())
}

/// Stores the network rules.
pub async fn put_rules<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    rules: &NetworkRules,
) -> ContractResult<()> {
    let key = ctx.key(RULES, &[])?;
    ctx.put(&key, rules).await
}

/// The club `id`, or 404.
pub async fn club<S: ChaincodeStub>(ctx: &mut Context<'_, S>, id: &str) -> ContractResult<Club> {
    validate_id("club id", id)?;
    let key = ctx.key(CLUB, &[id])?;
    ctx.get(&key)
        .await?
        .ok_or_else(|| not_found(format!("club {id} does not exist")))
}

/// The club `id`, which must be active, or 404/409.
pub async fn active_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
) -> ContractResult<Club> {
    let club = club(ctx, id).await?;
    if club.status != "active" {
        return Err(conflict(format!("club {id} is {}", club.status)));
    }
    Ok(club)
}

/// The club the caller acts for: its certificate must hold one of `roles` and a `club` attribute, the
/// club must exist, and the certificate must come from the club's MSP (so another organisation cannot act
/// for the club by putting its id in a certificate of its own).
pub async fn acting_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    roles: &[Role],
    action: &str,
) -> ContractResult<Club> {
    let id = ctx.caller.club_with_role(roles, action)?.to_owned();
    let club = club(ctx, &id).await?;
    if club.msp_id != ctx.caller.msp_id {
        return Err(forbidden(format!(
            "{action}: club {id} belongs to {}, not {}",
            club.msp_id, ctx.caller.msp_id
        )));
    }
    Ok(club)
}

/// Like [`acting_club`], for a caller that must act for `club_id` in particular.
pub async fn acting_for<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    club_id: &str,
    roles: &[Role],
    action: &str,
) -> ContractResult<Club> {
    ctx.caller.require_club(club_id, roles, action)?;
    acting_club(ctx, roles, action).await
}

/// Writes a club record.
pub async fn put_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    club: &Club,
) -> ContractResult<()> {
    let key = ctx.key(CLUB, &[&club.id])?;
    ctx.put(&key, club).await
}

/// `CreateClub(club)`: bootstrap by a network admin, while the bootstrap is open.
pub async fn create_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: ClubInput,
) -> ContractResult<Club> {
    ctx.caller.require_network_admin("CreateClub")?;
    input.validate()?;
    if !rules(ctx).await?.bootstrap_open {
        return Err(conflict(
            "the bootstrap is closed: new clubs join through an admit_club proposal",
        ));
    }
    let key = ctx.key(CLUB, &[&input.id])?;
    if ctx.get::<Club>(&key).await?.is_some() {
        return Err(conflict(format!("club {} already exists", input.id)));
    }
    let club = Club {
        id: input.id,
        name: input.name,
        msp_id: input.msp_id,
        status: "active".to_owned(),
        joined_at: Some(ctx.now.clone()),
        contact_ref: input.contact_ref,
        residency_zone: input.residency_zone,
        status_reason: None,
    };
    ctx.put(&key, &club).await?;
    ctx.emit("ClubAdmitted", &club)?;
    Ok(club)
}

/// `CloseBootstrap()`: after it, clubs join only by admission proposals.
pub async fn close_bootstrap<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
) -> ContractResult<NetworkRules> {
    ctx.caller.require_network_admin("CloseBootstrap")?;
    let mut rules = rules(ctx).await?;
    if !rules.bootstrap_open {
        return Err(conflict("the bootstrap is already closed"));
    }
    rules.bootstrap_open = false;
    put_rules(ctx, &rules).await?;
    ctx.emit("NetworkRulesChanged", &rules)?;
    Ok(rules)
}

/// `SuspendClub(id, reason)`: emergency suspension by a network admin.
pub async fn suspend_club<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    id: &str,
    reason: &str,
) -> ContractResult<Club> {
    ctx.caller.require_network_admin("SuspendClub")?;
    validate_text("reason", reason, 500)?;
    let mut club = active_club(ctx, id).await?;
    club.status = "suspended".to_owned();
    club.status_reason = Some(reason.to_owned());
    put_club(ctx, &club).await?;
    ctx.emit("ClubStatusChanged", &club)?;
    Ok(club)
}

/// `UpsertMemberAnchor(anchor)`: the home club's admin writes a member's anchor.
pub async fn upsert_member<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    input: MemberAnchorInput,
) -> ContractResult<MemberAnchor> {
    ctx.caller
        .club_with_role(&[Role::ClubAdmin], "UpsertMemberAnchor")?;
    validate_member_ref(&input.member_ref)?;
    if !matches!(input.status.as_str(), "active" | "suspended" | "lapsed") {
        return Err(bad_request("status must be active, suspended or lapsed"));
    }
    parse_date("valid_until", &input.valid_until)?;
    if let Some(zone) = &input.residency_zone {
        validate_zone(zone)?;
    }
    let home = acting_club(ctx, &[Role::ClubAdmin], "UpsertMemberAnchor").await?;
    // A suspended club may still lapse or suspend its members; an expelled one has left the network.
    if !matches!(home.status.as_str(), "active" | "suspended") {
        return Err(conflict(format!(
            "UpsertMemberAnchor: club {} is {}",
            home.id, home.status
        )));
    }
    let home = home.id;
    let key = ctx.key(MEMBER, &[&input.member_ref])?;
    if let Some(existing) = ctx.get::<MemberAnchor>(&key).await?
        && existing.home_club != home
    {
        return Err(forbidden(format!(
            "UpsertMemberAnchor: member {} belongs to {}",
            input.member_ref, existing.home_club
        )));
    }
    let anchor = MemberAnchor {
        member_ref: input.member_ref,
        home_club: home,
        status: input.status,
        valid_until: input.valid_until,
        residency_zone: input.residency_zone,
        updated_at: ctx.now.clone(),
    };
    ctx.put(&key, &anchor).await?;
    ctx.emit("MemberAnchored", &anchor)?;
    Ok(anchor)
}

/// The anchor of `member_ref`, or 404.
pub async fn member<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    member_ref: &str,
) -> ContractResult<MemberAnchor> {
    validate_member_ref(member_ref)?;
    let key = ctx.key(MEMBER, &[member_ref])?;
    ctx.get(&key)
        .await?
        .ok_or_else(|| not_found(format!("member {member_ref} has no anchor on the ledger")))
}

/// `ListClubs()`.
pub async fn list_clubs<S: ChaincodeStub>(ctx: &mut Context<'_, S>) -> ContractResult<Vec<Club>> {
    let rows = ctx
        .stub
        .get_state_by_partial_composite_key(CLUB, &[])
        .await?;
    rows.iter()
        .map(|row| {
            serde_json::from_slice(&row.value).map_err(|e| {
                crate::error::ContractError::Ledger(format!("stored club is not valid: {e}"))
            })
        })
        .collect()
}
