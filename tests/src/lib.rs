pub mod guests;
pub mod host;
pub mod redis;
