//! `lqft`: LQFT 1.2.2's file commands (key generation and inspection, with its exit codes)
//! plus `verify`, `export` and `import` of snapshot files and `store` for durable stores, built
//! on liblqft's safe API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lqft::formats::canonical_json::canonical_bytes;
use lqft::formats::engine_manifest::{
    SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT, STORAGE_ENGINE_MANIFEST_FORMAT,
    ShardedStorageEngineManifest, StorageEngineManifest,
};
use lqft::formats::file_io::replace_file;
use lqft::formats::inspect::{
    InspectOptions, ManifestKind, inspect_persisted_file, inspect_signer_trust_store,
    inspect_storage_engine_manifest,
};
use lqft::formats::keypair::write_ed25519_keypair;
use lqft::formats::keys::read_key_material;
use lqft::formats::map_files::{import_payloads, save_snapshot, snapshot_to_tree};
use lqft::formats::policy::PolicyCode;
use lqft::formats::python_json::{TextLayout, to_python_json};
use lqft::formats::snapshot::{
    BUNDLE_FORMAT, CURRENT_STATE_FORMAT, CurrentStatePayload, SNAPSHOT_FORMAT, decode_item,
    encode_item,
};
use lqft::formats::{
    BundlePayload, Limits, SignKey, SnapshotPayload, TrustStore, TrustStoreOptions, Validity,
    Verification, VerifyKey, VerifyOptions, WriteOptions, read_persisted_file,
};
use lqft::store::{Store, StoreOptions};
use lqft::{ImportOptions, Map, Snapshot, Tree};
use serde_json::{Value, json};

const USAGE: &str = "\
usage: lqft <command> [options]

LQFT 1.2.2 commands (same flags, JSON output and exit codes):
  generate-ed25519-keypair                 write an Ed25519 key pair (private key mode 0600)
  inspect-persisted-file PATH              report on a snapshot, bundle or manifest file
  inspect-signer-trust-store PATH          report on a trust-store directory or manifest
  inspect-storage-engine-manifest PATH     report on a storage-engine manifest
  inspect-sharded-storage-engine-manifest PATH
                                           report on a sharded storage-engine manifest
liblqft commands:
  verify PATH                              verify a file and its payload; exit 10-17 on policy failure
                                           (13 for a signed file given no key)
  export PATH                              write a snapshot (or bundle member) as JSON lines
  import [JSONL]                           build a snapshot file from JSON lines
  store info|verify|checkpoint|backup|dump|load DIR
                                           inspect, verify, checkpoint, dump or load a durable store

