//! A small pool of store readers for the API: requests read side by side (SQLite's WAL lets
//! readers run beside the writer and each other) instead of queueing on one shared reader. At most
//! [`Readers::size`] are open; a request finding all busy waits for one without blocking a thread.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};
use wamcp_store::{Reader, StoreError};

/// How many readers the API keeps: enough for the requests one user's tools make at once.
pub const API_READERS: usize = 4;

pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    permits: Semaphore,
    size: usize,
}

/// A reader taken from the pool; it goes back when dropped.
pub struct Pooled<'a> {
    reader: Option<Reader>,
    pool: &'a Readers,
    _permit: SemaphorePermit<'a>,
}

impl Readers {
    /// A pool of up to `size` readers of the store at `path`; one is opened now, so a store that
    /// cannot be read is an error at start.
    pub fn open(path: &Path, size: usize) -> Result<Readers, StoreError> {
        let first = Reader::open(path)?;
        Ok(Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(size.max(1)),
            size: size.max(1),
        })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// A reader, once one is free.
    pub async fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let permit = self.permits.acquire().await.expect("the pool's semaphore is never closed");
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match idle {
            Some(reader) => reader,
            None => Reader::open(&self.path)?,
        };
        Ok(Pooled { reader: Some(reader), pool: self, _permit: permit })
    }
}

impl Deref for Pooled<'_> {
    type Target = Reader;

    fn deref(&self) -> &Reader {
        self.reader.as_ref().expect("a pooled reader is there until it is dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(reader);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_are_reused_and_at_most_size_are_out_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.db");
        drop(wamcp_store::Writer::open(&path).unwrap());
        let pool = Readers::open(&path, 2).unwrap();
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        assert!(pool.permits.try_acquire().is_err(), "a third waits while two are out");
        drop(a);
        let c = pool.get().await.unwrap();
        drop((b, c));
        assert_eq!(pool.idle.lock().unwrap().len(), 2, "both went back, none was opened beyond the size");
    }
}
