//! Reading and writing the state file safely.
//!
//! Guarantees:
//! - A write never leaves a half-written file: the new version goes to a temp
//!   file in the same folder, is fsynced, and renamed over the old one; the
//!   folder is fsynced after.
//! - The previous version is kept as `<file>.backup`, written the same way.
//! - The file is mode 0600.
//! - Only the holder of `<file>.lock` writes. The lock is taken with
//!   `O_CREAT|O_EXCL`, so two processes cannot both hold it.
//! - A file that does not parse, comes from a newer gwctl, or belongs to
//!   another lineage is refused and left as it is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{now_rfc3339, State, STATE_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "state file {} is not valid gwctl state ({detail}); it was left untouched.\n\
         If it was damaged, the previous version is in {}.backup: inspect it, then copy it over the state file",
        path.display(), path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "state file {} has format version {found}, newer than this gwctl understands ({STATE_VERSION}); \
         it was left untouched. Use gwctl {written_by} or newer",
        path.display()
    )]
    TooNew { path: PathBuf, found: u32, written_by: String },
    #[error(
        "state file {} belongs to lineage {found}, not {expected}: it is another stack's state; refusing to overwrite it",
        path.display()
    )]
    Lineage { path: PathBuf, expected: String, found: String },
    #[error(
        "state file {} belongs to {what} {found}, but the spec says {what} {expected}; refusing to use it before any AWS call.\n  \
         Point --state at the state file of this spec's stack (default state/<project>.json beside the spec), \
         or fix [project] {what} in the spec",
        path.display()
    )]
    OtherStack { path: PathBuf, what: &'static str, found: String, expected: String },
    #[error(
        "there is no state for project {project} at {}, but {} holds project {old} ({count} resources) written for this spec file.\n  \
         Was [project] name changed from {old}? gwctl will not build a second stack beside the first. \
         Set the name back to {old} (then `gwctl destroy` removes the old stack if you want a new one), \
         or, if {project} is meant as a separate stack, pass --state {} explicitly",
        path.display(), old_path.display(), path.display()
    )]
    Renamed { path: PathBuf, project: String, old: String, old_path: PathBuf, count: usize },
    #[error("cannot write state file {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "state is locked by {}\n  lock file: {}\n  {}",
        holder.describe(), path.display(), holder.advice()
    )]
    Locked { path: PathBuf, holder: LockInfo },
    #[error("lock file {} is unreadable: {detail}; if no gwctl is running, remove it", path.display())]
    BadLock { path: PathBuf, detail: String },
    #[error("no lock with id {id} on {}; the current lock is {}", path.display(), current.as_ref().map(|c| c.id.as_str()).unwrap_or("none"))]
    UnlockMismatch { path: PathBuf, id: String, current: Option<LockInfo> },
    #[error(
        "state is locked by {}\n  lock object: {}\n  gwctl never breaks a lock by itself: if that run is gone, `gwctl force-unlock {}`",
        holder.describe(), path.display(), holder.id
    )]
    LockedRemote { path: PathBuf, holder: LockInfo },
    #[error(
        "refusing to write the state {}: it changed since this run read it ({detail}); nothing was overwritten.\n  \
         Another run wrote it: one whose lock was force-unlocked, or this one after its own lock was. What this run \
         did in AWS since its last write is not recorded: run `gwctl apply` again, which adopts it",
        path.display()
    )]
    Overtaken { path: PathBuf, detail: String },
    #[error("{}: {operation}: {detail}", path.display())]
    Remote { path: PathBuf, operation: &'static str, detail: String },
    #[error("{} already exists; `gwctl state migrate` never overwrites a state", path.display())]
    TargetExists { path: PathBuf },
}

/// The content of a lock file: who holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub created: String,
    /// The holder's boot and start time, so that its pid, once reused by
    /// another process, is not mistaken for it. Absent in older locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
}

