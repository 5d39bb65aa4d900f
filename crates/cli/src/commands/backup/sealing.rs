//! Backup archives are sealed with age (age-encryption.org/v1): to a passphrase (scrypt) or to
//! the public keys of recipients (X25519). The archive holds the WhatsApp session's keys, the
//! API token and the history, so a plain one is written only when asked for by name
//! (`--unencrypted`). `restore` tells the two apart by age's header; an archive from before
//! backups were sealed is a plain tar and still restores.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::Context;
use clap::Args;

/// The first bytes of every age file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/";

/// How `wamcp backup` seals the archive.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// Encrypt to this age public key (age1…; repeat for several): restoring needs the matching
    /// identity file, and no passphrase is asked
    #[arg(long = "recipient", value_name = "AGE1…")]
    recipients: Vec<String>,
    /// Encrypt to the age public keys in this file, one a line ('#' starts a comment): the
    /// service's unattended backups, which the server itself cannot read back
    #[arg(long, env = "WAMCP_BACKUP_RECIPIENTS_FILE", value_name = "FILE")]
    recipients_file: Option<PathBuf>,
    /// Encrypt with the passphrase in this file (its first line) instead of asking for one
    #[arg(
        long,
        env = "WAMCP_BACKUP_PASSPHRASE_FILE",
        value_name = "FILE",
        conflicts_with_all = ["recipients", "recipients_file"]
    )]
    passphrase_file: Option<PathBuf>,
    /// Write a plain tar archive that anyone who gets it can read
    #[arg(long, conflicts_with_all = ["recipients", "recipients_file", "passphrase_file"])]
    unencrypted: bool,
}

/// How `wamcp restore` opens a sealed archive.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// The age identity file whose key the archive was encrypted to (--recipient)
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// The archive's passphrase is the first line of this file, instead of asking for it
    #[arg(long, env = "WAMCP_BACKUP_PASSPHRASE_FILE", value_name = "FILE", conflicts_with = "identity")]
    passphrase_file: Option<PathBuf>,
}

/// What seals an archive, decided before anything is copied.
pub enum Seal {
    Passphrase(SecretString),
    Recipients(Vec<age::x25519::Recipient>),
    None,
}

impl Seal {
    /// Reads the choice: recipients, a passphrase file, `--unencrypted`, or else a passphrase
    /// asked twice on the terminal.
    pub fn chosen(args: &SealArgs) -> anyhow::Result<Seal> {
        if args.unencrypted {
            return Ok(Seal::None);
        }
        let mut keys: Vec<(String, String)> =
            args.recipients.iter().map(|key| ("--recipient".to_string(), key.clone())).collect();
        if let Some(path) = &args.recipients_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the recipients file {}", path.display()))?;
            let lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
            keys.extend(lines.map(|line| (path.display().to_string(), line.to_string())));
            if keys.is_empty() {
                anyhow::bail!("the recipients file {} names no age public key (age1…)", path.display());
            }
        }
        if !keys.is_empty() {
            let recipients = keys
                .iter()
                .map(|(from, text)| {
                    text.parse::<age::x25519::Recipient>().map_err(|why| {
                        anyhow::anyhow!("{from}: '{text}' is not an age public key ({why}); one starts with age1")
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            return Ok(Seal::Recipients(recipients));
        }
        if let Some(path) = &args.passphrase_file {
            return Ok(Seal::Passphrase(passphrase_in(path)?));
        }
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "a backup is encrypted: give --passphrase-file FILE, --recipient AGE1… or --recipients-file FILE \
                 (there is no terminal to ask for a passphrase on), or --unencrypted for a plain archive"
            );
        }
        let first = ask("Passphrase for the backup: ")?;
        if ask("The same passphrase again: ")? != first {
            anyhow::bail!("the two passphrases differ; nothing was written");
        }
        if first.is_empty() {
            anyhow::bail!("the passphrase is empty; nothing was written");
        }
        Ok(Seal::Passphrase(SecretString::from(first)))
    }

    /// Wraps `file` so that what is written to it is sealed; `finish` completes it.
    pub fn writer(self, file: File) -> anyhow::Result<SealedWriter> {
        let encryptor = match self {
            Seal::None => return Ok(SealedWriter::Plain(file)),
            Seal::Passphrase(passphrase) => age::Encryptor::with_user_passphrase(passphrase),
            Seal::Recipients(recipients) => {
                age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))?
            }
        };
        Ok(SealedWriter::Age(encryptor.wrap_output(file)?))
    }
}

/// The archive file, sealed or not.
pub enum SealedWriter {
    Plain(File),
    Age(age::stream::StreamWriter<File>),
}

impl SealedWriter {
    /// Writes age's last chunk (for a sealed archive) and returns the file to be synced.
    pub fn finish(self) -> std::io::Result<File> {
        match self {
            SealedWriter::Plain(file) => Ok(file),
            SealedWriter::Age(stream) => stream.finish(),
        }
    }
}

