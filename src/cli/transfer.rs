//! `ferry put` and `ferry get`: moving whole files.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::{Failure, ServerArg};

/// Uploads `local` as `remote` (default: the local file name).
pub fn put(server: &ServerArg, local: &Path, remote: Option<&str>) -> Result<(), Failure> {
    let remote = match remote {
        Some(remote) => remote.to_owned(),
        None => local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                let err = io::Error::new(io::ErrorKind::InvalidInput, "give a remote name");
                Failure::new(local.display().to_string(), err)
            })?
            .to_owned(),
    };
    let local_failure = |err: io::Error| Failure::new(local.display().to_string(), err);
    let mut file = File::open(local).map_err(local_failure)?;
    let size = file.metadata().map_err(local_failure)?.len();
    // The checksum goes in the request line, so it is computed first.
    let crc = crc_of(&mut file).map_err(local_failure)?;
    file.rewind().map_err(local_failure)?;
    let mut client = server.connect()?;
    let mut body = BufReader::with_capacity(256 * 1024, file);
    let (size, crc) = client
        .put(&remote, &mut body, size, crc)
        .map_err(|err| Failure::new(remote.clone(), err))?;
    println!("stored {remote} ({size} bytes, crc32c {crc:08x})");
    Ok(())
}

/// Downloads `remote` to `local` (default: its last segment; `-` for
/// standard output). The file appears only when complete: it is written
/// beside its target under a temporary name and renamed at the end.
pub fn get(server: &ServerArg, remote: &str, local: Option<&Path>) -> Result<(), Failure> {
    let mut client = server.connect()?;
    let failure = |err| Failure::new(remote.to_owned(), err);
    if local == Some(Path::new("-")) {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        client.get(remote, &mut out).map_err(failure)?;
        return out.flush().map_err(|err| failure(err.into()));
    }
    let target = match local {
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(remote.rsplit('/').next().unwrap_or(remote)),
    };
    let local_failure = |err: io::Error| Failure::new(target.display().to_string(), err);
    let partial = partial_path(&target);
    let mut file = File::create(&partial).map_err(local_failure)?;
    let result = client
        .get(remote, &mut file)
        .map_err(failure)
        .and_then(|n| file.sync_all().map(|()| n).map_err(local_failure))
        .and_then(|n| {
            std::fs::rename(&partial, &target)
                .map(|()| n)
                .map_err(local_failure)
        });
    match result {
        Ok(n) => {
            println!("saved {} ({n} bytes)", target.display());
            Ok(())
        }
        Err(failure) => {
            let _ = std::fs::remove_file(&partial);
            Err(failure)
        }
    }
}

fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.ferry-part"))
}

fn crc_of(reader: &mut dyn Read) -> io::Result<u32> {
    let mut buf = vec![0; 256 * 1024];
    let mut crc = 0;
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(crc),
            n => crc = crc32c::crc32c_append(crc, &buf[..n]),
        }
    }
}
