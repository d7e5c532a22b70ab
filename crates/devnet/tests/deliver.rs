//! Deliver and DeliverFiltered as a Fabric peer answers them: statuses for bad requests, NOT_FOUND for a
//! start past the height, filtered blocks with ids, codes and payload-free events, and SUCCESS after the
//! stop block.

mod support;

use fabric_protos::common::Status;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified, seek_info, seek_position};
use fabric_protos::protos::deliver_client::DeliverClient;
use fabric_protos::protos::{DeliverResponse, deliver_response};
use fabric_sdk::gateway::signed_seek_envelope;
use fabric_sdk::msp::MspFolder;
use support::TestNetwork;

fn specified(number: u64) -> Option<SeekPosition> {
    Some(SeekPosition {
        r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
    })
}

fn seek(start: u64, stop: u64) -> SeekInfo {
    SeekInfo {
        start: specified(start),
        stop: specified(stop),
        behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
        ..SeekInfo::default()
    }
}

async fn responses(
    network: &TestNetwork,
    user: &str,
    seek: SeekInfo,
    filtered: bool,
) -> Vec<DeliverResponse> {
    let layout = &network.devnet.as_ref().unwrap().layout;
    let signing = MspFolder::load(&layout.user_msp(user), "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();
    let envelope = signed_seek_envelope(
        "reciprocal",
        &signing.identity().serialize(),
        signing.signer().as_ref(),
        &seek,
        None,
    )
    .unwrap();
    let mut client = DeliverClient::new(network.channel().await);
    let request = tokio_stream::iter(vec![envelope]);
    let mut stream = if filtered {
        client.deliver_filtered(request).await.unwrap().into_inner()
    } else {
        client.deliver(request).await.unwrap().into_inner()
    };
    let mut out = Vec::new();
    while let Some(response) = stream.message().await.unwrap() {
        let done = matches!(response.r#type, Some(deliver_response::Type::Status(_)));
        out.push(response);
        if done {
            break;
        }
    }
    out
}

fn status_of(responses: &[DeliverResponse]) -> Option<i32> {
    match responses.last()?.r#type {
        Some(deliver_response::Type::Status(status)) => Some(status),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_answers_like_a_peer() {
    let network = TestNetwork::start("deliver").await;
    let admin = network.gateway("networkadmin").await;
    let submitted = admin
        .network("reciprocal")
        .contract("reciprocal")
        .submit(
            "CreateClub",
            fabric_sdk::gateway::TransactionOptions::with_args(&[
                r#"{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}"#,
            ]),
        )
        .await
        .unwrap();
    assert_eq!(submitted.block_number, 1);

    // Blocks 0..=1, then SUCCESS.
    let full = responses(&network, "networkadmin", seek(0, 1), false).await;
    assert_eq!(full.len(), 3);
    assert_eq!(status_of(&full), Some(Status::Success as i32));

    // Filtered: tx id, code and the event without its payload.
    let filtered = responses(&network, "frontdesk-alpha", seek(1, 1), true).await;
    let Some(deliver_response::Type::FilteredBlock(block)) = &filtered[0].r#type else {
        panic!("expected a filtered block: {filtered:?}");
    };
    assert_eq!((block.number, block.channel_id.as_str()), (1, "reciprocal"));
    let tx = &block.filtered_transactions[0];
    assert_eq!(tx.txid, submitted.tx_id);
    assert_eq!(tx.tx_validation_code, 0);
    let Some(fabric_protos::protos::filtered_transaction::Data::TransactionActions(actions)) =
        &tx.data
    else {
        panic!("expected actions");
    };
    let event = actions.chaincode_actions[0]
        .chaincode_event
        .as_ref()
        .unwrap();
    assert_eq!(event.event_name, "ClubAdmitted");
    assert!(event.payload.is_empty());

    // A start past the height is NOT_FOUND at once; stop before start is BAD_REQUEST.
    assert_eq!(
        status_of(&responses(&network, "networkadmin", seek(5, 9), false).await),
        Some(Status::NotFound as i32)
    );
    assert_eq!(
        status_of(&responses(&network, "networkadmin", seek(1, 0), false).await),
        Some(Status::BadRequest as i32)
    );
    // FAIL_IF_NOT_READY past the tip: NOT_FOUND after the available blocks.
    let mut not_ready = seek(1, 5);
    not_ready.behavior = seek_info::SeekBehavior::FailIfNotReady as i32;
    let answered = responses(&network, "networkadmin", not_ready, false).await;
    assert_eq!(
        (answered.len(), status_of(&answered)),
        (2, Some(Status::NotFound as i32))
    );
    network.stop().await;
}
