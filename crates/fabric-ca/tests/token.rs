//! The token as Fabric CA 1.5 verifies it (`util.VerifyToken`): exact message strings, and tokens made by
//! `fabric_ca::token::create` checked here independently (message rebuilt by hand, signature checked
//! with ring against the certificate's key as x509-parser reads it, low-S required).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fabric_ca::token::{self, TokenError};
use fabric_sdk::signer::{EcdsaP256Signer, Signer, VerifyError};
use x509_parser::prelude::FromDer;

/// A fixed P-256 key and a certificate for it (CN=token-test), made once with openssl.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/lk/tqcMPPLEA6uh
fkvbw8ofpIwOh8cicgeCeA2sjj2hRANCAATpjjMjCX2hc4xvOW+o6MumX0DfJK1t
vCzgz1sinko6AzDaRkZSqfs78BclA7NRYF5EPTBcOzNinnKHsz11DCFt
-----END PRIVATE KEY-----
";
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBozCCAUmgAwIBAgIUG5sYgVoWbBQ9SX0TMSPBp0Tg6HUwCgYIKoZIzj0EAwIw
JjEPMA0GA1UECwwGY2xpZW50MRMwEQYDVQQDDAp0b2tlbi10ZXN0MCAXDTI2MTIw
NDE1MTYzOFoYDzIxMjYxMTEwMTUxNjM4WjAmMQ8wDQYDVQQLDAZjbGllbnQxEzAR
BgNVBAMMCnRva2VuLXRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATpjjMj
CX2hc4xvOW+o6MumX0DfJK1tvCzgz1sinko6AzDaRkZSqfs78BclA7NRYF5EPTBc
OzNinnKHsz11DCFto1MwUTAdBgNVHQ4EFgQUAGXP6CJUb8HRJ78koalUrqQSI5Uw
HwYDVR0jBBgwFoAUAGXP6CJUb8HRJ78koalUrqQSI5UwDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNIADBFAiAYsmWW9cGF8Fk+qUgQhg3UJ7YoSKaZJbPenF76
vkWdTwIhAJuKDLSLiQuLsDXTaYQLq6YlTKi4mB/AF1IhN1rgU+Iq
-----END CERTIFICATE-----
";

fn signer() -> EcdsaP256Signer {
    EcdsaP256Signer::from_pkcs8_pem(KEY_PEM.as_bytes()).unwrap()
}

/// The certificate's public key point, read with x509-parser.
fn public_key() -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(CERT_PEM.as_bytes()).unwrap();
    let (_, certificate) =
        x509_parser::certificate::X509Certificate::from_der(&pem.contents).unwrap();
    certificate.public_key().subject_public_key.data.to_vec()
}

/// Verifies as the CA does, written out here: rebuild the message from the request, check low-S, then
/// ECDSA P-256 / SHA-256 with ring.
fn ca_accepts(token: &str, method: &str, uri: &str, body: &[u8]) -> bool {
    let Some((b64_cert, b64_signature)) = token.split_once('.') else {
        return false;
    };
    if b64_signature.contains('.')
        || STANDARD.decode(b64_cert).ok().as_deref() != Some(CERT_PEM.as_bytes())
    {
        return false;
    }
    let Ok(signature) = STANDARD.decode(b64_signature) else {
        return false;
    };
    let message = format!(
        "{method}.{}.{}.{b64_cert}",
        STANDARD.encode(uri),
        STANDARD.encode(body)
    );
    fabric_sdk::signer::is_low_s(&signature).unwrap_or(false)
        && ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            public_key(),
        )
        .verify(message.as_bytes(), &signature)
        .is_ok()
}

