//! Message files, in Rumble's layout: ids of 16 random letters a-z; spool
//! files `StorageFolder/<fid>`; delivered letters `<folder>/<fid>.msg`.
//!
//! A file is complete and fsync'd, and so is its folder entry, before any
//! row in the store points at it: after a crash, a row never points at a
//! missing or partial file. (A crash can leave a file no row points at;
//! those are swept, never a message that was acknowledged.)

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A new file id: 16 random letters a-z (75 bits).
pub fn new_fid() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes.iter().map(|b| (b'a' + b % 26) as char).collect()
}

pub fn spool_path(storage: &Path, fid: &str) -> PathBuf {
    storage.join(fid)
}

pub fn letter_path(folder: &Path, fid: &str) -> PathBuf {
    folder.join(format!("{fid}.msg"))
}

/// Write `parts` (e.g. a Received header, then the message) into a new spool
/// file, durably. Returns the file id and the size in bytes.
pub fn write_spool(storage: &Path, parts: &[&[u8]]) -> io::Result<(String, u64)> {
    let (fid, mut file) = create_spool(storage)?;
    let mut size = 0u64;
    for part in parts {
        file.write_all(part)?;
        size += part.len() as u64;
    }
    file.sync_all()?;
    sync_dir(storage)?;
    Ok((fid, size))
}

/// A new, empty spool file for a message that will be streamed into it.
/// The caller writes, then `sync_all`s the file and calls [`sync_dir`]
/// before any row points at it, or removes it with [`remove_spool`].
pub fn create_spool(storage: &Path) -> io::Result<(String, File)> {
    std::fs::create_dir_all(storage)?;
    create_unique(storage, |fid| spool_path(storage, fid))
}

/// Write a delivered copy of spool file `spool` into the letter folder
/// `dir` under a new id, `header` (Return-Path, Delivered-To: RFC 5321
/// §4.4 says the final hop adds them) first, durably. Returns the letter's
/// id and size.
pub fn deliver_letter(spool: &Path, dir: &Path, header: &[u8]) -> io::Result<(String, u64)> {
    let mut source = File::open(spool)?;
    new_letter(dir, |file| {
        file.write_all(header)?;
        Ok(header.len() as u64 + io::copy(&mut source, file)?)
    })
}

/// Put `top` in front of the first `len` bytes of `file` (open for reading
/// and writing), in place: the content moves back by `top.len()` in 64 KiB
/// steps from the end, so no step overwrites what it has yet to move, and
/// memory stays bounded whatever the message's size.
pub fn prepend_in_place(file: &File, len: u64, top: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let shift = top.len() as u64;
    let mut buf = vec![0u8; len.min(64 * 1024) as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        file.write_all_at(chunk, start + shift)?;
        end = start;
    }
    file.write_all_at(top, 0)
}

/// A new letter file in `dir`, filled by `fill` (which returns the size),
/// then fsync'd with its folder entry; removed again if anything fails.
fn new_letter(dir: &Path, fill: impl FnOnce(&mut File) -> io::Result<u64>) -> io::Result<(String, u64)> {
    std::fs::create_dir_all(dir)?;
    let (fid, mut file) = create_unique(dir, |fid| letter_path(dir, fid))?;
    let written = fill(&mut file).and_then(|size| file.sync_all().map(|_| size));
    match written {
        Ok(size) => {
            sync_dir(dir)?;
            Ok((fid, size))
        }
        Err(e) => {
            let _ = std::fs::remove_file(letter_path(dir, &fid));
            Err(e)
        }
    }
}

/// Files in `dir` last modified before `before`: `(name, is_letter)`, where
/// spool files have no extension and letters end in `.msg`. For sweeping
/// what a crash left behind without a row.
pub fn files_older_than(dir: &Path, before: std::time::SystemTime) -> io::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !meta.is_file() || meta.modified()? >= before {
            continue;
        }
        match name.strip_suffix(".msg") {
            Some(fid) if is_fid(fid) => out.push((fid.to_string(), true)),
            None if is_fid(&name) => out.push((name, false)),
            _ => {}
        }
    }
    Ok(out)
}

fn is_fid(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_lowercase())
}

/// Write `bytes` as a new letter file in `dir` (IMAP APPEND), durably.
pub fn write_letter(dir: &Path, bytes: &[u8]) -> io::Result<(String, u64)> {
    new_letter(dir, |file| file.write_all(bytes).map(|_| bytes.len() as u64))
}

/// Remove a spool file no row points at (a refused or broken message).
pub fn remove_spool(storage: &Path, fid: &str) {
    if let Err(e) = std::fs::remove_file(spool_path(storage, fid)) {
        tracing::warn!(target: "db", "cannot remove spool file {fid}: {e}");
    }
}

fn create_unique(dir: &Path, path_of: impl Fn(&str) -> PathBuf) -> io::Result<(String, File)> {
    loop {
        let fid = new_fid();
        match OpenOptions::new().write(true).create_new(true).open(path_of(&fid)) {
            Ok(file) => return Ok((fid, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
    }
}

/// Make a new directory entry durable (a file's own fsync does not cover it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_in_place_moves_every_byte_behind_the_new_top() {
        for len in [0usize, 1, 5, 64 * 1024, 64 * 1024 + 7, 200_000] {
            let dir = tempfile::tempdir().unwrap();
            let (fid, mut file) = create_spool(dir.path()).unwrap();
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            file.write_all(&body).unwrap();
            let file = OpenOptions::new().read(true).write(true).open(spool_path(dir.path(), &fid)).unwrap();
            prepend_in_place(&file, len as u64, b"X-Checked: yes\r\n").unwrap();
            let text = std::fs::read(spool_path(dir.path(), &fid)).unwrap();
            assert_eq!(&text[..16], b"X-Checked: yes\r\n", "len {len}");
            assert_eq!(&text[16..], &body[..], "len {len}");
        }
    }

    #[test]
    fn fids_are_sixteen_lower_case_letters_and_differ() {
        let a = new_fid();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_lowercase()));
        assert_ne!(a, new_fid());
    }

    #[test]
    fn delivered_letters_are_separate_files_with_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let (fid, _) = write_spool(&storage, &[b"Subject: x\r\n\r\nbody\r\n"]).unwrap();
        let letters = dir.path().join("letters");
        let (a, size) = deliver_letter(&spool_path(&storage, &fid), &letters, b"Return-Path: <>\r\n").unwrap();
        let (b, _) = deliver_letter(&spool_path(&storage, &fid), &letters, b"").unwrap();
        assert_ne!(a, b);
        remove_spool(&storage, &fid);
        let text = std::fs::read(letter_path(&letters, &a)).unwrap();
        assert_eq!(text, b"Return-Path: <>\r\nSubject: x\r\n\r\nbody\r\n");
        assert_eq!(size, text.len() as u64);
        assert!(letter_path(&letters, &b).exists());
    }

    #[test]
    fn spool_file_holds_all_parts() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let (fid, size) = write_spool(&storage, &[b"Received: x\r\n", b"Subject: hi\r\n\r\nbody\r\n"]).unwrap();
        let text = std::fs::read(spool_path(&storage, &fid)).unwrap();
        assert_eq!(text, b"Received: x\r\nSubject: hi\r\n\r\nbody\r\n");
        assert_eq!(size, text.len() as u64);
    }
}
