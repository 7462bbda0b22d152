//! The poll stage. One poll of one feed (fetch → parse → entries → its row
//! update, see [`Poller::poll`]) gives one [`PollOutcome`], recorded once
//! ([`Poller::record`]: one store call, one count). The daemon's due feeds
//! are started by [`Dispatcher::dispatch_due_once`], which the daemon's loop
//! and the tests both call.

mod dispatch;
mod entry;
mod outcome;
mod poller;

pub use crate::metrics::PollStatus;
pub use dispatch::{Dispatcher, DueRound, PollDueError};
pub use entry::to_new_entry;
pub use outcome::{PollOutcome, PollReport};
pub use poller::{FetchSlot, PollMode, Poller, Recorded};
