use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

/// How a shell reports a process killed by SIGPIPE: what gwctl exits with
/// when the reader of its output went away (`gwctl plan | head -1`).
const OUTPUT_CLOSED: u8 = 141;

/// Set when a write to a closed stdout or stderr panicked (`println!` does).
static WRITE_TO_CLOSED_OUTPUT: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    quiet_on_closed_output();
    let cli = gwctl::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // A panic unwinds out of the command first, so what it holds (the state
    // lock) is released as on any other way out.
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(gwctl::commands::run(cli))));
    // The command has returned, and with it everything it held (the state
    // lock is released when its `Store` drops). Whatever still runs is
    // abandoned rather than waited for: the blocking read of an approval
    // prompt interrupted by Ctrl-C would otherwise keep gwctl alive until
    // Enter.
    runtime.shutdown_background();
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) if WRITE_TO_CLOSED_OUTPUT.load(Ordering::SeqCst) || (is_broken_pipe(&e) && output_closed()) => {
            ExitCode::from(OUTPUT_CLOSED)
        }
        Ok(Err(e)) => {
            report(&e);
            ExitCode::from(1)
        }
        Err(_) if WRITE_TO_CLOSED_OUTPUT.load(Ordering::SeqCst) => ExitCode::from(OUTPUT_CLOSED),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Prints `error: ` and the message, then each cause whose text the lines
/// before it do not already contain (most messages embed their source).
fn report(e: &gwctl::error::Error) {
    let mut stderr = std::io::stderr().lock();
    let mut printed = e.to_string();
    let _ = writeln!(stderr, "error: {printed}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !printed.contains(&text) {
            let _ = writeln!(stderr, "  caused by: {text}");
            printed.push('\n');
            printed.push_str(&text);
        }
        source = cause.source();
    }
}

/// A panic from writing to a stdout or stderr whose reader is gone is not a
/// bug: it ends the command silently (see `main`). Every other panic is
/// reported as before.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if text.is_some_and(|t| t.contains("Broken pipe") || t.contains("BrokenPipe")) && output_closed() {
            WRITE_TO_CLOSED_OUTPUT.store(true, Ordering::SeqCst);
            return;
        }
        default(info);
    }));
}

fn is_broken_pipe(e: &gwctl::error::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether stdout or stderr is a pipe or socket nobody reads any more: poll
/// reports POLLERR (or POLLHUP) on it.
fn output_closed() -> bool {
    [libc::STDOUT_FILENO, libc::STDERR_FILENO].into_iter().any(|fd| {
        let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: p is one valid pollfd; a zero timeout never blocks.
        let ready = unsafe { libc::poll(&mut p, 1, 0) };
        ready == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
    })
}
