pub mod guests;
pub mod host;
