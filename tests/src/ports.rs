//! Loopback ports and readiness for the servers tests start.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

/// A loopback port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a loopback port")
}

/// Waits until `child` (spawned with a piped stdout) prints a line
/// containing `ready`, then keeps draining its stdout so it never blocks on a
/// full pipe. Kills it and panics, naming `what`, if that takes longer than
/// `timeout`.
pub fn await_ready(mut child: Child, ready: &'static str, timeout: Duration, what: &str) -> Child {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(ready)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(timeout).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} was not ready within {timeout:?}");
    }
    child
}
