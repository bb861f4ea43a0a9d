//! The host side of a script service's connection: line and byte reads with
//! a timeout and a line-length cap, writes, and the service-wide lock.
//!
//! A connection holds one of the script's instances for as long as its
//! handler runs, so nothing here waits without a bound: the first read waits
//! `first_read` (a client that connects and says nothing gives its instance
//! back soon), later reads and every write `timeout`, and `lock` gives up
//! after `timeout` too (a session holding the lock forever cannot stall the
//! service).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::bindings::IoError;
use crate::lineio::{LineRead, read_line};
use crate::services::ServiceStats;

/// Longest line `receive` accepts; a longer one is an error, not a buffer
/// that grows until the instance runs out of memory.
pub const MAX_LINE: usize = 64 * 1024;

pub struct ConnectionState {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
    /// The wait for the first read; later reads wait `timeout`.
    first_read: Option<Duration>,
    service_lock: Arc<Mutex<()>>,
    held: Option<OwnedMutexGuard<()>>,
    stats: Arc<ServiceStats>,
}

impl ConnectionState {
    pub fn new(
        stream: TcpStream,
        timeout: Duration,
        first_read: Duration,
        service_lock: Arc<Mutex<()>>,
        stats: Arc<ServiceStats>,
    ) -> Self {
        let (read, writer) = stream.into_split();
        let first_read = Some(first_read.min(timeout));
        ConnectionState { reader: BufReader::new(read), writer, timeout, first_read, service_lock, held: None, stats }
    }

    /// How long the next read may wait.
    fn read_timeout(&mut self) -> Duration {
        self.first_read.take().unwrap_or(self.timeout)
    }

    pub async fn send(&mut self, data: &[u8]) -> Result<(), IoError> {
        match tokio::time::timeout(self.timeout, self.writer.write_all(data)).await {
            Ok(Ok(())) => {
                self.stats.add_sent(data.len());
                Ok(())
            }
            Ok(Err(_)) => Err(IoError::Closed),
            Err(_) => Err(IoError::Timeout),
        }
    }

    /// One line without CR/LF. EOF before any byte is `closed`; EOF after
    /// some bytes returns them as the last line.
    pub async fn receive_line(&mut self) -> Result<Vec<u8>, IoError> {
        let wait = self.read_timeout();
        match tokio::time::timeout(wait, read_line(&mut self.reader, MAX_LINE + 2)).await {
            Ok(Ok(LineRead::Line { text, consumed })) => {
                self.stats.add_received(consumed);
                Ok(text)
            }
            Ok(Ok(LineRead::TooLong)) => Err(IoError::TooLong),
            Ok(Ok(LineRead::Closed)) | Ok(Err(_)) => Err(IoError::Closed),
            Err(_) => Err(IoError::Timeout),
        }
    }

    /// Whatever is available, up to `max` bytes (at least one, or an error).
    pub async fn receive_bytes(&mut self, max: u32) -> Result<Vec<u8>, IoError> {
        let mut buf = vec![0u8; (max as usize).min(1 << 20)];
        if buf.is_empty() {
            return Ok(buf);
        }
        let wait = self.read_timeout();
        match tokio::time::timeout(wait, self.reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(IoError::Closed),
            Ok(Ok(n)) => {
                buf.truncate(n);
                self.stats.add_received(n);
                Ok(buf)
            }
            Err(_) => Err(IoError::Timeout),
        }
    }

    /// Take the service-wide lock; false if it was not free within the
    /// session timeout.
    pub async fn lock(&mut self) -> bool {
        if self.held.is_none() {
            match tokio::time::timeout(self.timeout, self.service_lock.clone().lock_owned()).await {
                Ok(guard) => self.held = Some(guard),
                Err(_) => return false,
            }
        }
        true
    }

    pub fn unlock(&mut self) {
        self.held = None;
    }
}
