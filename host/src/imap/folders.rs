//! Folder commands (RFC 3501 §6.3): CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, LIST, LSUB (with RFC 6154 special-use and RFC 3348 child
//! attributes), STATUS and APPEND. The hierarchy separator is "/"; names are
//! kept as the client sends them (modified UTF-7 stays encoded).

use std::path::PathBuf;

use std::collections::BTreeSet;

use super::command::{DateTime, Flag, StatusItem};
use super::mailbox_name;
use super::session::Session;
use super::wire;
use crate::store::mailbox::{Folder, canonical_name, flags};
use crate::store::{StoreError, spool};

pub(super) const SEP: char = '/';

impl Session {
    /// The account's letter folder, looked up once per session: FETCH and
    /// SEARCH need it on every call.
    /// Letter `fid` of folder `dir`, read through the shared cache (fetched
    /// first when bodies are kept in the database). NotFound: expunged.
    pub(super) async fn letter_file(&self, dir: &std::path::Path, fid: &str) -> std::io::Result<std::sync::Arc<super::cache::Cached>> {
        // A cached letter needs no look at the disk or the database.
        if let Some(hit) = self.ctx.cache.peek(&crate::store::spool::letter_path(dir, fid)) {
            return Ok(hit);
        }
        let path = match self.ctx.store.fetch_letter(dir, fid).await {
            Ok(path) => path,
            Err(StoreError::NotFound(what)) => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, what)),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        self.ctx.cache.get(&path).await
    }

    pub(super) async fn letter_dir(&mut self) -> Result<PathBuf, StoreError> {
        if let Some(dir) = &self.letter_dir {
            return Ok(dir.clone());
        }
        let account = self.account().clone();
        let dir = self.ctx.store.letter_dir(&account).await?;
        self.letter_dir = Some(dir.clone());
        Ok(dir)
    }

    pub(super) async fn create(&mut self, tag: &str, name: &str) -> std::io::Result<()> {
        let name = name.trim_end_matches(SEP).to_string();
        if name.is_empty() || canonical_name(&name) == "INBOX" {
            self.no(tag, "[ALREADYEXISTS] Mailbox exists");
            return Ok(());
        }
        if let Err(why) = mailbox_name::check(&name, SEP) {
            self.no(tag, &format!("[CANNOT] Invalid mailbox name: {why}"));
            return Ok(());
        }
        let account = self.account().id;
        let result = self.ctx.store.create_folder(account, &name, SEP).await;
        self.answer(tag, "CREATE", result);
        Ok(())
    }

    pub(super) async fn delete(&mut self, tag: &str, name: &str) -> std::io::Result<()> {
        let account = self.account().clone();
        let result = self.ctx.store.delete_folder(&account, name).await;
        self.answer(tag, "DELETE", result);
        Ok(())
    }

    pub(super) async fn rename(&mut self, tag: &str, from: &str, to: &str) -> std::io::Result<()> {
        let (account, f, t) = (self.account().id, from.to_string(), to.trim_end_matches(SEP).to_string());
        if let Err(why) = mailbox_name::check(&t, SEP) {
            self.no(tag, &format!("[CANNOT] Invalid mailbox name: {why}"));
            return Ok(());
        }
        let result = self.ctx.store.rename_folder(account, &f, &t, SEP).await;
        self.answer(tag, "RENAME", result);
        Ok(())
    }

    pub(super) async fn subscribe(&mut self, tag: &str, name: &str, on: bool) -> std::io::Result<()> {
        let result = self.ctx.store.subscribe(self.account().id, name, on).await;
        self.answer(tag, if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" }, result);
        Ok(())
    }

    pub(super) async fn list(&mut self, tag: &str, reference: &str, pattern: &str, lsub: bool) -> std::io::Result<()> {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() && !lsub {
            self.line("* LIST (\\Noselect) \"/\" \"\"");
            self.ok(tag, "LIST completed");
            return Ok(());
        }
        let account = self.account().id;
        let all = match self.ctx.store.list_folders(account).await {
            Ok(all) => all,
            Err(e) => {
                self.answer(tag, verb, Err(e));
                return Ok(());
            },
        };
        let full = format!("{reference}{pattern}");
        for f in &all {
            if (lsub && !f.subscribed) || !matches(&full, &f.name) {
                continue;
            }
            let attrs = attributes(f, &all);
            self.line(&format!("* {verb} ({attrs}) \"/\" {}", wire::string(&f.name)));
        }
        if lsub {
            for parent in unsubscribed_parents(&full, &all) {
                self.line(&format!("* LSUB (\\Noselect) \"/\" {}", wire::string(&parent)));
            }
        }
        self.ok(tag, &format!("{verb} completed"));
        Ok(())
    }

    pub(super) async fn status(&mut self, tag: &str, name: &str, items: &[StatusItem]) -> std::io::Result<()> {
        let found = self.ctx.store.folder_with_letters(self.account().id, name).await;
        let (folder, letters) = match found {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.no(tag, "[NONEXISTENT] No such mailbox");
                return Ok(());
            },
            Err(e) => {
                self.answer(tag, "STATUS", Err(e));
                return Ok(());
            },
        };
        let value = |item: &StatusItem| match item {
            StatusItem::Messages => letters.len() as i64,
            StatusItem::Recent => letters.iter().filter(|l| l.flags & flags::RECENT != 0).count() as i64,
            StatusItem::UidNext => folder.uidnext,
            StatusItem::UidValidity => folder.uidvalidity,
            StatusItem::Unseen => letters.iter().filter(|l| l.flags & flags::SEEN == 0).count() as i64,
            StatusItem::HighestModSeq => folder.highestmodseq,
        };
        let parts: Vec<String> = items.iter().map(|i| format!("{} {}", i.name(), value(i))).collect();
        if items.contains(&StatusItem::HighestModSeq) {
            self.condstore = true;
        }
        self.line(&format!("* STATUS {} ({})", wire::string(&folder.name), parts.join(" ")));
        self.ok(tag, "STATUS completed");
        Ok(())
    }

    pub(super) async fn append(
        &mut self,
        tag: &str,
        name: &str,
        flag_list: &[Flag],
        date: Option<DateTime>,
        message: Vec<u8>,
    ) -> std::io::Result<()> {
        let dir = match self.letter_dir().await {
            Ok(d) => d,
            Err(e) => {
                self.answer(tag, "APPEND", Err(e));
                return Ok(());
            },
        };
        let exists = self.ctx.store.find_folder(self.account().id, name).await;
        let folder = match exists {
            Ok(Some(f)) => f,
            Ok(None) => {
                self.no(tag, "[TRYCREATE] No such mailbox");
                return Ok(());
            },
            Err(e) => {
                self.answer(tag, "APPEND", Err(e));
                return Ok(());
            },
        };
        let d = dir.clone();
        // Stored with CRLF line ends, so sizes and sections agree (RFC 3501 §6.3.11).
        let written = tokio::task::spawn_blocking(move || spool::write_letter(&d, &super::mime::normalize_crlf(&message))).await;
        let (fid, size) = match written {
            Ok(Ok(x)) => x,
            _ => {
                self.no(tag, "[SERVERBUG] Cannot store the message");
                return Ok(());
            },
        };
        let (bits, keywords) = wire::split_flags(flag_list);
        let when = date.map(|d| d.unix).unwrap_or_else(crate::store::unix_now);
        let file = (spool::letter_path(&dir, &fid), fid);
        let recorded = self.ctx.store.append(folder.id, file, size, when, bits | flags::RECENT, keywords).await;
        match recorded {
            Ok(uid) => {
                if self.selected_folder() == Some(folder.id) {
                    self.sync(true).await?;
                }
                self.ok(tag, &format!("[APPENDUID {} {uid}] APPEND completed", folder.uidvalidity));
            }
            Err(e) => self.answer(tag, "APPEND", Err(e)),
        }
        Ok(())
    }

    /// OK, or NO with the response code the error calls for.
    pub(super) fn answer(&mut self, tag: &str, verb: &str, result: Result<(), StoreError>) {
        match result {
            Ok(()) => self.ok(tag, &format!("{verb} completed")),
            Err(StoreError::NotFound(_)) => self.no(tag, "[NONEXISTENT] No such mailbox"),
            Err(StoreError::Exists(_)) => self.no(tag, "[ALREADYEXISTS] Mailbox exists"),
            Err(StoreError::Invalid(why)) => self.no(tag, &format!("[CANNOT] {why}")),
            Err(e) => {
                tracing::error!(target: "imap", "{verb} failed: {e}");
                self.no(tag, "[SERVERBUG] Internal error")
            }
        }
    }
}

