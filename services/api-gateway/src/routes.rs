//! The REST routes of `/api/v1`: each authenticates the caller, checks the input's shape, calls a service
//! over gRPC as that caller, and answers JSON. Writes answer once the ledger committed them VALID, with
//! `tx_id` and `block`; reads take `min_block` to wait (bounded) for the mirror to hold a write.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing};
use platform::caller::{Caller, Role};
use reciprocal_api::v1 as api;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{User, database_error};
use crate::error::{ApiError, Body, Path, Query, request_id};

/// The document served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every route of `/api/v1`.
pub fn api(state: AppState) -> Router {
    use routing::{delete, get, post};
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/users", post(link_user))
        .route("/api/v1/dev/token", post(dev_token))
        .route("/api/v1/dev/jwks.json", get(dev_jwks))
        .route("/api/v1/clubs", get(list_clubs).post(create_club))
        .route("/api/v1/clubs/{id}", get(get_club))
        .route("/api/v1/members", get(list_members).post(create_member))
        .route("/api/v1/members/{id}", get(get_member).patch(update_member))
        .route("/api/v1/members/{id}/verification", get(verify_member))
        .route("/api/v1/members/{id}/personal-data", delete(erase_member))
        .route(
            "/api/v1/agreements",
            get(list_agreements).post(propose_agreement),
        )
        .route("/api/v1/agreements/{id}", get(get_agreement))
        .route("/api/v1/agreements/{id}/{action}", post(agreement_action))
        .route("/api/v1/visits", get(list_visits).post(check_in))
        .route("/api/v1/visits/{id}", get(get_visit))
        .route("/api/v1/visits/{id}/{action}", post(visit_action))
        .route(
            "/api/v1/proposals",
            get(list_proposals).post(create_proposal),
        )
        .route("/api/v1/proposals/{id}", get(get_proposal))
        .route("/api/v1/proposals/{id}/votes", post(cast_vote))
        .route("/api/v1/proposals/{id}/close", post(close_proposal))
        .route("/api/v1/proposals/{id}/cancel", post(cancel_proposal))
        .route("/api/v1/audit/history/{*key}", get(key_history))
        .route("/api/v1/audit/tx/{tx_id}", get(transaction_proof))
        .with_state(state)
}

/// The signed-in caller of a request, rate limited per subject.
#[derive(Debug)]
pub struct Auth(pub Caller);

fn token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get("authorization") {
        let text = value.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    parts
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| {
            let (name, value) = cookie.trim().split_once('=')?;
            (name == "hanko").then(|| value.to_owned())
        })
}

fn rate_limited(seconds: u64) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry in {seconds} s"),
    );
    error.retry_after = Some(seconds);
    error
}

/// The address of the client, for limiting requests that do not sign in.
#[derive(Debug)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

impl ClientAddress {
    /// Charges a request that does not sign in to the client's address.
    fn charge(&self, state: &AppState) -> Result<(), ApiError> {
        match self.0 {
            Some(address) => state
                .limiter
                .check(&format!("address {address}"))
                .map_err(rate_limited),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let address = ClientAddress::from_request_parts(parts, state).await?;
        // A request that does not sign in counts against its address, so guessing is limited too.
        let Some(token) = token(parts) else {
            address.charge(state)?;
            return Err(ApiError::unauthenticated(
                "sign in first: send Authorization: Bearer <token> or the hanko cookie",
            ));
        };
        let user = match state.auth.authenticate(&token).await {
            Ok(user) => user,
            Err(error) => {
                address.charge(state)?;
                return Err(error);
            }
        };
        state.limiter.check(&user.subject).map_err(rate_limited)?;
        let role = user
            .role()
            .ok_or_else(|| ApiError::forbidden("your account has no valid role"))?;
        Ok(Self(Caller {
            request_id: request_id(),
            subject: user.subject,
            role,
            club: user.club,
            member: user.member_id,
        }))
    }
}

/// An optional JSON body: none (or an empty one) is the default value.
#[derive(Debug)]
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| ApiError::bad_request(format!("invalid body: {error}")))
    }
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

fn written(status: StatusCode, name: &str, write: api::WriteResult) -> Response {
    let mut body = Map::new();
    body.insert(name.to_owned(), parse(&write.json));
    body.insert("tx_id".to_owned(), write.tx_id.into());
    body.insert("block".to_owned(), write.block_number.into());
    (status, Json(Value::Object(body))).into_response()
}

