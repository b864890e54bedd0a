//! LQFT 1.2.2's policy-code table, its message classifier and its CLI exit-code mapping.
//!
//! Scripts written against LQFT match on these codes and exit statuses, so both are kept
//! exactly. Errors raised by this crate carry their code directly; [`classify_policy_error`]
//! reproduces LQFT's substring rules for messages that come from elsewhere.

/// One row of LQFT's policy-code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is named after its code string, see `as_str`
pub enum PolicyCode {
    IntegrityChecksumMismatch,
    SourceMissingTrustedSignersPath,
    SourceEmptyTrustStoreDirectory,
    SchemaInvalidTrustStoreValidity,
    SchemaInvalidTrustStoreManifest,
    SchemaEmptyTrustStoreManifest,
    SchemaInvalidTrustedSigners,
    SchemaInvalidTrustedSignerKeyId,
    SchemaDuplicateTrustedSignerKeyId,
    VerificationTrustedSignersNonEd25519,
    VerificationTrustedSignerIdentityMismatch,
    FreshnessInvalidMinRemainingValidity,
    SchemaInvalidStorageEngineManifest,
    SchemaInvalidDocument,
    SchemaInvalidValidityBlock,
    SchemaInvalidPayload,
    SchemaInvalidIntegrityBlock,
    SchemaInvalidSignatureBlock,
    VerificationUnsupportedForDirectoryTrustStore,
    VerificationTrustedSignersUnsupported,
    SignerUntrusted,
    VerificationSignerIdentityMismatch,
    VerificationSignatureMismatch,
    VerificationAlgorithmMismatch,
    VerificationUnsigned,
    FreshnessMissingExpiresAt,
    FreshnessBelowMinRemainingValidity,
    FreshnessNotCurrentlyValid,
    VerificationConfigurationError,
    /// The fallback for messages no rule matches (`is_fallback = true`).
    PolicyError,
}

/// Message substrings in LQFT's rule order; the first match wins.
const RULES: &[(&[&str], PolicyCode)] = &[
    (
        &["checksum mismatch"],
        PolicyCode::IntegrityChecksumMismatch,
    ),
    (
        &["trusted_signers string inputs must point to an existing trust-store path"],
        PolicyCode::SourceMissingTrustedSignersPath,
    ),
    (
        &["trust store directory does not contain any .pem public keys"],
        PolicyCode::SourceEmptyTrustStoreDirectory,
    ),
    (
        &["trust store manifest validity"],
        PolicyCode::SchemaInvalidTrustStoreValidity,
    ),
    (
        &["trust store manifest must decode to a dictionary"],
        PolicyCode::SchemaInvalidTrustStoreManifest,
    ),
    (
        &["trust store manifest does not contain any active signers"],
        PolicyCode::SchemaEmptyTrustStoreManifest,
    ),
    (
        &["trusted_signers must be a mapping or iterable of Ed25519 verification keys"],
        PolicyCode::SchemaInvalidTrustedSigners,
    ),
    (
        &["trusted_signers keys must be non-empty strings"],
        PolicyCode::SchemaInvalidTrustedSignerKeyId,
    ),
    (
        &["duplicate trusted signer key_id"],
        PolicyCode::SchemaDuplicateTrustedSignerKeyId,
    ),
    (
        &["trusted_signers only supports Ed25519 verification keys"],
        PolicyCode::VerificationTrustedSignersNonEd25519,
    ),
    (
        &["trusted signer key_id does not match supplied verification key"],
        PolicyCode::VerificationTrustedSignerIdentityMismatch,
    ),
    (
        &["min_remaining_validity_seconds must be a non-negative integer or null"],
        PolicyCode::FreshnessInvalidMinRemainingValidity,
    ),
    (
        &[
            "trust store manifest signers",
            "trust store manifest signer",
            "trust store manifest keys must",
            "trust store manifest values must",
            "trust store manifest must be a non-empty mapping",
        ],
        PolicyCode::SchemaInvalidTrustStoreManifest,
    ),
    (
        &["storage engine manifest"],
        PolicyCode::SchemaInvalidStorageEngineManifest,
    ),
    (
        &["must decode to a dictionary payload"],
        PolicyCode::SchemaInvalidDocument,
    ),
    (
        &["persisted file validity"],
        PolicyCode::SchemaInvalidValidityBlock,
    ),
    (
        &["payload must be a dictionary"],
        PolicyCode::SchemaInvalidPayload,
    ),
    (
        &[
            "integrity block must be a dictionary",
            "integrity block is invalid",
        ],
        PolicyCode::SchemaInvalidIntegrityBlock,
    ),
    (
        &[
            "signature block must be a dictionary",
            "signature block is invalid",
        ],
        PolicyCode::SchemaInvalidSignatureBlock,
    ),
    (
        &["do not support manifest signature verification"],
        PolicyCode::VerificationUnsupportedForDirectoryTrustStore,
    ),
    (
        &["does not support trusted_signers"],
        PolicyCode::VerificationTrustedSignersUnsupported,
    ),
    (&["untrusted"], PolicyCode::SignerUntrusted),
    (
        &["identity mismatch"],
        PolicyCode::VerificationSignerIdentityMismatch,
    ),
    (
        &["signature mismatch"],
        PolicyCode::VerificationSignatureMismatch,
    ),
    (
        &["signature algorithm does not match verify_key"],
        PolicyCode::VerificationAlgorithmMismatch,
    ),
    (&["unsigned"], PolicyCode::VerificationUnsigned),
    (
        &["does not declare expires_at required by min_remaining_validity_seconds"],
        PolicyCode::FreshnessMissingExpiresAt,
    ),
    (
        &["remaining validity is below min_remaining_validity_seconds"],
        PolicyCode::FreshnessBelowMinRemainingValidity,
    ),
    (
        &["not currently valid"],
        PolicyCode::FreshnessNotCurrentlyValid,
    ),
    (&["verify_key"], PolicyCode::VerificationConfigurationError),
];