Run `lqft help <command>` or `lqft <command> --help` for a command's options, and
`lqft --version` for the version.
Exit status: 0 ok; 1 error, or no command given (as in LQFT 1.2.2); 2 usage error;
10-17 policy failure (LQFT's table, see docs/FORMAT.md).
";

// Not a `"\` continuation: that would drop the first line's indentation.
const VERIFY_FLAGS_HELP: &str =
    "  --verify-key-file FILE          Ed25519 public key PEM or HMAC secret file
  --verify-key-text TEXT          literal HMAC secret (exclusive with --verify-key-file)
  --min-remaining-validity-seconds N
                                  require N seconds of signed, verified validity left";

struct Usage(String);

/// Parsed `--flag value`, `--flag=value` and `--switch` arguments plus positionals.
struct Args {
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
    positional: Vec<String>,
}

impl Args {
    fn parse(
        raw: &[String],
        value_flags: &[&'static str],
        switch_flags: &[&'static str],
    ) -> Result<Args, Usage> {
        let mut args = Args {
            values: BTreeMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut i = 0;
        while i < raw.len() {
            let arg = &raw[i];
            i += 1;
            if arg == "--" {
                args.positional.extend(raw[i..].iter().cloned());
                break;
            }
            if !arg.starts_with("--") || arg == "-" {
                args.positional.push(arg.clone());
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (arg.as_str(), None),
            };
            if let Some(flag) = switch_flags.iter().find(|f| **f == name) {
                if inline.is_some() {
                    return Err(Usage(format!("{name} takes no value")));
                }
                args.switches.push(flag);
            } else if let Some(flag) = value_flags.iter().find(|f| **f == name) {
                let value = match inline {
                    Some(v) => v,
                    None if i < raw.len() => {
                        i += 1;
                        raw[i - 1].clone()
                    }
                    None => return Err(Usage(format!("{name} needs a value"))),
                };
                if args.values.insert(flag, value).is_some() {
                    return Err(Usage(format!("{name} given twice")));
                }
            } else {
                return Err(Usage(format!("unknown option {name}")));
            }
        }
        Ok(args)
    }

    fn get(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    fn has(&self, flag: &str) -> bool {
        self.switches.contains(&flag)
    }

    fn int(&self, flag: &str) -> Result<Option<i64>, Usage> {
        self.get(flag)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| Usage(format!("{flag}: invalid int value: {v:?}")))
            })
            .transpose()
    }

    fn one_path(&self, what: &str) -> Result<PathBuf, Usage> {
        match self.positional.as_slice() {
            [p] => Ok(PathBuf::from(p)),
            [] => Err(Usage(format!("missing {what}"))),
            _ => Err(Usage(format!("expected one {what}"))),
        }
    }

    fn verify_key_material(&self) -> Result<Option<Vec<u8>>, Failure> {
        match (self.get("--verify-key-file"), self.get("--verify-key-text")) {
            (Some(_), Some(_)) => Err(Failure::Usage(Usage(
                "--verify-key-file and --verify-key-text are mutually exclusive".into(),
            ))),
            (Some(file), None) => Ok(Some(read_key_material(Path::new(file))?)),
            (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
            (None, None) => Ok(None),
        }
    }
}

enum Failure {
    Usage(Usage),
    Error(String, u8),
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Failure {
        Failure::Usage(u)
    }
}

impl From<lqft::formats::Error> for Failure {
    fn from(e: lqft::formats::Error) -> Failure {
        let code = u8::try_from(e.exit_code()).unwrap_or(1);
        Failure::Error(e.to_string(), code)
    }
}

fn print_json(value: &Value) -> Result<(), Failure> {
    let layout = TextLayout {
        indent: Some(2),
        sort_keys: true,
    };
    std::io::stdout()
        .write_all(&to_python_json(value, layout))
        .map_err(|e| Failure::Error(format!("cannot write output: {e}"), 1))
}

fn exit_for_report(report: &Value, fail_on_policy_fail: bool) -> u8 {
    let policy = &report["effective_policy"];
    if !fail_on_policy_fail || policy["allowed"].as_bool() == Some(true) {
        return 0;
    }
    let code = policy["reason_code"]
        .as_str()
        .or(report["policy_check"]["error_code"].as_str())
        .and_then(PolicyCode::from_code_str)
        .unwrap_or(PolicyCode::PolicyError);
    u8::try_from(code.exit_code()).unwrap_or(14)
}

struct Command {
    name: &'static str,
    help: &'static str,
    values: &'static [&'static str],
    switches: &'static [&'static str],
    run: fn(&Args) -> Result<u8, Failure>,
}

const INSPECT_VALUES: &[&str] = &[
    "--verify-key-file",
    "--verify-key-text",
    "--trusted-signers",
    "--min-remaining-validity-seconds",
];
const TRUST_VALUES: &[&str] = &[
    "--verify-key-file",
    "--verify-key-text",
    "--trusted-manifest-signers",
    "--min-remaining-validity-seconds",
];

const COMMANDS: &[Command] = &[
    Command {
        name: "generate-ed25519-keypair",
        help: "usage: lqft generate-ed25519-keypair --private-out PATH --public-out PATH [--force]

Generate an Ed25519 key pair: the private key as PKCS#8 PEM (mode 0600), the public key as
SubjectPublicKeyInfo PEM. Prints {algorithm, key_id, public_key_sha256, private_path,
public_path}.

  --private-out PATH   where to write the private key (required)
  --public-out PATH    where to write the public key (required)
  --force              overwrite existing files",
        values: &["--private-out", "--public-out"],
        switches: &["--force"],
        run: cmd_keypair,
    },
    Command {
        name: "inspect-persisted-file",
        help: "usage: lqft inspect-persisted-file PATH [options]

Report on a persisted file (LQFT's inspect_persisted_file keys, plus validity_in_payload and
verified_signer, and in `payload` the Merkle root of each snapshot inside: root_hash, or
snapshot_roots for a bundle) without loading it.

  --trusted-signers PATH          trust store (directory or manifest) of allowed signers
  --fail-on-policy-fail           exit 10-17 when effective_policy rejects the file",
        values: INSPECT_VALUES,
        switches: &["--fail-on-policy-fail"],
        run: cmd_inspect_file,
    },
    Command {
        name: "inspect-signer-trust-store",
        help: "usage: lqft inspect-signer-trust-store PATH [options]

Report on a signer trust store (a directory of .pem files or a manifest).

  --trusted-manifest-signers PATH trust store of signers allowed to sign the manifest
  --fail-on-policy-fail           exit 10-17 when effective_policy rejects the store",
        values: TRUST_VALUES,
        switches: &["--fail-on-policy-fail"],
        run: cmd_inspect_trust,
    },
    Command {
        name: "inspect-storage-engine-manifest",
        help: "usage: lqft inspect-storage-engine-manifest PATH [options]

Report on a storage-engine manifest and validate it.

  --trusted-signers PATH          trust store of allowed manifest signers
  --fail-on-policy-fail           exit 10-17 when effective_policy rejects the manifest",
        values: INSPECT_VALUES,
        switches: &["--fail-on-policy-fail"],
        run: cmd_inspect_engine,
    },
    Command {
        name: "inspect-sharded-storage-engine-manifest",
        help: "usage: lqft inspect-sharded-storage-engine-manifest PATH [options]

Report on a sharded storage-engine manifest and validate it.

  --trusted-signers PATH          trust store of allowed manifest signers
  --fail-on-policy-fail           exit 10-17 when effective_policy rejects the manifest",
        values: INSPECT_VALUES,
        switches: &["--fail-on-policy-fail"],
        run: cmd_inspect_sharded,
    },
    Command {
        name: "verify",
        help: "usage: lqft verify PATH [options]

Verify a persisted file (integrity, signature, trust, validity) and decode its payload.
Prints a JSON summary with the Merkle root of each snapshot inside; exits 10-17 with LQFT's
policy code on a policy failure, 1 on other errors. A file that is not an envelope fails
whenever a key or trust store is given. A signed file needs a key or trust store to verify
its signature: without one it fails with exit 13 (verification_configuration_error), unless
the flag --no-verify-signature asks for the integrity check alone.

  --trusted-signers PATH          trust store (directory or manifest) of allowed signers
  --no-verify-signature           accept a signed file without checking its signature",
        values: INSPECT_VALUES,
        switches: &["--no-verify-signature"],
        run: cmd_verify,
    },
    Command {
        name: "export",
        help: "usage: lqft export PATH [options]

Verify a snapshot or bundle file and write its items as JSON lines, one
{\"key\",\"value\"} object per line in key order (\"key_b64\"/\"value_b64\" for bytes that are
not UTF-8).

  --out PATH                      write here instead of standard output (replaced
                                  atomically: a failed export leaves it as it was)
  --snapshot-id N                 for a bundle: which snapshot (default: current, else last)
  --trusted-signers PATH          trust store of allowed signers",
        values: &[
            "--verify-key-file",
            "--verify-key-text",
            "--trusted-signers",
            "--min-remaining-validity-seconds",
            "--out",
            "--snapshot-id",
        ],
        switches: &[],
        run: cmd_export,
    },
    Command {
        name: "import",
        help: "usage: lqft import [JSONL] --out PATH [options]

Read JSON lines ({\"key\"|\"key_b64\", \"value\"|\"value_b64\"} objects or [key, value] pairs;
standard input when JSONL is absent or -), put them into a map in order (a later line wins),
snapshot it and write an lqft-snapshot-v1 file (gzip when PATH ends in .gz).

  --out PATH                      file to write (required)
  --sign-key-file FILE            Ed25519 private key PEM or HMAC secret file
  --sign-key-text TEXT            literal HMAC secret
  --not-before TIME               validity start (ISO-8601 with offset)
  --expires-at TIME               validity end (ISO-8601 with offset)
  --warn-before-expiry-seconds N  expiring-soon threshold
  --indent N                      file indent (default 2)
  --max-input-bytes N             refuse input longer than N bytes (default 1 GiB, the
                                  largest file a reader accepts)",
        values: &[
            "--max-input-bytes",
            "--out",
            "--sign-key-file",
            "--sign-key-text",
            "--not-before",
            "--expires-at",
            "--warn-before-expiry-seconds",
            "--indent",
        ],
        switches: &[],
        run: cmd_import,
    },
    Command {
        name: "store",
        help: "usage: lqft store info|verify|checkpoint|backup|dump|load DIR [options]

Work with the durable store in the directory DIR (see the README, \"Durable stores\").
info, verify and dump open it read-only: they take no lock and run beside a writer, seeing
its last committed state. checkpoint, backup (of a store; a backup is read) and load open it
for writing: they fail (exit 1) while another process holds the writer lock.

  info DIR                  print the store as JSON: the current version (items, key and value
                            bytes, Merkle root), manifest number, packs, the current snapshot
                            and every registered snapshot with its metadata and root
  verify DIR                check every pack file whole against the blake3 its manifest
                            records, then load every node of every retained version (the
                            current one and every registered snapshot), check its structure
                            and recompute every Merkle hash; print a JSON summary, or exit 1
                            with the damage found (a damaged or missing file)
  checkpoint DIR            write a checkpoint now: the nodes no pack holds yet into a new
                            pack, a new manifest, the WAL before it retired
  backup DIR DEST           checkpoint, then copy the packs DEST lacks and the manifest last
                            into DEST (an empty directory or an earlier backup of this store:
                            only new packs are copied); DEST is then a store. Restore with
                            `backup DEST NEWDIR`: a backup (no WAL) is read without the lock and
                            stays a backup. A crash or error leaves DEST at its old state (or
                            the new one, if it came while the manifest was published). Prints
                            what was copied as JSON
  dump DIR [--out PATH] [--snapshot-id N]
                            write the current entries (or snapshot N's) in key order as JSON
                            lines, the format of `lqft export` ({\"key\",\"value\"},
                            \"key_b64\"/\"value_b64\" for bytes that are not UTF-8); --out PATH
                            is replaced atomically
  load DIR [JSONL]          put the JSON lines of JSONL (standard input when absent or -), in
                            the formats `lqft import` reads, into the store (created when DIR
                            does not exist); a later line wins. Every line is checked before
                            the first is written: bad input changes nothing. The load is one
                            atomic change written as a checkpoint (no WAL): a crash during it
                            leaves the store as it was before.
                            --max-input-bytes N refuses input longer than N (default 1 GiB)

Exit status: 0 ok, 1 error (damage, I/O, locked by another writer, bad input), 2 usage error.",
        values: &["--out", "--max-input-bytes", "--snapshot-id"],
        switches: &[],
        run: cmd_store,
    },
];

fn inspect_options<'a>(
    args: &'a Args,
    key: &'a Option<Vec<u8>>,
    trusted_flag: &str,
) -> Result<InspectOptions<'a>, Usage> {
    Ok(InspectOptions {
        verify_key: key.as_deref(),
        trusted_signers: args.get(trusted_flag).map(Path::new),
        min_remaining_validity_seconds: args.int("--min-remaining-validity-seconds")?,
        limits: Limits::default(),
    })
}

fn cmd_keypair(args: &Args) -> Result<u8, Failure> {
    if !args.positional.is_empty() {
        return Err(Usage("unexpected argument".into()).into());
    }
    let (Some(private), Some(public)) = (args.get("--private-out"), args.get("--public-out"))
    else {
        return Err(Usage("--private-out and --public-out are required".into()).into());
    };
    let files = write_ed25519_keypair(Path::new(private), Path::new(public), args.has("--force"))?;
    print_json(&files.to_json())?;
    Ok(0)
}

fn cmd_inspect_file(args: &Args) -> Result<u8, Failure> {
    let path = args.one_path("PATH")?;
    let key = args.verify_key_material()?;
    let mut report =
        inspect_persisted_file(&path, &inspect_options(args, &key, "--trusted-signers")?)?;
    // The roots of what the file holds, verified or not (the report says whether it is).
    let unverified = read_persisted_file(&path, &VerifyOptions::default(), &Limits::default());
    if let (Ok(opened), Value::Object(payload)) = (unverified, &mut report["payload"]) {
        payload.extend(merkle_roots(&opened.payload)?);
    }
    print_json(&report)?;
    Ok(exit_for_report(&report, args.has("--fail-on-policy-fail")))
}

fn cmd_inspect_trust(args: &Args) -> Result<u8, Failure> {
    let path = args.one_path("PATH")?;
    let key = args.verify_key_material()?;
    let options = inspect_options(args, &key, "--trusted-manifest-signers")?;
    let report = inspect_signer_trust_store(&path, &options)?;
    print_json(&report)?;
    Ok(exit_for_report(&report, args.has("--fail-on-policy-fail")))
}

fn inspect_manifest(args: &Args, kind: ManifestKind) -> Result<u8, Failure> {
    let path = args.one_path("PATH")?;
    let key = args.verify_key_material()?;
    let options = inspect_options(args, &key, "--trusted-signers")?;
    let report = inspect_storage_engine_manifest(&path, kind, &options)?;
    print_json(&report)?;
    Ok(exit_for_report(&report, args.has("--fail-on-policy-fail")))
}

fn cmd_inspect_engine(args: &Args) -> Result<u8, Failure> {
    inspect_manifest(args, ManifestKind::Single)
}

fn cmd_inspect_sharded(args: &Args) -> Result<u8, Failure> {
    inspect_manifest(args, ManifestKind::Sharded)
}

/// Keys and trust store from the verification flags; errors exit with their policy code.
struct Verifier {
    key: Option<VerifyKey>,
    store: Option<TrustStore>,
    floor: Option<i64>,
}

impl Verifier {
    fn from_args(args: &Args) -> Result<Verifier, Failure> {
        let key = args
            .verify_key_material()?
            .map(|m| VerifyKey::from_material(&m))
            .transpose()?;
        let store = args
            .get("--trusted-signers")
            .map(|p| TrustStore::load(Path::new(p), &TrustStoreOptions::default()))
            .transpose()?;
        Ok(Verifier {
            key,
            store,
            floor: args.int("--min-remaining-validity-seconds")?,
        })
    }

    fn options(&self) -> VerifyOptions<'_> {
        VerifyOptions {
            verify_key: self.key.as_ref(),
            trusted_signers: self.store.as_ref(),
            min_remaining_validity_seconds: self.floor,
        }
    }
}

/// The Merkle root of each snapshot `payload` holds: `root_hash` for a snapshot or a current
/// state, `snapshot_roots` (`snapshot_id`, `root_hash`) for a bundle; nothing for other
/// payloads.
fn merkle_roots(payload: &Value) -> Result<serde_json::Map<String, Value>, Failure> {
    let hex = |tree: &Tree| Value::String(lqft::formats::hex::encode(&tree.root_hash()));
    let mut roots = serde_json::Map::new();
    match payload.get("format").and_then(Value::as_str) {
        Some(SNAPSHOT_FORMAT) => {
            let (_, tree) = snapshot_to_tree(&SnapshotPayload::from_json(payload, 0)?)?;
            roots.insert("root_hash".into(), hex(&tree));
        }
        Some(BUNDLE_FORMAT) => {
            let bundle = BundlePayload::from_json(payload, 0)?;
            let mut list = Vec::with_capacity(bundle.snapshots.len());
            for snapshot in &bundle.snapshots {
                let (meta, tree) = snapshot_to_tree(snapshot)?;
                list.push(json!({"snapshot_id": meta.id, "root_hash": hex(&tree)}));
            }
            roots.insert("snapshot_roots".into(), Value::Array(list));
        }
        Some(CURRENT_STATE_FORMAT) => {
            let state = CurrentStatePayload::from_json(payload)?;
            let mut tree = Tree::new();
            for (key, value) in &state.items {
                tree.insert(key, value)
                    .map_err(|e| Failure::Error(format!("current state item: {e}"), 1))?;
            }
            roots.insert("root_hash".into(), hex(&tree));
        }
        _ => {}
    }
    Ok(roots)
}

fn cmd_verify(args: &Args) -> Result<u8, Failure> {
    let path = args.one_path("PATH")?;
    let verifier = Verifier::from_args(args)?;
    let opened = read_persisted_file(&path, &verifier.options(), &Limits::default())?;
    let unchecked_signature = opened.check.signature_algorithm.is_some()
        && matches!(opened.check.verification, Verification::NotRequested);
    if unchecked_signature && !args.has("--no-verify-signature") {
        let code = PolicyCode::VerificationConfigurationError;
        return Err(Failure::Error(
            format!(
                "{} is signed, but no key was given to verify its signature: give \
                 --verify-key-file, --verify-key-text or --trusted-signers, or \
                 --no-verify-signature to check its integrity only [{}]",
                path.display(),
                code.as_str()
            ),
            u8::try_from(code.exit_code()).unwrap_or(13),
        ));
    }
    let manifest_dir = path.parent().unwrap_or(Path::new(""));
    let format = opened
        .payload
        .get("format")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut summary = json!({
        "path": path.to_string_lossy(),
        "envelope": opened.check.is_envelope,
        "payload_format": format,
        "signature_algorithm": opened.check.signature_algorithm,
        "verified": !matches!(opened.check.verification, Verification::NotRequested),
        "signature_checked": !unchecked_signature,
        "verified_signer": match &opened.check.verification {
            Verification::Ed25519 { key_id } => Value::String(key_id.clone()),
            _ => Value::Null,
        },
        "validity": opened.check.validity.to_json(),
        "validity_in_payload": opened.check.validity_in_payload,
    });
    if let Value::Object(summary) = &mut summary {
        summary.extend(merkle_roots(&opened.payload)?);
    }
    match format.as_deref() {
        Some(SNAPSHOT_FORMAT) => {
            let snap = SnapshotPayload::from_json(&opened.payload, 0)?;
            summary["snapshot_id"] = snap.metadata.snapshot_id.into();
            summary["item_count"] = snap.items.len().into();
        }
        Some(BUNDLE_FORMAT) => {
            let bundle = BundlePayload::from_json(&opened.payload, 0)?;
            summary["snapshot_count"] = bundle.snapshots.len().into();
            summary["current_snapshot_id"] = bundle.current_snapshot_id.into();
        }
        Some(CURRENT_STATE_FORMAT) => {
            let state = CurrentStatePayload::from_json(&opened.payload)?;
            summary["item_count"] = state.items.len().into();
        }
        Some(STORAGE_ENGINE_MANIFEST_FORMAT) => {
            StorageEngineManifest::from_json(&opened.payload)?.check_paths(manifest_dir)?;
        }
        Some(SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT) => {
            ShardedStorageEngineManifest::from_json(&opened.payload)?.check_paths(manifest_dir)?;
        }
        _ => {}
    }
    print_json(&summary)?;
    Ok(0)
}

fn pick_snapshot(
    map: &Map,
    loaded: Vec<Snapshot>,
    wanted: Option<i64>,
) -> Result<Snapshot, Failure> {
    if let Some(id) = wanted {
        return loaded
            .into_iter()
            .find(|s| i64::try_from(s.id()).ok() == Some(id))
            .ok_or_else(|| Failure::Error(format!("the bundle has no snapshot {id}"), 1));
    }
    match map.current_snapshot() {
        Some(current) => Ok(current),
        None => loaded
            .into_iter()
            .last()
            .ok_or_else(|| Failure::Error("the bundle is empty".into(), 1)),
    }
}

fn cmd_export(args: &Args) -> Result<u8, Failure> {
    let path = args.one_path("PATH")?;
    let verifier = Verifier::from_args(args)?;
    let opened = read_persisted_file(&path, &verifier.options(), &Limits::default())?;
    let is_bundle = opened.payload.get("format").and_then(Value::as_str) == Some(BUNDLE_FORMAT);
    let map = Map::new();
    let snapshot = if is_bundle {
        let bundle = BundlePayload::from_json(&opened.payload, 0)?;
        let options = ImportOptions {
            activate: Some(bundle.current_index()),
            ..ImportOptions::default()
        };
        let loaded = import_payloads(&map, &bundle.snapshots, &options)?;
        pick_snapshot(&map, loaded, args.int("--snapshot-id")?)?
    } else {
        let snapshot = SnapshotPayload::from_json(&opened.payload, 0)?;
        import_payloads(
            &map,
            std::slice::from_ref(&snapshot),
            &ImportOptions::default(),
        )?
        .remove(0)
    };
    write_jsonl(args.get("--out"), snapshot.iter().map(Ok))?;
    Ok(0)
}

/// Writes `items` as JSON lines (one canonical `{"key","value"}` object per line, `_b64` fields
/// for bytes that are not UTF-8) to the file `out` — replaced atomically, so a failed write
/// leaves it as it was — or to standard output.
fn write_jsonl<'a>(
    out: Option<&str>,
    items: impl Iterator<Item = std::io::Result<(&'a [u8], &'a [u8])>>,
) -> Result<(), Failure> {
    let write = |sink: &mut dyn Write| -> std::io::Result<()> {
        let mut out = BufWriter::new(sink);
        let mut line = Vec::with_capacity(256);
        for item in items {
            let (key, value) = item?;
            line.clear();
            line.extend_from_slice(&canonical_bytes(&encode_item(key, value)));
            line.push(b'\n');
            out.write_all(&line)?;
        }
        out.flush()
    };
    match out {
        Some(out) => replace_file(Path::new(out), write)?,
        None => write(&mut std::io::stdout().lock())
            .map_err(|e| Failure::Error(format!("cannot write output: {e}"), 1))?,
    }
    Ok(())
}

/// Reads JSON lines (`{"key"|"key_b64", "value"|"value_b64"}` objects or `[key, value]`
/// pairs; blank lines skipped) from the file `input` (standard input when `None` or `-`), at
/// most `--max-input-bytes` (default 1 GiB), and hands each item to `take` in order. A line
/// that does not decode, or that `take` refuses, stops the reading with its line number.
fn read_jsonl(
    args: &Args,
    input: Option<&str>,
    mut take: impl FnMut(&[u8], &[u8]) -> lqft::Result<()>,
) -> Result<(), Failure> {
    let input: Box<dyn BufRead> = match input {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p)
                .map_err(|e| Failure::Error(format!("cannot open {p}: {e}"), 1))?,
        )),
    };
    let limits = Limits::default();
    let cap = match args.int("--max-input-bytes")? {
        Some(n) => u64::try_from(n).map_err(|_| Usage("--max-input-bytes must be >= 0".into()))?,
        None => limits.max_file_bytes,
    };
    // Stops endless input at the cap (one byte past it tells that the cap was passed).
    let mut input = std::io::Read::take(input, cap.saturating_add(1));
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Error(format!("cannot read input: {e}"), 1))?;
        if read == 0 {
            return Ok(());
        }
        if input.limit() == 0 {
            return Err(Failure::Error(
                format!("input is over the cap of {cap} bytes (--max-input-bytes)"),
                1,
            ));
        }
        number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        let item = lqft::formats::file_io::parse_json(&line, &limits)
            .and_then(|v| decode_item(&v))
            .map_err(|e| Failure::Error(format!("line {number}: {e}"), 1))?;
        take(&item.0, &item.1).map_err(|e| Failure::Error(format!("line {number}: {e}"), 1))?;
    }
}