/// A record's JSON with `_ledger: {block, tx_id}` of its current version added, spliced as text: lists
/// of records pass through without being parsed and written again.
fn record_text(record: &api::Record) -> String {
    let ledger = format!(
        r#""_ledger":{{"block":{},"tx_id":{}}}"#,
        record.block_number,
        Value::from(record.tx_id.as_str())
    );
    match record.json.trim_start().strip_prefix('{') {
        Some(rest) if rest.trim_start().starts_with('}') => format!("{{{ledger}}}"),
        Some(rest) => format!("{{{ledger},{rest}"),
        None => record.json.clone(),
    }
}

fn json_response(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn record(record: api::Record) -> Response {
    json_response(record_text(&record))
}

fn record_value(record: api::Record) -> Value {
    serde_json::from_str(&record_text(&record)).unwrap_or(Value::Null)
}

fn list(records: api::RecordList) -> Response {
    let mut body = String::with_capacity(
        64 + records
            .records
            .iter()
            .map(|record| record.json.len() + 100)
            .sum::<usize>(),
    );
    body.push_str(r#"{"items":["#);
    for (index, record) in records.records.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&record_text(record));
    }
    let next_after = if records.next_after.is_empty() {
        Value::Null
    } else {
        Value::from(records.next_after)
    };
    body.push_str(&format!(
        r#"],"next_after":{next_after},"mirror_height":{}}}"#,
        records.mirror_height
    ));
    json_response(body)
}

fn object(name: &str, value: Value) -> Result<String, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "{name} must be a JSON object"
        )));
    }
    Ok(value.to_string())
}

/// Query of list routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    status: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
    min_block: Option<u64>,
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn me(Auth(caller): Auth) -> Json<Value> {
    Json(json!({
        "subject": caller.subject,
        "role": caller.role.as_str(),
        "club": caller.club,
        "member_id": caller.member,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    subject: String,
    name: String,
    role: String,
    club: Option<String>,
    member_id: Option<String>,
}

async fn link_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(user): Body<NewUser>,
) -> Result<Response, ApiError> {
    let role = Role::parse(&user.role).ok_or_else(|| {
        ApiError::bad_request(format!("role must be one of {}", Role::ALL.join(", ")))
    })?;
    let text_ok =
        |text: &str| !text.is_empty() && text.len() <= 128 && !text.chars().any(char::is_control);
    if !text_ok(&user.subject) || !text_ok(&user.name) {
        return Err(ApiError::bad_request(
            "subject and name must be 1-128 characters without control characters",
        ));
    }
    match (role, &user.club, &user.member_id) {
        (Role::NetworkAdmin, None, None) => {}
        (Role::NetworkAdmin, ..) => {
            return Err(ApiError::bad_request(
                "a network_admin has no club and no member_id",
            ));
        }
        (Role::Member, Some(_), Some(_)) | (Role::ClubAdmin | Role::FrontDesk, Some(_), None) => {}
        (Role::Member, ..) => {
            return Err(ApiError::bad_request("a member needs club and member_id"));
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "a {role} needs a club and no member_id"
            )));
        }
    }
    // Nobody changes their own account (and so locks themselves out): another admin does.
    if user.subject == caller.subject {
        return Err(ApiError::forbidden(
            "this is your own account: another club admin of your club, or the network admin, changes it",
        ));
    }
    let allowed = caller.is_network_admin()
        || (caller.role == Role::ClubAdmin
            && role != Role::NetworkAdmin
            && user.club.is_some()
            && user.club == caller.club);
    if !allowed {
        return Err(ApiError::forbidden(
            "only the network admin, or a club admin for their own club's staff and members, links users",
        ));
    }
    // A member account must name a member of that club, as the member service knows them.
    if let (Role::Member, Some(member_id), Some(club)) = (role, &user.member_id, &user.club) {
        let member = state
            .members()
            .get_member(caller.request(api::GetMemberRequest {
                id: member_id.clone(),
            }))
            .await?
            .into_inner();
        if &member.club != club {
            return Err(ApiError::bad_request(format!(
                "member {member_id} belongs to {}, not {club}",
                member.club
            )));
        }
    }
    // A club admin changes only links of their own club: an account another club (or the network)
    // has linked is not theirs to take over. The condition is part of the write, so a concurrent link
    // cannot slip between a check and the update.
    let saved: Option<User> = sqlx::query_as(
        "INSERT INTO users (subject, name, role, club, member_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (subject) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, \
           club = EXCLUDED.club, member_id = EXCLUDED.member_id, updated_at = now() \
           WHERE $6 OR users.club = EXCLUDED.club \
         RETURNING subject, name, role, club, member_id",
    )
    .bind(&user.subject)
    .bind(&user.name)
    .bind(role.as_str())
    .bind(&user.club)
    .bind(&user.member_id)
    .bind(caller.is_network_admin())
    .fetch_optional(state.auth.pool())
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("the name {:?} is taken", user.name),
        ),
        _ => database_error(error),
    })?;
    let saved = saved.ok_or_else(|| {
        ApiError::forbidden(
            "this account is linked by another club or the network admin; only they can change it",
        )
    })?;
    state.auth.forget(&saved.subject);
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevTokenRequest {
    user: String,
}

