//! Reading the local files a description names (descriptions, inventories,
//! keys): regular files only, read with a bound, so that no path can make
//! the loader wait on a pipe, read a device without end, or echo a file that
//! is not text.

use std::io::Read as _;
use std::path::Path;

/// Reads the regular file at `path` (a symbolic link to one is fine), of at
/// most `max` bytes. A FIFO, a device, a socket or a folder is refused
/// before anything is read: opening a FIFO for reading would wait for a
/// writer, and a device (`/dev/zero`, `/dev/stdin`) reports no size.
///
/// # Errors
/// Why the file cannot be used, for the user: "no such file", "it is a
/// FIFO", "it is larger than 16 MiB"... never its content.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    check_regular(&meta)?;
    let too_large = || format!("it is larger than {}", size(max));
    if meta.len() > max {
        return Err(too_large());
    }
    let file = open_nonblocking(path).map_err(|e| io_reason(&e))?;
    // What was opened, not what the path named a moment before.
    check_regular(&file.metadata().map_err(|e| io_reason(&e))?)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| io_reason(&e))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_regular`], then the bytes as UTF-8 text. A UTF-8 byte order mark
/// is dropped; text in another encoding is refused with the line and column
/// of its first byte that is not UTF-8.
pub(crate) fn read_text(path: &Path, max: u64) -> Result<String, String> {
    text(read_regular(path, max)?)
}

/// Bytes as UTF-8 text, or why not, with the position of the first
/// invalid byte.
pub(crate) fn text(mut bytes: Vec<u8>) -> Result<String, String> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("it is UTF-16 text: save it as UTF-8".into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // Up to `valid_up_to` the bytes are UTF-8: lines and characters count.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        let utf16 = e.as_bytes().iter().take(64).filter(|&&b| b == 0).count() > 8;
        if utf16 {
            format!("it is not UTF-8 text (line {line}, column {col}); it looks like UTF-16: save it as UTF-8")
        } else {
            format!("it is not UTF-8 text (line {line}, column {col}): save it as UTF-8")
        }
    })
}

/// Only a regular file can be read once, whole, with a known size.
fn check_regular(meta: &std::fs::Metadata) -> Result<(), String> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    if ft.is_dir() {
        return Err("it is a folder".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let what = if ft.is_fifo() {
            "a FIFO (named pipe)"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        Err(format!("it is {what}, not a regular file"))
    }
    #[cfg(not(unix))]
    Err("it is not a regular file".into())
}

/// Opens for reading without waiting: a FIFO swapped in after the check
/// above opens at once, and is then refused by its type.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    opts.open(path)
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The OS error without Rust's "(os error 2)" suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_text_is_placed() {
        let e = text(b"a: 1\nb: \xff\n".to_vec()).unwrap_err();
        assert!(e.contains("line 2, column 4"), "{e}");
        let e = text(b"\xff\xfea\0:\0".to_vec()).unwrap_err();
        assert!(e.contains("UTF-16"), "{e}");
        assert_eq!(text(b"\xEF\xBB\xBFa: 1".to_vec()).unwrap(), "a: 1");
    }
}
