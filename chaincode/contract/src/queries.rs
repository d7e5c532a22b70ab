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
pub async fn history<S: ChaincodeStub>(
    ctx: &mut Context<'_, S>,
    record_type: &str,
    id: &str,
) -> ContractResult<Vec<HistoryEntry>> {
    let key = match record_type {
        "club" | "agreement" | "proposal" => {
            validate_id("id", id)?;
            ctx.key(record_type, &[id])?
        }
        "member" => {
            validate_member_ref(id)?;
            ctx.key(record_type, &[id])?
        }
        "visit" => {
            validate_uuid(id)?;
            ctx.key(record_type, &[id])?
        }
        other => {
            return Err(bad_request(format!(
                "record type must be club, member, agreement, visit or proposal, got {other:?}"
            )));
        }
    };
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