fn cmd_import(args: &Args) -> Result<u8, Failure> {
    let out = args
        .get("--out")
        .ok_or_else(|| Usage("--out is required".into()))?;
    let sign_key = match (args.get("--sign-key-file"), args.get("--sign-key-text")) {
        (Some(_), Some(_)) => {
            return Err(
                Usage("--sign-key-file and --sign-key-text are mutually exclusive".into()).into(),
            );
        }
        (Some(file), None) => Some(SignKey::from_file(Path::new(file))?),
        (None, Some(text)) => Some(SignKey::from_material(text.as_bytes())?),
        (None, None) => None,
    };
    let warn = args
        .int("--warn-before-expiry-seconds")?
        .map(|w| {
            u64::try_from(w).map_err(|_| Usage("--warn-before-expiry-seconds must be >= 0".into()))
        })
        .transpose()?;
    let validity = Validity {
        not_before: args.get("--not-before").map(str::to_owned),
        expires_at: args.get("--expires-at").map(str::to_owned),
        warn_before_expiry_seconds: warn,
    };
    let validity = (validity != Validity::default()).then_some(validity);
    let indent = args
        .int("--indent")?
        .map(|n| usize::try_from(n).map_err(|_| Usage("--indent must be >= 0".into())))
        .transpose()?
        .unwrap_or(2);
    let map = Map::new();
    let input = match args.positional.as_slice() {
        [] => None,
        [p] => Some(p.as_str()),
        _ => return Err(Usage("expected at most one input file".into()).into()),
    };
    read_jsonl(args, input, |key, value| map.put(key, value).map(|_| ()))?;
    let snapshot = map.snapshot();
    let options = WriteOptions {
        sign_key: sign_key.as_ref(),
        validity: validity.as_ref(),
        layout: TextLayout {
            indent: Some(indent),
            sort_keys: false,
        },
        ..WriteOptions::default()
    };
    save_snapshot(Path::new(out), &snapshot, &options)?;
    print_json(&json!({
        "path": out,
        "snapshot_id": snapshot.id(),
        "size": snapshot.len(),
        "root_hash": lqft::formats::hex::encode(&snapshot.root_hash()),
        "signature_algorithm": sign_key.as_ref().map(SignKey::algorithm),
    }))?;
    Ok(0)
}

