//! Reading one line from a client, with a length cap: the same rules for
//! every protocol (SMTP commands, script-service sessions, later POP3/IMAP).

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

pub enum LineRead {
    /// The line without its CR/LF ending; `consumed` counts the ending too.
    Line { text: Vec<u8>, consumed: usize },
    /// Longer than the cap. The line was consumed up to its LF, so the next
    /// read starts at the next line; memory never grows past the cap.
    TooLong,
    /// End of stream before any byte of a line.
    Closed,
}

/// One line of at most `max` bytes, its ending included. End of stream after
/// some bytes returns them as the last line. Callers add their own timeout.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<LineRead> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() { LineRead::Closed } else { finish(line) });
        }
        let (used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + used > max {
            reader.consume(used);
            if !done {
                skip_line(reader).await?;
            }
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(&buf[..used]);
        reader.consume(used);
        if done {
            return Ok(finish(line));
        }
    }
}

fn finish(mut text: Vec<u8>) -> LineRead {
    let consumed = text.len();
    while matches!(text.last(), Some(b'\n' | b'\r')) {
        text.pop();
    }
    LineRead::Line { text, consumed }
}

async fn skip_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        loop {
            match read_line(&mut r, max).await.unwrap() {
                LineRead::Line { text, consumed } => out.push(format!("{}/{consumed}", String::from_utf8_lossy(&text))),
                LineRead::TooLong => out.push("TOO LONG".into()),
                LineRead::Closed => return out,
            }
        }
    }

    #[tokio::test]
    async fn lines_endings_caps_and_eof() {
        assert_eq!(lines(b"ab\r\ncd\n\r\nlast", 10).await, ["ab/4", "cd/3", "/2", "last/4"]);
        // an over-long line is skipped whole; the next line is intact
        assert_eq!(lines(b"0123456789abc\r\nok\r\n", 10).await, ["TOO LONG", "ok/4"]);
        // the cap counts the ending
        assert_eq!(lines(b"12345678\r\n123456789\r\n", 10).await, ["12345678/10", "TOO LONG"]);
        assert!(lines(b"", 10).await.is_empty());
    }
}
