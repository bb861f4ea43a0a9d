//! SASL (SMTP AUTH, POP3 AUTH, IMAP AUTHENTICATE): the PLAIN (RFC 4616) and
//! LOGIN mechanisms, the two every mail client speaks. Only decoding lives
//! here; each protocol does its own exchange, and `login` checks the
//! password against the store.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Credentials a client presented.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity: the full address `user@domain`.
    pub user: String,
    pub password: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("invalid base64")]
    Base64,
    #[error("malformed PLAIN response")]
    Malformed,
    #[error("authorization identity differs from the authentication identity")]
    Authzid,
    #[error("not UTF-8")]
    Utf8,
}

/// Decode one client response line; `=` is the empty response (RFC 4954 §4).
pub fn decode_response(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim();
    if line == "=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(line).map_err(|_| SaslError::Base64)
}

pub fn encode_challenge(text: &str) -> String {
    STANDARD.encode(text)
}

/// PLAIN: `[authzid] NUL authcid NUL passwd`. Acting as another user (an
/// authzid unlike the authcid) is not offered.
pub fn parse_plain(decoded: &[u8]) -> Result<Credentials, SaslError> {
    let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
    let [authzid, authcid, passwd] = parts.as_slice() else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Utf8);
    let (authzid, user, password) = (text(authzid)?, text(authcid)?, text(passwd)?);
    if user.is_empty() {
        return Err(SaslError::Malformed);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&user) {
        return Err(SaslError::Authzid);
    }
    Ok(Credentials { user, password })
}

/// One LOGIN response (the user name or the password), as text.
pub fn parse_login_field(decoded: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(decoded).map_err(|_| SaslError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_with_and_without_authzid() {
        let c = parse_plain(b"\0alice@example.org\0s3cret").unwrap();
        assert_eq!(c, Credentials { user: "alice@example.org".into(), password: "s3cret".into() });
        let c = parse_plain(b"alice@example.org\0alice@example.org\0pw").unwrap();
        assert_eq!(c.password, "pw");
        assert_eq!(parse_plain(b"bob@example.org\0alice@example.org\0pw"), Err(SaslError::Authzid));
        assert_eq!(parse_plain(b"alice\0pw"), Err(SaslError::Malformed));
        assert_eq!(parse_plain(b"\0\0pw"), Err(SaslError::Malformed));
        assert_eq!(parse_plain(b"\0a\0b\0c"), Err(SaslError::Malformed));
    }

    #[test]
    fn responses_decode() {
        assert_eq!(decode_response("=").unwrap(), b"");
        assert_eq!(decode_response("AGFsaWNlAHB3").unwrap(), b"\0alice\0pw");
        assert_eq!(decode_response("not base64!"), Err(SaslError::Base64));
        assert_eq!(encode_challenge("Username:"), "VXNlcm5hbWU6");
        assert_eq!(parse_login_field(vec![0xff]), Err(SaslError::Utf8));
    }
}
