//! `cargo xtask token --sub NAME --role ROLE`: a chat token for demos, as an identity provider
//! would issue it (HS256, with `sub`, `role`, `exp`, `aud` and `jti`), for chapter 4's server
//! started with the same `--jwt-secret`.
//!
//! The claims are chapter 4's (`solutions/04-security/src/claims.rs`); written again here so the
//! course's command line does not build the chapter's whole server.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

#[derive(Args)]
pub struct TokenArgs {
    /// The user the token names (its `sub`).
    #[arg(long)]
    sub: String,
    /// `user`, or `admin` (who may join `/admins`).
    #[arg(long, default_value = "user")]
    role: String,
    /// The server's secret: the same as its `--jwt-secret`.
    #[arg(long, env = "JWT_SECRET")]
    secret: Option<String>,
    /// The audience the server expects (its `--jwt-audience`).
    #[arg(long, default_value = "chat")]
    audience: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'a str,
    exp: u64,
    aud: &'a str,
    jti: String,
}

pub fn run(args: TokenArgs) -> Result<()> {
    if args.role != "user" && args.role != "admin" {
        bail!("--role is `user` or `admin`, not {:?}", args.role);
    }
    let Some(secret) = args.secret.filter(|s| !s.is_empty()) else {
        bail!(
            "no secret: pass --secret SECRET or set JWT_SECRET, the same the server was started \
             with (`cargo run -p lab-04-security -- --jwt-secret SECRET`)"
        );
    };
    println!(
        "{}",
        sign(&args.sub, &args.role, &secret, &args.audience, args.ttl)?
    );
    Ok(())
}

/// A token for `sub` with `role`, minted for `audience`, valid `ttl` seconds from now.
pub fn sign(sub: &str, role: &str, secret: &str, audience: &str, ttl: u64) -> Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let claims = Claims {
        sub,
        role,
        exp: now.as_secs() + ttl,
        aud: audience,
        // Unique per token even when many are minted in the same nanosecond (the bench's).
        jti: format!("{:x}{:x}-{sub}", now.as_nanos(), std::process::id()),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .context("signing the token")
}
