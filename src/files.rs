//! Reading the files gwctl is pointed at: the spec, the user data it names,
//! the state, its lock, saved plans.
//!
//! Guarantees of [`read_capped`]:
//! - Only a regular file is read. A directory, FIFO, socket or device is
//!   refused without reading from it, and opening it never blocks (a FIFO
//!   with no writer, a terminal).
//! - At most `limit + 1` bytes are read, whatever the file claims or grows
//!   to while it is read; more than `limit` is refused.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest spec file read.
pub const SPEC_MAX: u64 = 1024 * 1024;
/// The largest state file read.
pub const STATE_MAX: u64 = 64 * 1024 * 1024;
/// The largest saved plan read.
pub const PLAN_MAX: u64 = STATE_MAX;
/// The largest lock file read.
pub const LOCK_MAX: u64 = 64 * 1024;

/// Why a file was refused: carried inside the `io::Error` that
/// [`read_capped`] returns, whose message it is.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("it is not a regular file but {0}")]
    NotRegular(&'static str),
    #[error("it is larger than {limit} bytes ({size} bytes)")]
    TooLarge { limit: u64, size: u64 },
}

impl Refused {
    /// The refusal inside `err`, when `err` is one.
    pub fn of(err: &io::Error) -> Option<&Refused> {
        err.get_ref().and_then(|e| e.downcast_ref::<Refused>())
    }
}

fn refuse(why: Refused) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

fn check_type(meta: &Metadata) -> io::Result<()> {
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    };
    Err(refuse(Refused::NotRegular(what)))
}

/// The content of the regular file at `path`, at most `limit` bytes.
/// A missing file is `ErrorKind::NotFound`; a refusal is
/// `ErrorKind::InvalidInput` carrying a [`Refused`].
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // The path is checked before it is opened, so that no device is opened
    // at all; and the open file again, in case the path was replaced between
    // the two. O_NONBLOCK makes the open of a FIFO return at once.
    check_type(&std::fs::metadata(path)?)?;
    let file: File = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    check_type(&meta)?;
    if meta.len() > limit {
        return Err(refuse(Refused::TooLarge { limit, size: meta.len() }));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(refuse(Refused::TooLarge { limit, size: bytes.len() as u64 }));
    }
    Ok(bytes)
}

/// [`read_capped`], as UTF-8 text (`ErrorKind::InvalidData` otherwise).
pub fn read_capped_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_up_to_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5).unwrap(), b"12345");
        assert_eq!(read_capped_string(&path, 10).unwrap(), "12345");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"123456").unwrap();
        let err = read_capped(&path, 5).unwrap_err();
        assert!(matches!(Refused::of(&err), Some(Refused::TooLarge { limit: 5, size: 6 })), "{err:?}");
        assert_eq!(err.to_string(), "it is larger than 5 bytes (6 bytes)");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for (path, what) in [(Path::new("/dev/zero"), "a character device"), (fifo.as_path(), "a FIFO"), (dir.path(), "a directory")] {
            let err = read_capped(path, 1024).unwrap_err();
            assert_eq!(err.to_string(), format!("it is not a regular file but {what}"), "{}", path.display());
        }
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let err = read_capped(Path::new("/nonexistent/gwctl"), 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn text_that_is_not_utf8_is_invalid_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(read_capped_string(&path, 10).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