async fn dev_token(
    State(state): State<AppState>,
    address: ClientAddress,
    Body(request): Body<DevTokenRequest>,
) -> Result<Json<Value>, ApiError> {
    address.charge(&state)?;
    let dev = state.auth.dev().ok_or_else(|| {
        ApiError::not_found(
            "dev sign-in is off; it is on only when the gateway runs with DEV_AUTH=1",
        )
    })?;
    let subject: Option<String> = sqlx::query_scalar("SELECT subject FROM users WHERE name = $1")
        .bind(&request.user)
        .fetch_optional(state.auth.pool())
        .await
        .map_err(database_error)?;
    let subject =
        subject.ok_or_else(|| ApiError::not_found(format!("no user named {:?}", request.user)))?;
    Ok(Json(
        json!({"token": dev.token(&subject, state.auth.audience())?}),
    ))
}

async fn dev_jwks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let dev = state
        .auth
        .dev()
        .ok_or_else(|| ApiError::not_found("dev sign-in is off"))?;
    Ok(Json(dev.jwks().clone()))
}

// Clubs (governance service).

async fn list_clubs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let request = api::ListClubsRequest {
        status: page.status.unwrap_or_default(),
        limit: page.limit.unwrap_or_default(),
        after: page.after.unwrap_or_default(),
        min_block: page.min_block.unwrap_or_default(),
    };
    let records = state
        .governance()
        .list_clubs(caller.request(request))
        .await?;
    Ok(list(records.into_inner()))
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct NewClub {
    id: String,
    name: String,
    msp_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    residency_zone: Option<String>,
}

