//! What a token says about its bearer: the claims the chat server reads.
//!
//! `sub` names the user (limits are counted per user), `role` decides who may enter `/admins`,
//! `exp` and `aud` bound where and until when the token is valid, and `jti` names this one
//! token so it can be revoked before it expires.

use serde::{Deserialize, Serialize};

/// Who may do what. `admin` may also join `/admins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// The claims of a chat token (RFC 7519 names, plus `role`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user: one person, however many connections.
    pub sub: String,
    pub role: Role,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// The service this token is for; a token minted for another service is refused.
    pub aud: String,
    /// This token's id, for the revocation list.
    pub jti: String,
}
