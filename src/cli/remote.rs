//! `ferry ls`, `ferry stat` and `ferry rm`: looking at and removing remote files.

use time::OffsetDateTime;
use time::macros::format_description;

use super::{Failure, ServerArg};

/// Prints one line per file: size, modification time (UTC), name.
pub fn list(server: &ServerArg, prefix: &str) -> Result<(), Failure> {
    let mut client = server.connect()?;
    let files = client
        .list(prefix)
        .map_err(|err| Failure::new(format!("listing {prefix:?}"), err))?;
    for file in files {
        println!("{:>14}  {}  {}", file.size, utc(file.mtime), file.name);
    }
    Ok(())
}

/// Prints a file's size and modification time.
pub fn stat(server: &ServerArg, name: &str) -> Result<(), Failure> {
    let mut client = server.connect()?;
    let stat = client
        .stat(name)
        .map_err(|err| Failure::new(name.to_owned(), err))?;
    println!(
        "name:     {name}\nsize:     {}\nmodified: {}",
        stat.size,
        utc(stat.mtime)
    );
    if let Some(crc) = stat.crc {
        println!("crc32c:   {crc:08x}");
    }
    Ok(())
}

/// Removes a file.
pub fn remove(server: &ServerArg, name: &str) -> Result<(), Failure> {
    let mut client = server.connect()?;
    client
        .delete(name)
        .map_err(|err| Failure::new(name.to_owned(), err))?;
    println!("removed {name}");
    Ok(())
}

fn utc(unix_seconds: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}
