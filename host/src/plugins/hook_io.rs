//! `session:receive`, `receivebytes` and `lock` in hooks. The connection
//! stays with its protocol session; a hook running on a guest thread asks
//! for a read over a channel, and the session's task, waiting for the
//! hook's verdict anyway, does the read ([`lend`]).
//!
//! A hook holds one of its script's instances while it waits for the
//! client, so every wait is bounded: each read or write waits at most the
//! script's session timeout, one hook call reads for at most [`CALL_TIME`]
//! and [`MAX_RECEIVED`] bytes in all, and `lock` gives up after the
//! script's `hook-wait`.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use super::bindings::IoError;
use crate::hooks::HookIo;
use crate::lineio::LineRead;

/// How long one hook call may spend reading, all reads together.
pub const CALL_TIME: Duration = Duration::from_secs(60);
/// Bytes one hook call may read, all reads together.
pub const MAX_RECEIVED: usize = 64 * 1024;
/// Bytes one hook call may write before its reads (each `session:send`
/// holds at most 64 KiB until the next read).
pub const MAX_WRITTEN: usize = 1024 * 1024;

/// A hook's read, with what it sent so far (written first, after the
/// protocol's unsent replies).
pub(super) struct IoRequest {
    flush: Vec<u8>,
    read: Read,
    /// The script's session timeout.
    wait: Duration,
    reply: oneshot::Sender<Result<Vec<u8>, IoError>>,
}

enum Read {
    Line,
    Bytes(u32),
}

/// The guest side: where a hook's reads go, and the service-wide lock.
#[derive(Clone)]
pub(super) struct HookLink {
    requests: Option<mpsc::Sender<IoRequest>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The lock while a hook holds it; the host drops it when the call ends
    /// whatever the guest did.
    held: Arc<Mutex<Option<OwnedMutexGuard<()>>>>,
    lock_wait: Duration,
    read_wait: Duration,
}

impl HookLink {
    pub(super) fn new(requests: Option<mpsc::Sender<IoRequest>>, lock: Arc<tokio::sync::Mutex<()>>, limits: &crate::config::ScriptLimits) -> HookLink {
        HookLink { requests, lock, held: Arc::default(), lock_wait: limits.hook_wait, read_wait: limits.session_timeout }
    }

    /// A line without its ending, or `max` bytes at most; `flush` is
    /// written before the client is read.
    pub(super) async fn receive(&self, flush: Vec<u8>, bytes: Option<u32>) -> Result<Vec<u8>, IoError> {
        // No client to read from (close, deliver): as if it had gone.
        let Some(requests) = &self.requests else { return Err(IoError::Closed) };
        let (reply, answer) = oneshot::channel();
        let read = bytes.map_or(Read::Line, Read::Bytes);
        if requests.send(IoRequest { flush, read, wait: self.read_wait, reply }).await.is_err() {
            return Err(IoError::Closed);
        }
        answer.await.unwrap_or(Err(IoError::Closed))
    }

    /// Take the service-wide lock; false when it was not free in time.
    pub(super) async fn lock(&self) -> bool {
        if self.held.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return true;
        }
        match tokio::time::timeout(self.lock_wait, self.lock.clone().lock_owned()).await {
            Ok(guard) => {
                *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
                true
            }
            Err(_) => false,
        }
    }

    pub(super) fn unlock(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Run one hook call (`work`), serving its reads from `io` meanwhile;
/// `earlier` (what hooks before it sent) is written before the first read.
pub(super) async fn lend<F: Future>(
    work: F,
    requests: Option<mpsc::Receiver<IoRequest>>,
    io: Option<&mut HookIo<'_>>,
    earlier: &mut Vec<u8>,
) -> F::Output {
    let (Some(mut requests), Some(io)) = (requests, io) else { return work.await };
    tokio::pin!(work);
    let mut budget = IoBudget { until: Instant::now() + CALL_TIME, left: MAX_RECEIVED, write_left: MAX_WRITTEN };
    loop {
        tokio::select! {
            out = &mut work => return out,
            Some(request) = requests.recv() => {
                let mut flush = std::mem::take(earlier);
                flush.extend_from_slice(&request.flush);
                let result = budget.serve(io, &flush, &request.read, request.wait).await;
                let _ = request.reply.send(result);
            }
        }
    }
}

/// What one hook call may still read and write.
struct IoBudget {
    until: Instant,
    left: usize,
    write_left: usize,
}

impl IoBudget {
    /// The session timeout, or less when the call's time runs out first.
    fn wait(&self, timeout: Duration) -> Duration {
        timeout.min(self.until.saturating_duration_since(Instant::now()))
    }

    async fn serve(&mut self, io: &mut HookIo<'_>, flush: &[u8], read: &Read, timeout: Duration) -> Result<Vec<u8>, IoError> {
        if flush.len() > self.write_left {
            self.write_left = 0;
            return Err(IoError::TooLong);
        }
        self.write_left -= flush.len();
        match tokio::time::timeout(self.wait(timeout), io.write(flush)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(IoError::Closed),
            Err(_) => return Err(IoError::Timeout),
        }
        let wait = self.wait(timeout);
        if wait.is_zero() {
            return Err(IoError::Timeout);
        }
        if self.left == 0 {
            return Err(IoError::TooLong);
        }
        match *read {
            Read::Line => match tokio::time::timeout(wait, io.read_line(self.left)).await {
                Ok(Ok(LineRead::Line { text, consumed })) => {
                    self.left -= consumed;
                    Ok(text)
                }
                Ok(Ok(LineRead::TooLong)) => {
                    self.left = 0;
                    Err(IoError::TooLong)
                }
                Ok(Ok(LineRead::Closed) | Err(_)) => Err(IoError::Closed),
                Err(_) => Err(IoError::Timeout),
            },
            Read::Bytes(max) => {
                let max = (max as usize).min(self.left);
                if max == 0 {
                    return Ok(Vec::new());
                }
                match tokio::time::timeout(wait, io.read_some(max)).await {
                    Ok(Ok(data)) if !data.is_empty() => {
                        self.left -= data.len();
                        Ok(data)
                    }
                    Ok(_) => Err(IoError::Closed),
                    Err(_) => Err(IoError::Timeout),
                }
            }
        }
    }
}
