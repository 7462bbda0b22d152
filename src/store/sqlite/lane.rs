//! The poll writes' own thread.
//!
//! A write transaction is a dozen round trips between the task that builds
//! its statements and sqlx's SQLite thread. On the shared runtime every one
//! of them waited until a worker was done with whatever it was doing
//! (fetching and normalizing other feeds), so the SQLite thread idled about
//! half of every ingest and the process used one core of two. Run here, on a
//! thread that does nothing else, each statement follows the last at once,
//! and the polls that queue meanwhile are committed together
//! ([`write_polls`]). The background WAL checkpointer runs here too
//! ([`checkpoint_in_background`]), on a connection (and SQLite thread) of
//! its own.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqlitePool};
use tokio::runtime::{Builder, Handle};
use tokio::sync::{mpsc, oneshot};

use super::ingest::{write_polls, PollJob};
use crate::store::error::{Result, StoreError};

#[derive(Debug)]
pub(super) struct WriteLane {
    handle: Handle,
    /// Dropped with the last `Store` clone, which ends the thread.
    _stop: oneshot::Sender<()>,
    /// To the poll writer ([`write_polls`]); dropping it ends the writer.
    pub(super) polls: mpsc::UnboundedSender<PollJob>,
    /// New articles since the last background index batch was queued.
    pub(super) unindexed: AtomicUsize,
    /// A background index batch is queued or running.
    pub(super) indexing: AtomicBool,
}

impl WriteLane {
    /// Starts the thread with the poll writer and, on a connection of its
    /// own (`checkpoints`), the background checkpointer on it.
    pub(super) fn start(writer: SqlitePool, checkpoints: SqliteConnectOptions) -> Result<Self> {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Lane)?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("newsd-writes".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(StoreError::Lane)?;
        let (polls, jobs) = mpsc::unbounded_channel();
        drop(handle.spawn(write_polls(writer, jobs)));
        drop(handle.spawn(checkpoint_in_background(checkpoints)));
        Ok(WriteLane {
            handle,
            _stop: stop,
            polls,
            unindexed: AtomicUsize::new(0),
            indexing: AtomicBool::new(false),
        })
    }

    /// Starts `work` on the lane's thread without waiting for it.
    pub(super) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        drop(self.handle.spawn(work));
    }

    /// Runs `work` on the lane's thread and waits for it.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.handle
            .spawn(work)
            .await
            .map_err(|e| StoreError::LaneStopped(e.to_string()))?
    }
}

/// How often the background checkpointer looks at the WAL while it has
/// frames to copy, and while it is empty.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);
const CHECKPOINT_IDLE: Duration = Duration::from_secs(2);

/// Copies the WAL into the database from a connection (and so a SQLite
/// thread) of its own. The writer's automatic checkpoint copied and synced
/// ~40 MiB at a time on the writer's thread: during ingest about an eighth
/// of its time went to waiting in `fsync`. A passive checkpoint never blocks
/// the writer. Once it has copied everything, the writer's next transaction
/// starts the WAL over; a writer busy without a pause never gives it that
/// moment, so the writer's own automatic checkpoint (at ~200 MiB) stays as
/// the backstop, and finds little left to copy.
async fn checkpoint_in_background(opts: SqliteConnectOptions) {
    let mut conn = match opts.connect().await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "no background checkpointer; the writer checkpoints alone");
            return;
        }
    };
    loop {
        let pause = match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut conn)
            .await
        {
            Ok((_, frames, _)) if frames > 0 => CHECKPOINT_BUSY,
            Ok(_) => CHECKPOINT_IDLE,
            Err(e) => {
                tracing::debug!(error = %e, "background checkpoint failed");
                CHECKPOINT_IDLE
            }
        };
        tokio::time::sleep(pause).await;
    }
}
