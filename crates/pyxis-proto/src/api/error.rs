//! The machine-readable codes of error answers: one enum for every role, so
//! that a code the server renames is a compile error in the client, not a
//! silent change of behaviour.
//!
//! A code travels as its snake_case string (`"not_found"`), as it always
//! has. A code this build does not know (from a newer peer) reads as
//! [`ErrorCode::Unknown`]: the answer's message still says what happened.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable error code (docs/PROTOCOL.md lists what each means).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this build does not know.
            Unknown,
        }

        impl ErrorCode {
            /// Every known code, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it travels.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The code a string names; [`ErrorCode::Unknown`] for any other.
            pub fn parse(text: &str) -> ErrorCode {
                match text {
                    $($text => ErrorCode::$variant,)*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

codes! {
    // Anyone.
    /// The request's body or form is not what the route takes.
    BadRequest = "bad_request",
    BadBody = "bad_body",
    BadQuery = "bad_query",
    /// Something failed inside the answering party (its log has the detail).
    Internal = "internal",
    /// Too many requests: wait for the `Retry-After` header's seconds.
    RateLimited = "rate_limited",
    Busy = "busy",
    ShuttingDown = "shutting_down",
    NotFound = "not_found",
    /// Plain HTTP sent to a port that speaks HTTPS only (pyxis-net's
    /// listener answers this itself).
    TlsRequired = "tls_required",
    TooLarge = "too_large",
    BatchTooLarge = "batch_too_large",

    // Accounts and sessions.
    NoSession = "no_session",
    BadSession = "bad_session",
    BadUsername = "bad_username",
    UserExists = "user_exists",
    NoUser = "no_user",
    WrongPassword = "wrong_password",
    WrongRecoveryKey = "wrong_recovery_key",
    AccountDeleted = "account_deleted",
    AccountDisabled = "account_disabled",
    BadKdf = "bad_kdf",
    WeakKdf = "weak_kdf",
    BadWrappedKey = "bad_wrapped_key",
    KeyChanged = "key_changed",
    NoDevice = "no_device",
    BadDevice = "bad_device",
    QuotaExceeded = "quota_exceeded",
    BadQuota = "bad_quota",
    BadPolicy = "bad_policy",

    // The catalog.
    BadPath = "bad_path",
    BadName = "bad_name",
    BadFile = "bad_file",
    DuplicatePath = "duplicate_path",
    Exists = "exists",
    IsDirectory = "is_directory",
    ParentIsFile = "parent_is_file",
    NotEmpty = "not_empty",
    IntoItself = "into_itself",
    VersionConflict = "version_conflict",
    BindingRequired = "binding_required",
    MissingChunk = "missing_chunk",

    // Shares.
    BadShare = "bad_share",
    NoShare = "no_share",
    NotShared = "not_shared",
    ReadOnlyShare = "read_only_share",

    // Chunks, placement and receipts.
    BadChunk = "bad_chunk",
    NoChunk = "no_chunk",
    NoShard = "no_shard",
    BadReceipt = "bad_receipt",
    NotEnoughReceipts = "not_enough_receipts",
    NotEnoughRemotes = "not_enough_remotes",
    SchemeChanged = "scheme_changed",
    SchemeNotAllowed = "scheme_not_allowed",

    // Operators and remotes.
    NoAdminToken = "no_admin_token",
    BadAdminToken = "bad_admin_token",
    BadAdmissionToken = "bad_admission_token",
    BadCapacity = "bad_capacity",
    BadUrl = "bad_url",
    NoRemote = "no_remote",
    UnknownRemote = "unknown_remote",
    NotAdmitted = "not_admitted",
    Revoked = "revoked",
    NoRoute = "no_route",
    Unsigned = "unsigned",
    BadSignature = "bad_signature",

    // A remote's answers.
    NotRegistered = "not_registered",
    BadHash = "bad_hash",
    HashMismatch = "hash_mismatch",
    Full = "full",
    Corrupt = "corrupt",
    Storage = "storage",
    GrantMissing = "grant_missing",
    GrantMalformed = "grant_malformed",
    GrantBadSignature = "grant_bad_signature",
    GrantExpired = "grant_expired",
    GrantWrongOp = "grant_wrong_op",
    GrantWrongRemote = "grant_wrong_remote",
    GrantWrongShard = "grant_wrong_shard",
    GrantTooSmall = "grant_too_small",
    GrantWrongSize = "grant_wrong_size",
    GrantInvalid = "grant_invalid",
    GrantForbidden = "grant_forbidden",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ErrorCode::parse(&text))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_travels_as_its_string_and_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} is listed twice");
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn a_code_from_a_newer_peer_reads_as_unknown() {
        assert_eq!(serde_json::from_str::<ErrorCode>("\"made_up_later\"").unwrap(), ErrorCode::Unknown);
        assert_eq!(ErrorCode::parse("not_found"), ErrorCode::NotFound);
    }
}