/// Every code, in table order (the fallback last).
pub const ALL_POLICY_CODES: [PolicyCode; 30] = [
    PolicyCode::IntegrityChecksumMismatch,
    PolicyCode::SourceMissingTrustedSignersPath,
    PolicyCode::SourceEmptyTrustStoreDirectory,
    PolicyCode::SchemaInvalidTrustStoreValidity,
    PolicyCode::SchemaInvalidTrustStoreManifest,
    PolicyCode::SchemaEmptyTrustStoreManifest,
    PolicyCode::SchemaInvalidTrustedSigners,
    PolicyCode::SchemaInvalidTrustedSignerKeyId,
    PolicyCode::SchemaDuplicateTrustedSignerKeyId,
    PolicyCode::VerificationTrustedSignersNonEd25519,
    PolicyCode::VerificationTrustedSignerIdentityMismatch,
    PolicyCode::FreshnessInvalidMinRemainingValidity,
    PolicyCode::SchemaInvalidStorageEngineManifest,
    PolicyCode::SchemaInvalidDocument,
    PolicyCode::SchemaInvalidValidityBlock,
    PolicyCode::SchemaInvalidPayload,
    PolicyCode::SchemaInvalidIntegrityBlock,
    PolicyCode::SchemaInvalidSignatureBlock,
    PolicyCode::VerificationUnsupportedForDirectoryTrustStore,
    PolicyCode::VerificationTrustedSignersUnsupported,
    PolicyCode::SignerUntrusted,
    PolicyCode::VerificationSignerIdentityMismatch,
    PolicyCode::VerificationSignatureMismatch,
    PolicyCode::VerificationAlgorithmMismatch,
    PolicyCode::VerificationUnsigned,
    PolicyCode::FreshnessMissingExpiresAt,
    PolicyCode::FreshnessBelowMinRemainingValidity,
    PolicyCode::FreshnessNotCurrentlyValid,
    PolicyCode::VerificationConfigurationError,
    PolicyCode::PolicyError,
];

