//! oxkit: the library every oxkit tool links.
//!
//! Data flows one way: a tool turns its arguments into a checked config
//! ([`cli`], [`dsn`], [`optfile`]) without touching the network, connects
//! ([`conn`]), learns what the server is ([`server`]), walks its schema
//! ([`schema`]) in index-ordered chunks ([`nibble`]) that it checksums
//! ([`checksum`]) or copies, pausing between chunks as [`throttle`] says,
//! and topology ([`topology`]), and reports through [`report`]
//! with an [`exit::Exit`] status; [`entry`] runs all of that in one `main`.
//! [`sandbox`] starts throwaway servers for tests, the demo and backup
//! verification.

pub mod binlog;
pub mod checksum;
pub mod cli;
pub mod conn;
pub mod dsn;
pub mod entry;
pub mod exit;
pub mod filter;
pub mod nibble;
pub mod optfile;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod secret;
pub mod server;
pub mod snapshot;
pub mod sql;
pub mod throttle;
pub mod topology;

pub use exit::Exit;
pub use secret::Secret;
