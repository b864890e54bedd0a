//! Resolving a relative path inside a directory for real: every symbolic link on the way is
//! followed (relative or absolute, dangling or not) and the place it leads to must be inside
//! the directory's real path. The result does not depend on the working directory beyond
//! what `base` itself means.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::FileError;

/// Links followed before giving up, as the kernel's `ELOOP` limit.
const MAX_LINKS: usize = 40;

/// Whether `relative` is a non-empty path of plain names (no root, no `..`): the only form
/// a file may use to name another file beside it.
pub(crate) fn is_plain_relative(relative: &Path) -> bool {
    !relative.as_os_str().is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The real path `relative` names inside `base`, following every link; a path that is not
/// plain ([`is_plain_relative`]) or that leads outside `base` is [`FileError::Escapes`].
/// Components that do not exist yet are kept as written (nothing can redirect them until
/// they are created). `base` empty means the working directory.
pub(crate) fn resolve_inside(base: &Path, relative: &Path) -> Result<PathBuf, FileError> {
    let escapes = || FileError::Escapes {
        path: base.join(relative),
        base: base.to_path_buf(),
    };
    if !is_plain_relative(relative) {
        return Err(escapes());
    }
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let root = base
        .canonicalize()
        .map_err(|e| FileError::io(base, "resolve", e))?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_front(&mut pending, relative);
    let mut current = root.clone();
    let mut missing = false;
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_encoded_bytes() {
            b"" | b"." => continue,
            b"/" => {
                current = PathBuf::from("/");
                continue;
            }
            b".." => {
                current.pop();
                continue;
            }
            _ => current.push(&part),
        }
        if missing {
            continue;
        }
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(FileError::io(
                        &current,
                        "resolve",
                        io::Error::new(io::ErrorKind::InvalidInput, "too many symbolic links"),
                    ));
                }
                let target = std::fs::read_link(&current)
                    .map_err(|e| FileError::io(&current, "read link", e))?;
                current.pop();
                push_front(&mut pending, &target);
            }
            Ok(_) => {}
            // What does not exist (or sits under a non-directory) cannot redirect anything.
            Err(_) => missing = true,
        }
    }
    if current.starts_with(&root) {
        Ok(current)
    } else {
        Err(escapes())
    }
}

/// Queues the components of `path` ahead of what is pending (a root as `/`).
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
    for component in path.components().rev() {
        let part = match component {
            Component::RootDir | Component::Prefix(_) => OsString::from("/"),
            Component::CurDir => continue,
            Component::ParentDir => OsString::from(".."),
            Component::Normal(name) => name.to_os_string(),
        };
        pending.push_front(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::TempDir;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_followed_wherever_they_lead() {
        let outer = TempDir::new("confine");
        let base = outer.path("base");
        std::fs::create_dir_all(base.join("sub")).unwrap();
        std::fs::create_dir_all(outer.path("outside")).unwrap();
        symlink(outer.path("outside"), base.join("abs_out")).unwrap();
        symlink("../outside", base.join("rel_out")).unwrap();
        symlink("sub", base.join("in")).unwrap();
        symlink("../base/sub", base.join("out_and_back")).unwrap();
        symlink("/nonexistent/dir", base.join("dangling_out")).unwrap();
        symlink("sub/later", base.join("dangling_in")).unwrap();
        symlink("loop", base.join("loop")).unwrap();
        let real = base.canonicalize().unwrap();
        for (rel, inside) in [
            ("x", Some("x")),
            ("sub/x", Some("sub/x")),
            ("in/x", Some("sub/x")),
            ("out_and_back/x", Some("sub/x")),
            ("dangling_in", Some("sub/later")),
            ("new/dir/x", Some("new/dir/x")),
            ("abs_out/x", None),
            ("rel_out/x", None),
            ("rel_out", None),
            ("dangling_out", None),
            ("../base/x", None),
            ("/etc/passwd", None),
            ("", None),
        ] {
            let got = resolve_inside(&base, Path::new(rel));
            match inside {
                Some(expected) => assert_eq!(got.unwrap(), real.join(expected), "{rel}"),
                None => assert!(matches!(got, Err(FileError::Escapes { .. })), "{rel}"),
            }
        }
        assert!(matches!(
            resolve_inside(&base, Path::new("loop")),
            Err(FileError::Io { .. })
        ));
    }
}
