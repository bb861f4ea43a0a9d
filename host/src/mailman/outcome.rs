//! Recording what happened to queue rows: delivered rows leave the queue,
//! temporary failures wait `RetryInterval` (until `DeliveryAttempts` is
//! used up), permanent failures become one RFC 3464 bounce per message and
//! sender. The bounce is written and queued in the same transaction that
//! removes the failed rows, so a failure is never lost and never reported
//! twice. Mail from the null sender is never bounced (RFC 5321 §4.5.5).
//!
//! A failure of our own storage (disk full, I/O error, store busy) is not
//! the recipient's fault: such a row is *held*. It stays queued without
//! using up `DeliveryAttempts`, is tried again after a wait that grows with
//! its age (Postfix's backoff: at least `RetryInterval`, at most an hour),
//! and bounces only once it is older than `MaximalQueueLifetime`.

use std::collections::HashMap;
use std::time::Duration;

use super::dsn::{self, Action, Failure, Report};
use super::Mailman;
use crate::store::queue::QueueItem;
use crate::store::{spool, unix_now};

/// Most of the original message returned in a bounce: its header block.
const RETURNED_HEADERS_MAX: usize = 64 * 1024;
/// Longest wait between tries of a held row (Postfix: maximal_backoff_time).
const HELD_BACKOFF_MAX: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Delivered,
    /// Try again later; the text starts with an enhanced status code or a reply.
    Temporary(String),
    Permanent { status: String, diagnostic: String, remote_mta: Option<String> },
    /// Our own storage failed (the text starts with an enhanced status
    /// code): keep the row queued, do not count the attempt.
    Held(String),
}

impl Outcome {
    pub(super) fn permanent(status: &str, text: String, remote_mta: Option<String>) -> Outcome {
        Outcome::Permanent { status: status.into(), diagnostic: text, remote_mta }
    }
}

impl Mailman {
    pub(super) async fn settle(&self, results: Vec<(QueueItem, Outcome)>) {
        let mut failed: Vec<(QueueItem, Failure)> = Vec::new();
        for (item, outcome) in results {
            match outcome {
                Outcome::Delivered => self.complete(&item).await,
                Outcome::Temporary(reason) => {
                    if item.attempts + 1 >= i64::from(self.cfg.delivery_attempts) {
                        let status = dsn::status_from_reply(&reason, false);
                        failed.push((item.clone(), failure(&item, &status, reason, None)));
                    } else {
                        self.retry(&item, &reason).await;
                    }
                }
                Outcome::Permanent { status, diagnostic, remote_mta } => {
                    failed.push((item.clone(), failure(&item, &status, diagnostic, remote_mta)));
                }
                Outcome::Held(reason) => {
                    let lifetime = self.cfg.maximal_queue_lifetime.as_secs() as i64;
                    if unix_now() - item.created < lifetime {
                        self.hold(&item, &reason).await;
                    } else {
                        failed.push((item.clone(), self.expired(&item, reason)));
                    }
                }
            }
        }
        for group in by_message(failed) {
            self.bounce(group).await;
        }
    }

    async fn complete(&self, item: &QueueItem) {
        if let Err(e) = self.store.finish(vec![item.id], &item.fid, None).await {
            tracing::error!(target: "mailman", "cannot complete queue row {}: {e}", item.id);
        }
    }

    async fn retry(&self, item: &QueueItem, reason: &str) {
        let (id, at) = (item.id, unix_now() + self.cfg.retry_interval.as_secs() as i64);
        tracing::info!(
            target: "mailman",
            "{} to {} deferred (attempt {} of {}): {reason}",
            item.fid,
            item.recipient,
            item.attempts + 1,
            self.cfg.delivery_attempts
        );
        if let Err(e) = self.store.reschedule(id, at, reason).await {
            tracing::error!(target: "mailman", "cannot reschedule queue row {id}: {e}");
        }
        // The delivery loop may be asleep without knowing this row's new time.
        self.queued.notify_one();
    }

    /// Keep a row our own storage could not take, and say so loudly: the
    /// operator has to fix the disk, the mail is waiting for it.
    async fn hold(&self, item: &QueueItem, reason: &str) {
        let wait = held_backoff(unix_now() - item.created, self.cfg.retry_interval);
        let at = unix_now() + wait.as_secs() as i64;
        tracing::warn!(
            target: "mailman",
            "queue row {} ({} from <{}> to {}) held, next try in {}s: {reason}",
            item.id,
            item.fid,
            item.sender,
            item.recipient,
            wait.as_secs()
        );
        let id = item.id;
        if let Err(e) = self.store.hold(id, at, &format!("held: {reason}")).await {
            tracing::error!(target: "mailman", "cannot reschedule held queue row {id}: {e}");
        }
        self.queued.notify_one();
    }