/// The subcommands of `lqft store`, each with the flags it takes.
const STORE_COMMANDS: &[(&str, &[&str])] = &[
    ("info", &[]),
    ("verify", &[]),
    ("checkpoint", &[]),
    ("backup", &[]),
    ("dump", &["--out", "--snapshot-id"]),
    ("load", &["--max-input-bytes"]),
];

fn cmd_store(args: &Args) -> Result<u8, Failure> {
    let names = "info, verify, checkpoint, backup, dump or load";
    let (sub, dir, rest) = match args.positional.as_slice() {
        [] => return Err(Usage(format!("missing the store command: {names}")).into()),
        [sub, dir, rest @ ..] => (sub.as_str(), Path::new(dir), rest),
        [_] => return Err(Usage("missing DIR".into()).into()),
    };
    let Some((_, flags)) = STORE_COMMANDS.iter().find(|(name, _)| *name == sub) else {
        return Err(Usage(format!("unknown store command {sub:?}: expected {names}")).into());
    };
    if let Some(flag) = args.values.keys().find(|f| !flags.contains(f)) {
        return Err(Usage(format!("store {sub} does not take {flag}")).into());
    }
    let input = match (sub, rest) {
        ("backup", []) => return Err(Usage("missing DEST".into()).into()),
        (_, []) => None,
        ("load" | "backup", [input]) => Some(input.as_str()),
        _ => return Err(Usage(format!("unexpected argument {:?}", rest[0])).into()),
    };
    match sub {
        "info" => store_info(dir),
        "verify" => store_verify(dir),
        "checkpoint" => store_checkpoint(dir),
        "backup" => store_backup(dir, Path::new(input.unwrap_or_default())),
        "dump" => store_dump(dir, args),
        _ => store_load(dir, args, input),
    }
}

