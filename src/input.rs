//! Untrusted input: reading a file of the checkout, and quoting a name for the terminal.

use std::path::Path;

use crate::diagnostic::SettingsError;

/// Folder, relative to the repository root, that holds the settings.
pub const OVERLAYS_DIR: &str = "overlays";

/// Reads an input file of the checkout as text, refusing before any byte of it is quoted:
/// a symlink (its target could be a key file or `/etc/shadow`), anything but a regular file,
/// and text that is not UTF-8.
pub fn read_input(root: &Path, file: &Path) -> Result<String, SettingsError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let full = root.join(file);
    let meta = std::fs::symlink_metadata(&full)
        .map_err(|e| SettingsError::unreadable(file, format!("cannot read: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(SettingsError::unreadable(
            file,
            "is a symlink: inputs are read only from regular files of the repository (the link is not followed)",
        ));
    }
    if !meta.is_file() {
        return Err(SettingsError::unreadable(file, "is not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::OpenOptions::new()
        .read(true)
        // O_NOFOLLOW: refuse a symlink swapped in since the check above.
        .custom_flags(0o400000)
        .open(&full)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| SettingsError::unreadable(file, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        SettingsError::unreadable(
            file,
            format!(
                "is not UTF-8 text (invalid byte at offset {}); its content is not shown",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A path as printed: control characters (C0, DEL, C1) escaped, so a hostile file name cannot
/// drive the terminal.
pub fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
