//! Socket.IO v5 / Engine.IO v4 server library for axum (work in progress).
