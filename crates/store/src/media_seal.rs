//! Attachments encrypted at rest (`encrypt_media = true`).
//!
//! Each file in `media/` is then an age file for an X25519 identity kept in the store's
//! `secrets` table. The identity is as safe as the store (encrypted with the database key, which
//! `encrypt_media` requires), `wamcp rekey` leaves the files as they are, and `age -d -i` opens
//! one given the identity. Readers tell a sealed file by age's header, so a folder where some
//! files are sealed and others not (from before the setting, or a conversion cut short) reads
//! whole. An age file someone *sent* (sealed for another identity) is served as it is.

use std::io::{BufReader, Read, Write};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::write::Batch;
use crate::{Result, StoreError};

/// How every age file begins.
const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";

/// The `secrets` row holding the identity.
const IDENTITY: &str = "media_identity";

/// The identity that seals and opens attachments.
pub struct MediaSeal {
    identity: age::x25519::Identity,
}

impl std::fmt::Debug for MediaSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaSeal(..)")
    }
}

impl MediaSeal {
    /// The store's identity, if it has one.
    pub fn load(conn: &Connection) -> Result<Option<MediaSeal>> {
        let text: Option<String> =
            conn.query_row("SELECT value FROM secrets WHERE name = ?1", [IDENTITY], |row| row.get(0)).optional()?;
        text.map(|text| {
            text.parse()
                .map(|identity| MediaSeal { identity })
                .map_err(|why| StoreError::Invalid(format!("the store's media identity is damaged: {why}")))
        })
        .transpose()
    }

    /// The store's identity, made on first use (in the caller's transaction: [`Batch::media_seal`]).
    pub(crate) fn load_or_create(conn: &Connection) -> Result<MediaSeal> {
        if let Some(seal) = MediaSeal::load(conn)? {
            return Ok(seal);
        }
        let identity = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        // OR IGNORE: another process may have made one meanwhile; the stored one wins.
        conn.execute(
            "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
            [IDENTITY, identity.to_string().expose_secret()],
        )?;
        Ok(MediaSeal::load(conn)?.expect("the identity was just stored"))
    }

    /// Writes `plain` sealed into `out`.
    pub fn seal(&self, plain: &[u8], out: impl Write) -> std::io::Result<()> {
        let recipient = self.identity.to_public();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(std::io::Error::other)?;
        let mut writer = encryptor.wrap_output(out)?;
        writer.write_all(plain)?;
        writer.finish()?;
        Ok(())
    }

    /// Copies the attachment at `path` into `out` as plain bytes: opened if it is sealed for this
    /// identity, as it is otherwise.
    pub fn open_into(&self, path: &Path, out: &mut impl Write) -> std::io::Result<()> {
        match self.opened(path)? {
            Some(mut plain) => std::io::copy(&mut plain, out)?,
            None => std::io::copy(&mut std::fs::File::open(path)?, out)?,
        };
        Ok(())
    }

    /// The attachment at `path` as plain bytes.
    pub fn open(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let mut plain = Vec::new();
        self.open_into(path, &mut plain)?;
        Ok(plain)
    }

    /// Seals the file at `path` in place (atomically) unless it is sealed already. Returns
    /// whether it sealed it.
    pub fn seal_in_place(&self, path: &Path) -> std::io::Result<bool> {
        if is_sealed(path)? {
            return Ok(false);
        }
        let plain = std::fs::read(path)?;
        replace(path, |out| self.seal(&plain, out))?;
        Ok(true)
    }

    /// Opens the file at `path` in place (atomically) if it is sealed for this identity.
    /// Returns whether it opened it.
    pub fn open_in_place(&self, path: &Path) -> std::io::Result<bool> {
        let Some(mut opened) = self.opened(path)? else { return Ok(false) };
        let mut plain = Vec::new();
        opened.read_to_end(&mut plain)?;
        replace(path, |out| out.write_all(&plain))?;
        Ok(true)
    }

    /// Seals every file under `folder` (the data directory's `media/`) not sealed yet; returns
    /// how many it sealed. Each file is replaced atomically, so a run cut short leaves some
    /// files sealed and the rest plain, all readable; running it again finishes the job.
    pub fn seal_folder(&self, folder: &Path) -> std::io::Result<usize> {
        let mut sealed = 0;
        for file in files_under(folder)? {
            sealed += usize::from(self.seal_in_place(&file)?);
        }
        Ok(sealed)
    }

    /// Opens every file under `folder` sealed for this identity; returns how many.
    pub fn open_folder(&self, folder: &Path) -> std::io::Result<usize> {
        let mut opened = 0;
        for file in files_under(folder)? {
            opened += usize::from(self.open_in_place(&file)?);
        }
        Ok(opened)
    }

    /// A reader of the plain bytes when the file at `path` is sealed for this identity; `None`
    /// when it is not sealed, or sealed for someone else.
    fn opened(&self, path: &Path) -> std::io::Result<Option<impl Read + use<>>> {
        let mut file = BufReader::new(std::fs::File::open(path)?);
        if !starts_sealed(&mut file)? {
            return Ok(None);
        }
        let decryptor = age::Decryptor::new_buffered(file)
            .map_err(|why| std::io::Error::other(format!("{}: {why}", path.display())))?;
        match decryptor.decrypt(std::iter::once(&self.identity as &dyn age::Identity)) {
            Ok(reader) => Ok(Some(reader)),
            Err(age::DecryptError::NoMatchingKeys) => Ok(None),
            Err(other) => Err(std::io::Error::other(format!("{}: {other}", path.display()))),
        }
    }
}

