//! Checks of the requests' fields, and the contract function each action maps to. Everything here runs
//! before anything is written; the contract checks again with the ledger's state.

use platform::caller::Role;
use platform::input::{json_object, required};
use reciprocal_api::v1::{AgreementActionRequest, VisitActionRequest};
use tonic::Status;

/// A contract function and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractCall {
    /// The function.
    pub function: &'static str,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The actions of `AgreementAction`.
pub const AGREEMENT_ACTIONS: [&str; 9] = [
    "accept",
    "reject",
    "withdraw",
    "amend",
    "accept_amendment",
    "reject_amendment",
    "suspend",
    "resume",
    "terminate",
];

/// The actions of `VisitAction`.
pub const VISIT_ACTIONS: [&str; 4] = ["checkout", "cancel", "dispute", "resolve"];

/// Visit statuses, as the contract writes them.
pub const VISIT_STATUSES: [&str; 5] = [
    "checked_in",
    "checked_out",
    "cancelled",
    "refused",
    "disputed",
];

/// Agreement statuses as of today: stored ones and the derived `expired` and `terminated`.
pub const AGREEMENT_STATUSES: [&str; 7] = [
    "proposed",
    "active",
    "rejected",
    "withdrawn",
    "suspended",
    "expired",
    "terminated",
];

/// Refuses a field the action does not use, so a caller is not misled into thinking it took effect.
fn unused(name: &str, value: &str, action: &str) -> Result<(), Status> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "{name} is not used by {action}"
        )))
    }
}

/// The contract call of an agreement action.
pub fn agreement_call(request: &AgreementActionRequest) -> Result<ContractCall, Status> {
    let id = required("agreement_id", &request.agreement_id)?.to_owned();
    let action = request.action.trim();
    let with_reason = |function| -> Result<ContractCall, Status> {
        unused("terms_json", &request.terms_json, action)?;
        let reason = required("reason", &request.reason)
            .map_err(|_| Status::invalid_argument(format!("reason is required to {action}")))?;
        Ok(ContractCall {
            function,
            args: vec![id.clone(), reason.to_owned()],
        })
    };
    let bare = |function| -> Result<ContractCall, Status> {
        unused("terms_json", &request.terms_json, action)?;
        unused("reason", &request.reason, action)?;
        Ok(ContractCall {
            function,
            args: vec![id.clone()],
        })
    };
    match action {
        "accept" => bare("AcceptAgreement"),
        "reject" => with_reason("RejectAgreement"),
        "withdraw" => bare("WithdrawAgreement"),
        "amend" => {
            unused("reason", &request.reason, action)?;
            let terms = json_object("terms_json", &request.terms_json)?;
            Ok(ContractCall {
                function: "ProposeAmendment",
                args: vec![id, serde_json::Value::Object(terms).to_string()],
            })
        }
        "accept_amendment" => bare("AcceptAmendment"),
        "reject_amendment" => with_reason("RejectAmendment"),
        "suspend" => with_reason("SuspendAgreement"),
        "resume" => bare("ResumeAgreement"),
        "terminate" => with_reason("TerminateAgreement"),
        other => Err(Status::invalid_argument(format!(
            "action must be one of {}, got {other:?}",
            AGREEMENT_ACTIONS.join(", ")
        ))),
    }
}

/// Which club of a visit may take an action on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The club visited.
    Host,
    /// The member's club.
    Home,
}

/// Who may take a visit action: the staff of one side of the visit in one of some roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitRule {
    /// The side.
    pub side: Side,
    /// The roles.
    pub roles: &'static [Role],
    /// The action in words, for refusals.
    pub what: &'static str,
}

const STAFF: &[Role] = &[Role::FrontDesk, Role::ClubAdmin];
const ADMIN: &[Role] = &[Role::ClubAdmin];

