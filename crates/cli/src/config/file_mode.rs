//! Whether a file or directory is its owner's alone: the test behind every refusal and doctor
//! finding about secrets (the key file, the session, the token) that others could read.

use std::path::Path;

/// The permission bits of `path` when its group or others have any, `None` when it is private
/// (and always `None` where there are no Unix permissions).
pub fn loose_mode(path: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_others_may_read_is_loose_and_one_only_its_owner_reads_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(loose_mode(&path).unwrap(), Some(0o640));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(loose_mode(&path).unwrap(), None);
        assert!(loose_mode(&dir.path().join("missing")).is_err());
    }
}