impl LockInfo {
    /// A lock for this process, running `command`.
    pub fn mine(command: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            created: now_rfc3339(),
            started: process_start(std::process::id()),
        }
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "`{}` (pid {} on {}, since {}, lock id {})",
            self.command, self.pid, self.host, self.created, self.id
        )
    }

    /// Whether the holder is provably gone: a process of this host and of
    /// this pid namespace (containers sharing a hostname and a state volume
    /// do not see each other's pids) whose pid is not running, has exited
    /// and waits to be reaped (a zombie), or runs a process that started at
    /// another time.
    pub fn holder_is_dead(&self) -> bool {
        if self.host != hostname() {
            return false;
        }
        let recorded = self.started.as_deref().and_then(Identity::parse);
        if recorded.as_ref().is_some_and(|r| Some(r.pid_ns.as_str()) != pid_namespace().as_deref()) {
            return false;
        }
        if !pid_alive(self.pid) {
            return true;
        }
        match (recorded, process_identity(self.pid)) {
            (_, Some(now)) if now.exited => true,
            (Some(recorded), Some(now)) => recorded.boot != now.boot || recorded.start != now.start,
            _ => false,
        }
    }

    fn advice(&self) -> String {
        if self.holder_is_dead() {
            format!(
                "that process is no longer running; if no other gwctl is, run `gwctl force-unlock {}`",
                self.id
            )
        } else {
            "wait for it to finish, or pass --lock-timeout 30s to wait".to_string()
        }
    }
}

/// A process's identity beyond its pid on Linux: the boot it runs in, the
/// pid namespace its pid is counted in, its start time in clock ticks since
/// boot (field 22 of `/proc/<pid>/stat`), and whether it has exited.
#[derive(Debug, PartialEq)]
struct Identity {
    boot: String,
    pid_ns: String,
    start: String,
    exited: bool,
}

impl Identity {
    /// As recorded in a lock: `boot|pid namespace|start`.
    fn parse(text: &str) -> Option<Identity> {
        let mut parts = text.split('|');
        let (boot, pid_ns, start) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Identity { boot: boot.into(), pid_ns: pid_ns.into(), start: start.into(), exited: false })
    }

    fn record(&self) -> String {
        format!("{}|{}|{}", self.boot, self.pid_ns, self.start)
    }
}

fn pid_namespace() -> Option<String> {
    fs::read_link("/proc/self/ns/pid").ok().map(|p| p.to_string_lossy().into_owned())
}

fn process_identity(pid: u32) -> Option<Identity> {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?;
    Some(Identity { boot: boot.trim().into(), pid_ns: pid_namespace()?, start: start.into(), exited: matches!(state, "Z" | "X") })
}

/// This process's identity, as a lock records it.
fn process_start(pid: u32) -> Option<String> {
    process_identity(pid).map(|i| i.record())
}

/// Removes the lock at `lock_path` if it is still `dead`'s. Several
/// processes waiting on a dead holder's lock may all decide to take it over:
/// each re-reads and removes it only under an exclusive `flock` of
/// `<lock>.takeover` (released when the file closes, or the process dies),
/// so a lock some survivor has meanwhile taken is never removed, and only
/// one of them wins the link that follows.
fn take_over(lock_path: &Path, dead: &LockInfo) -> Result<bool, StateError> {
    use std::os::fd::AsRawFd;
    let guard_path = append(lock_path, ".takeover");
    let werr = |source| StateError::Write { path: guard_path.clone(), source };
    let guard = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&guard_path).map_err(werr)?;
    // SAFETY: flock on a file descriptor this function owns for the call.
    if unsafe { libc::flock(guard.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(werr(io::Error::last_os_error()));
    }
    let still_dead = read_lock(lock_path).is_ok_and(|current| current.id == dead.id);
    if still_dead {
        fs::remove_file(lock_path).map_err(|source| StateError::Write { path: lock_path.into(), source })?;
    }
    drop(guard);
    Ok(still_dead)
}

fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for writes of its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A locked state file open for writing. The lock is released on drop.
pub struct LocalStore {
    path: PathBuf,
    lock_path: PathBuf,
    lock_id: String,
    lineage: Option<String>,
    /// The identity of the file as this store last wrote it: while it is
    /// unchanged nobody replaced it, and the lineage need not be read again.
    written: Option<FileId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).ok()?;
    Some(FileId { dev: m.dev(), ino: m.ino(), len: m.len(), mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128 })
}

pub fn lock_path(path: &Path) -> PathBuf {
    append(path, ".lock")
}

fn append(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads the state at `path` without locking: `None` when there is none.
/// The file is replaced by rename, so a reader sees one whole version.
pub fn read(path: &Path) -> Result<Option<State>, StateError> {
    let text = match crate::files::read_capped_string(path, crate::files::STATE_MAX) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path: path.into(), source }),
    };
    parse(path, &text).map(Some)
}

