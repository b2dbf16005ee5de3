//! oxkit: the library every oxkit tool links.
//!
//! Data flows one way: a tool turns its arguments into a checked config
//! ([`cli`], [`dsn`], [`optfile`], [`filter`]) without touching the
//! network, connects ([`conn`], passwords held as a [`Secret`]), learns
//! what the server is ([`server`]) and where it sits ([`topology`]), walks
//! its schema ([`schema`]) in index-ordered chunks ([`nibble`]) that it
//! checksums ([`checksum`]) or copies, pausing between chunks as
//! [`throttle`] says, opens consistent snapshots at one replication
//! position ([`snapshot`]) or follows row changes in the binary log
//! ([`binlog`]), quotes every identifier and value through [`sql`], and
//! reports through [`report`] and [`progress`] with an [`exit::Exit`]
//! status; [`entry`] runs all of that in one `main`. [`sandbox`] starts
//! throwaway servers for tests, the demo and backup verification; [`hex`]
//! is the one hexadecimal codec.

pub mod binlog;
pub mod checksum;
pub mod cli;
pub mod conn;
pub mod dsn;
pub mod entry;
pub mod exit;
pub mod filter;
pub mod hex;
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
