//! Ingest over a Unix socket: the frame codec, the server and a Rust client.

pub mod client;
pub mod frame;
pub mod server;
