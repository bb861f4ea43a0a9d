//! `session:receive`, `receivebytes` and `lock` in hooks. The connection
//! stays with its protocol session; a hook running on a guest thread asks
//! for a read at a [`Desk`], and the session's task, waiting for the
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

use tokio::sync::{Notify, OwnedMutexGuard, oneshot};

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

/// Where a hook's reads wait for the session's task: one request at a
/// time (the hook awaits each answer). Not a channel: a channel wakes its
/// receiver when the last sender goes, and the hook's link goes at the
/// end of every call, mostly inside the session task's own poll, which
/// then runs again for nothing and wakes an idle worker to do it. A desk
/// rings only when a read is asked for.
#[derive(Default)]
pub(super) struct Desk {
    state: Mutex<DeskState>,
    rung: Notify,
}

#[derive(Default)]
struct DeskState {
    /// Set when the call's `lend` ended: no read is served any more.
    closed: bool,
    request: Option<IoRequest>,
}

impl Desk {
    fn state(&self) -> std::sync::MutexGuard<'_, DeskState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leave a request; false when nobody serves this desk any more.
    fn ask(&self, request: IoRequest) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        state.request = Some(request);
        drop(state);
        self.rung.notify_one();
        true
    }

    /// Close it; a request left unserved is dropped, so its hook hears
    /// "closed".
    fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.request = None;
    }
}

/// Closes the desk when `lend` ends, by returning or by being dropped.
struct CloseOnDrop<'a>(&'a Desk);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The guest side: where a hook's reads go, and the service-wide lock.
#[derive(Clone)]
pub(super) struct HookLink {
    desk: Option<Arc<Desk>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The lock while a hook holds it; the host drops it when the call ends
    /// whatever the guest did.
    held: Arc<Mutex<Option<OwnedMutexGuard<()>>>>,
    lock_wait: Duration,
    read_wait: Duration,
}

impl HookLink {
    pub(super) fn new(desk: Option<Arc<Desk>>, lock: Arc<tokio::sync::Mutex<()>>, limits: &crate::config::ScriptLimits) -> HookLink {
        HookLink { desk, lock, held: Arc::default(), lock_wait: limits.hook_wait, read_wait: limits.session_timeout }
    }

    /// A line without its ending, or `max` bytes at most; `flush` is
    /// written before the client is read.
    pub(super) async fn receive(&self, flush: Vec<u8>, bytes: Option<u32>) -> Result<Vec<u8>, IoError> {
        // No client to read from (close, deliver): as if it had gone.
        let Some(desk) = &self.desk else { return Err(IoError::Closed) };
        let (reply, answer) = oneshot::channel();
        let read = bytes.map_or(Read::Line, Read::Bytes);
        if !desk.ask(IoRequest { flush, read, wait: self.read_wait, reply }) {
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
    desk: Option<&Desk>,
    io: Option<&mut HookIo<'_>>,
    earlier: &mut Vec<u8>,
) -> F::Output {
    let (Some(desk), Some(io)) = (desk, io) else { return work.await };
    let _closing = CloseOnDrop(desk);
    tokio::pin!(work);
    let mut budget = IoBudget { until: Instant::now() + CALL_TIME, left: MAX_RECEIVED, write_left: MAX_WRITTEN };
    loop {
        // The call first: most finish in their first poll, before the
        // desk's bell is even listened for.
        tokio::select! {
            biased;
            out = &mut work => return out,
            () = desk.rung.notified() => {
                let Some(request) = desk.state().request.take() else { continue };
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
