//! FETCH (RFC 3501 §6.4.5, §7.4.2) and CONDSTORE's MODSEQ/CHANGEDSINCE:
//! each message's data items, computed from its letter file with `mime`.
//! Non-PEEK body sections set \Seen (in a writable mailbox) and the new
//! flags are returned with the data.

use std::collections::HashMap;

use super::command::{FetchAttr, FetchItems, Section, SequenceSet};
use super::cache::Cached;
use super::mime;
use super::session::Session;
use super::wire;
use crate::store::mailbox::{Letter, flags};

impl Session {
    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        items: &FetchItems,
        uid: bool,
        changed_since: Option<u64>,
    ) -> std::io::Result<()> {
        let mut attrs = items.attrs();
        if uid && !attrs.contains(&FetchAttr::Uid) {
            attrs.insert(0, FetchAttr::Uid);
        }
        if changed_since.is_some() {
            self.condstore = true;
        }
        if attrs.contains(&FetchAttr::ModSeq) {
            self.condstore = true;
        } else if self.condstore {
            // RFC 7162 §3.1.4: with CONDSTORE on, every FETCH response has MODSEQ.
            attrs.push(FetchAttr::ModSeq);
        }
        let dir = match self.letter_dir().await {
            Ok(d) => d,
            Err(e) => {
                self.answer(tag, "FETCH", Err(e));
                return Ok(());
            },
        };
        let targets: Vec<(u32, i64)> = self.view().resolve(set, uid);
        let folder = self.view().folder.id;
        let uids: Vec<i64> = targets.iter().map(|(_, uid)| *uid).collect();
        let mut letters: HashMap<i64, Letter> = match self.ctx.store.letters_by_uid(folder, uids).await {
            Ok(found) => found.into_iter().map(|l| (l.uid, l)).collect(),
            Err(e) => {
                self.answer(tag, "FETCH", Err(e));
                return Ok(());
            }
        };
        let sets_seen = !self.view().read_only && attrs.iter().any(|a| a.sets_seen());
        let needs_file = attrs.iter().any(needs_message);
        let (mut expunged, mut unreadable) = (false, false);
        for (seq, uid) in targets {
            // Gone from the store: expunged by another session, not told yet.
            let Some(mut letter) = letters.remove(&uid) else {
                expunged = true;
                self.out.extend_from_slice(&vanished_response(seq, uid, &attrs));
                continue;
            };
            if changed_since.is_some_and(|c| letter.modseq as u64 <= c) {
                continue;
            }
            let message = if needs_file {
                match self.letter_file(&dir, &letter.fid).await {
                    Ok(m) => Some(m),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        // Expunged (and its file freed) since the letters were read.
                        expunged = true;
                        self.out.extend_from_slice(&vanished_response(seq, uid, &attrs));
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(target: "imap", "letter {} unreadable: {e}", letter.fid);
                        unreadable = true;
                        self.out.extend_from_slice(&vanished_response(seq, uid, &attrs));
                        continue;
                    }
                }
            } else {
                None
            };
            if sets_seen && letter.flags & flags::SEEN == 0 {
                letter = self.mark_seen(letter).await;
            }
            self.announce_keywords([&letter]);
            let recent = self.view().recent.contains(&letter.uid);
            let mut out = format!("* {seq} FETCH (").into_bytes();
            let mut flags_sent = false;
            for (i, attr) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                flags_sent |= *attr == FetchAttr::Flags;
                item(attr, &letter, recent, message.as_deref(), &mut out);
            }
            if sets_seen && !flags_sent {
                out.extend_from_slice(format!(" FLAGS {}", wire::flag_list(&letter, recent)).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
            self.out.extend_from_slice(&out);
            if self.out.len() > 256 * 1024 {
                self.flush().await?;
            }
        }
        self.sync(false).await?;
        if unreadable {
            self.no(tag, "[SERVERBUG] Some messages could not be read");
        } else if expunged {
            // As Dovecot: the client must not take the NILs for content.
            self.ok(tag, "[EXPUNGEISSUED] Some messages were expunged");
        } else {
            self.ok(tag, "FETCH completed");
        }
        Ok(())
    }

    async fn mark_seen(&mut self, letter: Letter) -> Letter {
        match self.ctx.store.mark_seen(&letter).await {
            Ok(Some(updated)) => {
                self.view().told(&updated);
                updated
            }
            Ok(None) => letter,
            Err(e) => {
                tracing::warn!(target: "imap", "cannot set \\Seen on letter {}: {e}", letter.id);
                letter
            }
        }
    }
}