async fn create_club(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(club): Body<NewClub>,
) -> Result<Response, ApiError> {
    let club_json =
        serde_json::to_string(&club).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let write = state
        .governance()
        .create_club(caller.request(api::CreateClubRequest { club_json }))
        .await?;
    Ok(written(StatusCode::CREATED, "club", write.into_inner()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinBlock {
    min_block: Option<u64>,
}

async fn get_club(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<MinBlock>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest {
        id,
        min_block: query.min_block.unwrap_or_default(),
    };
    let club = state.governance().get_club(caller.request(request)).await?;
    Ok(record(club.into_inner()))
}

// Members (member service).

fn member_json(member: api::Member) -> Value {
    let optional = |text: String| (!text.is_empty()).then_some(text);
    json!({
        "id": member.id,
        "club": member.club,
        "member_ref": member.member_ref,
        "name": optional(member.name),
        "email": optional(member.email),
        "membership_number": optional(member.membership_number),
        "photo_url": optional(member.photo_url),
        "status": member.status,
        "valid_until": member.valid_until,
        "residency_zone": optional(member.residency_zone),
        "erased": member.erased,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    })
}

fn member_written(status: StatusCode, write: api::MemberWrite) -> Response {
    let member = write.member.map(member_json).unwrap_or(Value::Null);
    let body = json!({"member": member, "tx_id": write.tx_id, "block": write.block_number});
    (status, Json(body)).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    club: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(query): Query<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let request = api::ListMembersRequest {
        club: query
            .club
            .or_else(|| caller.club.clone())
            .unwrap_or_default(),
        limit: query.limit.unwrap_or_default(),
        after: query.after.unwrap_or_default(),
    };
    let members = state
        .members()
        .list_members(caller.request(request))
        .await?
        .into_inner();
    Ok(Json(json!({
        "items": members.members.into_iter().map(member_json).collect::<Vec<_>>(),
        "next_after": (!members.next_after.is_empty()).then_some(members.next_after),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    club: Option<String>,
    name: String,
    email: String,
    membership_number: String,
    photo_url: Option<String>,
    status: Option<String>,
    valid_until: String,
    residency_zone: Option<String>,
}

async fn create_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(member): Body<NewMember>,
) -> Result<Response, ApiError> {
    let request = api::CreateMemberRequest {
        club: member
            .club
            .or_else(|| caller.club.clone())
            .ok_or_else(|| ApiError::bad_request("club is required"))?,
        name: member.name,
        email: member.email,
        membership_number: member.membership_number,
        photo_url: member.photo_url.unwrap_or_default(),
        status: member.status.unwrap_or_default(),
        valid_until: member.valid_until,
        residency_zone: member.residency_zone.unwrap_or_default(),
    };
    let write = state
        .members()
        .create_member(caller.request(request))
        .await?;
    Ok(member_written(StatusCode::CREATED, write.into_inner()))
}

async fn get_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let member = state
        .members()
        .get_member(caller.request(api::GetMemberRequest { id }))
        .await?;
    Ok(Json(member_json(member.into_inner())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberChange {
    status: Option<String>,
    valid_until: Option<String>,
}

async fn update_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(change): Body<MemberChange>,
) -> Result<Response, ApiError> {
    if change.status.is_none() && change.valid_until.is_none() {
        return Err(ApiError::bad_request("give status, valid_until or both"));
    }
    let request = api::UpdateMemberRequest {
        id,
        status: change.status.unwrap_or_default(),
        valid_until: change.valid_until.unwrap_or_default(),
    };
    let write = state
        .members()
        .update_member(caller.request(request))
        .await?;
    Ok(member_written(StatusCode::OK, write.into_inner()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerificationQuery {
    host: Option<String>,
    date: Option<String>,
}

async fn verify_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(member_id): Path<String>,
    Query(query): Query<VerificationQuery>,
) -> Result<Json<Value>, ApiError> {
    let request = api::VerifyMemberRequest {
        member_id,
        host_club: query
            .host
            .or_else(|| caller.club.clone())
            .ok_or_else(|| ApiError::bad_request("host is required"))?,
        date: query.date.unwrap_or_default(),
    };
    let verification = state
        .members()
        .verify_member(caller.request(request))
        .await?;
    let v = verification.into_inner();
    let optional = |text: String| (!text.is_empty()).then_some(text);
    Ok(Json(json!({
        "member_id": v.member_id,
        "name": v.name,
        "photo_url": optional(v.photo_url),
        "home_club": v.home_club,
        "status": v.status,
        "valid_until": v.valid_until,
        "date": v.date,
        "admissible": v.admissible,
        "reason": optional(v.reason),
        "agreement_id": optional(v.agreement_id),
        "visits_this_month": v.visits_this_month,
        "visits_this_year": v.visits_this_year,
        "remaining_this_month": v.remaining_this_month,
        "remaining_this_year": v.remaining_this_year,
    })))
}

async fn erase_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let write = state
        .members()
        .erase_personal_data(caller.request(api::GetMemberRequest { id }))
        .await?;
    Ok(member_written(StatusCode::OK, write.into_inner()))
}

// Agreements (reciprocal service).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementsQuery {
    club: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
    min_block: Option<u64>,
}

async fn list_agreements(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(query): Query<AgreementsQuery>,
) -> Result<Response, ApiError> {
    let request = api::ListAgreementsRequest {
        club: query.club.unwrap_or_default(),
        status: query.status.unwrap_or_default(),
        limit: query.limit.unwrap_or_default(),
        after: query.after.unwrap_or_default(),
        min_block: query.min_block.unwrap_or_default(),
    };
    let records = state
        .reciprocal()
        .list_agreements(caller.request(request))
        .await?;
    Ok(list(records.into_inner()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAgreement {
    agreement_id: Option<String>,
    counterparty: String,
    terms: Value,
}

async fn propose_agreement(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(agreement): Body<NewAgreement>,
) -> Result<Response, ApiError> {
    let request = api::ProposeAgreementRequest {
        agreement_id: agreement.agreement_id.unwrap_or_default(),
        club: caller
            .club
            .clone()
            .ok_or_else(|| ApiError::forbidden("agreements are proposed by a club's admin"))?,
        counterparty: agreement.counterparty,
        terms_json: object("terms", agreement.terms)?,
    };
    let write = state
        .reciprocal()
        .propose_agreement(caller.request(request))
        .await?;
    Ok(written(
        StatusCode::CREATED,
        "agreement",
        write.into_inner(),
    ))
}

async fn get_agreement(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<MinBlock>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest {
        id,
        min_block: query.min_block.unwrap_or_default(),
    };
    let agreement = state
        .reciprocal()
        .get_agreement(caller.request(request))
        .await?;
    Ok(record(agreement.into_inner()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementChange {
    reason: Option<String>,
    terms: Option<Value>,
}

const AGREEMENT_ACTIONS: [&str; 9] = [
    "accept",
    "reject",
    "withdraw",
    "amend",
    "accept-amendment",
    "reject-amendment",
    "suspend",
    "resume",
    "terminate",
];

async fn agreement_action(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, action)): Path<(String, String)>,
    OptionalBody(change): OptionalBody<AgreementChange>,
) -> Result<Response, ApiError> {
    if !AGREEMENT_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::not_found(format!(
            "no agreement action {action:?}; one of {}",
            AGREEMENT_ACTIONS.join(", ")
        )));
    }
    let terms_json = match change.terms {
        Some(terms) => object("terms", terms)?,
        None => String::new(),
    };
    let request = api::AgreementActionRequest {
        agreement_id: id,
        action: action.replace('-', "_"),
        reason: change.reason.unwrap_or_default(),
        terms_json,
    };
    let write = state
        .reciprocal()
        .agreement_action(caller.request(request))
        .await?;
    Ok(written(StatusCode::OK, "agreement", write.into_inner()))
}

// Visits (reciprocal service).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitsQuery {
    host: Option<String>,
    home: Option<String>,
    member: Option<String>,
    month: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
    min_block: Option<u64>,
}

async fn list_visits(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(query): Query<VisitsQuery>,
) -> Result<Response, ApiError> {
    let request = api::ListVisitsRequest {
        host_club: query.host.unwrap_or_default(),
        home_club: query.home.unwrap_or_default(),
        member_id: query.member.unwrap_or_default(),
        month: query.month.unwrap_or_default(),
        status: query.status.unwrap_or_default(),
        limit: query.limit.unwrap_or_default(),
        after: query.after.unwrap_or_default(),
        min_block: query.min_block.unwrap_or_default(),
    };
    let records = state
        .reciprocal()
        .list_visits(caller.request(request))
        .await?;
    Ok(list(records.into_inner()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVisit {
    visit_id: Option<String>,
    member_id: String,
    host_club: Option<String>,
    visit_date: Option<String>,
    #[serde(default)]
    nights: u32,
    #[serde(default)]
    guests: u32,
    #[serde(default)]
    guests_family: bool,
    #[serde(default)]
    facilities: Vec<String>,
    refusal_reason: Option<String>,
}

async fn check_in(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(visit): Body<NewVisit>,
) -> Result<Response, ApiError> {
    let request = api::CheckInRequest {
        visit_id: visit.visit_id.unwrap_or_default(),
        member_id: visit.member_id,
        host_club: visit
            .host_club
            .or_else(|| caller.club.clone())
            .ok_or_else(|| ApiError::bad_request("host_club is required"))?,
        visit_date: visit.visit_date.unwrap_or_default(),
        nights: visit.nights,
        guests: visit.guests,
        guests_family: visit.guests_family,
        facilities: visit.facilities,
        refusal_reason: visit.refusal_reason.unwrap_or_default(),
    };
    let result = state
        .reciprocal()
        .check_in(caller.request(request))
        .await?
        .into_inner();
    let write = result.visit.unwrap_or_default();
    let member = result.member.map(|member| {
        json!({
            "member_id": member.member_id,
            "home_club": member.home_club,
            "status": member.status,
            "name": member.name,
            "photo_url": (!member.photo_url.is_empty()).then_some(member.photo_url),
        })
    });
    let body = json!({
        "visit": parse(&write.json),
        "member": member,
        "tx_id": write.tx_id,
        "block": write.block_number,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_visit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<MinBlock>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest {
        id,
        min_block: query.min_block.unwrap_or_default(),
    };
    let visit = state
        .reciprocal()
        .get_visit(caller.request(request))
        .await?;
    Ok(record(visit.into_inner()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitChange {
    reason: Option<String>,
    fee_minor: Option<u64>,
}

const VISIT_ACTIONS: [&str; 4] = ["checkout", "cancel", "dispute", "resolve"];

async fn visit_action(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, action)): Path<(String, String)>,
    OptionalBody(change): OptionalBody<VisitChange>,
) -> Result<Response, ApiError> {
    if !VISIT_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::not_found(format!(
            "no visit action {action:?}; one of {}",
            VISIT_ACTIONS.join(", ")
        )));
    }
    let request = api::VisitActionRequest {
        visit_id: id,
        action,
        reason: change.reason.unwrap_or_default(),
        fee_minor: change.fee_minor,
    };
    let write = state
        .reciprocal()
        .visit_action(caller.request(request))
        .await?;
    Ok(written(StatusCode::OK, "visit", write.into_inner()))
}

// Proposals (governance service).

async fn list_proposals(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let request = api::ListProposalsRequest {
        status: page.status.unwrap_or_default(),
        limit: page.limit.unwrap_or_default(),
        after: page.after.unwrap_or_default(),
        min_block: page.min_block.unwrap_or_default(),
    };
    let records = state
        .governance()
        .list_proposals(caller.request(request))
        .await?;
    Ok(list(records.into_inner()))
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct NewProposal {
    #[serde(skip_serializing_if = "Option::is_none")]
    proposal_id: Option<String>,
    kind: String,
    #[serde(default)]
    payload: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    voting_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quorum: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<Value>,
}

async fn create_proposal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(proposal): Body<NewProposal>,
) -> Result<Response, ApiError> {
    let proposal_json = serde_json::to_string(&proposal)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let write = state
        .governance()
        .create_proposal(caller.request(api::CreateProposalRequest { proposal_json }))
        .await?;
    Ok(written(StatusCode::CREATED, "proposal", write.into_inner()))
}

async fn get_proposal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<MinBlock>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest {
        id,
        min_block: query.min_block.unwrap_or_default(),
    };
    let detail = state
        .governance()
        .get_proposal(caller.request(request))
        .await?
        .into_inner();
    Ok(Json(json!({
        "proposal": detail.proposal.map(record_value),
        "votes": detail.votes.into_iter().map(record_value).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVote {
    choice: String,
}

async fn cast_vote(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(vote): Body<NewVote>,
) -> Result<Response, ApiError> {
    let request = api::CastVoteRequest {
        proposal_id: id,
        choice: vote.choice,
    };
    let write = state
        .governance()
        .cast_vote(caller.request(request))
        .await?;
    Ok(written(StatusCode::CREATED, "vote", write.into_inner()))
}

async fn close_proposal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest { id, min_block: 0 };
    let write = state
        .governance()
        .close_proposal(caller.request(request))
        .await?;
    Ok(written(StatusCode::OK, "proposal", write.into_inner()))
}

async fn cancel_proposal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let request = api::GetRequest { id, min_block: 0 };
    let write = state
        .governance()
        .cancel_proposal(caller.request(request))
        .await?;
    Ok(written(StatusCode::OK, "proposal", write.into_inner()))
}

// Audit (blockchain service).

fn auditor(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Member {
        return Err(ApiError::forbidden(
            "the audit trail is for club staff and the network admin",
        ));
    }
    Ok(())
}

async fn key_history(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auditor(&caller)?;
    let (record_type, id) = key.split_once('/').ok_or_else(|| {
        ApiError::bad_request(format!(
            "the key must be TYPE/ID (e.g. visit/<visit id>, agreement/<id>, club/<id>), got {key:?}"
        ))
    })?;
    let request = api::KeyHistoryRequest {
        record_type: record_type.to_owned(),
        id: id.to_owned(),
    };
    let history = state
        .blockchain()
        .key_history(caller.request(request))
        .await?
        .into_inner();
    let entries: Vec<Value> = history
        .entries
        .into_iter()
        .map(|entry| {
            json!({
                "tx_id": entry.tx_id,
                "block": entry.block_number,
                "position": entry.position,
                "timestamp": entry.timestamp,
                "is_delete": entry.is_delete,
                "value": serde_json::from_slice::<Value>(&entry.value).unwrap_or(Value::Null),
                "validation": entry.validation,
            })
        })
        .collect();
    Ok(Json(json!({"key": history.key, "entries": entries})))
}

async fn transaction_proof(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tx_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auditor(&caller)?;
    let proof = state
        .blockchain()
        .transaction_proof(caller.request(api::TransactionProofRequest { tx_id }))
        .await?
        .into_inner();
    let chain: Vec<Value> = proof
        .chain
        .into_iter()
        .map(|link| {
            json!({
                "number": link.number,
                "header_hash": hex::encode(link.header_hash),
                "previous_hash": hex::encode(link.previous_hash),
                "data_hash": hex::encode(link.data_hash),
            })
        })
        .collect();
    Ok(Json(json!({
        "tx_id": proof.tx_id,
        "block": proof.block_number,
        "position": proof.position,
        "validation_code": proof.validation_code,
        "validation": proof.validation,
        "chain": chain,
    })))
}
