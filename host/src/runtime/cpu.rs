//! Guest CPU accounting that does not charge a plugin for other jobs' time.
//!
//! A call into a plugin is one future. [`Metered`] reads the thread's CPU
//! clock around every poll of it, so the meter sums exactly the CPU this
//! call used, on whichever worker thread it ran, and nothing it spent
//! parked (waiting on HTTP, yielded at an epoch tick, pre-empted while other
//! jobs ran). The epoch callback reads the meter mid-poll to stop a guest
//! that exceeds its budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// CPU used by one plugin call.
#[derive(Debug, Default)]
pub struct CpuMeter {
    /// CPU of finished polls, in nanoseconds.
    used_ns: AtomicU64,
    /// Thread CPU clock when the current poll started; 0 outside a poll.
    poll_started_ns: AtomicU64,
}

impl CpuMeter {
    /// CPU used so far, including the poll in progress (call it from inside
    /// the metered future, e.g. from the epoch callback).
    pub fn used(&self) -> Duration {
        let mut ns = self.used_ns.load(Ordering::Relaxed);
        let started = self.poll_started_ns.load(Ordering::Relaxed);
        if started != 0 {
            ns += thread_cpu_ns().saturating_sub(started);
        }
        Duration::from_nanos(ns)
    }
}

/// A future whose polls are charged to a [`CpuMeter`].
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
}

impl<F: Future> Metered<F> {
    pub fn new(inner: F, meter: Arc<CpuMeter>) -> Self {
        Metered {
            inner: Box::pin(inner),
            meter,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `max(1)` keeps 0 free to mean "not polling".
        let start = thread_cpu_ns().max(1);
        self.meter.poll_started_ns.store(start, Ordering::Relaxed);
        let out = self.inner.as_mut().poll(cx);
        let spent = thread_cpu_ns().saturating_sub(start);
        self.meter.poll_started_ns.store(0, Ordering::Relaxed);
        self.meter.used_ns.fetch_add(spent, Ordering::Relaxed);
        out
    }
}

/// The calling thread's CPU clock in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // supported on every platform this host builds for (Linux, macOS).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn time_spent_parked_is_not_charged() {
        let meter = Arc::new(CpuMeter::default());
        Metered::new(
            tokio::time::sleep(Duration::from_millis(200)),
            meter.clone(),
        )
        .await;
        assert!(
            meter.used() < Duration::from_millis(50),
            "{:?}",
            meter.used()
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn busy_work_is_charged() {
        let meter = Arc::new(CpuMeter::default());
        Metered::new(
            async {
                // Spin until this thread has really used 100 ms of CPU (a
                // wall-clock loop would measure less on a loaded machine).
                let start = thread_cpu_ns();
                let mut x = 0u64;
                while thread_cpu_ns() - start < 100_000_000 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            },
            meter.clone(),
        )
        .await;
        assert!(
            meter.used() >= Duration::from_millis(100),
            "{:?}",
            meter.used()
        );
    }
}