/// LIST attributes: children (RFC 3348) and special use (RFC 6154).
fn attributes(f: &Folder, all: &[Folder]) -> String {
    let prefix = format!("{}{SEP}", f.name);
    let mut attrs = vec![if all.iter().any(|o| o.name.starts_with(&prefix)) { "\\HasChildren" } else { "\\HasNoChildren" }.to_string()];
    if !f.special.is_empty() {
        attrs.push(format!("\\{}", f.special));
    }
    attrs.join(" ")
}

/// RFC 3501 §6.3.9: with `%`, a subscribed `x/a/b` shows as `x/a` for the
/// pattern `x/%`, flagged \Noselect, when `x/a` itself is not subscribed.
fn unsubscribed_parents(pattern: &str, all: &[Folder]) -> BTreeSet<String> {
    let subscribed = |name: &str| all.iter().any(|f| f.subscribed && f.name == name);
    let mut parents = BTreeSet::new();
    for f in all.iter().filter(|f| f.subscribed && !matches(pattern, &f.name)) {
        let mut name = f.name.as_str();
        while let Some(i) = name.rfind(SEP) {
            name = &name[..i];
            if matches(pattern, name) && !subscribed(name) {
                parents.insert(name.to_string());
            }
        }
    }
    parents
}

/// LIST wildcards: `*` matches anything, `%` anything but the separator.
/// INBOX matches case-insensitively.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    // Backtracking is exponential in the wildcards; no real client sends many.
    if pattern.bytes().filter(|b| matches!(b, b'*' | b'%')).count() > 16 {
        return false;
    }
    let name = if canonical_name(name) == "INBOX" { "INBOX".to_string() } else { name.to_string() };
    let pattern = if pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case("INBOX") { format!("INBOX{}", &pattern[5..]) } else { pattern.to_string() };
    glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(p: &[u8], n: &[u8]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| glob(&p[1..], &n[i..])),
        Some(b'%') => (0..=n.len()).take_while(|&i| i == 0 || n[i - 1] != SEP as u8).any(|i| glob(&p[1..], &n[i..])),
        Some(&c) => n.first() == Some(&c) && glob(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn list_wildcards() {
        assert!(matches("*", "Work/2026"));
        assert!(matches("%", "Work"));
        assert!(!matches("%", "Work/2026"));
        assert!(matches("Work/%", "Work/2026"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("INBOX", "INBOX"));
        assert!(!matches("Sent", "Sent Items"));
        assert!(matches("S*", "Sent Items"));
    }
}
