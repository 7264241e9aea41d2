//! Watches the processes of one sandboxed run from the host (same pid namespace, as root):
//! every process whose environment holds the run's marker `KEY=VALUE` (the sandbox passes it
//! to its command, and every descendant inherits it) is sampled every few milliseconds for
//! its peak resident memory (`VmHWM` of `/proc/<pid>/status`, which only grows), its CPU
//! time (`utime` + `stime` of `/proc/<pid>/stat`) and its environment. A process is one
//! program image: a forked shell that execs `gzip` becomes a second entry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What was seen of one process image.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its pid.
    pub pid: u32,
    /// `/proc/<pid>/comm` (the program's name, 15 bytes at most).
    pub comm: String,
    /// Highest `VmHWM` sampled, in KiB.
    pub peak_kib: u64,
    /// Highest user + system CPU time sampled, in clock ticks.
    pub cpu_ticks: u64,
    /// Its environment (`KEY=VALUE` entries).
    pub env: Vec<String>,
    /// Its arguments (`/proc/<pid>/cmdline`), as first sampled.
    pub argv: Vec<String>,
}

impl Seen {
    /// CPU seconds (the kernel's clock ticks are 100 a second on Linux: `USER_HZ`).
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_ticks as f64 / 100.0
    }
}

/// A running watch; [`Watch::stop`] returns what it saw.
pub struct Watch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<Seen>, u64)>,
}

/// The marker `KEY=VALUE` unique to this test process and `tag`.
pub fn marker(tag: &str) -> (String, String) {
    (
        "O4G_TEST_RUN".to_string(),
        format!("{}-{tag}", std::process::id()),
    )
}

/// Starts sampling the processes whose environment holds `marker`.
pub fn watch(marker: &(String, String)) -> Watch {
    let entry = format!("{}={}", marker.0, marker.1);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut seen: BTreeMap<(u32, String), Seen> = BTreeMap::new();
        let mut total = 0;
        loop {
            let last = flag.load(Ordering::SeqCst);
            total = total.max(sample(&entry, &mut seen));
            if last {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (seen.into_values().collect(), total)
    });
    Watch { stop, handle }
}

impl Watch {
    /// Stops sampling; every process image seen.
    pub fn stop(self) -> Vec<Seen> {
        self.stop_total().0
    }

    /// Stops sampling; every process image seen, and the highest sum, over one sample, of
    /// the `VmHWM` of the processes alive in it (in KiB): an upper bound of the memory the
    /// run held at once (each process counted at its peak so far, shared pages once each).
    pub fn stop_total(self) -> (Vec<Seen>, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("the watch thread")
    }
}

/// One sample; returns the sum of the `VmHWM` of the processes it saw.
fn sample(entry: &str, seen: &mut BTreeMap<(u32, String), Seen>) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let base = e.path();
        let Ok(environ) = std::fs::read(base.join("environ")) else {
            continue;
        };
        let env: Vec<String> = environ
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if !env.iter().any(|v| v == entry) {
            continue;
        }
        let comm = std::fs::read_to_string(base.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let peak_kib = std::fs::read_to_string(base.join("status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
        let cpu_ticks = std::fs::read_to_string(base.join("stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(") ")?.1.to_string();
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        let argv: Vec<String> = std::fs::read(base.join("cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let s = seen.entry((pid, comm.clone())).or_insert_with(|| Seen {
            pid,
            comm,
            peak_kib: 0,
            cpu_ticks: 0,
            env,
            argv,
        });
        s.peak_kib = s.peak_kib.max(peak_kib);
        s.cpu_ticks = s.cpu_ticks.max(cpu_ticks);
        total += peak_kib;
    }
    total
}

/// The largest `peak_kib` and the summed CPU seconds of the processes named `comm`.
pub fn of(seen: &[Seen], comm: &str) -> (u64, f64) {
    let mine = seen.iter().filter(|s| s.comm == comm);
    let peak = mine.clone().map(|s| s.peak_kib).max().unwrap_or(0);
    (peak, mine.map(Seen::cpu_seconds).sum())
}
