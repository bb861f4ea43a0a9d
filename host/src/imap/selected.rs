//! The selected mailbox (RFC 3501 §6.3.1, §6.4): the session's view of it
//! (message sequence numbers are positions in `letters`), SELECT/EXAMINE,
//! CLOSE/UNSELECT, EXPUNGE, STORE, COPY/MOVE and IDLE, and `sync`, which
//! tells the client what other sessions and deliveries changed: EXISTS,
//! RECENT, EXPUNGE and FETCH FLAGS, as RFC 3501 §7.3-7.4 describes.

use std::collections::HashSet;

use tokio::sync::broadcast::error::RecvError;

use super::command::{Flag, SequenceSet, StoreMode};
use super::session::{Next, Session, State};
use super::wire;
use crate::lineio::LineRead;
use crate::store::folders::{self, FlagChange};
use crate::store::mailbox::{self, Folder, Letter, flags};
use crate::store::spool;

pub(crate) struct View {
    pub(super) folder: Folder,
    pub(super) read_only: bool,
    pub(super) letters: Vec<Letter>,
    /// UIDs that are \Recent for this session.
    pub(super) recent: HashSet<i64>,
    /// Folder change announcements since SELECT: `sync` reads the store
    /// only when this folder was named (or announcements were lost).
    changes: tokio::sync::broadcast::Receiver<i64>,
}

impl View {
    /// Was this folder changed since the last look? Drains the channel.
    fn changed(&mut self) -> bool {
        let mut changed = false;
        loop {
            match self.changes.try_recv() {
                Ok(id) => changed |= id == self.folder.id,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => changed = true,
                Err(_) => return changed,
            }
        }
    }

    /// Sequence numbers and letters of `set` (UIDs when `uid`), in order.
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, &Letter)> {
        if uid {
            let max_uid = self.letters.last().map_or(0, |l| l.uid as u32);
            self.letters
                .iter()
                .enumerate()
                .filter(|(_, l)| set.contains(l.uid as u32, max_uid))
                .map(|(i, l)| (i as u32 + 1, l))
                .collect()
        } else {
            let max = self.letters.len() as u32;
            set.iter_within(max).filter_map(|n| self.letters.get(n as usize - 1).map(|l| (n, l))).collect()
        }
    }
}

impl Session {
    pub(super) fn selected_folder(&self) -> Option<i64> {
        match &self.state {
            State::Selected(_, v) => Some(v.folder.id),
            _ => None,
        }
    }

    pub(super) fn view(&mut self) -> &mut View {
        match &mut self.state {
            State::Selected(_, v) => v,
            _ => unreachable!("dispatch checks the state"),
        }
    }

