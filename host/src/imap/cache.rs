//! Letters are never modified once written, so their bytes and what FETCH
//! and SEARCH derive from them (ENVELOPE, BODYSTRUCTURE, decoded headers,
//! body text) can be kept and shared by every session: a client that lists
//! a mailbox's envelopes or searches its subjects again does not reread and
//! reparse every file. Bounded by bytes; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::mime;

/// What is known about one letter file.
pub struct Cached {
    pub bytes: Vec<u8>,
    envelope: OnceLock<Vec<u8>>,
    body: OnceLock<Vec<u8>>,
    body_structure: OnceLock<Vec<u8>>,
    text: OnceLock<String>,
    headers: Mutex<HashMap<String, Arc<Vec<String>>>>,
}

impl Cached {
    fn new(bytes: Vec<u8>) -> Cached {
        Cached {
            bytes,
            envelope: OnceLock::new(),
            body: OnceLock::new(),
            body_structure: OnceLock::new(),
            text: OnceLock::new(),
            headers: Mutex::new(HashMap::new()),
        }
    }

    pub fn envelope(&self) -> &[u8] {
        self.envelope.get_or_init(|| mime::envelope_bytes(&self.bytes))
    }

    pub fn body_structure(&self, extensible: bool) -> &[u8] {
        let cell = if extensible { &self.body_structure } else { &self.body };
        cell.get_or_init(|| mime::body_structure_bytes(&self.bytes, extensible))
    }

    /// Decoded text of the text parts (SEARCH BODY/TEXT).
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| mime::body_text(&self.bytes))
    }

    /// RFC 2047-decoded values of a header field (SEARCH FROM/SUBJECT/...).
    pub fn header(&self, name: &str) -> Arc<Vec<String>> {
        let key = name.to_ascii_lowercase();
        let mut headers = self.headers.lock().unwrap_or_else(|e| e.into_inner());
        headers.entry(key).or_insert_with(|| Arc::new(mime::decoded_header(&self.bytes, name))).clone()
    }
}

pub struct MessageCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<PathBuf, Arc<Cached>>,
    order: VecDeque<PathBuf>,
    bytes: usize,
}

impl MessageCache {
    pub fn new(max_bytes: usize) -> MessageCache {
        MessageCache { inner: Mutex::new(Inner::default()), max_bytes }
    }

    /// The letter at `path` if it is cached.
    pub fn peek(&self, path: &Path) -> Option<Arc<Cached>> {
        self.lock().entries.get(path).cloned()
    }

    /// The letter at `path`, read on first use. A message bigger than a
    /// quarter of the cache is read but not kept.
    pub async fn get(&self, path: &Path) -> std::io::Result<Arc<Cached>> {
        if let Some(hit) = self.lock().entries.get(path) {
            return Ok(hit.clone());
        }
        let bytes = tokio::fs::read(path).await?;
        let size = bytes.len();
        let entry = Arc::new(Cached::new(bytes));
        if size <= self.max_bytes / 4 {
            let mut inner = self.lock();
            if inner.entries.insert(path.to_path_buf(), entry.clone()).is_none() {
                inner.order.push_back(path.to_path_buf());
                inner.bytes += size;
            }
            while inner.bytes > self.max_bytes {
                let Some(old) = inner.order.pop_front() else { break };
                if let Some(gone) = inner.entries.remove(&old) {
                    inner.bytes -= gone.bytes.len();
                }
            }
        }
        Ok(entry)
    }

    /// Forget a letter whose file was removed (its name is never reused).
    pub fn forget(&self, path: &Path) {
        let mut inner = self.lock();
        if let Some(gone) = inner.entries.remove(path) {
            inner.bytes -= gone.bytes.len();
            inner.order.retain(|p| p != path);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_what_fits_and_evicts_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..5).map(|i| dir.path().join(format!("{i}.msg"))).collect();
        for p in &paths {
            std::fs::write(p, b"Subject: x\r\n\r\nb\r\n").unwrap(); // 17 bytes
        }
        let cache = MessageCache::new(80);
        let a = cache.get(&paths[0]).await.unwrap();
        assert!(Arc::ptr_eq(&a, &cache.get(&paths[0]).await.unwrap()), "a hit");
        for p in &paths[1..] {
            cache.get(p).await.unwrap(); // the fifth passes 80 bytes: the first goes
        }
        assert!(!Arc::ptr_eq(&a, &cache.get(&paths[0]).await.unwrap()));
        assert!(cache.lock().bytes <= 80);
        cache.forget(&paths[0]);
        assert!(!cache.lock().entries.contains_key(&paths[0]));
        let big = dir.path().join("big.msg");
        std::fs::write(&big, b"Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nbody\r\n").unwrap();
        let decoded = MessageCache::new(1000).get(&big).await.unwrap();
        assert_eq!(decoded.header("Subject")[0], "caf\u{e9}");
        assert_eq!(decoded.text().trim(), "body");
    }
}
