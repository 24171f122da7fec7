//! `cargo xtask token`: the token it prints is one chapter 4's server accepts (HS256, the
//! audience, the claims), and a wrong role or a missing secret is refused with a clear message.

use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

fn xtask_token(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("token")
        .args(args)
        .env_remove("JWT_SECRET")
        .output()
        .expect("running `xtask token`")
}

#[test]
fn token_mints_an_hs256_token_with_the_chat_claims() {
    let output = xtask_token(&[
        "--sub", "alice", "--role", "admin", "--secret", "s3cret", "--ttl", "60",
    ]);
    assert!(
        output.status.success(),
        "xtask token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).expect("UTF-8");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["chat"]);
    let claims = jsonwebtoken::decode::<Value>(
        token.trim(),
        &DecodingKey::from_secret(b"s3cret"),
        &validation,
    )
    .unwrap_or_else(|e| {
        panic!("expected a valid HS256 token for audience `chat`, got {token:?}: {e}")
    })
    .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "admin");
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "a jti, to revoke it: {claims}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let exp = claims["exp"].as_u64().expect("a numeric exp");
    assert!(
        (now + 55..=now + 65).contains(&exp),
        "--ttl 60 gives exp = now + 60, got {exp} (now {now})"
    );
}

#[test]
fn token_refuses_a_wrong_role_and_a_missing_secret() {
    let wrong_role = xtask_token(&["--sub", "bob", "--role", "root", "--secret", "s"]);
    assert!(!wrong_role.status.success(), "--role root must be refused");
    assert!(String::from_utf8_lossy(&wrong_role.stderr).contains("`user` or `admin`"));
    let no_secret = xtask_token(&["--sub", "bob"]);
    assert!(!no_secret.status.success(), "no secret must be refused");
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("JWT_SECRET"));
}