/// A store error, exit 1, with what to do when the writer lock is taken.
fn store_failure(dir: &Path, error: lqft::Error) -> Failure {
    let hint = match error {
        lqft::Error::Locked { .. } => {
            ": another process has the store open for writing; stop it first (info, verify \
             and dump read without the lock)"
        }
        _ => "",
    };
    Failure::Error(format!("{}: {error}{hint}", dir.display()), 1)
}

/// Opens the existing store in `dir` (`load` alone may create one).
fn open_store(dir: &Path, read_only: bool) -> Result<Store, Failure> {
    if !dir.join("manifest").is_dir() {
        return Err(Failure::Error(
            format!(
                "{} is not a store (no manifest/ directory in it)",
                dir.display()
            ),
            1,
        ));
    }
    open_store_in(dir, read_only)
}

fn open_store_in(dir: &Path, read_only: bool) -> Result<Store, Failure> {
    let options = StoreOptions {
        read_only,
        ..StoreOptions::default()
    };
    Store::open(dir, options).map_err(|e| store_failure(dir, e))
}

fn hex(hash: &lqft::Hash) -> Value {
    Value::String(lqft::formats::hex::encode(hash))
}

/// The JSON description of a version of a store.
fn describe_version(tree: &Tree) -> Value {
    json!({
        "items": tree.len(),
        "key_bytes": tree.key_bytes(),
        "value_bytes": tree.value_bytes(),
        "root_hash": hex(&tree.root_hash()),
    })
}

