//! The requests of a folder transfer, as pipeline jobs
//! ([`crate::client::pipeline::Exchange`]): one `PUT` per local file, one
//! `GET` per remote file, one `STAT` per file `--skip-existing` must check.
//! Each advances the batch's progress bar as its bytes move; a large file
//! also gets a bar of its own while it moves.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::PathBuf;

use indicatif::ProgressBar;

use crate::cli::interrupt::Discard;
use crate::cli::output::{Counted, Output};
use crate::client::pipeline::Exchange;
use crate::client::{ClientError, CrcWriter, Replies, Requests, Result, crc_of, unix_mtime};

/// Files up to this size are read into memory when their turn comes, so
/// the size sent is the size read; larger ones stream from the file. Both
/// are read once: the checksum follows the body (`PUT <name> <size> -`).
const IN_MEMORY: u64 = 1024 * 1024;
/// Files from this size on get a progress bar of their own.
const OWN_BAR: u64 = 8 * 1024 * 1024;

/// What a job shows while it runs.
#[derive(Clone, Copy)]
pub struct Show<'a> {
    pub output: &'a Output,
    pub batch: &'a ProgressBar,
}

impl Show<'_> {
    /// A bar for one large file, or none for a small one.
    fn own_bar(&self, name: &str, size: u64) -> Option<ProgressBar> {
        (size >= OWN_BAR).then(|| self.output.file_bar(name, size))
    }
}

enum Body {
    Unread,
    Memory(Vec<u8>),
    File(File),
}

/// Uploads one local file.
pub struct PutJob<'a> {
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    /// Known once the body is sent.
    crc: u32,
    /// Modification time to give the remote copy.
    mtime: Option<i64>,
    body: Body,
    bar: Option<ProgressBar>,
    show: Show<'a>,
}

impl<'a> PutJob<'a> {
    pub fn new(path: PathBuf, name: String, size: u64, show: Show<'a>) -> PutJob<'a> {
        PutJob {
            path,
            name,
            size,
            crc: 0,
            mtime: None,
            body: Body::Unread,
            bar: None,
            show,
        }
    }

    /// Clears this job's own bar, whatever the outcome.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Exchange for PutJob<'_> {
    fn weight(&self) -> u64 {
        self.size
    }

    fn prepare(&mut self) -> Result<()> {
        let mut file = File::open(&self.path).map_err(ClientError::Local)?;
        let metadata = file.metadata().map_err(ClientError::Local)?;
        self.mtime = unix_mtime(&metadata);
        // The size is taken now: the file may have changed since the folder
        // was walked.
        self.size = metadata.len();
        if self.size <= IN_MEMORY {
            let mut data = Vec::with_capacity(self.size as usize);
            file.read_to_end(&mut data).map_err(ClientError::Local)?;
            self.size = data.len() as u64;
            self.body = Body::Memory(data);
        } else {
            self.body = Body::File(file);
        }
        self.bar = self.show.own_bar(&self.name, self.size);
        Ok(())
    }

    fn send(&mut self, requests: &mut Requests) -> Result<()> {
        self.show
            .batch
            .set_message(self.show.output.fit(&self.name));
        let hidden = ProgressBar::hidden();
        let bars = [self.show.batch, self.bar.as_ref().unwrap_or(&hidden)];
        let (name, size, mtime) = (&self.name, self.size, self.mtime);
        self.crc = match std::mem::replace(&mut self.body, Body::Unread) {
            Body::Memory(data) => {
                requests.put_trailing(name, &mut Counted::new(&data[..], &bars), size, mtime)
            }
            Body::File(file) => {
                let mut body = Counted::new(io::BufReader::new(file), &bars);
                requests.put_trailing(name, &mut body, size, mtime)
            }
            Body::Unread => Err(ClientError::protocol("PUT job sent before it was prepared")),
        }?;
        Ok(())
    }

    fn receive(&mut self, replies: &mut Replies) -> Result<()> {
        replies.put(self.size, self.crc).map(drop)
    }
}

/// Downloads one remote file into a partial file beside its target, then
/// verifies it and renames it into place.
pub struct GetJob<'a> {
    pub name: String,
    pub target: PathBuf,
    pub size: u64,
    partial: PathBuf,
    file: Option<File>,
    /// Removes the partial file if the process is interrupted meanwhile.
    interrupted: Option<Discard>,
    bar: Option<ProgressBar>,
    show: Show<'a>,
}

