//! How apply and destroy report progress: plain lines (cron, CI, pipes,
//! `--no-progress`), or on a terminal a live block of the operations in
//! flight with their elapsed time, finished lines scrolling above it.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// One thing that happened during a walk.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An operation started: its address and the line that says so.
    Start { address: &'a str, line: &'a str },
    /// An operation ended (done or failed).
    End { address: &'a str, line: &'a str },
    /// A slow operation is still running (plain output says so every 10 s).
    Still { line: &'a str },
    /// Anything else worth a line.
    Note { line: &'a str },
}

pub trait Report: Sync {
    fn event(&self, event: Event<'_>);
    /// Called about once a second; a live display redraws its clocks.
    fn tick(&self) {}
    /// The walk is over: leave the terminal clean.
    fn finish(&self) {}
}

/// Every event as a line of its own. A line that cannot be written (the
/// reader of stdout went away) is dropped: the walk goes on.
pub struct Plain;

impl Report for Plain {
    fn event(&self, event: Event<'_>) {
        let (Event::Start { line, .. } | Event::End { line, .. } | Event::Still { line } | Event::Note { line }) = event;
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// A live block at the bottom of a terminal. Like [`Plain`], it never stops
/// the walk for output that cannot be written.
pub struct Live {
    state: Mutex<LiveState>,
}

struct LiveState {
    in_flight: Vec<(String, String, Instant)>,
    drawn: usize,
}

impl Default for Live {
    fn default() -> Self {
        Live { state: Mutex::new(LiveState { in_flight: Vec::new(), drawn: 0 }) }
    }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct for a terminal descriptor.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    }
}

impl Live {
    /// Erases the block, prints `above` (scrolling), draws the block again.
    fn redraw(&self, above: Option<&str>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let width = terminal_width().saturating_sub(1).max(20);
        let mut out = String::new();
        if st.drawn > 0 {
            out.push_str(&format!("\x1b[{}A\x1b[J", st.drawn));
        }
        if let Some(line) = above {
            out.push_str(line);
            out.push('\n');
        }
        for (_, line, started) in &st.in_flight {
            let text = format!("  {line} [{}s]", started.elapsed().as_secs());
            let text: String = text.chars().take(width).collect();
            out.push_str(&format!("\x1b[2m{text}\x1b[0m\n"));
        }
        st.drawn = st.in_flight.len();
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}

impl Report for Live {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Start { address, line } => {
                self.state.lock().unwrap_or_else(|p| p.into_inner()).in_flight.push((address.to_string(), line.to_string(), Instant::now()));
                self.redraw(None);
            }
            Event::End { address, line } => {
                self.state.lock().unwrap_or_else(|p| p.into_inner()).in_flight.retain(|(a, _, _)| a != address);
                self.redraw(Some(line));
            }
            Event::Still { .. } => {}
            Event::Note { line } => self.redraw(Some(line)),
        }
    }

    fn tick(&self) {
        self.redraw(None);
    }

    fn finish(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).in_flight.clear();
        self.redraw(None);
    }
}
