//! Portable files: LQFT 1.2.2's `lqft-persisted-file-v1` envelope and its payloads.
//!
//! - [`canonical_json`]: the exact bytes hashed and signed; [`python_json`]: the file text.
//! - [`envelope`]: integrity (sha256), signatures (HMAC-SHA256, Ed25519), validity and the
//!   freshness floor; [`keys`], [`keypair`], [`der_pem`]: key material.
//! - [`snapshot`]: snapshot, bundle and current-state payloads (with a base64 form for
//!   bytes that are not UTF-8); [`engine_manifest`]: storage-engine manifests;
//!   [`trust_store`]: signer trust stores.
//! - [`policy`]: LQFT's policy codes and exit codes; [`inspect`]: LQFT's inspection reports;
//!   [`limits`]: the caps every reader applies.
//! - [`map_files`]: saving and loading [`crate::Map`] snapshots.
//!
//! The byte-level description is in `docs/FORMAT.md`, "Portable files".
//!
//! [`canonical_json`]: crate::formats::canonical_json
//! [`python_json`]: crate::formats::python_json
//! [`envelope`]: crate::formats::envelope
//! [`keys`]: crate::formats::keys
//! [`keypair`]: crate::formats::keypair
//! [`der_pem`]: crate::formats::der_pem
//! [`snapshot`]: crate::formats::snapshot
//! [`engine_manifest`]: crate::formats::engine_manifest
//! [`trust_store`]: crate::formats::trust_store
//! [`policy`]: crate::formats::policy
//! [`inspect`]: crate::formats::inspect
//! [`limits`]: crate::formats::limits
//! [`map_files`]: crate::formats::map_files

pub mod base64;
pub mod canonical_json;
pub mod der_pem;
pub mod engine_manifest;
pub mod envelope;
pub mod error;
pub mod file_io;
pub mod hex;
pub mod inspect;

pub mod keypair;
pub mod keys;
pub mod limits;
pub mod map_files;
pub mod policy;
pub mod python_json;
pub mod snapshot;
pub mod trust_store;
pub mod validity;

pub use envelope::{
    OpenedFile, Verification, VerifyOptions, WriteOptions, read_persisted_file,
    write_persisted_file,
};
pub use error::{Error, ErrorKind, Result};
pub use keys::{Ed25519PrivateKey, Ed25519PublicKey, Secret, SignKey, VerifyKey};
pub use limits::Limits;
pub use policy::{PolicyCode, classify_policy_error};
pub use snapshot::{BundlePayload, CurrentStatePayload, SnapshotMetadata, SnapshotPayload};
pub use trust_store::{TrustStore, TrustStoreOptions};
pub use validity::Validity;