    pub(super) async fn select(&mut self, tag: &str, name: &str, read_only: bool, condstore: bool) -> std::io::Result<()> {
        // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
        let account = self.account().clone();
        self.state = State::Authenticated(account.clone());
        if condstore {
            self.condstore = true;
        }
        let n = name.to_string();
        let changes = self.ctx.store.watch_folders();
        let found = self
            .ctx
            .store
            .call(move |c| {
                let Some(folder) = mailbox::find_folder(c, account.id, &n)? else { return Ok(None) };
                let tx = c.transaction()?;
                let recent = if read_only { Vec::new() } else { folders::take_recent(&tx, folder.id)? };
                let letters = mailbox::letters(&tx, folder.id)?;
                tx.commit()?;
                Ok(Some((folder, letters, recent)))
            })
            .await;
        let (folder, letters, recent) = match found {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.no(tag, "[NONEXISTENT] No such mailbox");
                return Ok(());
            },
            Err(e) => {
                self.answer(tag, "SELECT", Err(e));
                return Ok(());
            },
        };
        let recent: HashSet<i64> = if read_only {
            letters.iter().filter(|l| l.flags & flags::RECENT != 0).map(|l| l.uid).collect()
        } else {
            recent.into_iter().collect()
        };
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        self.line("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted");
        self.line(&format!("* {} EXISTS", letters.len()));
        self.line(&format!("* {} RECENT", recent.len()));
        if let Some(i) = letters.iter().position(|l| l.flags & flags::SEEN == 0) {
            self.line(&format!("* OK [UNSEEN {}] First unseen", i + 1));
        }
        self.line(&format!("* OK [UIDVALIDITY {}] UIDs valid", folder.uidvalidity));
        self.line(&format!("* OK [UIDNEXT {}] Predicted next UID", folder.uidnext));
        if self.condstore {
            self.line(&format!("* OK [HIGHESTMODSEQ {}] Highest", folder.highestmodseq));
        }
        let access = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        self.state = State::Selected(account, View { folder, read_only, letters, recent, changes });
        self.ok(tag, &format!("[{access}] {verb} completed"));
        Ok(())
    }

    /// CLOSE (expunge silently, if writable) or UNSELECT.
    pub(super) async fn close(&mut self, tag: &str, expunge: bool) -> std::io::Result<()> {
        let (folder, read_only) = (self.view().folder.id, self.view().read_only);
        if expunge && !read_only
            && let Err(e) = self.remove_deleted(folder, None).await
        {
            tracing::error!(target: "imap", "CLOSE expunge failed: {e}");
        }
        let account = self.account().clone();
        self.state = State::Authenticated(account);
        self.ok(tag, "completed");
        Ok(())
    }

    pub(super) async fn expunge(&mut self, tag: &str, uids: Option<SequenceSet>) -> std::io::Result<()> {
        if self.view().read_only {
            {
                self.no(tag, "[READ-ONLY] Mailbox is read-only");
                return Ok(());
            };
        }
        let folder = self.view().folder.id;
        let only: Option<Vec<i64>> = uids.map(|set| self.view().resolve(&set, true).iter().map(|(_, l)| l.uid).collect());
        match self.remove_deleted(folder, only).await {
            Ok(_) => {
                self.sync(true).await?;
                self.ok(tag, "EXPUNGE completed");
            }
            Err(e) => self.answer(tag, "EXPUNGE", Err(e)),
        }
        Ok(())
    }

    /// Expunge in the store and remove freed files; the EXPUNGE responses
    /// come from the next `sync`.
    async fn remove_deleted(&mut self, folder: i64, only: Option<Vec<i64>>) -> Result<Vec<i64>, crate::store::StoreError> {
        let dir = self.letter_dir().await?;
        let (uids, freed) = self
            .ctx
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                let result = folders::expunge(&tx, folder, only.as_deref())?;
                tx.commit()?;
                Ok(result)
            })
            .await?;
        for fid in freed {
            let path = spool::letter_path(&dir, &fid);
            self.ctx.cache.forget(&path);
            let _ = std::fs::remove_file(path);
        }
        if !uids.is_empty() {
            self.ctx.store.folder_changed(folder);
        }
        Ok(uids)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        uid: bool,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        list: &[Flag],
    ) -> std::io::Result<()> {
        if self.view().read_only {
            {
                self.no(tag, "[READ-ONLY] Mailbox is read-only");
                return Ok(());
            };
        }
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let folder = self.view().folder.id;
        let targets: Vec<(u32, i64)> = self.view().resolve(set, uid).iter().map(|(n, l)| (*n, l.id)).collect();
        let ids: Vec<i64> = targets.iter().map(|(_, id)| *id).collect();
        let (bits, keywords) = wire::split_flags(list);
        let change = match mode {
            StoreMode::Replace => FlagChange::Replace,
            StoreMode::Add => FlagChange::Add,
            StoreMode::Remove => FlagChange::Remove,
        };
        let since = unchanged_since.map(|u| u as i64);
        let result = self
            .ctx
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                let r = folders::change_flags(&tx, folder, &ids, change, bits, &keywords, since)?;
                tx.commit()?;
                Ok(r)
            })
            .await;
        let (changed, refused) = match result {
            Ok(r) => r,
            Err(e) => {
                self.answer(tag, "STORE", Err(e));
                return Ok(());
            },
        };
        self.ctx.store.folder_changed(folder);
        for letter in changed {
            let Some(seq) = self.update_letter(letter.clone()) else { continue };
            if silent && since.is_none() {
                continue;
            }
            let recent = self.view().recent.contains(&letter.uid);
            let mut items = vec![format!("FLAGS {}", wire::flag_list(&letter, recent))];
            if uid {
                items.push(format!("UID {}", letter.uid));
            }
            if self.condstore {
                items.push(format!("MODSEQ ({})", letter.modseq));
            }
            self.line(&format!("* {seq} FETCH ({})", items.join(" ")));
        }
        if refused.is_empty() {
            self.ok(tag, "STORE completed");
        } else {
            // RFC 7162 §3.1.3: UIDs for UID STORE, sequence numbers otherwise.
            let view = self.view();
            let numbers: Vec<i64> = if uid {
                refused
            } else {
                refused.iter().filter_map(|u| view.letters.iter().position(|l| l.uid == *u).map(|i| i as i64 + 1)).collect()
            };
            let list: Vec<String> = numbers.iter().map(|u| u.to_string()).collect();
            self.ok(tag, &format!("[MODIFIED {}] Conditional STORE failed for some", list.join(",")));
        }
        Ok(())
    }

    /// Replace a letter in the view; its sequence number if present.
    fn update_letter(&mut self, letter: Letter) -> Option<u32> {
        let view = self.view();
        let i = view.letters.iter().position(|l| l.id == letter.id)?;
        view.letters[i] = letter;
        Some(i as u32 + 1)
    }

    /// COPY or MOVE (RFC 6851) with UIDPLUS's COPYUID.
    pub(super) async fn copy(&mut self, tag: &str, set: &SequenceSet, name: &str, uid: bool, moving: bool) -> std::io::Result<()> {
        if moving && self.view().read_only {
            {
                self.no(tag, "[READ-ONLY] Mailbox is read-only");
                return Ok(());
            };
        }
        let letters: Vec<Letter> = self.view().resolve(set, uid).into_iter().map(|(_, l)| l.clone()).collect();
        let (account, n, source) = (self.account().id, name.to_string(), self.view().folder.id);
        let result = self
            .ctx
            .store
            .call(move |c| {
                let Some(target) = mailbox::find_folder(c, account, &n)? else { return Ok(None) };
                let tx = c.transaction()?;
                let pairs = folders::copy(&tx, &letters, target.id)?;
                if moving {
                    let ids: Vec<i64> = letters.iter().map(|l| l.id).collect();
                    mailbox::remove_letters(&tx, source, &ids)?;
                    tx.execute("UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ?1", [source])?;
                }
                tx.commit()?;
                Ok(Some((target, pairs)))
            })
            .await;
        let (target, pairs) = match result {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.no(tag, "[TRYCREATE] No such mailbox");
                return Ok(());
            },
            Err(e) => {
                self.answer(tag, if moving { "MOVE" } else { "COPY" }, Err(e));
                return Ok(());
            },
        };
        self.ctx.store.folder_changed(target.id);
        if pairs.is_empty() {
            self.ok(tag, "Nothing to do");
            return Ok(());
        }
        let from: Vec<String> = pairs.iter().map(|(a, _)| a.to_string()).collect();
        let to: Vec<String> = pairs.iter().map(|(_, b)| b.to_string()).collect();
        let code = format!("COPYUID {} {} {}", target.uidvalidity, from.join(","), to.join(","));
        if moving {
            // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
            self.ctx.store.folder_changed(source);
            self.line(&format!("* OK [{code}] Moved"));
            self.sync(true).await?;
            self.ok(tag, "MOVE completed");
        } else {
            if Some(target.id) == self.selected_folder() {
                self.sync(true).await?;
            }
            self.ok(tag, &format!("[{code}] COPY completed"));
        }
        Ok(())
    }

    /// RFC 2177: report changes as they happen until the client says DONE.
    pub(super) async fn idle(&mut self, tag: &str) -> std::io::Result<Next> {
        let mut changes = self.ctx.store.watch_folders();
        self.sync(true).await?;
        self.line("+ idling");
        self.flush().await?;
        let folder = self.selected_folder();
        loop {
            tokio::select! {
                line = self.read_line() => {
                    return match line? {
                        Some(LineRead::Line { text, .. }) if text.eq_ignore_ascii_case(b"DONE") => {
                            self.ok(tag, "IDLE terminated");
                            Ok(Next::Continue)
                        }
                        Some(LineRead::Line { .. }) | Some(LineRead::TooLong) => {
                            self.bad(tag, "Expected DONE");
                            Ok(Next::Continue)
                        }
                        Some(LineRead::Closed) => Ok(Next::Close),
                        None => {
                            self.line("* BYE Autologout; idle for too long");
                            Ok(Next::Close)
                        }
                    };
                }
                changed = changes.recv() => {
                    match changed {
                        Ok(id) if Some(id) != folder => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => self.sync(true).await?,
                        Err(RecvError::Closed) => {}
                    }
                    self.flush().await?;
                }
            }
        }
    }

    /// Bring the view up to date and tell the client: expunged letters
    /// (unless `expunges` is false: not during FETCH, STORE or SEARCH,
    /// RFC 3501 §7.4.1), flag changes, new letters.
    pub(super) async fn sync(&mut self, expunges: bool) -> std::io::Result<()> {
        let Some(folder) = self.selected_folder() else { return Ok(()) };
        if !self.view().changed() {
            return Ok(()); // every write to a folder announces it (Store::folder_changed)
        }
        let read_only = self.view().read_only;
        let fresh = self
            .ctx
            .store
            .call(move |c| {
                let letters = mailbox::letters(c, folder)?;
                // Clearing \Recent is a write: only when a letter still has it.
                let recent = if read_only || letters.iter().all(|l| l.flags & flags::RECENT == 0) {
                    Vec::new()
                } else {
                    folders::take_recent(c, folder)?
                };
                Ok((letters, recent))
            })
            .await;
        let Ok((fresh, new_recent)) = fresh else { return Ok(()) };
        let condstore = self.condstore;
        let view = self.view();
        view.recent.extend(new_recent);
        let present: HashSet<i64> = fresh.iter().map(|l| l.uid).collect();
        let mut lines = Vec::new();
        if expunges {
            let mut i = 0;
            while i < view.letters.len() {
                if present.contains(&view.letters[i].uid) {
                    i += 1;
                } else {
                    lines.push(format!("* {} EXPUNGE", i + 1));
                    let gone = view.letters.remove(i);
                    view.recent.remove(&gone.uid);
                }
            }
        }
        let known_max = view.letters.last().map_or(0, |l| l.uid);
        for f in &fresh {
            if let Some(i) = view.letters.iter().position(|l| l.uid == f.uid) {
                let old = &view.letters[i];
                // \Recent is per session; another session clearing the bit is no change here.
                if (old.flags ^ f.flags) & !flags::RECENT != 0 || old.keywords != f.keywords {
                    let recent = view.recent.contains(&f.uid);
                    let modseq = if condstore { format!(" MODSEQ ({})", f.modseq) } else { String::new() };
                    lines.push(format!("* {} FETCH (UID {} FLAGS {}{modseq})", i + 1, f.uid, wire::flag_list(f, recent)));
                    view.letters[i] = f.clone();
                }
            }
        }
        let before = view.letters.len();
        view.letters.extend(fresh.into_iter().filter(|f| f.uid > known_max));
        if view.letters.len() != before {
            lines.push(format!("* {} EXISTS", view.letters.len()));
            lines.push(format!("* {} RECENT", view.recent.len()));
        }
        for l in lines {
            self.line(&l);
        }
        Ok(())
    }
}
