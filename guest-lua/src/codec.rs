//! `string.SHA256`, `string.encode64`, `string.decode64`: pure functions that
//! stay inside the guest. Binary-safe (the original Rumble stopped at NUL).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256, as Rumble stores passwords.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Base64 in Rumble's layout: lines of 72 characters, each ending in "\n"
/// (so non-empty output always ends in "\n"); "" for "".
pub fn encode64(data: &[u8]) -> String {
    let flat = STANDARD.encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 72 + 1);
    for line in flat.as_bytes().chunks(72) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

/// Decode base64, skipping CR, LF, spaces and tabs anywhere. The error names
/// the position (1-based, in the caller's string) of the first bad input.
pub fn decode64(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut kept = Vec::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        if !matches!(b, b'\r' | b'\n' | b' ' | b'\t') {
            kept.push(b);
            origin.push(i + 1);
        }
    }
    let at = |offset: usize| origin.get(offset).copied().unwrap_or(text.len() + 1);
    STANDARD.decode(&kept).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, byte) => {
            format!("invalid base64 character {:?} at position {}", byte as char, at(offset))
        }
        base64::DecodeError::InvalidLastSymbol(offset, byte) => {
            format!("invalid last base64 symbol {:?} at position {}", byte as char, at(offset))
        }
        base64::DecodeError::InvalidLength(len) => {
            format!("invalid base64 length: {len} characters is not a multiple of 4")
        }
        base64::DecodeError::InvalidPadding => "invalid base64 padding".to_string(),
    })
}
