//! The selected mailbox (RFC 3501 §6.3.1, §6.4): the session's view of it
//! (message sequence numbers are positions in `letters`), SELECT/EXAMINE,
//! CLOSE/UNSELECT, EXPUNGE, STORE, COPY/MOVE and IDLE, and `sync`, which
//! tells the client what other sessions and deliveries changed: EXISTS,
//! RECENT, EXPUNGE and FETCH FLAGS, as RFC 3501 §7.3-7.4 describes.

use std::collections::{HashMap, HashSet};

use tokio::io::AsyncBufReadExt;
use tokio::sync::broadcast::error::RecvError;

use super::command::{Flag, SequenceSet, StoreMode};
use super::session::{Next, Session, State};
use super::uid_map::UidMap;
use super::wire;
use crate::store::StoreError;
use crate::store::folders::FlagChange;
use crate::store::mail::{FlagsChanged, FolderChanges, Gone, Selected};
use crate::store::mailbox::{Folder, Letter, flags};

/// The most of a line kept while waiting for IDLE's `DONE`.
const MAX_IDLE_LINE: usize = 1024;

pub(crate) struct View {
    pub(super) folder: Folder,
    pub(super) read_only: bool,
    /// The UIDs in sequence-number order, as runs (flags, file and size are
    /// read from the store when a command needs them).
    pub(super) uids: UidMap,
    /// Letters this session changed itself since the last catch-up, with
    /// the modseq its own answer showed: not told again by `sync`.
    told: HashMap<i64, i64>,
    /// UIDs that are \Recent for this session.
    pub(super) recent: HashSet<i64>,
    /// The folder's modseq when this view last caught up with the store.
    modseq: i64,
    /// Expunged in the store but not yet told (held back during FETCH,
    /// STORE and SEARCH, RFC 3501 §7.4.1): their sequence numbers stay.
    vanished: HashSet<i64>,
    /// Keywords named in the last FLAGS response.
    keywords: Vec<String>,
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
                Ok(id) => changed |= id == self.folder.id || id == crate::store::ANY_FOLDER,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => changed = true,
                Err(_) => return changed,
            }
        }
    }

    /// Sequence numbers and UIDs of `set` (UIDs when `uid`), in order.
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, i64)> {
        if uid {
            let max_uid = self.uids.last().map_or(0, |u| u as u32);
            self.uids
                .iter()
                .enumerate()
                .filter(|(_, uid)| set.contains(*uid as u32, max_uid))
                .map(|(i, uid)| (i as u32 + 1, uid))
                .collect()
        } else {
            let all: Vec<i64> = self.uids.iter().collect();
            set.iter_within(all.len() as u32).filter_map(|n| all.get(n as usize - 1).map(|uid| (n, *uid))).collect()
        }
    }

    /// The sequence number of `uid`, if the session still sees it.
    pub(super) fn seq_of(&self, uid: i64) -> Option<u32> {
        self.uids.seq_of(uid)
    }

    /// The session was told `letter` as it is now; its sequence number.
    pub(super) fn told(&mut self, letter: &Letter) -> Option<u32> {
        let seq = self.uids.seq_of(letter.uid)?;
        if letter.modseq > self.modseq {
            let known = self.told.entry(letter.uid).or_insert(0);
            *known = (*known).max(letter.modseq);
        }
        Some(seq)
    }

    /// Keywords of `letters` the client has not been told of; they are
    /// added to the announced set.
    fn learn_keywords<'a>(&mut self, letters: impl IntoIterator<Item = &'a Letter>) -> bool {
        let mut learned = false;
        for letter in letters {
            for k in letter.keywords.split(' ').filter(|k| !k.is_empty()) {
                if !self.keywords.iter().any(|known| known.eq_ignore_ascii_case(k)) {
                    self.keywords.push(k.to_string());
                    learned = true;
                }
            }
        }
        learned
    }

    /// `* FLAGS` and `* OK [PERMANENTFLAGS]`, naming the known keywords.
    fn flag_lines(&self) -> [String; 2] {
        let keywords: String = self.keywords.iter().map(|k| format!(" {k}")).collect();
        let permanent = if self.read_only {
            "* OK [PERMANENTFLAGS ()] Read-only mailbox".to_string()
        } else {
            format!("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{keywords} \\*)] Flags permitted")
        };
        [format!("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{keywords})"), permanent]
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
        let changes = self.ctx.store.watch_folders();
        let found = self.ctx.store.select(account.id, name, read_only).await;
        let Selected { folder, letters, recent } = match found {
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
        let first_unseen = letters.iter().position(|l| l.flags & flags::SEEN == 0);
        let uids = UidMap::from_sorted(letters.iter().map(|l| l.uid));
        let mut view = View {
            modseq: folder.highestmodseq,
            folder,
            read_only,
            uids,
            told: HashMap::new(),
            recent,
            vanished: HashSet::new(),
            keywords: Vec::new(),
            changes,
        };
        view.learn_keywords(&letters);
        drop(letters);
        for line in view.flag_lines() {
            self.line(&line);
        }
        self.line(&format!("* {} EXISTS", view.uids.len()));
        self.line(&format!("* {} RECENT", view.recent.len()));
        if let Some(i) = first_unseen {
            self.line(&format!("* OK [UNSEEN {}] First unseen", i + 1));
        }
        self.line(&format!("* OK [UIDVALIDITY {}] UIDs valid", view.folder.uidvalidity));
        self.line(&format!("* OK [UIDNEXT {}] Predicted next UID", view.folder.uidnext));
        if self.condstore {
            self.line(&format!("* OK [HIGHESTMODSEQ {}] Highest", view.folder.highestmodseq));
        }
        let access = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        self.state = State::Selected(account, Box::new(view));
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
            self.no(tag, "[READ-ONLY] Mailbox is read-only");
            return Ok(());
        }
        let folder = self.view().folder.id;
        let only: Option<Vec<i64>> = uids.map(|set| self.view().resolve(&set, true).iter().map(|(_, uid)| *uid).collect());
        match self.remove_deleted(folder, only).await {
            Ok(_) => {
                self.sync(true).await?;
                self.ok(tag, "EXPUNGE completed");
            }
            Err(e) => self.answer(tag, "EXPUNGE", Err(e)),
        }
        Ok(())
    }

    /// Expunge in the store (which removes freed files); the EXPUNGE
    /// responses come from the next `sync`.
    async fn remove_deleted(&mut self, folder: i64, only: Option<Vec<i64>>) -> Result<Vec<i64>, StoreError> {
        let account = self.account().clone();
        let expunged = self.ctx.store.expunge(&account, folder, only).await?;
        for path in &expunged.freed {
            self.ctx.cache.forget(path);
        }
        Ok(expunged.uids)
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
            self.no(tag, "[READ-ONLY] Mailbox is read-only");
            return Ok(());
        }
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let folder = self.view().folder.id;
        let uids: Vec<i64> = self.view().resolve(set, uid).iter().map(|(_, uid)| *uid).collect();
        let asked = uids.len();
        let (bits, keywords) = wire::split_flags(list);
        let change = match mode {
            StoreMode::Replace => FlagChange::Replace,
            StoreMode::Add => FlagChange::Add,
            StoreMode::Remove => FlagChange::Remove,
        };
        let since = unchanged_since.map(|u| u as i64);
        let result = self.ctx.store.change_flags(folder, uids, change, bits, keywords, since).await;
        let FlagsChanged { letters: changed, refused, found } = match result {
            Ok(r) => r,
            Err(e) => {
                self.answer(tag, "STORE", Err(e));
                return Ok(());
            },
        };
        let expunged = found < asked;
        self.announce_keywords(&changed);
        for letter in changed {
            let Some(seq) = self.view().told(&letter) else { continue };
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
        if !refused.is_empty() {
            // RFC 7162 §3.1.3: UIDs for UID STORE, sequence numbers otherwise.
            let view = self.view();
            let numbers: Vec<String> = if uid {
                refused.iter().map(|u| u.to_string()).collect()
            } else {
                refused.iter().filter_map(|u| view.seq_of(*u)).map(|n| n.to_string()).collect()
            };
            self.ok(tag, &format!("[MODIFIED {}] Conditional STORE failed for some", numbers.join(",")));
        } else if expunged {
            self.ok(tag, "[EXPUNGEISSUED] Some messages were expunged");
        } else {
            self.ok(tag, "STORE completed");
        }
        Ok(())
    }

    /// Before showing `letters`' flags: a `* FLAGS` naming any keyword the
    /// client was not told of yet (RFC 3501 §7.2.6).
    pub(super) fn announce_keywords<'a>(&mut self, letters: impl IntoIterator<Item = &'a Letter>) {
        let view = self.view();
        if view.learn_keywords(letters) {
            for line in view.flag_lines() {
                self.line(&line);
            }
        }
    }

    /// COPY or MOVE (RFC 6851) with UIDPLUS's COPYUID.
    pub(super) async fn copy(&mut self, tag: &str, set: &SequenceSet, name: &str, uid: bool, moving: bool) -> std::io::Result<()> {
        if moving && self.view().read_only {
            self.no(tag, "[READ-ONLY] Mailbox is read-only");
            return Ok(());
        }
        let uids: Vec<i64> = self.view().resolve(set, uid).into_iter().map(|(_, uid)| uid).collect();
        let (account, source) = (self.account().id, self.view().folder.id);
        let result = self.ctx.store.copy(account, source, uids, name, moving).await;
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
        if pairs.is_empty() {
            self.ok(tag, "Nothing to do");
            return Ok(());
        }
        let from: Vec<String> = pairs.iter().map(|(a, _)| a.to_string()).collect();
        let to: Vec<String> = pairs.iter().map(|(_, b)| b.to_string()).collect();
        let code = format!("COPYUID {} {} {}", target.uidvalidity, from.join(","), to.join(","));
        if moving {
            // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
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
    /// What the client types is gathered byte by byte as it arrives (only
    /// the cancel-safe `fill_buf` waits inside the select), so a `DONE`
    /// split across packets is neither lost nor holds back notifications.
    pub(super) async fn idle(&mut self, tag: &str) -> std::io::Result<Next> {
        let mut changes = self.ctx.store.watch_folders();
        self.sync(true).await?;
        self.line("+ idling");
        self.flush().await?;
        let folder = self.selected_folder();
        let deadline = tokio::time::Instant::now() + self.ctx.timeout;
        let mut typed = Vec::new();
        loop {
            tokio::select! {
                ready = tokio::time::timeout_at(deadline, self.io.fill_buf()) => match ready {
                    Err(_) => {
                        self.line("* BYE Autologout; idle for too long");
                        return Ok(Next::Close);
                    }
                    Ok(Err(e)) => return Err(e),
                    Ok(Ok([])) => return Ok(Next::Close),
                    Ok(Ok(bytes)) => {
                        let (used, done) = match bytes.iter().position(|&b| b == b'\n') {
                            Some(i) => (i + 1, true),
                            None => (bytes.len(), false),
                        };
                        typed.extend_from_slice(&bytes[..used.min(MAX_IDLE_LINE)]);
                        self.io.consume(used);
                        if done || typed.len() >= MAX_IDLE_LINE {
                            break;
                        }
                    }
                },
                changed = changes.recv() => {
                    match changed {
                        Ok(id) if Some(id) != folder && id != crate::store::ANY_FOLDER => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => self.sync(true).await?,
                        Err(RecvError::Closed) => {}
                    }
                    self.flush().await?;
                }
            }
        }
        if typed.trim_ascii_end().eq_ignore_ascii_case(b"DONE") {
            self.ok(tag, "IDLE terminated");
        } else {
            self.bad(tag, "Expected DONE");
        }
        Ok(Next::Continue)
    }

    /// Bring the view up to date and tell the client: expunged letters
    /// (unless `expunges` is false: not during FETCH, STORE or SEARCH,
    /// RFC 3501 §7.4.1; they are kept for the next command that allows
    /// them), flag changes, new letters. Reads only what changed since the
    /// view's modseq, so its cost follows the change, not the folder.
    pub(super) async fn sync(&mut self, expunges: bool) -> std::io::Result<()> {
        let Some(folder) = self.selected_folder() else { return Ok(()) };
        let view = self.view();
        let announced = view.changed();
        if !announced && (view.vanished.is_empty() || !expunges) {
            return Ok(()); // every write to a folder announces it (Store::folder_changed)
        }
        let (mut changed, mut added) = (Vec::new(), false);
        if announced {
            let (since, read_only) = (view.modseq, view.read_only);
            match self.ctx.store.changes_since(folder, since, read_only).await {
                Ok(changes) => (changed, added) = self.apply(changes),
                Err(e) => tracing::warn!(target: "imap", "cannot read the changes of folder {folder}: {e}"),
            }
        }
        if expunges {
            self.tell_expunges();
        }
        for letter in &changed {
            let view = self.view();
            let Some(seq) = view.seq_of(letter.uid) else { continue };
            let recent = view.recent.contains(&letter.uid);
            let modseq = if self.condstore { format!(" MODSEQ ({})", letter.modseq) } else { String::new() };
            self.line(&format!("* {seq} FETCH (UID {} FLAGS {}{modseq})", letter.uid, wire::flag_list(letter, recent)));
        }
        if added {
            let view = self.view();
            let (exists, recent) = (view.uids.len(), view.recent.len());
            self.line(&format!("* {exists} EXISTS"));
            self.line(&format!("* {recent} RECENT"));
        }
        Ok(())
    }

    /// Take `changes` into the view: expunged UIDs wait in `vanished`, new
    /// letters get slots, new keywords are announced. Returns the letters
    /// whose flags the client must be told and whether any letter was added.
    fn apply(&mut self, changes: FolderChanges) -> (Vec<Letter>, bool) {
        let view = self.view();
        view.modseq = view.modseq.max(changes.highest);
        view.recent.extend(changes.recent);
        match changes.gone {
            Gone::Listed(uids) => {
                let seen: Vec<i64> = uids.into_iter().filter(|u| view.seq_of(*u).is_some()).collect();
                view.vanished.extend(seen);
            }
            Gone::Present(present) => {
                let missing: Vec<i64> = view.uids.iter().filter(|u| !present.contains(u)).collect();
                view.vanished.extend(missing);
            }
        }
        let known_max = view.uids.last().unwrap_or(0);
        let told = std::mem::take(&mut view.told);
        let (mut changed, mut new) = (Vec::new(), Vec::new());
        for letter in changes.letters {
            if letter.uid > known_max {
                view.uids.push(letter.uid);
                if view.read_only && letter.flags & flags::RECENT != 0 {
                    view.recent.insert(letter.uid);
                }
                new.push(letter);
            } else if view.uids.seq_of(letter.uid).is_some() && told.get(&letter.uid).is_none_or(|m| letter.modseq > *m) {
                changed.push(letter);
            }
        }
        self.announce_keywords(new.iter().chain(&changed));
        (changed, !new.is_empty())
    }

    /// `* n EXPUNGE` for every vanished letter, each number counted after
    /// the ones before it were removed (RFC 3501 §7.4.1).
    fn tell_expunges(&mut self) {
        let view = self.view();
        if view.vanished.is_empty() {
            return;
        }
        let gone = std::mem::take(&mut view.vanished);
        let numbers = view.uids.remove(&gone);
        view.recent.retain(|u| !gone.contains(u));
        view.told.retain(|u, _| !gone.contains(u));
        for n in numbers {
            self.line(&format!("* {n} EXPUNGE"));
        }
    }
}