impl<'a> GetJob<'a> {
    pub fn new(name: String, target: PathBuf, size: u64, show: Show<'a>) -> GetJob<'a> {
        GetJob {
            partial: crate::cli::landing::partial_path(&target),
            name,
            target,
            size,
            file: None,
            interrupted: None,
            bar: None,
            show,
        }
    }

    /// Removes the partial file and the bar, if any: the job failed or
    /// was given up.
    pub fn discard(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
        self.interrupted = None;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Exchange for GetJob<'_> {
    fn prepare(&mut self) -> Result<()> {
        if let Some(dir) = self.partial.parent() {
            crate::cli::interrupt::make_folders(dir).map_err(ClientError::Local)?;
        }
        self.interrupted = Some(Discard::new(&self.partial));
        self.file = Some(File::create(&self.partial).map_err(ClientError::Local)?);
        Ok(())
    }

    fn send(&mut self, requests: &mut Requests) -> Result<()> {
        requests.get(&self.name, 0, None)
    }

    fn receive(&mut self, replies: &mut Replies) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(ClientError::protocol(
                "GET job answered before it was prepared",
            ));
        };
        self.show
            .batch
            .set_message(self.show.output.fit(&self.name));
        self.bar = self.show.own_bar(&self.name, self.size);
        let hidden = ProgressBar::hidden();
        let bars = [self.show.batch, self.bar.as_ref().unwrap_or(&hidden)];
        let mut out = CrcWriter::new(Counted::new(file, &bars), 0);
        let result = replies.get(&mut out).and_then(|download| {
            out.verify(download.crc)?;
            self.size = download.total;
            Ok(download.mtime)
        });
        let result = result.and_then(|mtime| match self.file.as_ref() {
            Some(file) => crate::cli::landing::keep_mtime(file, mtime).map_err(ClientError::Local),
            None => Ok(()),
        });
        let outcome = result
            .and_then(|()| fs::rename(&self.partial, &self.target).map_err(ClientError::Local));
        match outcome {
            Ok(()) => {
                self.file = None; // renamed: nothing to discard
                self.interrupted = None;
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                Ok(())
            }
            Err(err) => Err(err),
        }
    }
}

/// Asks whether the server's copy of a file matches a local one.
pub struct StatJob<T> {
    pub name: String,
    /// The local copy, checksummed on the writing thread before the `STAT`.
    pub local: PathBuf,
    size: u64,
    crc: u32,
    /// What the caller needs back.
    pub item: T,
    /// The answer: both copies have the same size and CRC-32C.
    pub same: bool,
}

impl<T> StatJob<T> {
    pub fn new(name: String, local: PathBuf, item: T) -> StatJob<T> {
        StatJob {
            name,
            local,
            size: 0,
            crc: 0,
            item,
            same: false,
        }
    }
}

impl<T: Send> Exchange for StatJob<T> {
    fn prepare(&mut self) -> Result<()> {
        let mut file = File::open(&self.local).map_err(ClientError::Local)?;
        (self.size, self.crc) = crc_of(&mut file).map_err(ClientError::Local)?;
        Ok(())
    }

    fn send(&mut self, requests: &mut Requests) -> Result<()> {
        requests.stat(&self.name)
    }

    fn receive(&mut self, replies: &mut Replies) -> Result<()> {
        match replies.stat() {
            Ok(stat) => self.same = stat.size == self.size && stat.crc == Some(self.crc),
            // Absent, a directory ...: not the same; the transfer will tell.
            Err(ClientError::Remote { .. }) => self.same = false,
            Err(err) => return Err(err),
        }
        Ok(())
    }
}