/// The FETCH response for a message the store no longer has: its UID and
/// every content item as NIL (nothing at all when only flags and the like
/// were asked), never empty content a client could cache.
fn vanished_response(seq: u32, uid: i64, attrs: &[FetchAttr]) -> Vec<u8> {
    let mut items = Vec::new();
    for attr in attrs {
        match attr {
            FetchAttr::Uid => items.push(format!("UID {uid}")),
            FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text | FetchAttr::BodySection { .. } => {
                items.push(format!("{} NIL", attr.response_name()));
            }
            _ => {}
        }
    }
    if items.iter().all(|i| i.starts_with("UID ")) {
        return Vec::new();
    }
    format!("* {seq} FETCH ({})\r\n", items.join(" ")).into_bytes()
}

fn needs_message(attr: &FetchAttr) -> bool {
    !matches!(attr, FetchAttr::Flags | FetchAttr::Uid | FetchAttr::InternalDate | FetchAttr::Rfc822Size | FetchAttr::ModSeq)
}

fn item(attr: &FetchAttr, letter: &Letter, recent: bool, cached: Option<&Cached>, out: &mut Vec<u8>) {
    let text = |out: &mut Vec<u8>, s: String| out.extend_from_slice(s.as_bytes());
    let message: &[u8] = cached.map_or(&[], |c| &c.bytes);
    match attr {
        FetchAttr::Flags => text(out, format!("FLAGS {}", wire::flag_list(letter, recent))),
        FetchAttr::Uid => text(out, format!("UID {}", letter.uid)),
        FetchAttr::InternalDate => text(out, format!("INTERNALDATE {}", wire::internal_date(letter.internaldate))),
        FetchAttr::Rfc822Size => text(out, format!("RFC822.SIZE {}", letter.size)),
        FetchAttr::ModSeq => text(out, format!("MODSEQ ({})", letter.modseq)),
        FetchAttr::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match cached {
                Some(c) => out.extend_from_slice(c.envelope()),
                None => out.extend_from_slice(&mime::envelope_bytes(message)),
            }
        }
        FetchAttr::Body => {
            out.extend_from_slice(b"BODY ");
            match cached {
                Some(c) => out.extend_from_slice(c.body_structure(false)),
                None => out.extend_from_slice(&mime::body_structure_bytes(message, false)),
            }
        }
        FetchAttr::BodyStructure => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            match cached {
                Some(c) => out.extend_from_slice(c.body_structure(true)),
                None => out.extend_from_slice(&mime::body_structure_bytes(message, true)),
            }
        }
        FetchAttr::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            wire::literal(message, out);
        }
        FetchAttr::Rfc822Header => {
            out.extend_from_slice(b"RFC822.HEADER ");
            wire::literal(&mime::section(message, &[], Some(mime::SectionText::Header)).unwrap_or_default(), out);
        }
        FetchAttr::Rfc822Text => {
            out.extend_from_slice(b"RFC822.TEXT ");
            wire::literal(&mime::section(message, &[], Some(mime::SectionText::Text)).unwrap_or_default(), out);
        }
        FetchAttr::BodySection { section, partial, .. } => {
            out.extend_from_slice(attr.response_name().as_bytes());
            out.push(b' ');
            // A part that does not exist is an empty string, as Dovecot answers.
            let data = section_data(message, section).unwrap_or_default();
            let data = match partial {
                Some((origin, count)) => mime::partial(&data, *origin, Some(*count)),
                None => &data[..],
            };
            wire::literal(data, out);
        }
    }
}

fn section_data(message: &[u8], section: &Section) -> Option<Vec<u8>> {
    mime::section(message, &section.part, section.text.clone())
}
