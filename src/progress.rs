//! Progress of long CLI work (`copy`, `reextract`): a bar on stderr when
//! it is a terminal, nothing otherwise, so piped output and logs carry only
//! the summary each command prints at the end.

use indicatif::{ProgressBar, ProgressStyle};

const TEMPLATE: &str =
    "{prefix:<14} [{bar:30}] {human_pos:>11}/{human_len:<11} {percent:>3}% {per_sec:>12} eta {eta}";

/// One bar; indicatif draws nothing when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        // The template is a constant, checked by a test; a bad one would
        // only cost the bar its layout.
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        Self { bar }
    }

    pub fn set(&self, done: u64, total: u64) {
        self.bar.set_length(total.max(done));
        self.bar.set_position(done);
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Leaves the finished bar on screen, so a run over several tables
    /// shows one line per table.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_template_parses() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn a_bar_never_shows_more_done_than_its_total() {
        let p = Progress::new("articles", 10);
        p.set(12, 10);
        assert_eq!(p.bar.length(), Some(12));
        assert_eq!(p.bar.position(), 12);
    }
}
