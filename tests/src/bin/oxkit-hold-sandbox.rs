//! `oxkit-hold-sandbox`: a test-only program that starts one product-mode
//! sandbox (no TCP) from a short-lived thread, prints
//! `pid=<server pid> dir=<sandbox dir>` on stdout and then waits forever.
//! The sandbox tests kill it with `kill -9` and check that the server dies
//! with it, and that the spawning thread's exit did not kill the server
//! (the parent-death signal follows the thread that forked). Not installed.

use std::io::Write as _;

#[allow(
    clippy::print_stderr,
    reason = "a test program: its failure is read by the test that spawned it"
)]
fn main() -> std::process::ExitCode {
    let started = std::thread::spawn(oxkit::sandbox::Sandbox::start).join();
    let sb = match started {
        Ok(Ok(sb)) => sb,
        Ok(Err(e)) => {
            eprintln!("oxkit-hold-sandbox: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("oxkit-hold-sandbox: the starting thread panicked");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "pid={} dir={}",
        sb.pid().unwrap_or(0),
        sb.dir().display()
    );
    let _ = out.flush();
    // Wait for a line on stdin (or its end), then stop cleanly: the tests
    // either kill us first or close stdin.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(sb);
    std::process::ExitCode::SUCCESS
}
