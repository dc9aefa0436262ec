pub mod guests;
pub mod host;
pub mod ipfs;
pub mod million_bench;
pub mod plugin_bench;
pub mod plugin_files;
pub mod ports;
pub mod redis;
pub mod service_bench;
pub mod xrpl_bench;

pub use ports::{await_ready, free_port};
