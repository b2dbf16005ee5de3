//! The logical method: definitions and rows through SQL, read in
//! consistent snapshots that all sit at one binary log position, loaded
//! back with `LOAD DATA LOCAL INFILE`. Works on any MySQL or MariaDB.
//!
//! [`backup`] takes a set: [`point`] fixes the consistent point across the
//! worker sessions, [`schema`] reads the definitions, [`dump`] writes the
//! rows as key-range data files with their counts and checksums, and
//! [`warm`] keeps the buffer pool's page list. [`restore`] loads a set into
//! a running server or a new data directory; [`verify`] proves one
//! restorable in a throwaway server. The physical method is its sibling,
//! [`crate::physical`]; what both share (the repository, the manifest, the
//! verdict) lives at the crate's top.

pub mod backup;
pub mod dump;
pub mod point;
pub mod restore;
pub mod schedule;
pub mod schema;
pub mod verify;
pub mod warm;

pub use backup::{backup, BackupOptions};