impl Write for SealedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            SealedWriter::Plain(file) => file.write(bytes),
            SealedWriter::Age(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            SealedWriter::Plain(file) => file.flush(),
            SealedWriter::Age(stream) => stream.flush(),
        }
    }
}

/// The archive's contents: read through age when it is sealed, as they are when it is a plain
/// tar. Says what is needed when a sealed archive came without it.
pub fn open(path: &Path, args: &UnsealArgs) -> anyhow::Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut input = BufReader::new(file);
    if !input.fill_buf()?.starts_with(AGE_MAGIC) {
        return Ok(Box::new(input));
    }
    let decryptor = age::Decryptor::new_buffered(input)
        .map_err(|why| anyhow::anyhow!("{} is not a readable age file: {why}; nothing was changed", path.display()))?;
    let identities: Vec<Box<dyn age::Identity>> = if let Some(identity) = &args.identity {
        age::IdentityFile::from_file(identity.to_string_lossy().into_owned())
            .and_then(|file| file.into_identities().map_err(std::io::Error::other))
            .with_context(|| format!("cannot read the identity file {}", identity.display()))?
    } else if decryptor.is_scrypt() {
        let passphrase = match &args.passphrase_file {
            Some(file) => passphrase_in(file)?,
            None if std::io::stdin().is_terminal() => SecretString::from(ask("Passphrase of the backup: ")?),
            None => anyhow::bail!(
                "{} is encrypted with a passphrase: give --passphrase-file FILE (there is no terminal to ask on); \
                 nothing was changed",
                path.display()
            ),
        };
        vec![Box::new(age::scrypt::Identity::new(passphrase))]
    } else {
        anyhow::bail!(
            "{} is encrypted to an age key: give its identity file with --identity FILE; nothing was changed",
            path.display()
        );
    };
    let reader = decryptor.decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|why| {
        let why = match why {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                "the passphrase or identity is not the one it was encrypted with".to_string()
            }
            other => other.to_string(),
        };
        anyhow::anyhow!("cannot decrypt {}: {why}; nothing was changed", path.display())
    })?;
    Ok(Box::new(reader))
}

/// The first line of the file at `path`, as a passphrase.
fn passphrase_in(path: &Path) -> anyhow::Result<SecretString> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        anyhow::bail!("the passphrase file {} is empty", path.display());
    }
    Ok(SecretString::from(line.to_string()))
}

/// Asks for a secret on the terminal without echoing it.
fn ask(prompt: &str) -> anyhow::Result<String> {
    let mut tty =
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").context("cannot open the terminal")?;
    write!(tty, "{prompt}")?;
    tty.flush()?;
    let answer = without_echo(&tty, || {
        let mut line = String::new();
        BufReader::new(&tty).read_line(&mut line).map(|_| line)
    })?;
    writeln!(tty)?;
    Ok(answer.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs `read` with the terminal's echo off, and turns it back on after.
fn without_echo<T>(tty: &File, read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    use std::os::fd::AsRawFd;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data, filled in by tcgetattr on a descriptor we hold open.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    // SAFETY: as above; the settings come from tcgetattr.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let result = read();
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    fn seal_and_open(seal: Seal, unseal: &UnsealArgs, dir: &Path) -> anyhow::Result<String> {
        let path = dir.join("archive");
        let mut writer = seal.writer(File::create(&path)?)?;
        writer.write_all(b"the session keys")?;
        writer.finish()?.sync_all()?;
        let mut text = String::new();
        open(&path, unseal)?.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn an_archive_sealed_to_a_recipient_opens_with_its_identity_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let identity_file = dir.path().join("identity.txt");
        std::fs::write(&identity_file, format!("{}\n", identity.to_string().expose_secret())).unwrap();
        let recipients = vec![identity.to_public()];
        let unseal = UnsealArgs { identity: Some(identity_file), passphrase_file: None };
        assert_eq!(
            seal_and_open(Seal::Recipients(recipients.clone()), &unseal, dir.path()).unwrap(),
            "the session keys"
        );

        let stranger = age::x25519::Identity::generate();
        let other_file = dir.path().join("other.txt");
        std::fs::write(&other_file, stranger.to_string().expose_secret()).unwrap();
        let wrong = UnsealArgs { identity: Some(other_file), passphrase_file: None };
        let error = seal_and_open(Seal::Recipients(recipients.clone()), &wrong, dir.path()).unwrap_err().to_string();
        assert!(error.contains("not the one it was encrypted with"), "{error}");
        let none = UnsealArgs { identity: None, passphrase_file: None };
        let error = seal_and_open(Seal::Recipients(recipients), &none, dir.path()).unwrap_err().to_string();
        assert!(error.contains("--identity"), "{error}");
    }

    #[test]
    fn a_plain_archive_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let none = UnsealArgs { identity: None, passphrase_file: None };
        assert_eq!(seal_and_open(Seal::None, &none, dir.path()).unwrap(), "the session keys");
        let bytes = std::fs::read(dir.path().join("archive")).unwrap();
        assert_eq!(bytes, b"the session keys");
    }
}