    /// A held row past `MaximalQueueLifetime` fails; mail from `<>` has no
    /// one to tell, so the log is the only trace and says so.
    fn expired(&self, item: &QueueItem, reason: String) -> Failure {
        let days = self.cfg.maximal_queue_lifetime.as_secs_f64() / 86_400.0;
        let diagnostic = format!("{reason} (queued longer than MaximalQueueLifetime, {days:.1} days)");
        if item.sender.is_empty() {
            tracing::error!(
                target: "mailman",
                "queue row {} ({} from <> to {}) dropped after MaximalQueueLifetime: {diagnostic}",
                item.id,
                item.fid,
                item.recipient
            );
        }
        let status = dsn::status_from_reply(&reason, false);
        failure(item, &status, diagnostic, None)
    }

    /// One bounce for rows of the same message and sender.
    async fn bounce(&self, group: Vec<(QueueItem, Failure)>) {
        let first = group[0].0.clone();
        for (item, f) in &group {
            tracing::warn!(
                target: "mailman",
                "{} from <{}> to {} failed: {}",
                item.fid,
                item.sender,
                item.recipient,
                f.diagnostic.as_deref().unwrap_or(&f.status)
            );
        }
        let bounce_fid = if first.sender.is_empty() {
            None // never bounce a bounce
        } else {
            match self.write_bounce(&first, &group).await {
                Ok(fid) => Some(fid),
                Err(e) => {
                    tracing::error!(target: "mailman", "cannot write a bounce for {}: {e}; will retry", first.fid);
                    for (item, _) in &group {
                        self.retry(item, "4.3.0 bounce could not be written").await;
                    }
                    return;
                }
            }
        };
        let ids: Vec<i64> = group.iter().map(|(i, _)| i.id).collect();
        let bounce = bounce_fid.clone().map(|b| (b, first.sender.clone()));
        let result = self.store.finish(ids, &first.fid, bounce).await;
        match result {
            Ok(()) => {
                if let Some(b) = bounce_fid {
                    tracing::info!(target: "mailman", "bounce {b} queued for <{}>", first.sender);
                    self.queued.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(target: "mailman", "cannot record the bounce for {}: {e}", first.fid);
                if let Some(b) = bounce_fid {
                    spool::remove_spool(&self.cfg.storage, &b);
                }
            }
        }
    }

    async fn write_bounce(&self, first: &QueueItem, group: &[(QueueItem, Failure)]) -> std::io::Result<String> {
        let original = spool::spool_path(&self.cfg.storage, &first.fid);
        let headers = tokio::task::spawn_blocking(move || read_head(&original)).await??;
        let failures: Vec<Failure> = group.iter().map(|(_, f)| f.clone()).collect();
        let envid = envid(&first.params);
        let report = Report {
            reporting_mta: &self.cfg.server_name,
            original_sender: &first.sender,
            envid: envid.as_deref(),
            arrival: first.created,
            failures: &failures,
            original_headers: &headers,
            return_full: false,
        };
        let message = dsn::build(&report);
        let storage = self.cfg.storage.clone();
        let (fid, _) = tokio::task::spawn_blocking(move || spool::write_spool(&storage, &[&message])).await??;
        Ok(fid)
    }
}

/// Postfix's backoff: wait as long as the message has waited so far,
/// between `RetryInterval` and an hour.
fn held_backoff(age_secs: i64, retry_interval: Duration) -> Duration {
    let age = Duration::from_secs(age_secs.max(0) as u64);
    age.clamp(retry_interval, HELD_BACKOFF_MAX.max(retry_interval))
}

fn failure(item: &QueueItem, status: &str, diagnostic: String, remote_mta: Option<String>) -> Failure {
    Failure {
        recipient: item.recipient.clone(),
        original_recipient: None,
        action: Action::Failed,
        status: status.to_string(),
        remote_mta,
        diagnostic: Some(diagnostic),
        last_attempt: Some(unix_now()),
    }
}

fn by_message(failed: Vec<(QueueItem, Failure)>) -> Vec<Vec<(QueueItem, Failure)>> {
    let mut groups: HashMap<(String, String), Vec<(QueueItem, Failure)>> = HashMap::new();
    for (item, f) in failed {
        groups.entry((item.fid.clone(), item.sender.clone())).or_default().push((item, f));
    }
    groups.into_values().collect()
}

/// The original's header block (the part a bounce returns).
fn read_head(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(RETURNED_HEADERS_MAX as u64).read_to_end(&mut buf)?;
    Ok(dsn::headers_of(&buf).to_vec())
}

fn envid(params: &str) -> Option<String> {
    params.split(' ').find_map(|p| p.strip_prefix("ENVID=")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_rows_back_off_with_their_age_within_bounds() {
        let retry = Duration::from_secs(360);
        assert_eq!(held_backoff(0, retry), retry);
        assert_eq!(held_backoff(-5, retry), retry, "a clock step back");
        assert_eq!(held_backoff(1000, retry), Duration::from_secs(1000));
        assert_eq!(held_backoff(86_400, retry), HELD_BACKOFF_MAX);
        let slow = Duration::from_secs(7200);
        assert_eq!(held_backoff(86_400, slow), slow, "never sooner than RetryInterval");
    }
}