fn store_info(dir: &Path) -> Result<u8, Failure> {
    let store = open_store(dir, true)?;
    let counters = store.counters();
    let mut report = json!({"dir": dir.to_string_lossy()});
    report["current"] = describe_version(&store.view());
    report["manifest"] = counters.manifest.into();
    report["packs"] = counters.packs.into();
    let map = store.map();
    report["current_snapshot_id"] = map.current_snapshot().map(|s| s.id()).into();
    report["snapshots"] = map
        .snapshots()
        .iter()
        .map(|snapshot| {
            let meta = snapshot.meta();
            let mut entry = json!({
                "snapshot_id": meta.id,
                "parent_id": meta.parent_id,
                "generation": meta.generation,
                "created_at_ns": meta.created_at_ns,
                "mutation_count": meta.mutation_count,
            });
            if let (Value::Object(entry), Value::Object(version)) =
                (&mut entry, describe_version(snapshot.tree()))
            {
                entry.extend(version);
            }
            entry
        })
        .collect();
    print_json(&report)?;
    Ok(0)
}

fn store_verify(dir: &Path) -> Result<u8, Failure> {
    let store = open_store(dir, true)?;
    let packs = store.verify_packs().map_err(|e| store_failure(dir, e))?;
    let verify = |tree: &Tree, what: &str| -> Result<Value, Failure> {
        let root = tree
            .verify()
            .map_err(|e| Failure::Error(format!("{}: {what} is damaged: {e}", dir.display()), 1))?;
        let mut version = describe_version(tree);
        version["root_hash"] = hex(&root);
        Ok(version)
    };
    let current = verify(&store.view(), "the current version")?;
    let snapshots = store.map().snapshots();
    for snapshot in &snapshots {
        verify(snapshot.tree(), &format!("snapshot {}", snapshot.id()))?;
    }
    print_json(&json!({
        "dir": dir.to_string_lossy(),
        "verified": true,
        "packs_verified": packs,
        "versions_verified": 1 + snapshots.len(),
        "current": current,
        "node_loads": store.counters().node_loads,
    }))?;
    Ok(0)
}

