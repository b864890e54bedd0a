//! Ed25519 key-pair generation and key files.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, ErrorKind, Result};
use super::keys::{ED25519, Ed25519PrivateKey};
use crate::file::replace::{Access, Publish, Staged, replaceable, same_target};

/// 32 bytes from the operating system's CSPRNG.
fn os_random_seed() -> Result<[u8; 32]> {
    let path = Path::new("/dev/urandom");
    let mut seed = [0u8; 32];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(seed)
}

/// A fresh Ed25519 private key from the OS random source.
pub fn generate_ed25519_key() -> Result<Ed25519PrivateKey> {
    let seed = os_random_seed()?;
    Ok(Ed25519PrivateKey::from_seed(&seed))
}

/// What [`write_ed25519_keypair`] wrote; the JSON of `lqft generate-ed25519-keypair`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPairFiles {
    /// `"sha256:" + public_key_sha256`.
    pub key_id: String,
    /// Hex SHA-256 of the raw public key.
    pub public_key_sha256: String,
    /// Where the PKCS#8 private key went (mode 0600).
    pub private_path: PathBuf,
    /// Where the SubjectPublicKeyInfo public key went.
    pub public_path: PathBuf,
}

impl KeyPairFiles {
    /// LQFT's result object: `algorithm, key_id, public_key_sha256, private_path,
    /// public_path`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "algorithm": ED25519,
            "key_id": self.key_id,
            "public_key_sha256": self.public_key_sha256,
            "private_path": self.private_path.to_string_lossy(),
            "public_path": self.public_path.to_string_lossy(),
        })
    }
}

/// Generates a key pair and writes the private key as PKCS#8 PEM with mode 0600 and the
/// public key as SubjectPublicKeyInfo PEM.
///
/// A failing call changes no file: both keys are written to temporary files beside their
/// targets and published only once both are written, the public key first, so no failure
/// can leave the old private key replaced and the pair half-written. Existing files are
/// refused unless `overwrite` (and without it a file created meanwhile is never replaced).
/// Should publishing the private key fail after the public key was published with
/// `overwrite`, the old private key stays and the public file holds the unused new key.
/// Both paths must name regular files (or nothing) in existing directories, and not one file:
/// two spellings of one file (`d/k.pem`, `d/../d/k.pem`, a symlinked directory) are refused.
pub fn write_ed25519_keypair(
    private_path: &Path,
    public_path: &Path,
    overwrite: bool,
) -> Result<KeyPairFiles> {
    if same_target(private_path, public_path)? {
        return Err(Error::key(format!(
            "private and public key paths name one file: {} and {}",
            private_path.display(),
            public_path.display()
        )));
    }
    for path in [private_path, public_path] {
        if replaceable(path)?.is_some() && !overwrite {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "refusing to overwrite existing key file: {}",
                    path.display()
                ),
            ));
        }
    }
    let key = generate_ed25519_key()?;
    let private = staged(private_path, Access::Private, key.to_pem().as_bytes())?;
    let public = staged(
        public_path,
        Access::Inherit,
        key.public_key().to_pem().as_bytes(),
    )?;
    let how = if overwrite {
        Publish::Replace
    } else {
        Publish::CreateNew
    };
    public.publish(how)?;
    if let Err(e) = private.publish(how) {
        // A public key created by this call, whose private half did not get its name, goes.
        if !overwrite && replaceable(private_path).is_ok_and(|m| m.is_none()) {
            let _ = std::fs::remove_file(public_path);
        }
        return Err(e.into());
    }
    Ok(KeyPairFiles {
        key_id: key.public_key().key_id(),
        public_key_sha256: key.public_key().public_key_sha256().to_owned(),
        private_path: private_path.to_path_buf(),
        public_path: public_path.to_path_buf(),
    })
}

/// A temporary file beside `path` holding `bytes`, ready to publish.
fn staged(path: &Path, access: Access, bytes: &[u8]) -> Result<Staged> {
    let mut staged = Staged::create(path, access)?;
    let temp = staged.temp_path().to_path_buf();
    staged
        .file()
        .write_all(bytes)
        .map_err(|e| Error::io(&temp, "write", e))?;
    Ok(staged)
}
