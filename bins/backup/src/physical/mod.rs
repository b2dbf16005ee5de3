//! The physical method: a hot copy of a MariaDB 10.8+ data directory
//! (InnoDB files plus the redo written during the copy), prepared by a
//! throwaway stock server's own crash recovery; on MySQL 8.0.17+ the
//! server's own clone, recovered and checksummed at backup time
//! ([`clone`]).
//!
//! [`redo`] knows the redo log format, [`pages`] the page checksums,
//! [`io`] reads with O_DIRECT, [`copy`] takes the backup (with
//! [`snapshot`] reading the tables' checksums at the backup point),
//! [`prepare`] turns a set back into a recovered data directory (given to
//! its [`owner`]), and [`verify`] proves a set restorable. The logical
//! method is its sibling, [`crate::logical`].

pub mod clone;
pub mod copy;
pub mod io;
pub mod owner;
pub mod pages;
pub mod prepare;
pub mod redo;
pub mod snapshot;
pub mod verify;

pub use verify::verify;
