//! The FUSE file system: every call passes through to the backing folder
//! (the current state), and those that change something first tell the
//! durable image (`model.rs`) what they are about to change. Once the
//! power is off every call fails with `EIO`, as a dead disk would.
//!
//! Inode numbers are the backing folder's (the root is 1, as FUSE wants);
//! an inode's path is found from the names it was last looked up or made
//! under, or in the graveyard once it has none.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
};

use super::model::{Durable, Op, STORE};
use super::record::{Event, Log};

/// How long the kernel may cache names and attributes: every change goes
/// through the kernel, so its caches never go stale while mounted.
const TTL: Duration = Duration::from_secs(1);

/// Everything the file system knows, under one lock (the power switch
/// takes it too, so a cut falls between two calls).
#[derive(Debug)]
pub struct State {
    pub backing: PathBuf,
    root: u64,
    /// Names of each inode looked up or made: (parent inode, name).
    links: HashMap<u64, Vec<(u64, OsString)>>,
    files: HashMap<u64, File>,
    listings: HashMap<u64, Vec<(u64, FileType, OsString)>>,
    next_handle: u64,
    pub durable: Durable,
    /// The power is off: every call fails.
    pub off: bool,
    /// The operation log, on a recording mount (`record.rs`).
    pub log: Option<Log>,
}

type Result<T> = std::result::Result<T, Errno>;

fn errno(err: io::Error) -> Errno {
    Errno::from(err)
}

impl State {
    pub fn new(backing: &Path, log_writes: bool) -> io::Result<State> {
        let backing = backing.canonicalize()?;
        Ok(State {
            root: fs::metadata(&backing)?.ino(),
            durable: Durable::new(&backing, log_writes)?,
            backing,
            links: HashMap::new(),
            files: HashMap::new(),
            listings: HashMap::new(),
            next_handle: 1,
            off: false,
            log: None,
        })
    }

    /// The backing inode of a FUSE inode, and back.
    fn back(&self, ino: INodeNo) -> u64 {
        if ino.0 == 1 { self.root } else { ino.0 }
    }

    fn front(&self, ino: u64) -> INodeNo {
        INodeNo(if ino == self.root { 1 } else { ino })
    }

    /// Where backing inode `ino` is now.
    pub fn path(&self, ino: u64) -> PathBuf {
        if ino == self.root {
            return self.backing.clone();
        }
        match self.links.get(&ino).and_then(|names| names.first()) {
            Some((parent, name)) => self.path(*parent).join(name),
            None => self.durable.grave(ino),
        }
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf> {
        let parent = self.back(parent);
        if parent == self.root && name == STORE {
            return Err(Errno::ENOENT);
        }
        Ok(self.path(parent).join(name))
    }

    fn link(&mut self, ino: u64, parent: u64, name: &OsStr) {
        let names = self.links.entry(ino).or_default();
        if !names.iter().any(|(p, n)| *p == parent && n == name) {
            names.push((parent, name.to_owned()));
        }
    }

    fn unlink(&mut self, ino: u64, parent: u64, name: &OsStr) {
        if let Some(names) = self.links.get_mut(&ino) {
            names.retain(|(p, n)| !(*p == parent && n == name));
        }
    }

    fn attr(&self, meta: &Metadata) -> FileAttr {
        let time = |secs: i64, nanos: i64| {
            UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos.clamp(0, 999_999_999) as u32)
        };
        FileAttr {
            ino: self.front(meta.ino()),
            size: meta.size(),
            blocks: meta.blocks(),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            crtime: time(meta.ctime(), meta.ctime_nsec()),
            kind: kind(&meta.file_type()),
            perm: (meta.mode() & 0o7777) as u16,
            nlink: meta.nlink() as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: meta.rdev() as u32,
            blksize: meta.blksize() as u32,
            flags: 0,
        }
    }

    /// Truncates file `ino` (at `path`) to nothing, as `O_TRUNC` does: a
    /// change to its length, lost unless the file is flushed.
    fn truncate(&mut self, ino: u64, path: &Path) -> Result<()> {
        self.file_changes(ino)?.push(Op::Truncate(0));
        File::options()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(errno)?;
        self.record(Event::Truncate { ino, len: 0 });
        Ok(())
    }