fn store_checkpoint(dir: &Path) -> Result<u8, Failure> {
    let store = open_store(dir, false)?;
    store.checkpoint().map_err(|e| store_failure(dir, e))?;
    let counters = store.counters();
    print_json(&json!({
        "dir": dir.to_string_lossy(),
        "manifest": counters.manifest,
        "packs": counters.packs,
    }))?;
    Ok(0)
}

fn store_backup(dir: &Path, dest: &Path) -> Result<u8, Failure> {
    // A backup (no WAL segment) is opened read-only, so that restoring it leaves it a backup;
    // a store is opened to write, so that its checkpoint puts every committed write in DEST.
    let has_wal = std::fs::read_dir(dir.join("wal")).is_ok_and(|mut d| d.next().is_some());
    let store = open_store(dir, !has_wal)?;
    let report = store.backup(dest).map_err(|e| store_failure(dir, e))?;
    print_json(&json!({
        "dir": dir.to_string_lossy(),
        "dest": dest.to_string_lossy(),
        "manifest": report.manifest,
        "packs": report.packs,
        "packs_copied": report.packs_copied,
        "bytes_copied": report.bytes_copied,
    }))?;
    Ok(0)
}

fn store_dump(dir: &Path, args: &Args) -> Result<u8, Failure> {
    let store = open_store(dir, true)?;
    let tree = match args.int("--snapshot-id")? {
        None => store.view(),
        Some(id) => u64::try_from(id)
            .ok()
            .and_then(|id| store.map().snapshot_by_id(id))
            .ok_or_else(|| {
                Failure::Error(
                    format!("{}: the store has no snapshot {id}", dir.display()),
                    1,
                )
            })?
            .tree()
            .clone(),
    };
    let items = tree
        .try_iter()
        .map(|item| item.map_err(std::io::Error::other));
    write_jsonl(args.get("--out"), items).map_err(|failure| match failure {
        Failure::Error(message, code) => {
            Failure::Error(format!("{}: {message}", dir.display()), code)
        }
        usage => usage,
    })?;
    Ok(0)
}

