//! The poll writes' own thread.
//!
//! A write transaction is a dozen round trips between the task that builds
//! its statements and sqlx's SQLite thread. On the shared runtime every one
//! of them waited until a worker was done with whatever it was doing
//! (fetching and normalizing other feeds), so the SQLite thread idled about
//! half of every ingest and the process used one core of two. Run here, on a
//! thread that does nothing else, each statement follows the last at once,
//! and the polls that queue meanwhile are committed together
//! ([`write_polls`]).

use std::future::Future;

use sqlx::SqlitePool;
use tokio::runtime::{Builder, Handle};
use tokio::sync::{mpsc, oneshot};

use super::articles::{write_polls, PollJob};
use super::{Result, StoreError};

#[derive(Debug)]
pub(super) struct WriteLane {
    handle: Handle,
    /// Dropped with the last `Store` clone, which ends the thread.
    _stop: oneshot::Sender<()>,
}

impl WriteLane {
    /// Starts the thread with the poll writer on it; returns the lane and
    /// the way to the poll writer.
    pub(super) fn start(writer: SqlitePool) -> Result<(Self, mpsc::UnboundedSender<PollJob>)> {
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
        let lane = WriteLane {
            handle,
            _stop: stop,
        };
        let (polls, jobs) = mpsc::unbounded_channel();
        lane.spawn(write_polls(writer, jobs));
        Ok((lane, polls))
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