    /// Looks `name` up in `parent` and remembers the name.
    fn entry(&mut self, parent: INodeNo, name: &OsStr) -> Result<FileAttr> {
        let path = self.child(parent, name)?;
        let meta = fs::symlink_metadata(&path).map_err(errno)?;
        let parent = self.back(parent);
        self.link(meta.ino(), parent, name);
        Ok(self.attr(&meta))
    }

    /// Adds `event` to the log, on a recording mount.
    fn record(&mut self, event: Event) {
        if let Some(log) = &mut self.log {
            log.push(event);
        }
    }

    fn handle(&mut self, file: File) -> FileHandle {
        self.next_handle += 1;
        self.files.insert(self.next_handle, file);
        FileHandle(self.next_handle)
    }

    /// Notes a change to directory `dir` (backing inode) before it happens.
    fn dir_changes(&mut self, dir: u64) -> Result<()> {
        let path = self.path(dir);
        self.durable.before_dir_change(dir, &path).map_err(errno)
    }

    /// Notes a change to file `ino` before it happens, and returns the log
    /// of its unflushed changes.
    fn file_changes(&mut self, ino: u64) -> Result<&mut Vec<Op>> {
        let path = self.path(ino);
        Ok(&mut self
            .durable
            .before_file_change(ino, &path)
            .map_err(errno)?
            .ops)
    }

    /// Takes name `name` of `parent` out of the current state: its inode
    /// goes to the graveyard unless it has other names.
    fn bury(&mut self, parent: u64, name: &OsStr, meta: &Metadata) -> Result<()> {
        let path = self.path(parent).join(name);
        if meta.is_file() && meta.nlink() > 1 {
            fs::remove_file(&path).map_err(errno)?;
        } else {
            fs::rename(&path, self.durable.grave(meta.ino())).map_err(errno)?;
        }
        self.unlink(meta.ino(), parent, name);
        Ok(())
    }
}

fn kind(kind: &fs::FileType) -> FileType {
    FileType::from_std(*kind).unwrap_or(FileType::RegularFile)
}

/// The file system handed to fuser; the same state is shared with the
/// power switch.
pub struct PowerFs(pub Arc<Mutex<State>>);

impl PowerFs {
    /// The state, if the power is on.
    fn on(&self) -> Result<MutexGuard<'_, State>> {
        let state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match state.off {
            true => Err(Errno::EIO),
            false => Ok(state),
        }
    }

    fn created(
        &self,
        parent: INodeNo,
        name: &OsStr,
        make: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<(FileAttr, u64)> {
        let mut state = self.on()?;
        let path = state.child(parent, name)?;
        let dir = state.back(parent);
        state.dir_changes(dir)?;
        make(&path).map_err(errno)?;
        let attr = state.entry(parent, name)?;
        let (ino, name, mode) = (state.back(attr.ino), name.to_owned(), u32::from(attr.perm));
        state.record(match attr.kind {
            FileType::Directory => Event::Mkdir {
                dir,
                name,
                ino,
                mode,
            },
            _ => Event::Create {
                dir,
                name,
                ino,
                mode,
            },
        });
        Ok((attr, ino))
    }
}

fn reply_entry(reply: ReplyEntry, result: Result<FileAttr>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(err) => reply.error(err),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Result<()>) {
    match result {
        Ok(()) => reply.ok(),
        Err(err) => reply.error(err),
    }
}

fn reply_attr(reply: ReplyAttr, result: Result<FileAttr>) {
    match result {
        Ok(attr) => reply.attr(&TTL, &attr),
        Err(err) => reply.error(err),
    }
}

fn system_time(time: TimeOrNow) -> SystemTime {
    match time {
        TimeOrNow::SpecificTime(time) => time,
        TimeOrNow::Now => SystemTime::now(),
    }
}

/// Opens a backing file as the kernel asked, less what the kernel does
/// itself (`O_APPEND` offsets) or we do (`O_TRUNC`, `O_CREAT`).
fn open_backing(path: &Path, flags: i32, create: Option<u32>) -> io::Result<File> {
    let mut options = File::options();
    match flags & 0o3 {
        0 => options.read(true),
        1 => options.write(true),
        _ => options.read(true).write(true),
    };
    if let Some(mode) = create {
        use std::os::unix::fs::OpenOptionsExt;
        options.create_new(true).mode(mode);
        // A file opened write-only is still read by the kernel's caches.
        options.read(true);
    }
    options.open(path)
}

