//! The machine's own scheduling noise: [`WakeupProbe`], a thread that sleeps 1 ms at a time and
//! records how late each wakeup comes (run beside the benchmark's half-rate case), and
//! [`spin_gaps`], one busy thread per core that records every time the clock jumped while it was
//! not running (`sightline bench-noise` runs both on an otherwise idle machine).
//!
//! Every request crosses several wakeups (load generator -> server -> Redis -> server -> load
//! generator), so a request's p99 cannot be lower than what a thread waiting for the CPU sees
//! on the same machine at the same moment. On the shared 2-core VMs the team measures on, the
//! host takes both virtual CPUs away for 5-30 ms at a time, several times a second, when both
//! are busy (docs/BENCHMARKS.md, "where the tail is"); this probe puts a number on it in the
//! same run, as the COPY and the trivial handler do for throughput.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tools::loadgen::percentile_ms;

const NAP: Duration = Duration::from_millis(1);

/// A running probe; [`WakeupProbe::finish`] stops it and returns its samples.
pub struct WakeupProbe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u32>>,
}

impl WakeupProbe {
    pub fn start() -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wakeup-probe".into())
            .spawn(move || {
                let mut late_us = Vec::with_capacity(64 * 1024);
                while !flag.load(Ordering::Relaxed) {
                    let asleep = Instant::now();
                    std::thread::sleep(NAP);
                    let late = asleep.elapsed().saturating_sub(NAP);
                    late_us.push(u32::try_from(late.as_micros()).unwrap_or(u32::MAX));
                }
                late_us
            })?;
        Ok(Self { stop, thread })
    }

    /// Stops the probe; the lateness of each wakeup in microseconds (unsorted).
    pub fn finish(self) -> Vec<u32> {
        self.stop.store(true, Ordering::Relaxed);
        // The thread only sleeps and pushes: it cannot panic short of running out of memory.
        self.thread.join().unwrap_or_default()
    }
}

/// Wakeup lateness over all samples: (p50, p99) in milliseconds.
pub fn lateness_ms(mut samples: Vec<u32>) -> (f64, f64) {
    samples.sort_unstable();
    (percentile_ms(&samples, 0.50), percentile_ms(&samples, 0.99))
}

/// `sightline bench-noise`: the sleeping probe alone for `span`, then one spinner per core for
/// `span`. Blocks; prints one line per part and returns the figures.
pub fn measure(span: Duration) -> std::io::Result<serde_json::Value> {
    let probe = WakeupProbe::start()?;
    std::thread::sleep(span);
    let mut late = probe.finish();
    late.sort_unstable();
    let over_5ms = late.iter().filter(|&&us| us > 5_000).count();
    let max_ms = late.last().copied().unwrap_or(0) as f64 / 1e3;
    let (p50, p99, p999) = (
        percentile_ms(&late, 0.50),
        percentile_ms(&late, 0.99),
        percentile_ms(&late, 0.999),
    );
    println!(
        "sleeping 1 ms at a time, {} wakeups: late p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max_ms:.1} ms; {over_5ms} over 5 ms",
        late.len()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let gaps = spin_gaps(cores, span);
    for (i, g) in gaps.iter().enumerate() {
        println!(
            "spinner {i} of {cores}: gaps over 1 ms {}, over 5 ms {}, over 10 ms {}, max {:.1} ms; {:.1}% of the time off the CPU",
            g.over_1ms, g.over_5ms, g.over_10ms, g.max_ms, g.stalled_pct
        );
    }
    Ok(serde_json::json!({
        "secs": span.as_secs_f64(),
        "wakeups": late.len(),
        "wakeup_late_p50_ms": p50,
        "wakeup_late_p99_ms": p99,
        "wakeup_late_p999_ms": p999,
        "wakeup_late_max_ms": max_ms,
        "wakeups_over_5ms": over_5ms,
        "spinners": gaps,
    }))
}

/// What one spinning thread saw: the clock jumps while it was kept off its CPU.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SpinGaps {
    pub over_1ms: u64,
    pub over_5ms: u64,
    pub over_10ms: u64,
    pub max_ms: f64,
    /// Share of the time lost in gaps over 0.5 ms.
    pub stalled_pct: f64,
}

/// Gaps shorter than this are clock reads and cache misses, not the thread being descheduled.
const GAP: Duration = Duration::from_micros(500);

/// Spins `threads` threads (one per core keeps every core busy) for `span`, each recording the
/// gaps between consecutive clock reads.
pub fn spin_gaps(threads: usize, span: Duration) -> Vec<SpinGaps> {
    let spinners: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || spin(span)))
        .collect();
    spinners
        .into_iter()
        .map(|t| t.join().unwrap_or_default())
        .collect()
}

fn spin(span: Duration) -> SpinGaps {
    let start = Instant::now();
    let (mut prev, mut stalled, mut out) = (start, Duration::ZERO, SpinGaps::default());
    loop {
        let now = Instant::now();
        let gap = now - prev;
        prev = now;
        if now - start >= span {
            break;
        }
        if gap > GAP {
            stalled += gap;
            let ms = gap.as_secs_f64() * 1e3;
            out.over_1ms += u64::from(ms > 1.0);
            out.over_5ms += u64::from(ms > 5.0);
            out.over_10ms += u64::from(ms > 10.0);
            out.max_ms = out.max_ms.max(ms);
        }
    }
    out.stalled_pct = 100.0 * stalled.as_secs_f64() / span.as_secs_f64();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_probe_records_one_sample_per_nap() {
        let probe = WakeupProbe::start().expect("spawn");
        std::thread::sleep(Duration::from_millis(60));
        let samples = probe.finish();
        // 60 ms of 1 ms naps: at least a few, never more than one per millisecond.
        assert!(samples.len() >= 5, "{} samples", samples.len());
        assert!(samples.len() <= 61, "{} samples", samples.len());
        let (p50, p99) = lateness_ms(samples);
        assert!(p50 <= p99);
    }

    #[test]
    fn spinners_report_one_entry_each_with_consistent_counts() {
        let gaps = spin_gaps(2, Duration::from_millis(30));
        assert_eq!(gaps.len(), 2);
        for g in gaps {
            assert!(g.over_10ms <= g.over_5ms && g.over_5ms <= g.over_1ms);
            assert!((0.0..=100.0).contains(&g.stalled_pct));
        }
    }
}
