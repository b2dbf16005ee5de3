//! One function per action, each with the rendering of what it prints
//! beside it: [`backup`], [`list`], [`check`], [`expire`], [`restore`],
//! [`verify`] and [`binlog`]. Each takes the checked configuration, works
//! through the methods ([`crate::logical`], [`crate::physical`]) and the
//! catalogue, prints its report on stdout through `oxkit::report` (text,
//! or one JSON document with `--format json`), warnings through `log`,
//! and returns the exit status.

pub mod backup;
pub mod binlog;
pub mod check;
pub mod expire;
pub mod list;
pub mod restore;
pub mod verify;

/// Prints what the server or the copy warned about, one line each.
fn warn_all(warnings: &[String]) {
    for w in warnings {
        log::warn!("{w}");
    }
}