fn store_load(dir: &Path, args: &Args, input: Option<&str>) -> Result<u8, Failure> {
    // Every line is read and checked (into a tree, a later line replacing an earlier one)
    // before the store is opened, so bad input changes nothing.
    let mut items = Tree::new();
    read_jsonl(args, input, |key, value| {
        items.insert(key, value).map(|_| ())
    })?;
    let store = open_store_in(dir, false)?;
    // One atomic change, durable when it returns (a checkpoint, not the WAL).
    store
        .load(items.iter())
        .map_err(|e| store_failure(dir, e))?;
    let mut report = json!({"dir": dir.to_string_lossy(), "loaded": items.len()});
    report["current"] = describe_version(&store.view());
    print_json(&report)?;
    Ok(0)
}

/// A command's help, with the verification flags it takes.
fn print_help(command: &Command) {
    if command.values.contains(&"--verify-key-file") {
        println!("{}\n{VERIFY_FLAGS_HELP}", command.help);
    } else {
        println!("{}", command.help);
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // No command: usage on standard error and exit 1, as LQFT 1.2.2 does.
    let Some(name) = raw.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(1);
    };
    match (name.as_str(), raw.get(1), raw.len()) {
        ("--version" | "-V", None, _) => {
            println!("lqft {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        ("--help" | "-h" | "help", None, _) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        ("help", Some(topic), 2) => {
            return match COMMANDS.iter().find(|c| c.name == topic) {
                Some(command) => {
                    print_help(command);
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("lqft help: unknown command {topic:?}\n\n{USAGE}");
                    ExitCode::from(2)
                }
            };
        }
        ("help", _, _) => {
            eprintln!("lqft help: expected at most one command\n\n{USAGE}");
            return ExitCode::from(2);
        }
        _ => {}
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == name) else {
        eprintln!("lqft: unknown command {name:?}\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &raw[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        print_help(command);
        return ExitCode::SUCCESS;
    }
    let result = Args::parse(rest, command.values, command.switches)
        .map_err(Failure::Usage)
        .and_then(|args| (command.run)(&args));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(Usage(message))) => {
            eprintln!("lqft {}: {message}\n\n{}", command.name, command.help);
            ExitCode::from(2)
        }
        Err(Failure::Error(message, code)) => {
            eprintln!("lqft {}: {message}", command.name);
            ExitCode::from(code)
        }
    }
}
