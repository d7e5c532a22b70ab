//! The member service in process against a dev ledger with the real chaincode, the blockchain service
//! and real Postgres: anchors reach the ledger without personal data, rights and input are checked
//! before anything is written, verification counts visits against the agreement's quotas, and erasure
//! empties the personal data and lapses the anchor.

use std::net::SocketAddr;

use member_service::{Config, run};
use platform::caller::{Caller, Role};
use platform::ledger::{Ledger, channel, new_uuid, today};
use reciprocal_api::v1::members_client::MembersClient;
use reciprocal_api::v1::{
    CreateMemberRequest, GetMemberRequest, ListMembersRequest, MemberWrite, UpdateMemberRequest,
    Verification, VerifyMemberRequest,
};
use serde_json::json;
use sqlx::postgres::PgPool;
use testkit::{Service, club_admin, free_addr, front_desk, http_get, network_admin};
use tonic::Code;
use tonic::transport::Channel;

const ALPHA: &str = "club-alpha";
const BETA: &str = "club-beta";

/// A running member service, its ledger and its databases.
struct Harness {
    ledger: testkit::Ledger,
    chain: Ledger,
    client: MembersClient<Channel>,
    members: PgPool,
    mirror: PgPool,
    http: SocketAddr,
    service: Service,
}

impl Harness {
    async fn start(name: &str) -> Self {
        let mut ledger = testkit::Ledger::start(name, &[ALPHA, BETA])
            .await
            .expect("dev ledger");
        let mirror = PgPool::connect(&ledger.mirror_url).await.expect("mirror");
        let chain = Ledger::new(
            channel(&ledger.blockchain_url).expect("channel"),
            mirror.clone(),
        );
        for club in [ALPHA, BETA] {
            let mut club = json!({"id": club, "name": format!("The {club}"), "msp_id": "Org1MSP"});
            if club["id"] == BETA {
                club["residency_zone"] = json!("GB-LND");
            }
            chain
                .submit(&network_admin(), "CreateClub", vec![club.to_string()])
                .await
                .expect("CreateClub");
        }
        let database_url = ledger.database("members").await.expect("member database");
        let grpc = free_addr();
        let http = free_addr();
        let config = Config {
            http_addr: http,
            grpc_addr: grpc,
            database_url: database_url.clone(),
            ledger: ledger.config(),
            log_format: "text".to_owned(),
        };
        let service = Service::start(|shutdown| run(config, shutdown), &[grpc, http]).await;
        let client = MembersClient::new(channel(&format!("http://{grpc}")).expect("channel"));
        let members = PgPool::connect(&database_url).await.expect("member db");
        Self {
            ledger,
            chain,
            client,
            members,
            mirror,
            http,
            service,
        }
    }

    async fn stop(self) {
        self.service
            .stop()
            .await
            .expect("the member service stops cleanly");
        self.members.close().await;
        self.mirror.close().await;
        self.ledger.stop().await;
    }

    async fn create(&self, caller: &Caller, request: CreateMemberRequest) -> MemberWrite {
        self.client
            .clone()
            .create_member(caller.request(request))
            .await
            .expect("CreateMember")
            .into_inner()
    }

    async fn verify(&self, caller: &Caller, member_id: &str, host: &str) -> Verification {
        self.client
            .clone()
            .verify_member(caller.request(VerifyMemberRequest {
                member_id: member_id.to_owned(),
                host_club: host.to_owned(),
                date: String::new(),
            }))
            .await
            .expect("VerifyMember")
            .into_inner()
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.members)
            .await
            .expect("count")
    }

    /// How often `needle` occurs anywhere the mirror keeps ledger data: raw blocks, writes, events and
    /// the projected records.
    async fn on_ledger(&self, needle: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM blocks WHERE position($1::bytea IN raw) > 0)
                  + (SELECT count(*) FROM writes WHERE position($1::bytea IN value) > 0
                                                    OR position($1::bytea IN key) > 0)
                  + (SELECT count(*) FROM events WHERE position($1::bytea IN payload) > 0)
                  + (SELECT count(*) FROM records WHERE strpos(value::text, $2) > 0)",
        )
        .bind(needle.as_bytes())
        .bind(needle)
        .fetch_one(&self.mirror)
        .await
        .expect("searching the mirror")
    }

    async fn anchor(&self, member_ref: &str) -> Option<(String, String, String)> {
        sqlx::query_as(
            "SELECT home_club, status, valid_until FROM member_anchors
             WHERE channel = 'reciprocal' AND member_ref = $1",
        )
        .bind(member_ref)
        .fetch_optional(&self.mirror)
        .await
        .expect("member_anchors")
    }

    async fn get(&self, caller: &Caller, id: &str) -> Result<reciprocal_api::v1::Member, Code> {
        self.client
            .clone()
            .get_member(caller.request(GetMemberRequest { id: id.to_owned() }))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| status.code())
    }
}