const O_TRUNC: i32 = 0o1000;
const O_EXCL: i32 = 0o200;

impl Filesystem for PowerFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(reply, self.on().and_then(|mut s| s.entry(parent, name)));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = self.on().and_then(|s| {
            let meta = fs::symlink_metadata(s.path(s.back(ino))).map_err(errno)?;
            Ok(s.attr(&meta))
        });
        reply_attr(reply, result);
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let path = s.path(b);
            let is_file = fs::symlink_metadata(&path).map_err(errno)?.is_file();
            if is_file {
                let ops = s.file_changes(b)?;
                if let Some(size) = size {
                    ops.push(Op::Truncate(size));
                }
            }
            if let Some(size) = size {
                File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(size))
                    .map_err(errno)?;
            }
            if let Some(len) = size.filter(|_| is_file) {
                s.record(Event::Truncate { ino: b, len });
            }
            if let Some(mode) = mode {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(errno)?;
                let mode = mode & 0o7777;
                s.record(Event::Mode { ino: b, mode });
            }
            if atime.is_some() || mtime.is_some() {
                let file = File::options()
                    .write(is_file)
                    .read(!is_file)
                    .open(&path)
                    .map_err(errno)?;
                let mut times = fs::FileTimes::new();
                if let Some(atime) = atime {
                    times = times.set_accessed(system_time(atime));
                }
                if let Some(mtime) = mtime {
                    times = times.set_modified(system_time(mtime));
                }
                file.set_times(times).map_err(errno)?;
            }
            let meta = fs::symlink_metadata(&path).map_err(errno)?;
            Ok(s.attr(&meta))
        });
        reply_attr(reply, result);
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & 0o170000 != 0o100000 {
            return reply.error(Errno::EPERM); // regular files only
        }
        let result = self.created(parent, name, |path| {
            open_backing(path, 1, Some(mode & !umask & 0o7777)).map(drop)
        });
        reply_entry(
            reply,
            result.map(|(attr, ino)| {
                self.0.lock().unwrap().durable.created_file(ino);
                attr
            }),
        );
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self.created(parent, name, |path| {
            fs::create_dir(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(mode & !umask & 0o7777))
        });
        reply_entry(
            reply,
            result.map(|(attr, ino)| {
                // New: durably empty, whatever its parent's flush says of it.
                self.0
                    .lock()
                    .unwrap()
                    .durable
                    .dirs
                    .insert(ino, Default::default());
                attr
            }),
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.on().and_then(|mut s| {
            let path = s.child(parent, name)?;
            let meta = fs::symlink_metadata(&path).map_err(errno)?;
            if meta.is_dir() {
                return Err(Errno::EISDIR);
            }
            let dir = s.back(parent);
            s.dir_changes(dir)?;
            s.bury(dir, name, &meta)?;
            let name = name.to_owned();
            s.record(Event::Unlink { dir, name });
            Ok(())
        });
        reply_empty(reply, result);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.on().and_then(|mut s| {
            let path = s.child(parent, name)?;
            let meta = fs::symlink_metadata(&path).map_err(errno)?;
            if !meta.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if fs::read_dir(&path).map_err(errno)?.next().is_some() {
                return Err(Errno::ENOTEMPTY);
            }
            let dir = s.back(parent);
            s.dir_changes(dir)?;
            s.bury(dir, name, &meta)?;
            let name = name.to_owned();
            s.record(Event::Unlink { dir, name });
            Ok(())
        });
        reply_empty(reply, result);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = self
            .on()
            .and_then(|mut s| rename(&mut s, (parent, name), (newparent, newname), flags));
        reply_empty(reply, result);
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let result = self.on().and_then(|mut s| {
            let from = s.path(s.back(ino));
            let to = s.child(newparent, newname)?;
            let dir = s.back(newparent);
            s.dir_changes(dir)?;
            fs::hard_link(&from, &to).map_err(errno)?;
            let attr = s.entry(newparent, newname)?;
            let (name, ino) = (newname.to_owned(), s.back(ino));
            s.record(Event::Link { dir, name, ino });
            Ok(attr)
        });
        reply_entry(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let path = s.path(b);
            if flags.0 & O_TRUNC != 0 {
                s.truncate(b, &path)?;
            }
            let file = open_backing(&path, flags.0, None).map_err(errno)?;
            Ok(s.handle(file))
        });
        match result {
            Ok(fh) => reply.opened(fh, FopenFlags::empty()),
            Err(err) => reply.error(err),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self.on().and_then(|mut s| {
            let path = s.child(parent, name)?;
            if path.symlink_metadata().is_ok() {
                // The kernel asks to create what exists only without O_EXCL.
                if flags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let attr = s.entry(parent, name)?;
                if flags & O_TRUNC != 0 {
                    // As open(2) with O_TRUNC: a change to the file's length.
                    let b = s.back(attr.ino);
                    s.truncate(b, &path)?;
                }
                let attr = s.entry(parent, name)?;
                let file = open_backing(&path, flags, None).map_err(errno)?;
                return Ok((attr, s.handle(file)));
            }
            let dir = s.back(parent);
            s.dir_changes(dir)?;
            let file = open_backing(&path, flags, Some(mode & !umask & 0o7777)).map_err(errno)?;
            let attr = s.entry(parent, name)?;
            let b = s.back(attr.ino);
            s.durable.created_file(b);
            s.record(Event::Create {
                dir,
                name: name.to_owned(),
                ino: b,
                mode: u32::from(attr.perm),
            });
            Ok((attr, s.handle(file)))
        });
        match result {
            Ok((attr, fh)) => reply.created(&TTL, &attr, Generation(0), fh, FopenFlags::empty()),
            Err(err) => reply.error(err),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let result = self.on().and_then(|s| {
            let file = s.files.get(&fh.0).ok_or(Errno::EBADF)?;
            let mut buf = vec![0; size as usize];
            let mut got = 0;
            while got < buf.len() {
                match file
                    .read_at(&mut buf[got..], offset + got as u64)
                    .map_err(errno)?
                {
                    0 => break,
                    n => got += n,
                }
            }
            buf.truncate(got);
            Ok(buf)
        });
        match result {
            Ok(data) => reply.data(&data),
            Err(err) => reply.error(err),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _wf: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let log = s.durable.log_writes;
            let ops = s.file_changes(b)?;
            if log {
                ops.push(Op::Write {
                    at: offset,
                    data: data.to_vec(),
                });
            }
            let file = s.files.get(&fh.0).ok_or(Errno::EBADF)?;
            file.write_all_at(data, offset).map_err(errno)?;
            let (at, written) = (offset, data.len() as u32);
            s.record(Event::Write {
                ino: b,
                at,
                data: data.to_vec(),
            });
            Ok(written)
        });
        match result {
            Ok(n) => reply.written(n),
            Err(err) => reply.error(err),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // Closing flushes nothing to stable storage.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.on().map(|mut s| {
            let b = s.back(ino);
            s.durable.flushed_file(b);
            s.record(Event::Flush { ino: b });
        });
        reply_empty(reply, result);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let mut listing = vec![
                (b, FileType::Directory, ".".into()),
                (b, FileType::Directory, "..".into()),
            ];
            for entry in fs::read_dir(s.path(b)).map_err(errno)? {
                let entry = entry.map_err(errno)?;
                if b == s.root && entry.file_name() == STORE {
                    continue;
                }
                use std::os::unix::fs::DirEntryExt;
                let kind = entry
                    .file_type()
                    .map_or(FileType::RegularFile, |k| kind(&k));
                listing.push((entry.ino(), kind, entry.file_name()));
            }
            s.next_handle += 1;
            let fh = s.next_handle;
            s.listings.insert(fh, listing);
            Ok(FileHandle(fh))
        });
        match result {
            Ok(fh) => reply.opened(fh, FopenFlags::empty()),
            Err(err) => reply.error(err),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = match self.on() {
            Ok(state) => state,
            Err(err) => return reply.error(err),
        };
        let Some(listing) = state.listings.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, (ino, kind, name)) in listing.iter().enumerate().skip(offset as usize) {
            if reply.add(state.front(*ino), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.listings.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.on().map(|mut s| {
            let b = s.back(ino);
            s.durable.flushed_dir(b);
            s.record(Event::Flush { ino: b });
        });
        reply_empty(reply, result);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let result = self
            .on()
            .and_then(|s| rustix::fs::statvfs(&s.backing).map_err(|e| errno(e.into())));
        match result {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                st.f_bsize as u32,
                st.f_namemax as u32,
                st.f_frsize as u32,
            ),
            Err(err) => reply.error(err),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let path = s.path(b);
            if path.is_file() {
                s.file_changes(b)?;
            }
            let flags = rustix::fs::XattrFlags::from_bits_retain(flags as u32);
            rustix::fs::lsetxattr(&path, name, value, flags).map_err(|e| errno(e.into()))?;
            let (name, value) = (name.to_owned(), Some(value.to_vec()));
            s.record(Event::Xattr {
                ino: b,
                name,
                value,
            });
            Ok(())
        });
        reply_empty(reply, result);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let result = self.on().and_then(|s| {
            let mut buf = vec![0u8; 64 * 1024];
            let len = rustix::fs::lgetxattr(s.path(s.back(ino)), name, &mut buf)
                .map_err(|e| errno(e.into()))?;
            buf.truncate(len);
            Ok(buf)
        });
        reply_xattr(reply, result, size);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let result = self.on().and_then(|s| {
            let mut buf = vec![0u8; 64 * 1024];
            let len = rustix::fs::llistxattr(s.path(s.back(ino)), &mut buf)
                .map_err(|e| errno(e.into()))?;
            buf.truncate(len);
            Ok(buf)
        });
        reply_xattr(reply, result, size);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.on().and_then(|mut s| {
            let b = s.back(ino);
            let path = s.path(b);
            if path.is_file() {
                s.file_changes(b)?;
            }
            rustix::fs::lremovexattr(&path, name).map_err(|e| errno(e.into()))?;
            let (name, value) = (name.to_owned(), None);
            s.record(Event::Xattr {
                ino: b,
                name,
                value,
            });
            Ok(())
        });
        reply_empty(reply, result);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply_empty(reply, self.on().map(drop));
    }
}