impl PolicyCode {
    /// LQFT's code string, e.g. `"integrity_checksum_mismatch"`.
    pub fn as_str(self) -> &'static str {
        // Every code is ASCII, so the conversion never fails.
        self.as_c_str().to_str().unwrap_or_default()
    }

    /// [`as_str`](PolicyCode::as_str) as a NUL-terminated string (for the C API).
    pub fn as_c_str(self) -> &'static std::ffi::CStr {
        use PolicyCode::*;
        match self {
            IntegrityChecksumMismatch => c"integrity_checksum_mismatch",
            SourceMissingTrustedSignersPath => c"source_missing_trusted_signers_path",
            SourceEmptyTrustStoreDirectory => c"source_empty_trust_store_directory",
            SchemaInvalidTrustStoreValidity => c"schema_invalid_trust_store_validity",
            SchemaInvalidTrustStoreManifest => c"schema_invalid_trust_store_manifest",
            SchemaEmptyTrustStoreManifest => c"schema_empty_trust_store_manifest",
            SchemaInvalidTrustedSigners => c"schema_invalid_trusted_signers",
            SchemaInvalidTrustedSignerKeyId => c"schema_invalid_trusted_signer_key_id",
            SchemaDuplicateTrustedSignerKeyId => c"schema_duplicate_trusted_signer_key_id",
            VerificationTrustedSignersNonEd25519 => c"verification_trusted_signers_non_ed25519",
            VerificationTrustedSignerIdentityMismatch => {
                c"verification_trusted_signer_identity_mismatch"
            }
            FreshnessInvalidMinRemainingValidity => c"freshness_invalid_min_remaining_validity",
            SchemaInvalidStorageEngineManifest => c"schema_invalid_storage_engine_manifest",
            SchemaInvalidDocument => c"schema_invalid_document",
            SchemaInvalidValidityBlock => c"schema_invalid_validity_block",
            SchemaInvalidPayload => c"schema_invalid_payload",
            SchemaInvalidIntegrityBlock => c"schema_invalid_integrity_block",
            SchemaInvalidSignatureBlock => c"schema_invalid_signature_block",
            VerificationUnsupportedForDirectoryTrustStore => {
                c"verification_unsupported_for_directory_trust_store"
            }
            VerificationTrustedSignersUnsupported => c"verification_trusted_signers_unsupported",
            SignerUntrusted => c"signer_untrusted",
            VerificationSignerIdentityMismatch => c"verification_signer_identity_mismatch",
            VerificationSignatureMismatch => c"verification_signature_mismatch",
            VerificationAlgorithmMismatch => c"verification_algorithm_mismatch",
            VerificationUnsigned => c"verification_unsigned",
            FreshnessMissingExpiresAt => c"freshness_missing_expires_at",
            FreshnessBelowMinRemainingValidity => c"freshness_below_min_remaining_validity",
            FreshnessNotCurrentlyValid => c"freshness_not_currently_valid",
            VerificationConfigurationError => c"verification_configuration_error",
            PolicyError => c"policy_error",
        }
    }

    /// The code for a code string, the inverse of [`PolicyCode::as_str`].
    pub fn from_code_str(code: &str) -> Option<PolicyCode> {
        ALL_POLICY_CODES.into_iter().find(|c| c.as_str() == code)
    }

    /// LQFT's component: `integrity`, `source`, `schema`, `verification`, `signer_trust`,
    /// `freshness` or `policy`.
    pub fn component(self) -> &'static str {
        let code = self.as_str();
        match self {
            PolicyCode::SignerUntrusted => "signer_trust",
            PolicyCode::PolicyError => "policy",
            _ => &code[..code.find('_').unwrap_or(code.len())],
        }
    }

    /// Whether this is the fallback code for unclassified messages.
    pub fn is_fallback(self) -> bool {
        self == PolicyCode::PolicyError
    }

    /// The `--fail-on-policy-fail` exit status, in LQFT's mapping order.
    pub fn exit_code(self) -> i32 {
        let code = self.as_str();
        if code.starts_with("source_") {
            17
        } else if code.starts_with("integrity_") {
            15
        } else if code.starts_with("schema_") {
            16
        } else if matches!(
            self,
            PolicyCode::VerificationUnsupportedForDirectoryTrustStore
                | PolicyCode::VerificationTrustedSignersUnsupported
                | PolicyCode::VerificationConfigurationError
        ) {
            13
        } else if code.starts_with("freshness_") {
            10
        } else if self == PolicyCode::SignerUntrusted {
            11
        } else if code.starts_with("verification_") {
            12
        } else {
            14
        }
    }
}

impl std::fmt::Display for PolicyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// LQFT's `classify_policy_error`: the code of the first rule whose substring occurs in
/// `message`, or [`PolicyCode::PolicyError`] when none does.
pub fn classify_policy_error(message: &str) -> PolicyCode {
    RULES
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| message.contains(n)))
        .map_or(PolicyCode::PolicyError, |(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_exit_codes_follow_the_table() {
        assert_eq!(PolicyCode::SignerUntrusted.component(), "signer_trust");
        assert_eq!(
            PolicyCode::FreshnessMissingExpiresAt.component(),
            "freshness"
        );
        assert_eq!(PolicyCode::VerificationConfigurationError.exit_code(), 13);
        assert_eq!(PolicyCode::VerificationUnsigned.exit_code(), 12);
        assert_eq!(PolicyCode::PolicyError.exit_code(), 14);
        for code in ALL_POLICY_CODES {
            assert_eq!(PolicyCode::from_code_str(code.as_str()), Some(code));
        }
    }

    #[test]
    fn classifier_uses_rule_order() {
        assert_eq!(
            classify_policy_error("persisted file checksum mismatch"),
            PolicyCode::IntegrityChecksumMismatch
        );
        assert_eq!(
            classify_policy_error("persisted file signer is untrusted"),
            PolicyCode::SignerUntrusted
        );
        assert_eq!(
            classify_policy_error("trust store manifest validity.expires_at must be x"),
            PolicyCode::SchemaInvalidTrustStoreValidity
        );
        assert_eq!(
            classify_policy_error("something else"),
            PolicyCode::PolicyError
        );
    }
}
