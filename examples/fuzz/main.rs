//! In-process mutation fuzzer for the DICOM reader (parse → decode → stack), the RTSTRUCT /
//! SEG / NIfTI importers and the case reader, on stable Rust.
//!
//! ```text
//! cargo run --release --example fuzz -- --execs 10000000 [--seed 1] [--jobs 1]
//!     [--budget-ms 2000] [--mem-mb 3072] [--out fuzz-findings]
//! ```
//!
//! The parent process is a supervisor: it starts `--jobs` worker processes (this same binary
//! with `--worker`) under an address-space limit (`ulimit -v`, `--mem-mb`), each running the
//! engine of `harness.rs` on its own seed and scratch folder (on /dev/shm when it exists).
//! Every failure a worker catches (panic, execution over the time budget, broken invariant)
//! is written to `--out` once per distinct key. A worker that dies — an allocation beyond the
//! limit aborts, a hang trips the worker's watchdog, which aborts too — leaves its current
//! input in its scratch folder; the supervisor copies it to `--out` as a crash and starts a
//! new worker where the old one stopped. At the end it prints executions, rate, distinct
//! failures and the peak memory (VmHWM) of the workers. Linux only (ulimit, /proc).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod harness;
mod seeds;

struct Args {
    execs: u64,
    seed: u64,
    jobs: u64,
    budget_ms: u64,
    mem_mb: u64,
    out: PathBuf,
    worker: bool,
    scratch: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        execs: 100_000,
        seed: 1,
        jobs: 1,
        budget_ms: 2000,
        mem_mb: 3072,
        out: PathBuf::from("fuzz-findings"),
        worker: false,
        scratch: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{k} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|_| format!("{s:?} is not a number"));
        match k.as_str() {
            "--execs" => a.execs = num(val()?)?,
            "--seed" => a.seed = num(val()?)?,
            "--jobs" => a.jobs = num(val()?)?.max(1),
            "--budget-ms" => a.budget_ms = num(val()?)?,
            "--mem-mb" => a.mem_mb = num(val()?)?,
            "--out" => a.out = PathBuf::from(val()?),
            "--scratch" => a.scratch = Some(PathBuf::from(val()?)),
            "--worker" => a.worker = true,
            "--repro" => {
                let dir = PathBuf::from(val()?);
                let target = val()?;
                let r = harness::reproduce(&dir, &target);
                std::process::exit(if r.is_ok() { 0 } else { 1 });
            }
            "--seeds" => {
                for (name, r) in harness::seed_outcomes(Path::new("/tmp/ablaplan-fuzz-seeds")) {
                    println!("{name}: {r:?}");
                }
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!(
                    "cargo run --release --example fuzz -- --execs N [--seed S] [--jobs J] [--budget-ms MS] [--mem-mb MB] [--out DIR]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn save(out: &Path, name: &str, input: &harness::Input, what: &str) {
    let d = out.join(name);
    let _ = std::fs::create_dir_all(&d);
    for (n, data) in &input.files {
        let _ = std::fs::write(d.join(n), data);
    }
    let _ = std::fs::write(d.join("failure.txt"), format!("{:?}\n{what}\n", input.target));
}

/// Worker: run the engine, report progress lines on stdout ("EXECS n", "FAIL key", "HWM kb").
fn worker(a: &Args) {
    let scratch = a.scratch.clone().unwrap_or_else(|| PathBuf::from("fuzz-scratch"));
    let budget = Duration::from_millis(a.budget_ms);
    // Watchdog: an execution that takes 15× the budget is a hang; abort so the supervisor
    // keeps the input (it is still in the scratch folder).
    let beat = Arc::new(AtomicU64::new(0));
    {
        let beat = beat.clone();
        let limit = budget.as_millis() as u64 * 15;
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut last = (0u64, 0u64);
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let b = beat.load(Ordering::Relaxed);
                let now = start.elapsed().as_millis() as u64;
                if b != last.0 {
                    last = (b, now);
                } else if now - last.1 > limit {
                    println!("HANG after {} ms", now - last.1);
                    std::process::abort();
                }
            }
        });
    }
    let mut reported = std::collections::BTreeSet::new();
    let stats = harness::fuzz(a.seed, a.execs, &scratch, budget, |s| {
        beat.store(s.execs, Ordering::Relaxed);
        for (k, (f, input)) in &s.failures {
            if reported.insert(k.clone()) {
                let name = format!("fail-{}-{}", a.seed, reported.len());
                save(&a.out, &name, input, &format!("{k}\n{f:?}"));
                println!("FAIL {name} {k}");
            }
        }
        if s.execs.is_multiple_of(2000) {
            println!("EXECS {} HWM {}", s.execs, vm_hwm_kb());
        }
        true
    });
    println!("EXECS {} HWM {}", stats.execs, vm_hwm_kb());
    println!("SLOWEST {} ms", stats.slowest.as_millis());
    println!("TARGETS {:?} CORPUS {}", stats.per_target, stats.corpus);
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz: {e}");
            std::process::exit(2);
        }
    };
    if a.worker {
        worker(&a);
        return;
    }
    let _ = std::fs::create_dir_all(&a.out);
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("fuzz"));
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let t0 = Instant::now();
    let per_job = a.execs.div_ceil(a.jobs);
    let total = Arc::new(AtomicU64::new(0));
    let hwm = Arc::new(AtomicU64::new(0));
    let crashes = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for j in 0..a.jobs {
        let (exe, out, base) = (exe.clone(), a.out.clone(), base.clone());
        let (total, hwm, crashes) = (total.clone(), hwm.clone(), crashes.clone());
        let (budget, mem) = (a.budget_ms, a.mem_mb);
        let seed0 = a.seed * 1000 + j;
        threads.push(std::thread::spawn(move || {
            let mut done = 0u64;
            let mut restart = 0u64;
            while done < per_job {
                let seed = seed0 + restart * 100_000;
                let scratch = base.join(format!("ablaplan-fuzz-{}-{j}", std::process::id()));
                let cmd = format!(
                    "ulimit -v {} && exec \"$0\" --worker --seed {seed} --execs {} --budget-ms {budget} --out \"$1\" --scratch \"$2\"",
                    mem * 1024,
                    per_job - done
                );
                let child = Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .arg(&exe)
                    .arg(&out)
                    .arg(&scratch)
                    .env("RAYON_NUM_THREADS", "1")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn();
                let Ok(mut child) = child else {
                    eprintln!("fuzz: cannot start a worker");
                    return;
                };
                let mut mine = 0u64;
                let mut hang = false;
                if let Some(so) = child.stdout.take() {
                    for line in BufReader::new(so).lines().map_while(Result::ok) {
                        let w: Vec<&str> = line.split_whitespace().collect();
                        match w.as_slice() {
                            ["EXECS", n, "HWM", kb] => {
                                let n: u64 = n.parse().unwrap_or(mine);
                                total.fetch_add(n.saturating_sub(mine), Ordering::Relaxed);
                                mine = n;
                                hwm.fetch_max(kb.parse().unwrap_or(0), Ordering::Relaxed);
                            }
                            ["HANG", ..] => hang = true,
                            _ => eprintln!("[worker {j}] {line}"),
                        }
                    }
                }
                let status = child.wait();
                done += mine;
                let ok = status.as_ref().map(|s| s.success()).unwrap_or(false);
                if !ok {
                    // The worker died on an input: keep it.
                    let n = crashes.fetch_add(1, Ordering::Relaxed) + 1;
                    let name = format!("crash-{}-{j}-{n}", seed);
                    let d = out.join(&name);
                    let _ = std::fs::create_dir_all(&d);
                    // scratch/<Target>/files
                    if let Ok(rd) = std::fs::read_dir(&scratch) {
                        for t in rd.flatten() {
                            let _ = std::fs::write(d.join("target.txt"), t.file_name().to_string_lossy().as_bytes());
                            for e in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
                                let _ = std::fs::copy(e.path(), d.join(e.file_name()));
                            }
                        }
                    }
                    let why = if hang { "hang (watchdog)" } else { "died (allocation beyond the memory limit or abort)" };
                    let _ = std::fs::write(d.join("failure.txt"), format!("{why}: {status:?}\n"));
                    eprintln!("[worker {j}] {why}: input kept in {}", d.display());
                    done += 1; // skip the input that killed it
                }
                let _ = std::fs::remove_dir_all(&scratch);
                restart += 1;
            }
        }));
    }
    let mut last_print = Instant::now();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if last_print.elapsed() > Duration::from_secs(30) {
            last_print = Instant::now();
            let n = total.load(Ordering::Relaxed);
            eprintln!(
                "fuzz: {n} execs, {:.0}/s, peak worker memory {} MB, {} crash(es)",
                n as f64 / t0.elapsed().as_secs_f64(),
                hwm.load(Ordering::Relaxed) / 1024,
                crashes.load(Ordering::Relaxed)
            );
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let n = total.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let findings = std::fs::read_dir(&a.out).map(|r| r.count()).unwrap_or(0);
    println!(
        "fuzz: {n} executions in {secs:.0} s ({:.0}/s), peak worker memory (VmHWM) {} MB, {} worker crash(es), {findings} finding folder(s) in {}",
        n as f64 / secs.max(1e-9),
        hwm.load(Ordering::Relaxed) / 1024,
        crashes.load(Ordering::Relaxed),
        a.out.display()
    );
}
