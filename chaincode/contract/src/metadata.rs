//! The contract's description for `org.hyperledger.fabric:GetMetadata`, in the schema fabric-contract-api
//! uses (`info`, `contracts` → `transactions` with `parameters`, `returns` and the tag `submit` or
//! `evaluate`), so Fabric's own tooling understands it.

use serde_json::{Value, json};

/// A parameter of a transaction function.
#[derive(Debug, Clone, Copy)]
pub struct Parameter {
    /// Name.
    pub name: &'static str,
    /// JSON schema type of the argument as sent (`string`, or `object` for a JSON argument).
    pub kind: &'static str,
    /// Whether it may be omitted.
    pub optional: bool,
}

/// A transaction function.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// Name as invoked.
    pub name: &'static str,
    /// Parameters in order.
    pub parameters: &'static [Parameter],
    /// Read-only (`evaluate`) or not (`submit`).
    pub read_only: bool,
}

const fn p(name: &'static str) -> Parameter {
    Parameter {
        name,
        kind: "string",
        optional: false,
    }
}

const fn o(name: &'static str) -> Parameter {
    Parameter {
        name,
        kind: "object",
        optional: false,
    }
}

const fn opt(name: &'static str) -> Parameter {
    Parameter {
        name,
        kind: "string",
        optional: true,
    }
}

const fn submit(name: &'static str, parameters: &'static [Parameter]) -> Function {
    Function {
        name,
        parameters,
        read_only: false,
    }
}

const fn evaluate(name: &'static str, parameters: &'static [Parameter]) -> Function {
    Function {
        name,
        parameters,
        read_only: true,
    }
}

/// Every function of the contract.
pub const FUNCTIONS: &[Function] = &[
    evaluate("org.hyperledger.fabric:GetMetadata", &[]),
    submit("CreateClub", &[o("club")]),
    submit("CloseBootstrap", &[]),
    submit("SuspendClub", &[p("club_id"), p("reason")]),
    evaluate("GetClub", &[p("club_id")]),
    evaluate("ListClubs", &[]),
    evaluate("GetNetworkRules", &[]),
    submit("UpsertMemberAnchor", &[o("anchor")]),
    evaluate("GetMemberAnchor", &[p("member_ref")]),
    submit("ProposeAgreement", &[o("agreement")]),
    submit("AcceptAgreement", &[p("agreement_id")]),
    submit("RejectAgreement", &[p("agreement_id"), p("reason")]),
    submit("WithdrawAgreement", &[p("agreement_id")]),
    submit("ProposeAmendment", &[p("agreement_id"), o("terms")]),
    submit("AcceptAmendment", &[p("agreement_id")]),
    submit("RejectAmendment", &[p("agreement_id"), p("reason")]),
    submit("SuspendAgreement", &[p("agreement_id"), p("reason")]),
    submit("ResumeAgreement", &[p("agreement_id")]),
    submit("TerminateAgreement", &[p("agreement_id"), p("reason")]),
    evaluate("GetAgreement", &[p("agreement_id")]),
    evaluate("ListAgreementsByClub", &[p("club_id")]),
    submit("CheckIn", &[o("visit")]),
    submit("RefuseVisit", &[o("visit")]),
    submit("CheckOut", &[p("visit_id")]),
    submit("CancelVisit", &[p("visit_id"), p("reason")]),
    submit("DisputeVisit", &[p("visit_id"), p("reason")]),
    submit(
        "ResolveDispute",
        &[p("visit_id"), p("resolution"), opt("fee_minor")],
    ),
    evaluate("GetVisit", &[p("visit_id")]),
    evaluate(
        "ListVisitsByHost",
        &[
            p("host_club"),
            p("month"),
            opt("page_size"),
            opt("bookmark"),
        ],
    ),
    evaluate(
        "ListVisitsByMember",
        &[
            p("member_ref"),
            p("month"),
            opt("page_size"),
            opt("bookmark"),
        ],
    ),
    evaluate(
        "GetStatement",
        &[p("host_club"), p("home_club"), p("month")],
    ),
    submit("RecordSettlement", &[o("settlement")]),
    evaluate(
        "GetSettlement",
        &[p("host_club"), p("home_club"), p("month")],
    ),
    submit("CreateProposal", &[o("proposal")]),
    submit("CastVote", &[p("proposal_id"), p("choice")]),
    submit("CloseProposal", &[p("proposal_id")]),
    submit("CancelProposal", &[p("proposal_id")]),
    evaluate("GetProposal", &[p("proposal_id")]),
    evaluate("ListProposalsByStatus", &[p("status")]),
    evaluate("ListVotes", &[p("proposal_id")]),
    evaluate("GetHistory", &[p("record_type"), p("id")]),
];

/// The name the contract is registered under; `ReciprocalContract:CheckIn` and `CheckIn` both reach it.
pub const CONTRACT_NAME: &str = "ReciprocalContract";
/// The system contract fabric-contract-api adds to every chaincode.
pub const SYSTEM_CONTRACT: &str = "org.hyperledger.fabric";

fn transaction(name: &str, function: &Function) -> Value {
    let parameters: Vec<Value> = function
        .parameters
        .iter()
        .map(|parameter| {
            let mut value = json!({
                "name": parameter.name,
                "required": !parameter.optional,
                "schema": { "type": "string" },
            });
            if parameter.kind == "object" {
                value["description"] = json!("a JSON object, sent as one string argument");
            }
            value
        })
        .collect();
    json!({
        "name": name,
        "tag": [if function.read_only { "evaluate" } else { "submit" }],
        "parameters": parameters,
        "returns": { "type": "string", "description": "the resulting record(s) as JSON" },
    })
}

/// The metadata document: the contract's transactions, plus the system contract with `GetMetadata`.
pub fn contract_metadata() -> Value {
    let version = env!("CARGO_PKG_VERSION");
    let mut contract = Vec::new();
    let mut system = Vec::new();
    for function in FUNCTIONS {
        match function
            .name
            .strip_prefix(SYSTEM_CONTRACT)
            .and_then(|n| n.strip_prefix(':'))
        {
            Some(name) => system.push(transaction(name, function)),
            None => contract.push(transaction(function.name, function)),
        }
    }
    json!({
        "$schema": "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json",
        "info": { "title": "reciprocal", "version": version },
        "contracts": {
            CONTRACT_NAME: {
                "name": CONTRACT_NAME,
                "info": {
                    "title": "Reciprocal clubs",
                    "version": version,
                    "description": "Clubs, member anchors, reciprocal agreements, visits, settlement and governance",
                },
                "transactions": contract,
            },
            SYSTEM_CONTRACT: {
                "name": SYSTEM_CONTRACT,
                "info": { "title": SYSTEM_CONTRACT, "version": version },
                "transactions": system,
            },
        },
        "components": { "schemas": {} },
    })
}