/// The attachment files under `folder` (none when it does not exist), leaving out the
/// half-written `.partial` files a crash may have left.
fn files_under(folder: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.path().extension().is_none_or(|ext| ext != "partial") {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// How many attachment files are under `folder`, and how many of them are sealed.
pub fn census(folder: &Path) -> std::io::Result<(usize, usize)> {
    let files = files_under(folder)?;
    let sealed = files.iter().filter(|file| is_sealed(file).unwrap_or(false)).count();
    Ok((files.len(), sealed))
}

/// Whether the file at `path` is an age file.
pub fn is_sealed(path: &Path) -> std::io::Result<bool> {
    starts_sealed(&mut BufReader::new(std::fs::File::open(path)?))
}

/// Whether the file `reader` reads begins with age's header, leaving the reader where it was.
/// The first fill of a regular file's buffer holds its first 8 KiB (or all of a shorter file),
/// so the header is in it when the file has one.
fn starts_sealed(reader: &mut BufReader<std::fs::File>) -> std::io::Result<bool> {
    use std::io::BufRead;
    Ok(reader.fill_buf()?.starts_with(AGE_HEADER))
}

/// Writes `path` anew through `write`, durably: a reader or a crash sees the old file or the new.
pub fn replace(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial)?;
    write(&mut file)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)
}

impl Batch<'_> {
    /// The store's identity that seals attachments, made in this transaction if it has none.
    pub fn media_seal(&mut self) -> Result<MediaSeal> {
        MediaSeal::load_or_create(self.conn)
    }
}

impl crate::Writer {
    /// The store's identity that seals attachments, made and committed on first use.
    pub fn media_seal(&mut self) -> Result<MediaSeal> {
        let mut batch = self.batch()?;
        let seal = batch.media_seal()?;
        batch.commit()?;
        Ok(seal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.db");
        drop(crate::Writer::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        (dir, conn)
    }

    #[test]
    fn a_sealed_file_holds_nothing_of_the_original_and_opens_to_it_and_the_identity_is_kept() {
        let (dir, conn) = store();
        let seal = MediaSeal::load_or_create(&conn).unwrap();
        let path = dir.path().join("photo.jpg");
        let photo: Vec<u8> = b"\xff\xd8\xff\xe0 the beach at noon ".repeat(5000);
        std::fs::write(&path, &photo).unwrap();
        assert!(seal.seal_in_place(&path).unwrap());
        let sealed = std::fs::read(&path).unwrap();
        assert!(sealed.starts_with(AGE_HEADER));
        assert!(!sealed.windows(9).any(|w| w == b"the beach"));
        assert!(!seal.seal_in_place(&path).unwrap(), "sealed once only");
        // Another process finds the same identity in the store.
        let again = MediaSeal::load_or_create(&Connection::open(dir.path().join("wamcp.db")).unwrap()).unwrap();
        assert_eq!(again.open(&path).unwrap(), photo);
        assert!(again.open_in_place(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), photo);
        assert!(!dir.path().join("photo.partial").exists());
    }

    #[test]
    fn a_folder_is_sealed_and_opened_file_by_file_and_a_second_run_changes_nothing() {
        let (dir, conn) = store();
        let seal = MediaSeal::load_or_create(&conn).unwrap();
        let media = dir.path().join("media");
        assert_eq!(seal.seal_folder(&media).unwrap(), 0, "no folder yet");
        for (chat, name) in [("a@s.whatsapp.net", "1.jpg"), ("a@s.whatsapp.net", "2.ogg"), ("g@g.us", "3.pdf")] {
            std::fs::create_dir_all(media.join(chat)).unwrap();
            std::fs::write(media.join(chat).join(name), format!("the contents of {name}")).unwrap();
        }
        std::fs::write(media.join("g@g.us/4.partial"), "half").unwrap();
        assert_eq!(census(&media).unwrap(), (3, 0));
        assert_eq!(seal.seal_folder(&media).unwrap(), 3);
        assert_eq!(census(&media).unwrap(), (3, 3));
        assert!(is_sealed(&media.join("g@g.us/3.pdf")).unwrap());
        assert!(!is_sealed(&media.join("g@g.us/4.partial")).unwrap());
        assert_eq!(seal.seal_folder(&media).unwrap(), 0);
        assert_eq!(seal.open_folder(&media).unwrap(), 3);
        assert_eq!(std::fs::read(media.join("a@s.whatsapp.net/2.ogg")).unwrap(), b"the contents of 2.ogg");
    }

    #[test]
    fn plain_files_and_age_files_for_someone_else_are_read_as_they_are() {
        let (dir, conn) = store();
        assert!(MediaSeal::load(&conn).unwrap().is_none());
        let seal = MediaSeal::load_or_create(&conn).unwrap();
        let plain = dir.path().join("note.txt");
        std::fs::write(&plain, b"hello").unwrap();
        assert_eq!(seal.open(&plain).unwrap(), b"hello");
        let empty = dir.path().join("empty.bin");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(seal.open(&empty).unwrap(), b"");
        let someone_else = MediaSeal { identity: age::x25519::Identity::generate() };
        let theirs = dir.path().join("theirs.age");
        someone_else.seal(b"not for us", std::fs::File::create(&theirs).unwrap()).unwrap();
        let before = std::fs::read(&theirs).unwrap();
        assert_eq!(seal.open(&theirs).unwrap(), before);
        assert!(!seal.open_in_place(&theirs).unwrap());
        assert_eq!(std::fs::read(&theirs).unwrap(), before);
    }
}