#[test]
fn message_strings_are_exactly_fabric_cas() {
    // GET with a query: the query is part of the signed URI; an empty body encodes as "".
    assert_eq!(
        token::message("GET", "/identities?ca=ca-org1", b"", b"CERT"),
        "GET.L2lkZW50aXRpZXM/Y2E9Y2Etb3JnMQ==..Q0VSVA=="
    );
    // POST with a body.
    assert_eq!(
        token::message("POST", "/register", br#"{"id":"x"}"#, b"CERT"),
        "POST.L3JlZ2lzdGVy.eyJpZCI6IngifQ==.Q0VSVA=="
    );
    // A base URL ending in /api/v1 puts the prefix into the request URI, and so into the message.
    assert_eq!(
        token::message("POST", "/api/v1/register", br#"{"id":"x"}"#, b"CERT"),
        "POST.L2FwaS92MS9yZWdpc3Rlcg==.eyJpZCI6IngifQ==.Q0VSVA=="
    );
    // The 1.3 compatibility form: body and certificate only.
    assert_eq!(
        token::message_v1_3(br#"{"id":"x"}"#, b"CERT"),
        "eyJpZCI6IngifQ==.Q0VSVA=="
    );
}

#[test]
fn tokens_verify_the_way_the_ca_verifies_them() {
    let signer = signer();
    let body = br#"{"id":"clubadmin-alpha","type":"client","affiliation":""}"#;
    for _ in 0..50 {
        let token = token::create(CERT_PEM.as_bytes(), &signer, "POST", "/register", body).unwrap();
        let (b64_cert, b64_signature) = token.split_once('.').unwrap();
        assert_eq!(STANDARD.decode(b64_cert).unwrap(), CERT_PEM.as_bytes());
        let signature = STANDARD.decode(b64_signature).unwrap();
        assert!(fabric_sdk::signer::is_low_s(&signature).unwrap());
        assert!(ca_accepts(&token, "POST", "/register", body));
        // Bound to method, URI (path, prefix and query) and body.
        assert!(!ca_accepts(&token, "PUT", "/register", body));
        assert!(!ca_accepts(&token, "POST", "/api/v1/register", body));
        assert!(!ca_accepts(&token, "POST", "/register?ca=ca-org1", body));
        assert!(!ca_accepts(&token, "POST", "/register", b"{}"));
        // The library's own verifier agrees.
        assert_eq!(
            token::verify(&token, "POST", "/register", body, false).unwrap(),
            CERT_PEM.as_bytes()
        );
    }
    let get = token::create(
        CERT_PEM.as_bytes(),
        &signer,
        "GET",
        "/identities?ca=ca-org1",
        b"",
    )
    .unwrap();
    assert!(ca_accepts(&get, "GET", "/identities?ca=ca-org1", b""));
    assert!(!ca_accepts(&get, "GET", "/identities", b""));
}

#[test]
fn the_verifier_refuses_what_the_ca_refuses() {
    let signer = signer();
    let body = b"{}";
    let token = token::create(CERT_PEM.as_bytes(), &signer, "POST", "/revoke", body).unwrap();
    let (b64_cert, b64_signature) = token.split_once('.').unwrap();

    // Wrong URI, body or method.
    assert!(matches!(
        token::verify(&token, "POST", "/register", body, false),
        Err(TokenError::Signature(VerifyError::Mismatch))
    ));
    // The high-S twin of a valid signature: mathematically valid, refused.
    let (r, s) =
        fabric_sdk::signer::parse_der_signature(&STANDARD.decode(b64_signature).unwrap()).unwrap();
    let mut high_s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(fabric_sdk::signer::P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        high_s[i] = digit as u8;
    }
    let twin = format!(
        "{b64_cert}.{}",
        STANDARD.encode(fabric_sdk::signer::encode_der_signature(&r, &high_s))
    );
    assert!(!ca_accepts(&twin, "POST", "/revoke", body));
    assert!(matches!(
        token::verify(&twin, "POST", "/revoke", body, false),
        Err(TokenError::Signature(VerifyError::HighS))
    ));
    // Malformed tokens.
    for bad in [
        "",
        "abc",
        "a.b.c",
        &format!("{b64_cert}.%%%"),
        &format!("Q0VSVA==.{b64_signature}"),
    ] {
        assert!(
            token::verify(bad, "POST", "/revoke", body, false).is_err(),
            "{bad}"
        );
    }

    // A 1.3-style token (body and certificate only) passes only in compatibility mode.
    let legacy_signature = signer
        .sign(token::message_v1_3(body, CERT_PEM.as_bytes()).as_bytes())
        .unwrap();
    let legacy = format!("{b64_cert}.{}", STANDARD.encode(legacy_signature));
    assert!(token::verify(&legacy, "POST", "/revoke", body, false).is_err());
    assert!(token::verify(&legacy, "POST", "/revoke", body, true).is_ok());
}