fn ada() -> CreateMemberRequest {
    CreateMemberRequest {
        club: ALPHA.to_owned(),
        name: "Ada Quillfeather".to_owned(),
        email: "ada.quillfeather@example.org".to_owned(),
        membership_number: "A-1001".to_owned(),
        photo_url: "https://photos.example.org/ada.jpg".to_owned(),
        status: String::new(),
        valid_until: "2099-12-31".to_owned(),
        residency_zone: "GB-LND".to_owned(),
    }
}

fn member(id: &str, club: &str) -> Caller {
    Caller {
        member: Some(id.to_owned()),
        ..testkit::caller(Role::Member, Some(club))
    }
}

fn hmac_hex(secret: &[u8], id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    hex::encode(ring::hmac::sign(&key, id.as_bytes()).as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_anchored_on_the_ledger_without_personal_data() {
    let harness = Harness::start("member_anchor").await;
    let mut client = harness.client.clone();

    // Only the club's own admin registers its members.
    for (caller, request) in [
        (front_desk(ALPHA), ada()),
        (club_admin(BETA), ada()),
        (network_admin(), ada()),
    ] {
        let refused = client
            .create_member(caller.request(request))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{caller:?}: {refused:?}"
        );
    }

    // Every invalid field is refused, naming it, before anything is written.
    let invalid: Vec<(&str, CreateMemberRequest)> = vec![
        (
            "club",
            CreateMemberRequest {
                club: String::new(),
                ..ada()
            },
        ),
        (
            "name",
            CreateMemberRequest {
                name: " ".into(),
                ..ada()
            },
        ),
        (
            "name",
            CreateMemberRequest {
                name: "n".repeat(201),
                ..ada()
            },
        ),
        (
            "email",
            CreateMemberRequest {
                email: "ada".into(),
                ..ada()
            },
        ),
        (
            "email",
            CreateMemberRequest {
                email: "ada@example".into(),
                ..ada()
            },
        ),
        (
            "email",
            CreateMemberRequest {
                email: "a@b@example.org".into(),
                ..ada()
            },
        ),
        (
            "membership_number",
            CreateMemberRequest {
                membership_number: String::new(),
                ..ada()
            },
        ),
        (
            "membership_number",
            CreateMemberRequest {
                membership_number: "9".repeat(65),
                ..ada()
            },
        ),
        (
            "photo_url",
            CreateMemberRequest {
                photo_url: "ftp://photos.example.org/a".into(),
                ..ada()
            },
        ),
        (
            "status",
            CreateMemberRequest {
                status: "gone".into(),
                ..ada()
            },
        ),
        (
            "valid_until",
            CreateMemberRequest {
                valid_until: String::new(),
                ..ada()
            },
        ),
        (
            "valid_until",
            CreateMemberRequest {
                valid_until: "2026-02-30".into(),
                ..ada()
            },
        ),
        (
            "residency_zone",
            CreateMemberRequest {
                residency_zone: "gb-lnd".into(),
                ..ada()
            },
        ),
    ];
    for (field, request) in invalid {
        let refused = client
            .create_member(club_admin(ALPHA).request(request))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{field}: {refused:?}"
        );
        assert!(refused.message().contains(field), "{field}: {refused:?}");
    }
    assert_eq!(harness.count("SELECT count(*) FROM members").await, 0);
    let anchors: i64 = sqlx::query_scalar("SELECT count(*) FROM member_anchors")
        .fetch_one(&harness.mirror)
        .await
        .unwrap();
    assert_eq!(anchors, 0, "nothing reached the ledger");

    // A valid member: stored here, anchored there under the HMAC of its id.
    let written = harness.create(&club_admin(ALPHA), ada()).await;
    let created = written.member.clone().expect("the member");
    assert!(!written.tx_id.is_empty() && written.block_number > 0);
    assert_eq!(created.club, ALPHA);
    assert_eq!(created.name, "Ada Quillfeather");
    assert_eq!(created.status, "active", "the default status");
    assert!(!created.erased);
    let secret: Vec<u8> = sqlx::query_scalar("SELECT secret FROM club_secrets WHERE club = $1")
        .bind(ALPHA)
        .fetch_one(&harness.members)
        .await
        .unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(created.member_ref, hmac_hex(&secret, &created.id));

    harness.chain.wait_for(written.block_number).await.unwrap();
    assert_eq!(
        harness.anchor(&created.member_ref).await,
        Some((ALPHA.into(), "active".into(), "2099-12-31".into()))
    );
    let residency: Option<String> = sqlx::query_scalar(
        "SELECT value->>'residency_zone' FROM member_anchors WHERE member_ref = $1",
    )
    .bind(&created.member_ref)
    .fetch_one(&harness.mirror)
    .await
    .unwrap();
    assert_eq!(residency.as_deref(), Some("GB-LND"));
    // The search finds what is on the ledger, and none of the personal data.
    assert!(harness.on_ledger(&created.member_ref).await > 0);
    for personal in [
        "Ada Quillfeather",
        "ada.quillfeather@example.org",
        "A-1001",
        "photos.example.org",
        created.id.as_str(),
    ] {
        assert_eq!(
            harness.on_ledger(personal).await,
            0,
            "{personal} is on the ledger"
        );
    }

    // A membership number is one member's within a club.
    let taken = client
        .create_member(club_admin(ALPHA).request(CreateMemberRequest {
            email: "other@example.org".into(),
            ..ada()
        }))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert_eq!(harness.count("SELECT count(*) FROM members").await, 1);

    // Reading: own club's staff, the network admin and the member themselves; no one else.
    assert_eq!(
        harness.get(&front_desk(ALPHA), &created.id).await,
        Ok(created.clone())
    );
    assert_eq!(
        harness.get(&network_admin(), &created.id).await,
        Ok(created.clone())
    );
    assert_eq!(
        harness.get(&member(&created.id, ALPHA), &created.id).await,
        Ok(created.clone())
    );
    assert_eq!(
        harness.get(&front_desk(BETA), &created.id).await,
        Err(Code::PermissionDenied)
    );
    assert_eq!(
        harness.get(&member(&new_uuid(), ALPHA), &created.id).await,
        Err(Code::PermissionDenied)
    );
    assert_eq!(
        harness.get(&club_admin(ALPHA), &new_uuid()).await,
        Err(Code::NotFound)
    );

    // Listing pages through a club's members in id order.
    let second = harness
        .create(
            &club_admin(ALPHA),
            CreateMemberRequest {
                name: "Brook Tallowmere".into(),
                email: "brook@example.org".into(),
                membership_number: "A-1002".into(),
                ..ada()
            },
        )
        .await
        .member
        .unwrap();
    let mut ids = [created.id.clone(), second.id.clone()];
    ids.sort();
    let first_page = client
        .list_members(front_desk(ALPHA).request(ListMembersRequest {
            club: ALPHA.into(),
            limit: 1,
            after: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.members.len(), 1);
    assert_eq!(first_page.members[0].id, ids[0]);
    assert_eq!(first_page.next_after, ids[0]);
    let last_page = client
        .list_members(front_desk(ALPHA).request(ListMembersRequest {
            club: ALPHA.into(),
            limit: 1,
            after: first_page.next_after,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last_page.members.len(), 1);
    assert_eq!(last_page.members[0].id, ids[1]);
    assert!(last_page.next_after.is_empty());
    let foreign = client
        .list_members(club_admin(BETA).request(ListMembersRequest {
            club: ALPHA.into(),
            limit: 0,
            after: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);

    // Updating writes a new anchor; another club's admin cannot.
    let update = UpdateMemberRequest {
        id: created.id.clone(),
        status: "suspended".into(),
        valid_until: String::new(),
    };
    let refused = client
        .update_member(club_admin(BETA).request(update.clone()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let updated = client
        .update_member(club_admin(ALPHA).request(update))
        .await
        .unwrap()
        .into_inner();
    assert!(updated.block_number > written.block_number);
    let updated_member = updated.member.unwrap();
    assert_eq!(updated_member.status, "suspended");
    assert_eq!(updated_member.valid_until, "2099-12-31", "unchanged");
    harness.chain.wait_for(updated.block_number).await.unwrap();
    assert_eq!(
        harness.anchor(&created.member_ref).await,
        Some((ALPHA.into(), "suspended".into(), "2099-12-31".into()))
    );

    // Ready: its database, the mirror and the blockchain service answer.
    let ready = http_get(harness.http, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"database\":true"), "{ready}");

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_counts_visits_and_erasure_lapses_the_member() {
    let harness = Harness::start("member_verify").await;
    let mut client = harness.client.clone();
    let created = harness
        .create(&club_admin(ALPHA), ada())
        .await
        .member
        .unwrap();
    let desk = front_desk(BETA);

    let before = harness.verify(&desk, &created.id, BETA).await;
    assert!(!before.admissible);
    assert!(before.reason.contains("no active agreement"), "{before:?}");
    assert_eq!(before.name, "Ada Quillfeather");
    assert_eq!(before.home_club, ALPHA);
    assert_eq!(before.date, today());

    // Only the host's staff (or the network admin) verify at the host.
    let not_host = client
        .verify_member(front_desk(ALPHA).request(VerifyMemberRequest {
            member_id: created.id.clone(),
            host_club: BETA.into(),
            date: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(not_host.code(), Code::PermissionDenied);

    let terms = json!({
        "max_visits_per_month": 2,
        "max_visits_per_year": 5,
        "max_stay_days": 3,
        "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 1500, "per_guest_minor": 500, "currency": "EUR"},
        "settlement": "bill_home_club",
        "valid_from": "2020-01-01",
        "valid_until": "2099-12-31"
    });
    let proposal =
        json!({"agreement_id": "ag-alpha-beta", "counterparty_club": BETA, "terms": terms});
    harness
        .chain
        .submit(
            &club_admin(ALPHA),
            "ProposeAgreement",
            vec![proposal.to_string()],
        )
        .await
        .expect("ProposeAgreement");
    let accepted = harness
        .chain
        .submit(
            &club_admin(BETA),
            "AcceptAgreement",
            vec!["ag-alpha-beta".into()],
        )
        .await
        .expect("AcceptAgreement");
    harness.chain.wait_for(accepted.block_number).await.unwrap();

    let fresh = harness.verify(&desk, &created.id, BETA).await;
    assert!(fresh.admissible, "{fresh:?}");
    assert!(fresh.reason.is_empty());
    assert_eq!(fresh.agreement_id, "ag-alpha-beta");
    assert_eq!(fresh.status, "active");
    assert_eq!(fresh.valid_until, "2099-12-31");
    assert_eq!((fresh.visits_this_month, fresh.visits_this_year), (0, 0));
    assert_eq!(
        (fresh.remaining_this_month, fresh.remaining_this_year),
        (2, 5)
    );

    let check_in = || async {
        let visit = json!({
            "visit_id": new_uuid(),
            "member_ref": created.member_ref,
            "host_club": BETA,
            "visit_date": today(),
        });
        let written = harness
            .chain
            .submit(&desk, "CheckIn", vec![visit.to_string()])
            .await
            .expect("CheckIn");
        harness.chain.wait_for(written.block_number).await.unwrap();
    };
    check_in().await;
    let once = harness.verify(&desk, &created.id, BETA).await;
    assert!(once.admissible, "{once:?}");
    assert_eq!((once.visits_this_month, once.visits_this_year), (1, 1));
    assert_eq!(
        (once.remaining_this_month, once.remaining_this_year),
        (1, 4)
    );

    check_in().await;
    let full = harness.verify(&network_admin(), &created.id, BETA).await;
    assert!(!full.admissible, "{full:?}");
    assert!(
        full.reason.starts_with("monthly quota reached: 2 of 2"),
        "{full:?}"
    );
    assert_eq!(
        (full.remaining_this_month, full.remaining_this_year),
        (0, 3)
    );

    // What the reciprocal service's check-in looks up.
    let resolved = client
        .resolve_member(desk.request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.member_ref, created.member_ref);
    assert_eq!(resolved.home_club, ALPHA);
    // A member resolves only themselves (to list their own visits).
    let herself = client
        .resolve_member(member(&created.id, ALPHA).request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(herself.member_ref, created.member_ref);
    let by_other_member = client
        .resolve_member(member("someone-else", ALPHA).request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(by_other_member.code(), Code::PermissionDenied);

    // Erasure: another club cannot; the home club empties the personal data and lapses the anchor.
    let foreign = client
        .erase_personal_data(club_admin(BETA).request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let erased = client
        .erase_personal_data(club_admin(ALPHA).request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let gone = erased.member.clone().unwrap();
    assert!(gone.erased);
    assert_eq!(gone.status, "lapsed");
    assert!(gone.name.is_empty() && gone.email.is_empty());
    assert!(gone.membership_number.is_empty() && gone.photo_url.is_empty());
    assert_eq!(gone.member_ref, created.member_ref);
    let stored: (Option<String>, Option<String>, Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT name, email, membership_number, photo_url, erased_at IS NOT NULL FROM members WHERE id = $1",
    )
    .bind(&created.id)
    .fetch_one(&harness.members)
    .await
    .unwrap();
    assert_eq!(stored, (None, None, None, None, true));
    harness.chain.wait_for(erased.block_number).await.unwrap();
    assert_eq!(
        harness.anchor(&created.member_ref).await,
        Some((ALPHA.into(), "lapsed".into(), "2099-12-31".into()))
    );

    // Erasing again answers the same, without a second ledger write.
    let again = client
        .erase_personal_data(club_admin(ALPHA).request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, erased);

    // An erased member is no visitor, cannot be resolved for a check-in, and cannot be changed.
    let verify = client
        .verify_member(desk.request(VerifyMemberRequest {
            member_id: created.id.clone(),
            host_club: BETA.into(),
            date: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(verify.code(), Code::NotFound, "{verify:?}");
    let resolve = client
        .resolve_member(desk.request(GetMemberRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(resolve.code(), Code::FailedPrecondition);
    assert!(resolve.message().contains("has been erased"), "{resolve:?}");
    let update = client
        .update_member(club_admin(ALPHA).request(UpdateMemberRequest {
            id: created.id.clone(),
            status: "active".into(),
            valid_until: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::FailedPrecondition);

    // The erased member's number is free again for the club.
    let successor = harness
        .create(&club_admin(ALPHA), ada())
        .await
        .member
        .unwrap();
    assert_eq!(successor.membership_number, "A-1001");
    assert_ne!(successor.member_ref, created.member_ref);

    harness.stop().await;
}

/// The reason a verification gives for `member` at BETA, and the chaincode's answer to checking them in
/// there: both refuse, and for the same reason, or the verification admits and the check-in passes (and
/// the visit is checked out again).
async fn verify_then_check_in(harness: &Harness, member: &MemberWrite) -> (String, Option<String>) {
    let record = member.member.as_ref().expect("member");
    let desk = front_desk(BETA);
    let verification = harness.verify(&desk, &record.id, BETA).await;
    assert_eq!(verification.admissible, verification.reason.is_empty());
    let visit_id = new_uuid();
    let visit = json!({
        "visit_id": visit_id,
        "member_ref": record.member_ref,
        "host_club": BETA,
        "visit_date": today(),
    });
    let refused = match harness
        .chain
        .submit(&desk, "CheckIn", vec![visit.to_string()])
        .await
    {
        Ok(_) => {
            let out = harness
                .chain
                .submit(&desk, "CheckOut", vec![visit_id])
                .await
                .expect("CheckOut");
            harness.chain.wait_for(out.block_number).await.unwrap();
            None
        }
        Err(status) => {
            assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
            Some(status.message().to_owned())
        }
    };
    match &refused {
        None => assert!(verification.admissible, "{verification:?}"),
        Some(message) => assert!(
            !verification.admissible && message.ends_with(&verification.reason),
            "the chaincode said {message:?}, the verification {:?}",
            verification.reason
        ),
    }
    (verification.reason, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_refuses_what_check_in_refuses() {
    let harness = Harness::start("member_verify_rules").await;
    let chain = &harness.chain;
    let submit = |caller: Caller, function: &'static str, args: Vec<String>| async move {
        let written = chain
            .submit(&caller, function, args)
            .await
            .unwrap_or_else(|status| panic!("{function}: {status:?}"));
        chain.wait_for(written.block_number).await.unwrap();
    };
    // Ada lives where club-beta is (GB-LND); Bob does not.
    let ada_write = harness.create(&club_admin(ALPHA), ada()).await;
    let bob = harness
        .create(
            &club_admin(ALPHA),
            CreateMemberRequest {
                name: "Bob Tallow".into(),
                email: "bob.tallow@example.org".into(),
                membership_number: "A-1002".into(),
                residency_zone: "FR-PAR".into(),
                ..ada()
            },
        )
        .await;
    let terms = json!({
        "max_visits_per_month": 5,
        "max_visits_per_year": 20,
        "max_stay_days": 3,
        "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 1500, "per_guest_minor": 500, "currency": "EUR"},
        "settlement": "bill_home_club",
        "residency_exclusion": true,
        "valid_from": "2020-01-01",
        "valid_until": "2099-12-31"
    });
    let proposal = json!({"agreement_id": "ag-rules", "counterparty_club": BETA, "terms": terms});
    submit(
        club_admin(ALPHA),
        "ProposeAgreement",
        vec![proposal.to_string()],
    )
    .await;
    let (reason, _) = verify_then_check_in(&harness, &ada_write).await;
    assert_eq!(
        reason, "agreement ag-rules is proposed",
        "a proposal is not an agreement yet"
    );
    submit(club_admin(BETA), "AcceptAgreement", vec!["ag-rules".into()]).await;

    let (reason, refused) = verify_then_check_in(&harness, &ada_write).await;
    assert_eq!(
        reason,
        "members residing in GB-LND cannot visit club-beta under the residency exclusion"
    );
    assert!(refused.is_some());
    let (reason, refused) = verify_then_check_in(&harness, &bob).await;
    assert!(reason.is_empty() && refused.is_none(), "{reason}");

    // A suspended agreement admits nobody until the suspending party resumes it.
    submit(
        club_admin(BETA),
        "SuspendAgreement",
        vec!["ag-rules".into(), "renovation".into()],
    )
    .await;
    let (reason, refused) = verify_then_check_in(&harness, &bob).await;
    assert_eq!(reason, "agreement ag-rules is suspended");
    assert!(refused.is_some());
    submit(club_admin(BETA), "ResumeAgreement", vec!["ag-rules".into()]).await;

    // Once the host has recorded the month as settled, visits billed to the home club wait for the next.
    let settlement = json!({
        "host_club": BETA,
        "home_club": ALPHA,
        "month": &today()[..7],
        "reference": "INV-2026-7",
    });
    submit(
        club_admin(BETA),
        "RecordSettlement",
        vec![settlement.to_string()],
    )
    .await;
    let (reason, refused) = verify_then_check_in(&harness, &bob).await;
    assert_eq!(
        reason,
        format!(
            "{} is already settled between club-beta and club-alpha (reference INV-2026-7)",
            &today()[..7]
        )
    );
    assert!(refused.is_some());

    // The network suspends the home club by a vote it takes no part in.
    let suspend = json!({
        "proposal_id": "suspend-alpha",
        "kind": "suspend_club",
        "payload": {"club_id": ALPHA, "reason": "unpaid dues"},
    });
    submit(
        club_admin(BETA),
        "CreateProposal",
        vec![suspend.to_string()],
    )
    .await;
    submit(
        club_admin(BETA),
        "CastVote",
        vec!["suspend-alpha".into(), "yes".into()],
    )
    .await;
    submit(
        club_admin(BETA),
        "CloseProposal",
        vec!["suspend-alpha".into()],
    )
    .await;
    let (reason, refused) = verify_then_check_in(&harness, &bob).await;
    assert_eq!(reason, "home club club-alpha is suspended");
    assert!(refused.is_some());

    harness.stop().await;
}
