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
    // 54 input bytes make exactly one 72-character line.
    let lines = data.len().div_ceil(54);
    let mut out = String::with_capacity(lines * 73);
    for chunk in data.chunks(54) {
        STANDARD.encode_string(chunk, &mut out);
        out.push('\n');
    }
    out
}

/// Decode base64, skipping CR, LF, spaces and tabs anywhere. The error names
/// the position (1-based, in the caller's string) of the first bad input.
pub fn decode64(text: &[u8]) -> Result<Vec<u8>, String> {
    let is_space = |b: &u8| matches!(b, b'\r' | b'\n' | b' ' | b'\t');
    let kept: Vec<u8> = text.iter().filter(|b| !is_space(b)).copied().collect();
    // Position in `text` of the `offset`-th kept byte (only on the error path).
    let at = |offset: usize| {
        text.iter()
            .enumerate()
            .filter(|(_, b)| !is_space(b))
            .nth(offset)
            .map_or(text.len() + 1, |(i, _)| i + 1)
    };
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
