//! Files the app writes: every one (cases, recovery, PNG slides and views, calibration output,
//! DICOM exports) goes through [`write_atomic`], so a crash or a kill leaves either the old file
//! or the new one — never half of one — and an input is never overwritten by an output.

use std::path::Path;

/// Writes `path` through a temporary file in the same folder (so the rename stays on one file
/// system and is atomic): `write` fills it, it is fsynced, renamed over `path`, and the folder is
/// fsynced so the rename survives a crash. On any error the temporary file is removed and `path`
/// is untouched. A process killed mid-write leaves only a hidden `.NAME.tmp-PID-N` file beside
/// `path`.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let written = write(&mut f).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Persist the directory entry (POSIX); opening a directory fails on some platforms, where the
    // rename is still atomic, just not yet durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`write_atomic`] of a byte buffer.
pub fn write_atomic_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, |f| std::io::Write::write_all(f, bytes))
}

/// Whether `a` and `b` name the same existing file (same device and inode on Unix, the same
/// canonical path elsewhere): `compute x.json --png x.json` must not replace its own case.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
        false
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(ca), Ok(cb)) => ca == cb,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn failed_write_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.json");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomic(&path, |f| {
            f.write_all(b"half a ")?;
            Err(std::io::Error::other("simulated crash"))
        })
        .expect_err("the writer fails");
        assert!(err.to_string().contains("simulated crash"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn same_file_sees_through_other_spellings_of_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("case.json");
        std::fs::write(&a, "{}").unwrap();
        let spelled = dir.path().join(".").join("case.json");
        assert!(same_file(&a, &spelled));
        assert!(
            !same_file(&a, &dir.path().join("slide.png")),
            "a missing file is not the input"
        );
        let b = dir.path().join("other.json");
        std::fs::write(&b, "{}").unwrap();
        assert!(!same_file(&a, &b));
    }
}
