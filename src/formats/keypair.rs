//! Ed25519 key-pair generation and key files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{Error, ErrorKind, Result};
use super::file_io::{FileMode, write_atomic};
use super::keys::{ED25519, Ed25519PrivateKey};

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

/// Generates a key pair and writes it atomically: the private key as PKCS#8 PEM with mode
/// 0600, the public key as SubjectPublicKeyInfo PEM. Existing files are refused unless
/// `overwrite`; if writing the public key fails, the private key file is removed.
pub fn write_ed25519_keypair(
    private_path: &Path,
    public_path: &Path,
    overwrite: bool,
) -> Result<KeyPairFiles> {
    if private_path == public_path {
        return Err(Error::key("private and public key paths must differ"));
    }
    if !overwrite {
        for path in [private_path, public_path] {
            if path.exists() {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "refusing to overwrite existing key file: {}",
                        path.display()
                    ),
                ));
            }
        }
    }
    let key = generate_ed25519_key()?;
    write_atomic(private_path, key.to_pem().as_bytes(), FileMode::Private)?;
    if let Err(e) = write_atomic(
        public_path,
        key.public_key().to_pem().as_bytes(),
        FileMode::Public,
    ) {
        let _ = std::fs::remove_file(private_path);
        return Err(e);
    }
    Ok(KeyPairFiles {
        key_id: key.public_key().key_id(),
        public_key_sha256: key.public_key().public_key_sha256().to_owned(),
        private_path: private_path.to_path_buf(),
        public_path: public_path.to_path_buf(),
    })
}
