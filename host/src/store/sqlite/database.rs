//! The database and its connections: opening it (WAL, the schema's migrations), the writer every write goes
//! through (on its own thread), and the pool of readers (each read on the blocking pool).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::writer::{self, Synced, WriteJob, Writer};
use crate::store::{StoreError, StoreResult};

/// The writer's page cache, in KiB (a negative `cache_size` counts KiB): 64 MiB.
const WRITER_CACHE_KIB: i64 = -65_536;

/// The schema, one migration per entry, applied in order; `PRAGMA user_version` counts those applied.
/// A released migration is never edited: changes go in a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_retention.sql"),
    include_str!("migrations/003_endpoint_limits.sql"),
    include_str!("migrations/004_paused.sql"),
    include_str!("migrations/005_tenant_plugins.sql"),
    include_str!("migrations/006_connections.sql"),
    include_str!("migrations/007_rollouts.sql"),
    include_str!("migrations/008_lanes.sql"),
    include_str!("migrations/009_budgets.sql"),
    include_str!("migrations/010_access.sql"),
    include_str!("migrations/011_customer.sql"),
    include_str!("migrations/012_rollout_failures.sql"),
    include_str!("migrations/013_trace_context.sql"),
    include_str!("migrations/015_stats.sql"),
    include_str!("migrations/016_charts_and_retention_by_tenant.sql"),
];

/// Reader connections kept open; more are opened when all are busy, and closed after use.
const POOLED_READERS: usize = 4;
/// How long a connection waits for another process's lock before failing with `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Room for every distinct statement (listing builds a few variants), so none is ever re-prepared.
const STATEMENT_CACHE: usize = 64;

/// The SQLite implementation of [`Store`]. Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// Where the database is, to open more readers.
    pub(super) path: PathBuf,
    /// The writer's thread, which owns the only connection that writes: serialising writes there is what
    /// makes claims atomic.
    writes: mpsc::Sender<WriteJob>,
    /// Idle reader connections.
    pub(super) readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database at `path` and brings its schema up to
    /// date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!(
                    "failed to create directory {} for the database: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut writer = open_connection(path)?;
        // WAL: readers do not block the writer nor it them. FULL: a commit is on disk when it returns, so
        // an event acknowledged to its sender survives a power loss; batching amortises the sync.
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "{} cannot use the WAL journal (got {mode}); put the database on a local file system",
                path.display()
            )));
        }
        writer.pragma_update(None, "synchronous", "FULL")?;
        // The writer's page cache holds the indexes' hot pages (SQLite's default, 2 MiB, is smaller than
        // a busy hour's indexes: each insert then reads its pages back from the operating system).
        writer.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        migrate(&mut writer)?;
        tracing::debug!(path = %path.display(), "opened sqlite store");
        // Checkpoints run on a thread of their own (see `writer`), not inside the writer's commits; if that
        // thread cannot start, the writer checkpoints as it commits (SQLite's default, every 1,000 pages).
        let checkpoints = open_connection(path)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let writes = writer::start_writer(Writer::new(writer))
            .map_err(|e| StoreError::Database(format!("cannot start the sqlite writer thread: {e}")))?;
        let inner = Arc::new(Inner { path: path.to_owned(), writes, readers: Mutex::new(Vec::new()) });
        if !writer::start_checkpoints(Arc::downgrade(&inner), checkpoints) {
            let _ = inner.writes.send(Box::new(|writer: &mut Writer| {
                let _ = writer.conn.pragma_update(None, "wal_autocheckpoint", 1000);
            }));
        }
        Ok(SqliteStore { inner })
    }

    /// Runs `work` in one immediate transaction on the writer connection, on the writer's thread; on disk
    /// when it returns.
    pub(super) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_synced(Synced::OnDisk, work).await
    }

    /// As [`SqliteStore::write`], for the workers' own bookkeeping — leases and attempt records — whose
    /// commit need not wait for the disk (see [`Synced::WithTheNext`]).
    pub(super) async fn write_bookkeeping<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_synced(Synced::WithTheNext, work).await
    }

    async fn write_synced<T, F>(&self, synced: Synced, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |writer: &mut Writer| {
            let _ = answer.send(writer.transaction(synced, work));
        });
        self.inner.writes.send(job).map_err(|_| {
            StoreError::Database("the sqlite writer thread has stopped; restart gancho".to_owned())
        })?;
        answered.await.map_err(|_| {
            StoreError::Database("storage task failed: the write panicked (rolled back)".to_owned())
        })?
    }

    /// Runs `work` in one read transaction (a consistent snapshot) on a reader connection.
    pub(super) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let popped = inner.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut conn = match popped {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let value = {
                let tx = conn.transaction()?;
                let value = work(&tx)?;
                tx.commit()?;
                value
            };
            let mut readers = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
            if readers.len() < POOLED_READERS {
                readers.push(conn);
            }
            Ok(value)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Database(format!("storage task failed: {e}")))?
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Database(format!("failed to open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = open_connection(path)?;
    // A reader that tried to write would take the write lock behind the writer's back.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Applies the migrations not yet applied. The immediate transaction makes two processes opening the same
/// new file at once apply them once.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database schema is version {applied} but this gancho knows versions up to {}; \
             run a newer gancho or restore a backup",
            MIGRATIONS.len()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Database(format!("schema migration {} failed: {e}", version + 1)))?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}
