//! The HTTP API (REST + WebSocket): authentication and the error responses.
pub mod auth;
pub mod error;
