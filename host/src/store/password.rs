//! Account passwords. Rumble stored unsalted hex SHA-256 (and its scripts
//! still write that with `string.SHA256`), so that format is accepted; new
//! passwords set through the CLI are salted argon2id PHC strings.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

/// A salted argon2id PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Does `password` match `stored` (argon2 PHC or Rumble's hex SHA-256)?
/// An empty or unrecognised stored value matches nothing.
pub fn verify(stored: &str, password: &str) -> bool {
    if stored.starts_with("$argon2") {
        return match PasswordHash::new(stored) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        };
    }
    if is_sha256_hex(stored) {
        let given = hex::encode(Sha256::digest(password.as_bytes()));
        return constant_time_eq(stored.to_ascii_lowercase().as_bytes(), given.as_bytes());
    }
    false
}

/// Rumble's stored form: 64 hex digits.
pub fn is_sha256_hex(stored: &str) -> bool {
    stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip_is_salted() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "two hashes of one password must differ (salt)");
        assert!(verify(&a, "correct horse"));
        assert!(!verify(&a, "correct horse!"));
    }

    #[test]
    fn rumble_sha256_hex_is_accepted() {
        // sha256("secret"), as Rumble's string.SHA256 writes it, any case
        let stored = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        assert!(verify(stored, "secret"));
        assert!(verify(&stored.to_uppercase(), "secret"));
        assert!(!verify(stored, "Secret"));
    }

    #[test]
    fn empty_or_garbage_matches_nothing() {
        assert!(!verify("", ""));
        assert!(!verify("plaintext", "plaintext"));
        assert!(!verify("$argon2id$broken", "x"));
    }
}
