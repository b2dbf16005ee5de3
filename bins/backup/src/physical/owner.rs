//! Who owns a physical restore's files: a server refuses a data directory
//! it cannot write, so when the tool runs as root the restored files are
//! handed to `--owner USER[:GROUP]`, or by default to the owner of the
//! target directory (when it existed, empty) or of its parent.

use anyhow::{bail, Context as _, Result};
use nix::unistd::{Gid, Group, Uid, User};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// A user and group to give the files to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// How it was named.
    pub name: String,
}

impl Owner {
    /// `name (uid:gid)`.
    pub fn describe(&self) -> String {
        format!("{} ({}:{})", self.name, self.uid, self.gid)
    }
}

fn parse(spec: &str) -> Result<Owner> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = match u.parse::<u32>() {
        Ok(id) => User::from_uid(Uid::from_raw(id)).ok().flatten(),
        Err(_) => User::from_name(u).ok().flatten(),
    };
    let Some(user) = user else {
        bail!("--owner {spec}: no such user {u:?} on this host");
    };
    let gid = match g {
        None => user.gid.as_raw(),
        Some(g) => match g.parse::<u32>() {
            Ok(id) => id,
            Err(_) => Group::from_name(g)
                .ok()
                .flatten()
                .map(|x| x.gid.as_raw())
                .with_context(|| format!("--owner {spec}: no such group {g:?} on this host"))?,
        },
    };
    Ok(Owner {
        uid: user.uid.as_raw(),
        gid,
        name: spec.to_string(),
    })
}

/// The owner the restored files get, or None when nothing is to change
/// (not root and no `--owner`). Fails before anything is written when a
/// non-root user asks for another owner.
pub fn wanted(spec: Option<&str>, target: &Path) -> Result<Option<Owner>> {
    let root = Uid::effective().is_root();
    let o = match spec {
        Some(s) => parse(s)?,
        None => {
            if !root {
                return Ok(None);
            }
            let from = if target.exists() {
                target
            } else {
                target
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
            };
            let md = std::fs::metadata(from)
                .with_context(|| format!("reading the owner of {}", from.display()))?;
            let name = User::from_uid(Uid::from_raw(md.uid()))
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| md.uid().to_string());
            Owner {
                uid: md.uid(),
                gid: md.gid(),
                name: format!("{name} (owner of {})", from.display()),
            }
        }
    };
    if !root && (o.uid != Uid::effective().as_raw() || o.gid != Gid::effective().as_raw()) {
        bail!(
            "--owner {}: only root can give files to another user; run the restore as root or drop --owner",
            o.name
        );
    }
    Ok(Some(o))
}

/// Gives `dir` and everything in it to `o` (symlinks themselves, not their
/// targets).
pub fn chown_tree(dir: &Path, o: &Owner) -> Result<()> {
    std::os::unix::fs::lchown(dir, Some(o.uid), Some(o.gid))
        .with_context(|| format!("changing the owner of {}", dir.display()))?;
    if std::fs::symlink_metadata(dir)?.is_dir() {
        for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            chown_tree(&e?.path(), o)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_groups() {
        let r = parse("root").expect("root");
        assert_eq!((r.uid, r.gid), (0, 0));
        let r = parse("0:0").expect("ids");
        assert_eq!((r.uid, r.gid), (0, 0));
        assert!(parse("no-such-user-oxk").is_err());
        assert!(parse("root:no-such-group-oxk").is_err());
    }
}
