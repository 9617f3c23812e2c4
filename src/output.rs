//! Output files: checked before any work starts, written atomically, never over an input.
//!
//! [`check_output`] runs when arguments are validated, so a bad output path fails in
//! milliseconds instead of after a long training run. [`write_atomic`] writes a randomly
//! named temp file in the target's directory (a rename across file systems would not be
//! atomic), syncs it, renames it over the target and syncs the directory, so readers see
//! the old file or the whole new one. Temp files being written are registered so that a
//! signal handler in the binary can remove them ([`remove_pending_temp_files`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// Temp files currently being written, for removal on Ctrl-C / SIGTERM.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Checks, before any work, that `path` can be written as an output of this command.
///
/// - its extension is one of `extensions` (lower case, without the dot; empty: any);
/// - it is not a directory, and its directory exists;
/// - it is not the same file as any of `inputs` (compared by canonical path and, on Unix,
///   by device and inode, so links and `./x` spellings are caught).
pub fn check_output(path: &Path, inputs: &[&Path], extensions: &[&str], what: &str) -> Result<()> {
    check_extension(path, extensions, what)?;
    if path.is_dir() {
        bail!(
            "{what} '{}' is a directory; give a file path",
            path.display()
        );
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!(
            "cannot write {what} '{}': directory '{}' does not exist",
            path.display(),
            dir.display()
        );
    }
    for input in inputs {
        if same_file(path, input) {
            bail!(
                "{what} '{}' is the input file '{}': refusing to overwrite an input; choose another output path",
                path.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// Errors unless `path`'s extension is one of `extensions` (case-insensitive).
pub fn check_extension(path: &Path, extensions: &[&str], what: &str) -> Result<()> {
    if extensions.is_empty() {
        return Ok(());
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.as_deref().is_some_and(|e| extensions.contains(&e)) {
        return Ok(());
    }
    let list: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
    bail!(
        "{what} '{}' must end in {}",
        path.display(),
        join_alternatives(&list)
    )
}

fn join_alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The directory a path's file lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether two paths name the same existing file, or would once `output` is created.
fn same_file(output: &Path, input: &Path) -> bool {
    let Ok(input_canon) = input.canonicalize() else {
        return false;
    };
    if let Ok(out_canon) = output.canonicalize() {
        if out_canon == input_canon {
            return true;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let (Ok(a), Ok(b)) = (std::fs::metadata(output), std::fs::metadata(input)) {
                return a.dev() == b.dev() && a.ino() == b.ino();
            }
        }
        return false;
    }
    // The output does not exist yet: compare where it would be created.
    match (parent_dir(output).canonicalize(), output.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name) == input_canon,
        _ => false,
    }
}

/// Writes `contents` to `path` so that readers see either the old file or the whole new one.
///
/// Nothing half-written is ever left behind: the temp file is removed on error, on drop,
/// and by [`remove_pending_temp_files`] when the process is interrupted.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomic_via(path, |tmp| {
        std::fs::write(tmp, contents).with_context(|| format!("cannot write '{}'", path.display()))
    })
}

/// Like [`write_atomic`], for outputs too large to hold in memory: `write` is given the
/// path of a temp file beside `path` to create and fill (by any means); when it succeeds
/// the temp file is synced and renamed over `path`, else removed.
pub fn write_atomic_via(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .with_context(|| format!("cannot write '{}': not a file path", path.display()))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write '{}'", path.display()))?;
    let _registered = Registered::new(tmp.path());
    write(tmp.path())?;
    let finish = (|| -> std::io::Result<()> {
        std::fs::File::open(tmp.path())?.sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        sync_dir(dir)
    })();
    finish.with_context(|| format!("cannot write '{}'", path.display()))
}

/// Makes a rename durable: fsync the directory that holds the new entry (Unix only).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A temp file's registration in [`PENDING`] for as long as it is being written.
struct Registered(PathBuf);

impl Registered {
    fn new(path: &Path) -> Registered {
        lock_pending().push(path.to_path_buf());
        Registered(path.to_path_buf())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock_pending().retain(|p| p != &self.0);
    }
}

fn lock_pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a valid list; keep using it.
    PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temp file still being written; the binary calls this on Ctrl-C / SIGTERM.
pub fn remove_pending_temp_files() {
    for path in lock_pending().drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pending list is global: tests that write or clear it take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[test]
    fn writes_and_replaces() {
        let _turn = serial();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(lock_pending().is_empty());
    }

    #[test]
    fn leaves_nothing_on_error() {
        let _turn = serial();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("out.txt");
        let e = write_atomic(&p, b"x").unwrap_err();
        assert!(format!("{e:#}").contains("cannot write"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn pending_temp_files_are_removed_on_request() {
        let _turn = serial();
        let dir = tempfile::tempdir().unwrap();
        let stray = dir.path().join(".x.json.abc.tmp");
        std::fs::write(&stray, b"partial").unwrap();
        let reg = Registered::new(&stray);
        remove_pending_temp_files();
        assert!(!stray.exists());
        drop(reg);
    }

    #[test]
    fn output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("s.toml");
        std::fs::write(&input, b"dim = 4").unwrap();
        let spelled = dir.path().join(".").join("s.toml");
        let e = check_output(&spelled, &[&input], &["toml"], "plan").unwrap_err();
        assert!(
            e.to_string().contains("refusing to overwrite an input"),
            "{e}"
        );
        #[cfg(unix)]
        {
            let link = dir.path().join("link.toml");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(check_output(&link, &[&input], &["toml"], "plan").is_err());
        }
        let other = dir.path().join("p.toml");
        check_output(&other, &[&input], &["toml"], "plan").unwrap();
    }

    #[test]
    fn output_checks_extension_and_directory_first() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_output(&dir.path().join("x.txt"), &[], &["png", "svg"], "plot").unwrap_err();
        assert!(e.to_string().ends_with("must end in .png or .svg"), "{e}");
        let e = check_output(&dir.path().join("no/x.png"), &[], &["png"], "plot").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = check_output(dir.path(), &[], &[], "report").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