/// An extended attribute's value (or a list of names), or its size when
/// the caller asks for that (`size` 0).
fn reply_xattr(reply: ReplyXattr, result: Result<Vec<u8>>, size: u32) {
    match result {
        Ok(data) if size == 0 => reply.size(data.len() as u32),
        Ok(data) if data.len() > size as usize => reply.error(Errno::ERANGE),
        Ok(data) => reply.data(&data),
        Err(err) => reply.error(err),
    }
}

/// `rename`, as the kernel defines it, over the backing folder: a name it
/// replaces goes to the graveyard (the durable image may still name it).
fn rename(
    s: &mut State,
    (parent, name): (INodeNo, &OsStr),
    (newparent, newname): (INodeNo, &OsStr),
    flags: RenameFlags,
) -> Result<()> {
    if flags.contains(RenameFlags::RENAME_EXCHANGE) || flags.contains(RenameFlags::RENAME_WHITEOUT)
    {
        return Err(Errno::EINVAL);
    }
    let from = s.child(parent, name)?;
    let to = s.child(newparent, newname)?;
    let moved = fs::symlink_metadata(&from).map_err(errno)?;
    let replaced = fs::symlink_metadata(&to).ok();
    let (dir, newdir) = (s.back(parent), s.back(newparent));
    if let Some(replaced) = &replaced {
        if flags.contains(RenameFlags::RENAME_NOREPLACE) {
            return Err(Errno::EEXIST);
        }
        if replaced.ino() == moved.ino() {
            return Ok(()); // two names of one file: nothing happens
        }
        match (moved.is_dir(), replaced.is_dir()) {
            (false, true) => return Err(Errno::EISDIR),
            (true, false) => return Err(Errno::ENOTDIR),
            (true, true) if fs::read_dir(&to).map_err(errno)?.next().is_some() => {
                return Err(Errno::ENOTEMPTY);
            }
            _ => {}
        }
    }
    s.dir_changes(dir)?;
    s.dir_changes(newdir)?;
    if let Some(replaced) = &replaced {
        s.bury(newdir, newname, replaced)?;
    }
    fs::rename(&from, &to).map_err(errno)?;
    s.unlink(moved.ino(), dir, name);
    s.link(moved.ino(), newdir, newname);
    s.record(Event::Rename {
        from: (dir, name.to_owned()),
        to: (newdir, newname.to_owned()),
    });
    Ok(())
}
