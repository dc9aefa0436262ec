pub mod guests;
pub mod host;
pub mod redis;
pub mod xrpl_bench;