/// A state from its text, refused when it does not parse or is too new.
pub(super) fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    let probe: serde_json::Value = serde_json::from_str(text).map_err(|e| StateError::Corrupt {
        path: path.into(),
        detail: e.to_string(),
    })?;
    let version = probe.get("version").and_then(|v| v.as_u64()).ok_or_else(|| StateError::Corrupt {
        path: path.into(),
        detail: "no \"version\" field".into(),
    })?;
    if version > STATE_VERSION as u64 {
        return Err(StateError::TooNew {
            path: path.into(),
            found: version as u32,
            written_by: probe.get("gwctl_version").and_then(|v| v.as_str()).unwrap_or("?").to_string(),
        });
    }
    serde_json::from_value(probe).map_err(|e| StateError::Corrupt {
        path: path.into(),
        detail: e.to_string(),
    })
}

impl LocalStore {
    /// Takes the lock on `path` (waiting up to `timeout`) and loads the state,
    /// or a new empty one when the file does not exist.
    pub fn open(path: &Path, command: &str, timeout: Duration) -> Result<(LocalStore, State), StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StateError::Write { path: path.into(), source })?;
        }
        let lock_path = lock_path(path);
        let info = LockInfo::mine(command);
        // The lock appears with its content or not at all: written to a temp
        // file, then hard-linked to the lock path, which fails if it exists.
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        let (tmp, _) = write_temp(&lock_path, &body).map_err(|source| StateError::Write { path: lock_path.clone(), source })?;
        let deadline = Instant::now() + timeout;
        let taken = loop {
            match fs::hard_link(&tmp, &lock_path) {
                Ok(()) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if let Ok(holder) = read_lock(&lock_path) {
                        if holder.holder_is_dead() {
                            match take_over(&lock_path, &holder) {
                                Ok(true) => {
                                    eprintln!(
                                        "warning: took over the state lock {} of `{}` (pid {} on {}, since {}): that process is no longer running",
                                        holder.id, holder.command, holder.pid, holder.host, holder.created
                                    );
                                    continue;
                                }
                                // Another run took it over or released it meanwhile: try again.
                                Ok(false) => continue,
                                Err(e) => break Err(e),
                            }
                        }
                    }
                    if Instant::now() >= deadline {
                        break read_lock(&lock_path).and_then(|holder| Err(StateError::Locked { path: lock_path.clone(), holder }));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(source) => break Err(StateError::Write { path: lock_path.clone(), source }),
            }
        };
        let _ = fs::remove_file(&tmp);
        taken?;
        let mut store = LocalStore {
            path: path.to_path_buf(),
            lock_path,
            lock_id: info.id,
            lineage: None,
            written: None,
        };
        remove_stale_temps(path);
        let state = read(path)?.unwrap_or_default();
        store.lineage = Some(state.lineage.clone());
        Ok((store, state))
    }

    /// Writes `state` as the next serial. Refuses when the file on disk has
    /// meanwhile been replaced by another lineage.
    /// On failure `state` is left as it was (same serial).
    pub fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        let previous = (state.serial, std::mem::replace(&mut state.gwctl_version, env!("CARGO_PKG_VERSION").to_string()));
        state.serial += 1;
        let result = self.write(state);
        if result.is_err() {
            (state.serial, state.gwctl_version) = previous;
        }
        result
    }

    fn write(&mut self, state: &State) -> Result<(), StateError> {
        let werr = |source| StateError::Write { path: self.path.clone(), source };
        let body = serde_json::to_vec_pretty(state).map_err(|e| werr(io::Error::other(e)))?;
        // The slow part first (write and fsync the new version), so that the
        // check below and the rename that replaces the file follow at once.
        let (tmp, written) = write_temp(&self.path, &body).map_err(werr)?;
        let result = self.check_lineage().and_then(|()| {
            keep_backup(&self.path).map_err(werr)?;
            fs::rename(&tmp, &self.path).map_err(werr)?;
            sync_dir(&self.path).map_err(werr)
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        self.written = Some(written);
        Ok(())
    }

    /// Refuses when the file on disk is no longer the one this store wrote
    /// and now belongs to another lineage.
    fn check_lineage(&self) -> Result<(), StateError> {
        if self.written.is_some() && file_id(&self.path) == self.written {
            return Ok(());
        }
        let current = match read(&self.path) {
            Ok(c) => c,
            Err(StateError::Corrupt { .. }) => None,
            Err(e) => return Err(e),
        };
        match current {
            Some(current) if Some(&current.lineage) != self.lineage.as_ref() => Err(StateError::Lineage {
                path: self.path.clone(),
                expected: self.lineage.clone().unwrap_or_default(),
                found: current.lineage,
            }),
            _ => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        if let Ok(info) = read_lock(&self.lock_path) {
            if info.id == self.lock_id {
                let _ = fs::remove_file(&self.lock_path);
            }
        }
    }
}

fn read_lock(path: &Path) -> Result<LockInfo, StateError> {
    let text = crate::files::read_capped_string(path, crate::files::LOCK_MAX).map_err(|e| StateError::BadLock { path: path.into(), detail: e.to_string() })?;
    serde_json::from_str(&text).map_err(|e| StateError::BadLock { path: path.into(), detail: e.to_string() })
}

/// Removes the lock on `state_path` if its id is `id`.
pub fn force_unlock(state_path: &Path, id: &str) -> Result<LockInfo, StateError> {
    let path = lock_path(state_path);
    let current = match read_lock(&path) {
        Ok(info) => info,
        Err(_) if !path.exists() => {
            return Err(StateError::UnlockMismatch { path, id: id.into(), current: None })
        }
        Err(e) => return Err(e),
    };
    if current.id != id {
        return Err(StateError::UnlockMismatch { path, id: id.into(), current: Some(current) });
    }
    fs::remove_file(&path).map_err(|source| StateError::Write { path: path.clone(), source })?;
    Ok(current)
}

/// Removes the temp files of state and backup writes that a killed holder
/// left (`<file>.<pid>.<id>.tmp`, `<file>.backup.<pid>.tmp`). Called with the
/// lock held: only the holder writes them. The temp files of runs waiting for
/// the lock (`<file>.lock.*.tmp`) are theirs and stay.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().map(|n| n.to_string_lossy().into_owned())) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let ours = file.strip_prefix(&format!("{name}.")).is_some_and(|rest| rest.ends_with(".tmp") && !rest.starts_with("lock."));
        if ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes `<path>.backup` the version now at `path`. A hard link to it: that
/// version is already on disk, so nothing is copied or synced again; the
/// rename that follows in `write_atomic` gives `path` a new file and leaves
/// this one to the backup. Where links are not supported, a copy.
fn keep_backup(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let backup = append(path, ".backup");
    let tmp = append(path, &format!(".backup.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    match fs::hard_link(path, &tmp) {
        Ok(()) => fs::rename(&tmp, &backup),
        Err(_) => write_atomic(&backup, &fs::read(path)?),
    }
}

/// Writes `body` to a temp file beside `path`, fsynced, mode 0600; returns
/// it with its identity (kept across the rename that follows).
fn write_temp(path: &Path, body: &[u8]) -> io::Result<(PathBuf, FileId)> {
    // Unique per call: two stores in one process (or thread) never share a temp file.
    let tmp = append(path, &format!(".{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        file_id(&tmp).ok_or_else(|| io::Error::other("the temp file vanished"))
    })();
    match result {
        Ok(id) => Ok((tmp, id)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

fn write_atomic(path: &Path, body: &[u8]) -> io::Result<()> {
    let (tmp, _) = write_temp(path, body)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    #[test]
    fn each_save_keeps_the_previous_version_as_backup_and_bumps_the_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/p.json");
        let (mut store, mut state) = LocalStore::open(&path, "test", Duration::ZERO).unwrap();
        store.save(&mut state).unwrap();
        let first = fs::read_to_string(&path).unwrap();
        state.pending.push(super::super::Pending {
            address: "instance.backend".into(),
            kind: crate::model::Kind::named("instance"),
            token: "t".into(),
            started_at: "now".into(),
        });
        store.save(&mut state).unwrap();
        let backup = append(&path, ".backup");
        assert_eq!(fs::read_to_string(&backup).unwrap(), first);
        assert_eq!(read(&path).unwrap().unwrap().serial, 2);
        for p in [&path, &backup] {
            assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_refused_save_leaves_the_state_and_the_foreign_file_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let (mut store, mut state) = LocalStore::open(&path, "test", Duration::ZERO).unwrap();
        store.save(&mut state).unwrap();
        let foreign = r#"{"version":1,"serial":9,"lineage":"other","gwctl_version":"0.1.0","resources":[]}"#;
        fs::write(&path, foreign).unwrap();
        assert!(matches!(store.save(&mut state), Err(StateError::Lineage { .. })));
        assert_eq!(state.serial, 1, "the serial is not bumped by a save that failed");
        assert_eq!(fs::read_to_string(&path).unwrap(), foreign);
    }

    fn plant_lock(state: &Path, pid: u32, host: &str, started: Option<String>) -> String {
        let info = LockInfo { id: format!("planted-{pid}"), pid, host: host.into(), command: "gwctl apply".into(), created: now_rfc3339(), started };
        fs::create_dir_all(state.parent().unwrap()).unwrap();
        fs::write(lock_path(state), serde_json::to_vec(&info).unwrap()).unwrap();
        info.id
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_dead_holders_lock_is_taken_over_and_a_live_or_remote_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        // The pid is gone.
        plant_lock(&path, dead_pid(), &hostname(), None);
        let (store, _) = LocalStore::open(&path, "test", Duration::ZERO).expect("a dead pid's lock is taken over");
        assert_eq!(read_lock(&lock_path(&path)).unwrap().pid, std::process::id());
        drop(store);
        // The pid runs, but a process that started at another time.
        let ns = pid_namespace().unwrap();
        plant_lock(&path, std::process::id(), &hostname(), Some(format!("another-boot|{ns}|1")));
        drop(LocalStore::open(&path, "test", Duration::ZERO).expect("a reused pid's lock is taken over"));
        // The holder was killed and waits to be reaped (a zombie).
        let mut zombie = std::process::Command::new("true").spawn().unwrap();
        let pid = zombie.id();
        let exited = || process_identity(pid).is_some_and(|i| i.exited);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !exited() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        plant_lock(&path, pid, &hostname(), process_start(pid));
        drop(LocalStore::open(&path, "test", Duration::ZERO).expect("a zombie's lock is taken over"));
        zombie.wait().unwrap();
        // A holder in another pid namespace (another container with this hostname): its pid says nothing here.
        plant_lock(&path, dead_pid(), &hostname(), Some("boot|pid:[1]|1".into()));
        assert!(matches!(LocalStore::open(&path, "test", Duration::ZERO), Err(StateError::Locked { .. })));
        // The holder is alive: refused.
        plant_lock(&path, std::process::id(), &hostname(), process_start(std::process::id()));
        assert!(matches!(LocalStore::open(&path, "test", Duration::ZERO), Err(StateError::Locked { .. })));
        // Another host: never broken automatically, whatever its pid.
        plant_lock(&path, dead_pid(), "some-other-host", None);
        match LocalStore::open(&path, "test", Duration::ZERO) {
            Err(StateError::Locked { holder, .. }) => assert_eq!(holder.host, "some-other-host"),
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn temp_files_a_killed_writer_left_are_removed_by_the_next_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let stale = [dir.path().join("p.json.4242.0123abcd.tmp"), dir.path().join("p.json.backup.4242.tmp")];
        let waiting = dir.path().join("p.json.lock.4343.0123abcd.tmp");
        for f in stale.iter().chain([&waiting]) {
            fs::write(f, "x").unwrap();
        }
        let (_store, _) = LocalStore::open(&path, "test", Duration::ZERO).unwrap();
        assert!(stale.iter().all(|f| !f.exists()));
        assert!(waiting.exists(), "a waiting run's lock temp file is left alone");
    }

    #[test]
    fn of_several_runs_taking_over_a_dead_lock_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        for _ in 0..20 {
            plant_lock(&path, dead_pid(), &hostname(), None);
            let barrier = std::sync::Barrier::new(4);
            let results: Vec<bool> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let opened = LocalStore::open(&path, "test", Duration::ZERO);
                            // Hold a won lock until every run has tried.
                            std::thread::sleep(Duration::from_millis(50));
                            opened.is_ok()
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
            assert!(!lock_path(&path).exists(), "the winner released it");
        }
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let (first, _) = LocalStore::open(&path, "gwctl apply", Duration::ZERO).unwrap();
        match LocalStore::open(&path, "gwctl destroy", Duration::from_millis(300)) {
            Err(StateError::Locked { holder, .. }) => assert_eq!(holder.command, "gwctl apply"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a second writer got the lock"),
        }
        drop(first);
        assert!(LocalStore::open(&path, "gwctl destroy", Duration::ZERO).is_ok(), "the lock is released on drop");
    }
}
