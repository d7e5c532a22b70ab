//! Read-only queries: visits of a host or a member by month (paginated), and the history of any record.

use chaincode_shim::ChaincodeStub;
use serde::Serialize;

use crate::context::Context;
use crate::dates::{is_month, rfc3339};
use crate::error::{ContractResult, bad_request};
use crate::model::{Visit, validate_id, validate_member_ref, validate_uuid};
use crate::visits::{HOST_INDEX, MEMBER_INDEX, VISIT};

/// One page of visits.
#[derive(Debug, Serialize)]
pub struct VisitPage {
    /// The visits, in id order.
    pub visits: Vec<Visit>,
    /// Pass back to get the next page; empty when there is none.
    pub bookmark: String,
}

/// Page size when none is given, and the most a page may hold.
pub const MAX_PAGE_SIZE: i32 = 200;

async fn page<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    index: &str,
    owner: &str,
    month: &str,
    page_size: i32,
    bookmark: &str,
) -> ContractResult<VisitPage> {
    if !is_month(month) {
        return Err(bad_request(format!("month must be YYYY-MM, got {month:?}")));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(bad_request(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let page = ctx
        .stub
        .get_state_by_partial_composite_key_with_pagination(
            index,
            &[owner, month],
            page_size,
            bookmark,
        )
        .await?;
    let mut visits = Vec::with_capacity(page.records.len());
    for record in page.records {
        let (_, parts) = chaincode_shim::stub::split_composite_key(&record.key)?;
        let Some(id) = parts.get(2) else { continue };
        let key = ctx.key(VISIT, &[id])?;
        if let Some(visit) = ctx.get::<Visit>(&key).await? {
            visits.push(visit);
        }
    }
    Ok(VisitPage {
        visits,
        bookmark: page.bookmark,
    })
}

/// `ListVisitsByHost(host, month, page_size, bookmark)`.
pub async fn by_host<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    host: &str,
    month: &str,
    page_size: i32,
    bookmark: &str,
) -> ContractResult<VisitPage> {
    validate_id("host club", host)?;
    page(ctx, HOST_INDEX, host, month, page_size, bookmark).await
}

/// `ListVisitsByMember(member_ref, month, page_size, bookmark)`.
pub async fn by_member<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    member_ref: &str,
    month: &str,
    page_size: i32,
    bookmark: &str,
) -> ContractResult<VisitPage> {
    validate_member_ref(member_ref)?;
    page(ctx, MEMBER_INDEX, member_ref, month, page_size, bookmark).await
}

/// One entry of a record's history.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    /// The transaction that wrote it.
    pub tx_id: String,
    /// When (RFC 3339).
    pub timestamp: Option<String>,
    /// Whether the record was deleted.
    pub is_delete: bool,
    /// The record as written (absent for a delete).
    pub value: Option<serde_json::Value>,
}

/// `GetHistory(record_type, id)`: every committed version of a record, newest first.
///
/// `record_type` is the record's key type; `id` is its id, or for records keyed by several parts those
/// parts joined by `/`: `vote` → `proposal/club`, `settlement` → `host/home/YYYY-MM`; `networkrules` takes
/// an empty id.
pub async fn history<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    record_type: &str,
    id: &str,
) -> ContractResult<Vec<HistoryEntry>> {
    let parts: Vec<&str> = if id.is_empty() {
        Vec::new()
    } else {
        id.split('/').collect()
    };
    let expected = match record_type {
        "club" | "agreement" | "proposal" | "member" | "visit" => 1,
        "vote" => 2,
        "settlement" => 3,
        "networkrules" => 0,
        other => {
            return Err(bad_request(format!(
                "record_type must be club, member, agreement, visit, settlement, proposal, vote or networkrules, got {other:?}"
            )));
        }
    };
    if parts.len() != expected {
        return Err(bad_request(format!(
            "a {record_type} id has {expected} part(s) separated by '/', got {id:?}"
        )));
    }
    match (record_type, parts.as_slice()) {
        ("member", [member_ref]) => validate_member_ref(member_ref)?,
        ("visit", [visit_id]) => validate_uuid(visit_id)?,
        ("settlement", [host, home, month]) => {
            validate_id("host_club", host)?;
            validate_id("home_club", home)?;
            if !is_month(month) {
                return Err(bad_request(format!("month must be YYYY-MM, got {month:?}")));
            }
        }
        (_, parts) => {
            for part in parts {
                validate_id("id", part)?;
            }
        }
    }
    let key = ctx.key(record_type, &parts)?;
    let modifications = ctx.stub.get_history_for_key(&key).await?;
    Ok(modifications
        .into_iter()
        .map(|modification| HistoryEntry {
            tx_id: modification.tx_id,
            timestamp: modification.timestamp.as_ref().map(rfc3339),
            is_delete: modification.is_delete,
            value: (!modification.is_delete)
                .then(|| serde_json::from_slice(&modification.value).ok())
                .flatten(),
        })
        .collect())
}
