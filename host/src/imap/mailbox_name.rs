//! Which mailbox names a client may create (RFC 3501 §5.1): 7-bit, with
//! non-ASCII characters in modified UTF-7 (§5.1.3), and a hierarchy of
//! non-empty parts. Names are stored as sent (still encoded); this only
//! refuses what other clients could not decode or would take for a path.

/// Why `name` cannot be a mailbox name, or Ok.
pub fn check(name: &str, sep: char) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Err(format!("{c:?} must be sent in modified UTF-7"));
    }
    check_modified_utf7(name)?;
    // Parts like ".." or "" mean nothing to the store, but clients that
    // mirror folders on disk (Maildir, mbsync) would read them as paths.
    if let Some(part) = name.split(sep).find(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(format!("the hierarchy part {part:?} is not allowed"));
    }
    Ok(())
}

/// Every `&` opens a shift to modified BASE64 closed by `-` (`&-` is "&");
/// the shifted bytes must be whole UTF-16 characters, with no leftover
/// bits, none of them printable ASCII (which must be sent as itself).
fn check_modified_utf7(name: &str) -> Result<(), String> {
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        let after = &rest[start + 1..];
        let end = after.find('-').ok_or_else(|| format!("unterminated modified UTF-7 shift in {name:?}"))?;
        let encoded = &after[..end];
        if !encoded.is_empty() {
            decode_shift(encoded).map_err(|why| format!("invalid modified UTF-7 \"&{encoded}-\": {why}"))?;
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn decode_shift(encoded: &str) -> Result<String, &'static str> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut units = Vec::new();
    for b in encoded.bytes() {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return Err("not a modified BASE64 character"),
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 16 {
            count -= 16;
            units.push((bits >> count) as u16);
            bits &= (1 << count) - 1;
        }
    }
    if count >= 6 || bits != 0 {
        return Err("leftover bits");
    }
    let text = String::from_utf16(&units).map_err(|_| "not UTF-16")?;
    if text.chars().any(|c| (' '..='~').contains(&c)) {
        return Err("printable ASCII must not be encoded");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in ["INBOX", "Sent Items", "a/b/c", "&-", "Tom &- Jerry", "&ZeVnLIqe-", "Entw&APw-rfe", "&AOQA9gD8-"] {
            assert_eq!(check(name, '/'), Ok(()), "{name}");
        }
        assert_eq!(decode_shift("APw").unwrap(), "ü");
        assert_eq!(decode_shift("ZeVnLIqe").unwrap(), "日本語");
    }

    #[test]
    fn invalid_names() {
        for name in ["&-&", "&AGE-&", "a&Zm9v", "&AGE-", "&Jjo!-", "&ZeVnLIqe", "&2D3-", "caf\u{e9}", "a\tb", "a//b", "a/../b", "../x", "a/"] {
            assert!(check(name, '/').is_err(), "{name} should be refused");
        }
    }
}
