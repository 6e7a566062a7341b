//! The writer connection: every write goes through it in one `BEGIN IMMEDIATE` transaction, committed on
//! disk or, for the workers' bookkeeping, with the next commit that is ([`Synced`]); the writer's own
//! thread, which runs the writes one after the other as they are sent to it; and the checkpoints that copy
//! the WAL back into the database, run on a thread of their own so that no commit waits for one.

use std::panic::AssertUnwindSafe;
use std::sync::{Weak, mpsc};
use std::time::Duration;

use rusqlite::Connection;

use super::database::Inner;
use crate::store::StoreResult;

/// The connection that writes, and the sync mode it is in.
pub(super) struct Writer {
    pub(super) conn: Connection,
    synced: Synced,
}

impl Writer {
    /// The writer, on a connection whose sync mode is FULL.
    pub(super) fn new(conn: Connection) -> Writer {
        Writer { conn, synced: Synced::OnDisk }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed as `synced` says; rolled back if it
    /// fails. BEGIN and COMMIT are cached statements (rusqlite's `Transaction` parses them anew each
    /// time, which showed in the profile); the sync mode is a pragma applied when parsed, so it is set
    /// only when it changes.
    pub(super) fn transaction<T>(
        &mut self,
        synced: Synced,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        if self.synced != synced {
            let mode = match synced {
                Synced::OnDisk => "FULL",
                Synced::WithTheNext => "NORMAL",
            };
            self.conn.pragma_update(None, "synchronous", mode)?;
            self.synced = synced;
        }
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let done = work(&self.conn).and_then(|value| {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(value)
        });
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        done
    }
}

/// When a write transaction's commit is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Synced {
    /// When the commit returns (the WAL is synced): what the API acknowledges, accepted events first.
    OnDisk,
    /// With the next commit that is (or the next checkpoint): a process crash loses nothing (the WAL is in
    /// the operating system's hands), and a power loss may forget it, never a later commit without it.
    /// For leases and attempt records, whose loss means at most a delivery sent again with its own id —
    /// what at-least-once delivery allows anyway — and never an accepted event lost or a new delivery made.
    WithTheNext,
}

/// A write, run on the writer's thread.
pub(super) type WriteJob = Box<dyn FnOnce(&mut Writer) + Send>;

/// Starts the writer's thread: it owns the writer and runs the jobs sent to it in the order they arrive,
/// back to back while they queue up, until every sender is gone (the store is closed).
///
/// One thread that owns the connection, rather than whichever thread of the blocking pool takes the
/// writer's lock: the ingest queue, the pipeline's commits and the attempt recorder write at once under
/// load, and with a lock all but one of their threads went to sleep on it and were woken in turn. Here a
/// write waits in the queue instead, and the thread goes from one to the next without a context switch.
/// A job that panics is rolled back; its caller sees its answer channel closed, the writes after it run.
pub(super) fn start_writer(mut writer: Writer) -> std::io::Result<mpsc::Sender<WriteJob>> {
    let (writes, jobs) = mpsc::channel::<WriteJob>();
    std::thread::Builder::new().name("gancho-sqlite-writer".to_owned()).spawn(move || {
        for job in jobs {
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut writer)));
            if ran.is_err() && !writer.conn.is_autocommit() {
                let _ = writer.conn.execute_batch("ROLLBACK");
            }
        }
    })?;
    Ok(writes)
}

/// How often the checkpointer copies what the WAL holds back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Starts the checkpointer: while the store is open, a `PASSIVE` checkpoint every [`CHECKPOINT_EVERY`] on
/// its own connection (the writer's automatic ones are off). A passive checkpoint never blocks a writer or
/// a reader; it copies what no reader still needs, and the WAL starts over once all of it has been copied.
/// False if the thread could not be started (the writer's automatic checkpoints then stay on).
pub(super) fn start_checkpoints(store: Weak<Inner>, conn: Connection) -> bool {
    let spawned = std::thread::Builder::new().name("gancho-sqlite-checkpoint".to_owned()).spawn(move || {
        while store.upgrade().is_some() {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(%error, "sqlite checkpoint failed; trying again");
            }
        }
    });
    if let Err(error) = &spawned {
        tracing::warn!(%error, "cannot start the sqlite checkpoint thread; the writer checkpoints as it commits");
    }
    spawned.is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::store::StoreResult;

    #[tokio::test]
    async fn a_write_that_panics_is_rolled_back_and_the_writes_after_it_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gancho.db")).unwrap();
        store.write(|conn| Ok(conn.execute_batch("CREATE TABLE seen (n INTEGER)")?)).await.unwrap();

        let panicked = store
            .write(|conn| -> StoreResult<()> {
                conn.execute("INSERT INTO seen VALUES (1)", [])?;
                panic!("a bug in a write");
            })
            .await
            .unwrap_err();
        assert!(panicked.to_string().contains("panicked"), "{panicked}");
        let queued: Vec<_> = (2..=4)
            .map(|n| store.write(move |conn| Ok(conn.execute("INSERT INTO seen VALUES (?1)", [n])?)))
            .collect();
        for write in queued {
            assert_eq!(write.await.unwrap(), 1);
        }

        let seen: Vec<i64> = store
            .read(|tx| {
                let mut rows = tx.prepare("SELECT n FROM seen ORDER BY n")?;
                let seen = rows.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
                Ok(seen)
            })
            .await
            .unwrap();
        assert_eq!(seen, vec![2, 3, 4], "the panicked write's row is rolled back, the later ones commit");
    }
}
