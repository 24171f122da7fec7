//! Verifying (and, for demos and tests, minting) the chat's JSON Web Tokens.
//!
//! HS256 only, and the verifier says so: a verifier that trusted the token's own `alg` header
//! would accept `alg: none` (no signature at all) or, with public keys, an HMAC signed with the
//! public key (RFC 8725, sections 2.1 and 3.1). `exp`, `aud` and `sub` are required: a token
//! without an expiry would be valid forever.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::claims::{Claims, Role};

/// Why a token was refused: the `reason` the client reads in `CONNECT_ERROR`'s data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("missing")]
    Missing,
    #[error("expired")]
    Expired,
    /// A wrong signature, another algorithm (`none` included), or not a JWT at all.
    #[error("bad signature")]
    BadSignature,
    #[error("wrong audience")]
    WrongAudience,
    #[error("revoked")]
    Revoked,
    /// The revocation list could not be read (Redis away) where that must refuse.
    #[error("revocation list unavailable")]
    Unverifiable,
}

impl Rejection {
    /// The reason as sent on the wire.
    pub fn reason(self) -> String {
        self.to_string()
    }
}

/// How much clock difference between the issuer and this server is tolerated, in seconds.
/// jsonwebtoken's default is 60 s; a chat token lives minutes, so a few seconds is enough.
const LEEWAY_SECS: u64 = 5;

/// Checks tokens signed with one shared secret, for one audience.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn new(secret: &[u8], audience: &str) -> Verifier {
        Verifier {
            key: DecodingKey::from_secret(secret),
            validation: validation(audience),
        }
    }

    /// The token's claims, or why it is refused (revocation is checked elsewhere: it needs
    /// the shared list).
    pub fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        if token.is_empty() {
            return Err(Rejection::Missing);
        }
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| rejection(&error))
    }
}

/// What a token must be: HS256 and nothing else, for `audience`, with `exp`, `aud` and `sub`.
// ANCHOR: validation
fn validation(audience: &str) -> Validation {
    // Step 2: accept HS256 only, for this audience, with exp, aud and sub required.
    // A token signed with another algorithm (`none` included), minted for another audience, or
    // without an expiry is refused. Allow a few seconds of clock difference (`LEEWAY_SECS`).
    todo!(
        "step 2: accept HS256 only, for this audience, with exp, aud and sub required (book: 04-security/authentication.md)"
    )
}
// ANCHOR_END: validation

/// The reason a client is told for a token jsonwebtoken refused.
// ANCHOR: rejection
fn rejection(error: &jsonwebtoken::errors::Error) -> Rejection {
    // Step 2: tell why jsonwebtoken refused the token.
    // The client reads the reason: `expired`, `wrong audience`, or `bad signature` for anything else.
    todo!("step 2: tell why jsonwebtoken refused the token (book: 04-security/authentication.md)")
}
// ANCHOR_END: rejection

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A signed token (HS256) for `sub` with `role`, valid `ttl_secs` from now: what an identity
/// provider would issue. Used by `cargo xtask token` and the tests.
pub fn mint(secret: &[u8], audience: &str, sub: &str, role: Role, ttl_secs: i64) -> String {
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        exp: now_secs().saturating_add_signed(ttl_secs),
        aud: audience.to_owned(),
        jti: crate::random_id(),
    };
    sign(secret, &claims)
}

/// Signs `claims` with HS256.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing of serialisable claims cannot fail")
}
