//! A session's open files and folders, by handle: at most [`MAX_HANDLES`],
//! each handle its slot and a generation (8 bytes), so that a handle
//! closed and its slot taken again is never taken for the new one.

/// Open files and folders a session may hold at once.
pub const MAX_HANDLES: usize = 64;

/// What a handle stands for.
#[derive(Debug)]
pub(super) enum Opened {
    /// A file open for reading, and the version its reads are pinned to
    /// (`pinned.rs`).
    File(String, crate::model::Resource),
    /// A folder open for listing, and how far its listing has come.
    Folder(String, Paging),
    /// A file being written (`uploads.rs`): its upload session, and the
    /// bytes it holds.
    Upload {
        /// The file's name.
        name: crate::name::Name,
        /// The session's id.
        session: String,
        /// Which open of the session this handle's is
        /// ([`SessionInfo::opener`](crate::model::SessionInfo)): once a
        /// newer open takes the file over, the engine refuses this one.
        opener: u64,
        /// Bytes staged: up to the highest end written.
        received: u64,
        /// A write failed: the file is not stored at its `CLOSE`, whatever
        /// came after, and its session is let go.
        failed: bool,
        /// A write went elsewhere than at the end: its bytes are staged
        /// anywhere from then on, the CRC computed at the commit.
        scattered: bool,
        /// Opened with `EXCL`: the commit must not replace a file.
        exclusive: bool,
        /// The time to give the file at its commit (`FSETSTAT`).
        mtime: Option<i64>,
        /// It holds the copy of the file its open made, and nothing has
        /// changed it since (no `WRITE`, no `FSETSTAT`): its `CLOSE` lets
        /// it go and leaves the file as it is (sshfs opens `O_RDWR` to
        /// read; a commit would replace a newer version with the old bytes).
        unchanged_copy: bool,
    },
}

/// Where a folder's listing stands.
#[derive(Debug, Default)]
pub(super) struct Paging {
    /// The last name sent: the next page begins after it.
    pub(super) after: Option<String>,
    /// All of it is sent: the next `READDIR` is told so.
    pub(super) done: bool,
}

/// The open handles.
#[derive(Debug, Default)]
pub(super) struct Handles {
    slots: Vec<Option<(u32, Opened)>>,
    /// Handles made so far: each new one's generation.
    made: u32,
}

impl Handles {
    /// A handle for `opened`; `None` if [`MAX_HANDLES`] are open.
    pub(super) fn open(&mut self, opened: Opened) -> Option<[u8; 8]> {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(slot) => slot,
            None if self.slots.len() < MAX_HANDLES => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return None,
        };
        self.made = self.made.wrapping_add(1);
        self.slots[slot] = Some((self.made, opened));
        Some(handle_of(slot, self.made))
    }

    /// Whether a handle has file `name` open for writing: it stands for
    /// the file from its open on, as a POSIX file created by `open` does.
    /// Not one opened with `EXCL`: a file stored in its place meanwhile
    /// (a cut to nothing) would refuse its commit, and its bytes with it.
    pub(super) fn writes(&self, name: &crate::name::Name) -> bool {
        self.slots.iter().flatten().any(|(_, opened)| {
            matches!(opened, Opened::Upload { name: open, exclusive: false, .. } if open == name)
        })
    }

    /// What `handle` stands for, if it is one of the session's.
    pub(super) fn get(&self, handle: &[u8]) -> Option<&Opened> {
        let slot = self.slot_of(handle)?;
        self.slots[slot].as_ref().map(|(_, opened)| opened)
    }

    /// The slot of `handle`, if it is one of the session's.
    pub(super) fn slot_of(&self, handle: &[u8]) -> Option<usize> {
        let (slot, generation) = parse_handle(handle)?;
        match self.slots.get(slot)? {
            Some((made, _)) if *made == generation => Some(slot),
            _ => None,
        }
    }

    /// What the handle in `slot` stands for.
    pub(super) fn at(&mut self, slot: usize) -> Option<&mut Opened> {
        self.slots.get_mut(slot)?.as_mut().map(|(_, opened)| opened)
    }

    /// Closes the handle in `slot`.
    pub(super) fn close_slot(&mut self, slot: usize) {
        if let Some(held) = self.slots.get_mut(slot) {
            *held = None;
        }
    }

    /// Closes `handle`; false if it is none of the session's.
    pub(super) fn close(&mut self, handle: &[u8]) -> bool {
        let Some(slot) = self.slot_of(handle) else {
            return false;
        };
        self.close_slot(slot);
        true
    }
}

/// A handle's bytes: its slot and generation, 8 bytes.
fn handle_of(slot: usize, generation: u32) -> [u8; 8] {
    let mut bytes = [0; 8];
    bytes[..4].copy_from_slice(&(slot as u32).to_be_bytes());
    bytes[4..].copy_from_slice(&generation.to_be_bytes());
    bytes
}

fn parse_handle(handle: &[u8]) -> Option<(usize, u32)> {
    let bytes: [u8; 8] = handle.try_into().ok()?;
    let slot = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let generation = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    Some((slot, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> crate::model::Resource {
        crate::model::Resource {
            folder: false,
            info: crate::model::FileInfo { size: 1, mtime: 1 },
            stamp: crate::model::Stamp::default(),
        }
    }

    #[test]
    fn a_closed_handle_is_never_taken_for_the_next_in_its_slot() {
        let mut handles = Handles::default();
        let first = handles.open(Opened::File("a".into(), file())).unwrap();
        assert!(handles.close(&first));
        let second = handles.open(Opened::File("b".into(), file())).unwrap();
        assert_eq!(handles.slot_of(&first), None);
        assert!(matches!(handles.get(&second), Some(Opened::File(name, _)) if name == "b"));
        assert!(!handles.close(&first));
        assert!(handles.get(b"garbage").is_none());
    }

    #[test]
    fn no_more_than_the_cap_are_open() {
        let mut handles = Handles::default();
        for n in 0..MAX_HANDLES {
            assert!(handles.open(Opened::File(n.to_string(), file())).is_some());
        }
        assert!(
            handles
                .open(Opened::File("one more".into(), file()))
                .is_none()
        );
    }
}
