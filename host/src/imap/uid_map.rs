//! The UIDs a session sees, in sequence-number order, kept as runs of
//! consecutive UIDs. Mail arrives with increasing UIDs and is expunged now
//! and then, so a folder of any size is usually a handful of runs: what a
//! session holds does not grow with its folder (8 bytes a run; the worst
//! case, every other letter expunged, is 12 bytes a letter).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: u32,
    count: u32,
}

#[derive(Debug, Default, Clone)]
pub struct UidMap {
    runs: Vec<Run>,
    /// Letters before each run (so `seq_of` is a binary search).
    before: Vec<u32>,
    len: u32,
}

impl UidMap {
    /// From UIDs in increasing order.
    pub fn from_sorted(uids: impl IntoIterator<Item = i64>) -> UidMap {
        let mut map = UidMap::default();
        for uid in uids {
            map.push(uid);
        }
        map
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn last(&self) -> Option<i64> {
        self.runs.last().map(|r| i64::from(r.first + r.count - 1))
    }

    /// Add a UID above every one held (new mail).
    pub fn push(&mut self, uid: i64) {
        let uid = uid as u32;
        match self.runs.last_mut() {
            Some(r) if r.first + r.count == uid => r.count += 1,
            _ => {
                self.before.push(self.len);
                self.runs.push(Run { first: uid, count: 1 });
            }
        }
        self.len += 1;
    }

    /// Every UID in order; `enumerate() + 1` is its sequence number.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.runs.iter().flat_map(|r| (r.first..r.first + r.count).map(i64::from))
    }

    /// The sequence number of `uid`, if held.
    pub fn seq_of(&self, uid: i64) -> Option<u32> {
        let uid = u32::try_from(uid).ok()?;
        let i = self.runs.partition_point(|r| r.first <= uid).checked_sub(1)?;
        let run = self.runs[i];
        (uid < run.first + run.count).then(|| self.before[i] + (uid - run.first) + 1)
    }

    /// Remove the UIDs `gone` holds; returns the sequence numbers to
    /// announce, each counted after the ones before it were removed (the
    /// numbers of successive `* n EXPUNGE` responses).
    pub fn remove(&mut self, gone: &std::collections::HashSet<i64>) -> Vec<u32> {
        let mut numbers = Vec::new();
        let mut kept = UidMap::default();
        for (i, uid) in self.iter().enumerate() {
            if gone.contains(&uid) {
                numbers.push(i as u32 - numbers.len() as u32 + 1);
            } else {
                kept.push(uid);
            }
        }
        if !numbers.is_empty() {
            *self = kept;
        }
        numbers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn runs_sequence_numbers_and_expunges() {
        let mut m = UidMap::from_sorted([1, 2, 3, 7, 8, 10]);
        assert_eq!(m.runs.len(), 3);
        assert_eq!(m.len(), 6);
        assert_eq!(m.last(), Some(10));
        assert_eq!([1, 3, 7, 8, 10].map(|u| m.seq_of(u)), [Some(1), Some(3), Some(4), Some(5), Some(6)]);
        assert_eq!([0, 4, 9, 11, -1].map(|u| m.seq_of(u)), [None; 5]);
        m.push(11);
        assert_eq!((m.runs.len(), m.seq_of(11)), (3, Some(7)));
        // Removing 2, 7 and 11: numbers as successive EXPUNGE responses give them.
        let gone: HashSet<i64> = [2, 7, 11].into();
        assert_eq!(m.remove(&gone), [2, 3, 5]);
        assert_eq!(m.iter().collect::<Vec<_>>(), [1, 3, 8, 10]);
        assert_eq!(m.seq_of(10), Some(4));
        assert!(m.remove(&gone).is_empty());
    }

    #[test]
    fn a_big_consecutive_folder_is_one_run() {
        let m = UidMap::from_sorted(1..=5000);
        assert_eq!((m.runs.len(), m.len(), m.seq_of(4321)), (1, 5000, Some(4321)));
        assert_eq!(UidMap::default().last(), None);
    }
}