/// The contract call of a visit action and who may take it (the contract's rule: the host's staff check
/// out and cancel, the home club's admin disputes, the host's admin resolves).
pub fn visit_call(request: &VisitActionRequest) -> Result<(ContractCall, VisitRule), Status> {
    let id = required("visit_id", &request.visit_id)?.to_owned();
    let action = request.action.trim();
    let fee_unused = |action: &str| {
        if request.fee_minor.is_some() {
            Err(Status::invalid_argument(format!(
                "fee_minor is not used by {action}"
            )))
        } else {
            Ok(())
        }
    };
    let reason = |what: &str| {
        required("reason", &request.reason)
            .map(str::to_owned)
            .map_err(|_| Status::invalid_argument(format!("reason is required to {what}")))
    };
    let rule = |side, roles, what| VisitRule { side, roles, what };
    match action {
        "checkout" => {
            fee_unused(action)?;
            unused("reason", &request.reason, action)?;
            Ok((
                ContractCall {
                    function: "CheckOut",
                    args: vec![id],
                },
                rule(Side::Host, STAFF, "checking a visitor out"),
            ))
        }
        "cancel" => {
            fee_unused(action)?;
            Ok((
                ContractCall {
                    function: "CancelVisit",
                    args: vec![id, reason("cancel a visit")?],
                },
                rule(Side::Host, STAFF, "cancelling a visit"),
            ))
        }
        "dispute" => {
            fee_unused(action)?;
            Ok((
                ContractCall {
                    function: "DisputeVisit",
                    args: vec![id, reason("dispute a visit")?],
                },
                rule(Side::Home, ADMIN, "disputing a visit"),
            ))
        }
        "resolve" => {
            let mut args = vec![id, reason("resolve a dispute (the resolution)")?];
            if let Some(fee) = request.fee_minor {
                args.push(fee.to_string());
            }
            Ok((
                ContractCall {
                    function: "ResolveDispute",
                    args,
                },
                rule(Side::Host, ADMIN, "resolving a dispute"),
            ))
        }
        other => Err(Status::invalid_argument(format!(
            "action must be one of {}, got {other:?}",
            VISIT_ACTIONS.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(action: &str, reason: &str, terms: &str) -> Result<ContractCall, Status> {
        agreement_call(&AgreementActionRequest {
            agreement_id: "ab-1".into(),
            action: action.into(),
            reason: reason.into(),
            terms_json: terms.into(),
        })
    }

    #[test]
    fn agreement_actions_map_to_contract_functions() {
        assert_eq!(
            agreement("accept", "", "").unwrap(),
            ContractCall {
                function: "AcceptAgreement",
                args: vec!["ab-1".into()]
            }
        );
        assert_eq!(
            agreement("terminate", "moving on", "").unwrap().args,
            ["ab-1", "moving on"]
        );
        let missing = agreement("suspend", " ", "").unwrap_err();
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
        assert!(missing.message().contains("reason"), "{missing:?}");
        let not_object = agreement("amend", "", "[1]").unwrap_err();
        assert!(
            not_object
                .message()
                .contains("terms_json must be a JSON object"),
            "{not_object:?}"
        );
        assert_eq!(
            agreement("amend", "", "{\"a\":1}").unwrap().function,
            "ProposeAmendment"
        );
        let unknown = agreement("sign", "", "").unwrap_err();
        assert!(
            unknown.message().contains("accept_amendment"),
            "{unknown:?}"
        );
    }

    #[test]
    fn visit_actions_name_who_may_take_them() {
        let call = |action: &str, reason: &str, fee: Option<u64>| {
            visit_call(&VisitActionRequest {
                visit_id: "v".into(),
                action: action.into(),
                reason: reason.into(),
                fee_minor: fee,
            })
        };
        let (resolve, rule) = call("resolve", "refunded", Some(0)).unwrap();
        assert_eq!(resolve.args, ["v", "refunded", "0"]);
        assert_eq!((rule.side, rule.roles), (Side::Host, ADMIN));
        let (_, dispute) = call("dispute", "never came", None).unwrap();
        assert_eq!(dispute.side, Side::Home);
        assert!(call("checkout", "", Some(1)).is_err());
        assert!(call("cancel", "", None).is_err());
    }
}
