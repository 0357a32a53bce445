//! Ctrl-C in `ablaplan compute`: the running model is cancelled, the process says so and exits
//! with 130 (128 + SIGINT); a second Ctrl-C quits at once. The built binary is run on a shipped
//! case made slow by a fine grid and interrupted with `kill -INT` (Linux).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough for a loaded machine; the test only guards against a hang, it does not time.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// Six pairs, nonlinear, at 0.4 mm: many seconds of work even in release, so the signal always
/// lands while the model runs.
fn slow_compute() -> Child {
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/four_electrode_square.json");
    Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args([
            "compute",
            case.to_str().expect("utf-8 path"),
            "--spacing-mm",
            "0.4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ablaplan")
}

/// Forwards stderr line by line (the progress lines show the handler is installed: it is set
/// before the worker starts).
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn sigint(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed: {status}");
}

/// Waits for the first stderr line (the run has started), failing after [`HANG_LIMIT`].
fn wait_for_progress(child: &mut Child, lines: &mpsc::Receiver<String>) -> Vec<String> {
    match lines.recv_timeout(HANG_LIMIT) {
        Ok(l) => vec![l],
        Err(e) => {
            let _ = child.kill();
            panic!("no progress from `ablaplan compute` within {HANG_LIMIT:?}: {e}");
        }
    }
}

/// Waits for the exit (kill -9 and fail after [`HANG_LIMIT`]); returns the exit code and the
/// whole stderr.
fn finish(mut child: Child, lines: mpsc::Receiver<String>, mut seen: Vec<String>) -> (Option<i32>, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`ablaplan compute` did not stop within {HANG_LIMIT:?} of Ctrl-C; stderr so far:\n{}",
                seen.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The reader thread ends at EOF, once the process is gone.
    while let Ok(l) = lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(l);
    }
    (status.code(), seen.join("\n"))
}

#[test]
fn ctrl_c_cancels_the_model_and_exits_130() {
    let mut child = slow_compute();
    let lines = stderr_lines(&mut child);
    let seen = wait_for_progress(&mut child, &lines);
    sigint(&child);
    let (code, stderr) = finish(child, lines, seen);
    assert_eq!(code, Some(130), "exit code; stderr:\n{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("cancelled by Ctrl-C at") && last.contains('%'),
        "the last line says what was cancelled and where: {last:?}\n{stderr}"
    );
    // The progress message in brackets says which step was running.
    assert!(last.contains('(') && last.ends_with(')'), "{last:?}");
    assert!(
        !stderr.contains("the model failed") && !stderr.contains("crashed"),
        "a cancel is not reported as a failure:\n{stderr}"
    );
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    let mut child = slow_compute();
    let lines = stderr_lines(&mut child);
    let mut seen = wait_for_progress(&mut child, &lines);
    sigint(&child);
    // The first Ctrl-C is acknowledged (the handler ran) before the second is sent.
    let start = Instant::now();
    while !seen.iter().any(|l| l.contains("press Ctrl-C again")) {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => seen.push(l),
            Err(_) if child.try_wait().ok().flatten().is_some() => break,
            Err(_) => assert!(
                start.elapsed() < HANG_LIMIT,
                "no acknowledgement of Ctrl-C:\n{}",
                seen.join("\n")
            ),
        }
    }
    // The model may already have stopped after the first one; a second signal to a finished
    // process is harmless here (the exit code is 130 on both paths).
    if child.try_wait().ok().flatten().is_none() {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    let (code, stderr) = finish(child, lines, seen);
    assert_eq!(code, Some(130), "exit code; stderr:\n{stderr}");
    assert!(stderr.contains("cancel"), "{stderr}");
}
