//! Files that hold BSNs are private whatever the umask: directories 0700,
//! files 0600 (the data directory, the SQLite database and its `-wal` and
//! `-shm`, spool files). On other systems than Unix nothing is changed.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn chmod(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// Creates `dir` (and its parents) when needed; `dir` itself ends 0700.
pub fn dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    chmod(dir, 0o700)
}

/// Makes sure `path` exists and is 0600 (without truncating it).
///
/// An existing file is not opened: on Unix, closing any descriptor of a file
/// drops every fcntl lock the process holds on it, and this runs on
/// `gateway.db` each time a connection is opened (`Store::open`), while the
/// process's other connections hold SQLite's locks on it. Without those, a
/// second process (`sqlite3`, `zio-gateway ledger report`) closing its
/// connection believes it is the last one, checkpoints and deletes the WAL
/// the server is still committing into.
pub fn file(path: &Path) -> io::Result<()> {
    if path.exists() {
        return chmod(path, 0o600);
    }
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    drop(o.open(path)?);
    chmod(path, 0o600)
}

/// A new file (truncated when it exists), 0600.
pub fn create(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path)?;
    chmod(path, 0o600)?;
    Ok(f)
}

/// `-wal` and `-shm` of a SQLite database, when they exist, 0600.
pub fn sqlite_companions(db: &Path) -> io::Result<()> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists() {
            chmod(&p, 0o600)?;
        }
    }
    Ok(())
}
