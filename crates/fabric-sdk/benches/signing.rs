//! Signing and verification rates of the SDK's ECDSA P-256 signer (single thread), printed as a table.
//! Run with `cargo bench -p fabric-sdk --bench signing`.

use std::time::{Duration, Instant};

use fabric_sdk::signer::{EcdsaP256Signer, Signer, verify};

fn rate(duration: Duration, mut operation: impl FnMut()) -> (u64, f64) {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        for _ in 0..100 {
            operation();
        }
        count += 100;
    }
    (count, count as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let duration = Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(3),
    );
    let Ok((signer, _)) = EcdsaP256Signer::generate() else {
        eprintln!("could not generate a key");
        std::process::exit(1);
    };
    // A proposal-sized message.
    let message = vec![0x5a_u8; 1024];
    let Ok(signature) = signer.sign(&message) else {
        eprintln!("could not sign");
        std::process::exit(1);
    };
    let (signs, sign_rate) = rate(duration, || {
        let _ = std::hint::black_box(signer.sign(std::hint::black_box(&message)));
    });
    let (verifies, verify_rate) = rate(duration, || {
        let _ = std::hint::black_box(verify(signer.public_key(), &message, &signature));
    });
    println!("| operation (ECDSA P-256, SHA-256, 1 KiB message, 1 thread) | ops | ops/s | µs/op |");
    println!("|---|---:|---:|---:|");
    println!(
        "| sign (low-S normalised, DER) | {signs} | {sign_rate:.0} | {:.1} |",
        1e6 / sign_rate
    );
    println!(
        "| verify (low-S enforced) | {verifies} | {verify_rate:.0} | {:.1} |",
        1e6 / verify_rate
    );
}
