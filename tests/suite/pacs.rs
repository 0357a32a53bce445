//! Exchange with PACS (issue 17): ablaplan's C-STORE SCP / C-ECHO and its SCU, on loopback only
//! (127.0.0.1, free ports), against DCMTK's `echoscu`, `storescu` and `storescp` (Debian
//! `dcmtk`; the tests that need it are skipped with a printed reason when it is absent).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ablaplan::jobs::JobCtx;
use ablaplan::net::part10::{self, split_part10};
use ablaplan::net::{self, Node, ScpConfig, ScpEvent, ScpHandle, ScuOptions, dimse, scp};

use super::common;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn dcmtk(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: DCMTK's {tool} is not installed (Debian package dcmtk)");
    }
    ok
}

fn start_scp(folder: &Path, timeout: Duration, allowed: &[&str]) -> ScpHandle {
    scp::start(
        ScpConfig {
            ae_title: "ABLATEST".into(),
            bind: LOCALHOST,
            port: 0,
            allowed_callers: allowed.iter().map(|s| s.to_string()).collect(),
            folder: folder.to_path_buf(),
            timeout,
            ..ScpConfig::default()
        },
        None,
    )
    .unwrap()
}

fn node_of(scp: &ScpHandle) -> Node {
    Node {
        ae_title: "ABLATEST".into(),
        host: "127.0.0.1".into(),
        port: scp.local_addr().port(),
    }
}

/// Events until `done` holds for one of them (returned with all before it), or `limit`.
fn events_until(scp: &ScpHandle, limit: Duration, done: impl Fn(&ScpEvent) -> bool) -> (Vec<ScpEvent>, bool) {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < limit {
        if let Some(e) = scp.next_event(Duration::from_millis(50)) {
            let hit = done(&e);
            seen.push(e);
            if hit {
                return (seen, true);
            }
        }
    }
    (seen, false)
}

fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    v.sort();
    v
}

/// Meta information and data set bytes of a Part-10 file.
fn split(path: &Path) -> (part10::Part10, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let meta = split_part10(&bytes).unwrap();
    let ds = bytes[meta.dataset_offset..].to_vec();
    (meta, ds)
}

/// Every received file (`FOLDER/STUDY/SERIES/*.dcm`, `.partial` excluded) by SOP instance UID.
fn received(folder: &Path) -> std::collections::HashMap<String, PathBuf> {
    let mut out = std::collections::HashMap::new();
    for s in net::list_received(folder) {
        for f in dicom_files(&s.dir) {
            let (m, _) = split(&f);
            out.insert(m.sop_instance_uid, f);
        }
    }
    out
}

/// The data set of `src` as DCMTK encodes it (implicit VR LE, explicit sequence and item
/// lengths, no group lengths) — what `storescu` puts on the wire and `storescp` writes: DCMTK
/// re-encodes every data set it sends, so that, not the file on disk, is what must arrive.
fn dcmtk_encoding(src: &Path, tmp: &Path) -> Vec<u8> {
    let out = tmp.join("dcmconv.ds");
    let st = Command::new("dcmconv")
        .args(["-F", "+ti", "+e", "-g"])
        .arg(src)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "dcmconv failed on {}", src.display());
    std::fs::read(&out).unwrap()
}

/// Where two byte strings first differ (for a short failure message instead of a dump).
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[test]
fn echoscu_reaches_our_scp_and_an_unknown_calling_ae_is_refused() {
    if !dcmtk("echoscu") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scp = start_scp(dir.path(), Duration::from_secs(5), &["FRIEND"]);
    let port = scp.local_addr().port().to_string();
    let echo = |aet: &str| {
        Command::new("echoscu")
            .args(["-aet", aet, "-aec", "ABLATEST", "127.0.0.1", &port])
            .output()
            .unwrap()
    };
    let ok = echo("FRIEND");
    assert!(
        ok.status.success(),
        "echoscu as FRIEND failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (_, echoed) = events_until(
        &scp,
        Duration::from_secs(5),
        |e| matches!(e, ScpEvent::Echo { calling_ae } if calling_ae == "FRIEND"),
    );
    assert!(echoed, "no C-ECHO event");

    let refused = echo("STRANGER");
    assert!(
        !refused.status.success(),
        "a calling AE title not on the list was accepted"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Calling AE Title Not Recognized"),
        "echoscu said: {stderr}"
    );
    let (_, seen) = events_until(&scp, Duration::from_secs(5), |e| {
        matches!(e, ScpEvent::Refused { .. })
    });
    assert!(seen, "no refusal reported");

    // Our SCU sees the same rejection as an error naming the node, and the SCP keeps serving.
    let node = node_of(&scp);
    let stranger = ScuOptions {
        calling_ae: "STRANGER".into(),
        ..ScuOptions::default()
    };
    let err = net::echo(&node, &stranger).unwrap_err();
    assert!(matches!(err, net::NetError::Rejected { .. }), "{err}");
    let friend = ScuOptions {
        calling_ae: "FRIEND".into(),
        ..ScuOptions::default()
    };
    net::echo(&node, &friend).unwrap();
    // The called AE title must be ours too.
    let wrong = Node {
        ae_title: "SOMEONEELSE".into(),
        ..node
    };
    assert!(
        net::echo(&wrong, &friend).is_err(),
        "a wrong called AE title was accepted"
    );
    scp.stop();
}

#[test]
fn storescu_sends_the_pancreas_ct_and_every_data_set_arrives_as_sent() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    if !dcmtk("storescu") || !dcmtk("dcmconv") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scp = start_scp(dir.path(), Duration::from_secs(10), &[]);
    let sources = dicom_files(&ct);
    let t0 = Instant::now();
    // -xi: propose the files' own transfer syntax (implicit VR LE), so DCMTK does not
    // transcode them to explicit VR on the way.
    let out = Command::new("storescu")
        .args(["-xi", "+sd", "-aet", "DCMTKSCU", "-aec", "ABLATEST", "127.0.0.1"])
        .arg(scp.local_addr().port().to_string())
        .arg(&ct)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "storescu failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (events, arrived) = events_until(&scp, Duration::from_secs(30), |e| {
        matches!(e, ScpEvent::Arrived(_))
    });
    assert!(arrived, "the series was not reported: {events:?}");
    eprintln!(
        "storescu → ablaplan: {} files in {:.1} s",
        sources.len(),
        t0.elapsed().as_secs_f64()
    );
    let Some(ScpEvent::Arrived(series)) = events.last() else {
        unreachable!()
    };
    assert_eq!(series.objects, sources.len());
    assert_eq!(series.calling_ae, "DCMTKSCU");
    assert_eq!(series.modality, "CT");

    let got = received(dir.path());
    assert_eq!(got.len(), sources.len(), "received files");
    let tmp = tempfile::tempdir().unwrap();
    let mut reencoded = 0;
    for src in &sources {
        let (m, ds) = split(src);
        let rx = got
            .get(&m.sop_instance_uid)
            .unwrap_or_else(|| panic!("{} did not arrive", src.display()));
        // Filed by study and series, named by the SOP instance.
        let rel = rx.strip_prefix(dir.path()).unwrap();
        assert_eq!(
            rel.file_name().unwrap().to_string_lossy(),
            format!("{}.dcm", m.sop_instance_uid)
        );
        let (rm, rds) = split(rx);
        assert_eq!(rm.sop_instance_uid, m.sop_instance_uid);
        assert_eq!(
            (rm.sop_class_uid.as_str(), rm.transfer_syntax.as_str()),
            (m.sop_class_uid.as_str(), m.transfer_syntax.as_str()),
            "{}",
            src.display()
        );
        let sent = dcmtk_encoding(src, tmp.path());
        assert_eq!(
            first_difference(&rds, &sent),
            None,
            "{}: the data set differs from what storescu sent ({} vs {} bytes)",
            src.display(),
            rds.len(),
            sent.len()
        );
        if rds != ds {
            reencoded += 1;
        }
    }
    eprintln!(
        "{reencoded} of {} data sets were re-encoded by storescu on the way (sequence lengths)",
        sources.len()
    );
    scp.stop();
}

#[test]
fn our_scu_to_our_scp_is_byte_for_byte_with_progress() {
    let (Some(ct), Some(rs)) = (
        common::dicom_data("pancreas-ct-rtstruct/CT"),
        common::dicom_data("pancreas-ct-rtstruct/RTSTRUCT"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scp = start_scp(dir.path(), Duration::from_secs(10), &[]);
    let mut files = dicom_files(&ct);
    files.extend(dicom_files(&rs));
    let ctx = JobCtx::default();
    let t0 = Instant::now();
    let report = net::send_files(&node_of(&scp), &files, &ScuOptions::default(), &ctx).unwrap();
    eprintln!(
        "ablaplan → ablaplan: {} files in {:.1} s",
        files.len(),
        t0.elapsed().as_secs_f64()
    );
    assert_eq!((report.sent, report.failed.len()), (files.len(), 0), "{report:?}");
    assert_eq!(ctx.progress.fraction(), 1.0);
    let (events, _) = events_until(
        &scp,
        Duration::from_secs(10),
        |e| matches!(e, ScpEvent::Arrived(s) if s.modality == "RTSTRUCT"),
    );
    let arrived: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, ScpEvent::Arrived(_)))
        .collect();
    assert_eq!(arrived.len(), 2, "CT and RTSTRUCT series: {events:?}");
    let got = received(dir.path());
    for src in &files {
        let (m, ds) = split(src);
        let (rm, rds) = split(&got[&m.sop_instance_uid]);
        assert_eq!(rm.transfer_syntax, m.transfer_syntax);
        assert_eq!(
            first_difference(&rds, &ds),
            None,
            "{}: the data set differs",
            src.display()
        );
    }
    scp.stop();
}

/// A free loopback port (bound and released; the tiny race is acceptable on loopback).
fn free_port() -> u16 {
    TcpListener::bind((LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn our_scu_sends_to_dcmtk_storescp_and_the_files_arrive() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    if !dcmtk("storescp") || !dcmtk("dcmconv") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = KillOnDrop(
        Command::new("storescp")
            .args(["-aet", "DCMTKSCP", "-od"])
            .arg(out.path())
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let node = Node {
        ae_title: "DCMTKSCP".into(),
        host: "127.0.0.1".into(),
        port,
    };
    // Wait until storescp listens (C-ECHO answers).
    let t0 = Instant::now();
    while net::echo(&node, &ScuOptions::default()).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "storescp did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let files: Vec<PathBuf> = dicom_files(&ct).into_iter().take(20).collect();
    let report = net::send_files(&node, &files, &ScuOptions::default(), &JobCtx::default()).unwrap();
    assert_eq!((report.sent, report.failed.len()), (files.len(), 0), "{report:?}");
    // storescp names files by modality and SOP instance UID; each one is there and carries
    // the data set we sent.
    let stored: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(stored.len(), files.len());
    for src in &files {
        let (m, _) = split(src);
        let rx = stored
            .iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .ends_with(&m.sop_instance_uid)
            })
            .unwrap_or_else(|| panic!("{} not stored by storescp", src.display()));
        let (rm, rds) = split(rx);
        assert_eq!(
            (rm.sop_instance_uid.as_str(), rm.transfer_syntax.as_str()),
            (m.sop_instance_uid.as_str(), m.transfer_syntax.as_str())
        );
        let written = dcmtk_encoding(src, tmp.path());
        assert_eq!(
            first_difference(&rds, &written),
            None,
            "{}: storescp holds another data set",
            src.display()
        );
    }
}

/// The first bytes a peer gets back on `s` before the SCP closes it, and how long that took.
fn answer_and_close(mut s: TcpStream) -> (Vec<u8>, Duration) {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    (got, t0.elapsed())
}

#[test]
fn a_stalling_or_garbage_peer_is_aborted_in_time_and_the_scp_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(800);
    let scp = start_scp(dir.path(), timeout, &[]);
    let addr = scp.local_addr();

    // 1. Connects and sends nothing: an A-ABORT PDU (type 07) after the timeout, then close.
    let (got, took) = answer_and_close(TcpStream::connect(addr).unwrap());
    assert_eq!(got.first(), Some(&0x07), "expected an A-ABORT, got {got:?}");
    assert!(
        took >= timeout && took < timeout * 2 + Duration::from_secs(2),
        "closed after {took:?} for a {timeout:?} timeout"
    );

    // 2. Half a PDU header, then silence: the same.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[0x01, 0x00, 0x00]).unwrap();
    let (got, took) = answer_and_close(s);
    assert_eq!(got.first(), Some(&0x07), "expected an A-ABORT, got {got:?}");
    assert!(took < timeout * 2 + Duration::from_secs(2), "{took:?}");

    // 3. Garbage (an HTTP request): refused at once, never a hang.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (_, took) = answer_and_close(s);
    assert!(
        took < timeout * 2 + Duration::from_secs(2),
        "garbage kept the connection for {took:?}"
    );

    // 4. A PDU that claims 4 GB: refused by the PDU length check, nothing allocated.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xF0]).unwrap();
    let (_, took) = answer_and_close(s);
    assert!(took < timeout * 2 + Duration::from_secs(2), "{took:?}");

    // 5. A peer that trickles a byte now and then (each read is within the socket timeout):
    // cut when no PDU completes within twice the timeout.
    let mut s = TcpStream::connect(addr).unwrap();
    let reader = s.try_clone().unwrap();
    let t0 = Instant::now();
    let trickler = std::thread::spawn(move || {
        // An A-ASSOCIATE-RQ header announcing 200 bytes, then one byte every 300 ms.
        let mut bytes = vec![0x01, 0x00, 0x00, 0x00, 0x00, 0xC8];
        bytes.extend(std::iter::repeat_n(0u8, 200));
        for b in bytes {
            if s.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let (_, _) = answer_and_close(reader);
    let took = t0.elapsed();
    assert!(
        took < timeout * 2 + Duration::from_secs(2),
        "a trickling peer stayed {took:?}"
    );
    trickler.join().unwrap();

    // 6. An association that stalls after it is set up: aborted, reported, nothing listed.
    let stall = dicom_ul::ClientAssociationOptions::new()
        .calling_ae_title("STALLER")
        .called_ae_title("ABLATEST")
        .with_presentation_context(net::VERIFICATION, vec![part10::TS_IMPLICIT_LE])
        .establish(addr)
        .unwrap();
    let (events, aborted) = events_until(&scp, Duration::from_secs(5), |e| {
        matches!(e, ScpEvent::Aborted { .. })
    });
    assert!(aborted, "the stalled association was not aborted: {events:?}");
    drop(stall);

    // The SCP still answers, and nothing panicked (a panic is reported as an Error event).
    let node = node_of(&scp);
    net::echo(&node, &ScuOptions::default()).unwrap();
    let rest = scp.try_events();
    let all: Vec<_> = events.iter().chain(rest.iter()).collect();
    assert!(!all.iter().any(|e| matches!(e, ScpEvent::Error(_))), "{all:?}");
    assert!(net::list_received(dir.path()).is_empty());
    scp.stop();
}

/// Sends `files` by hand over a `dicom-ul` association and aborts instead of releasing.
fn send_then_abort(addr: std::net::SocketAddr, files: &[PathBuf]) {
    use dicom_ul::pdu::{PDataValue, PDataValueType};
    let (m0, _) = split(&files[0]);
    let mut assoc = dicom_ul::ClientAssociationOptions::new()
        .calling_ae_title("HALFWAY")
        .called_ae_title("ABLATEST")
        .with_presentation_context(m0.sop_class_uid.clone(), vec![m0.transfer_syntax.clone()])
        .establish(addr)
        .unwrap();
    let pc = assoc.presentation_contexts()[0].id;
    for (i, f) in files.iter().enumerate() {
        let (m, ds) = split(f);
        let mut cmd = PDataValue {
            presentation_context_id: pc,
            value_type: PDataValueType::Command,
            is_last: true,
            data: dimse::store_rq(i as u16 + 1, &m.sop_class_uid, &m.sop_instance_uid),
        };
        assoc
            .send(&dicom_ul::Pdu::PData {
                data: vec![cmd.clone()],
            })
            .unwrap();
        {
            let mut w = assoc.send_pdata(pc);
            w.write_all(&ds).unwrap();
            w.finish().unwrap();
        }
        let rsp = assoc.receive().unwrap();
        let dicom_ul::Pdu::PData { data } = rsp else {
            panic!("{rsp:?}")
        };
        cmd.data = data[0].data.clone();
        assert_eq!(
            dimse::read_command(&cmd.data).unwrap().status,
            dimse::STATUS_SUCCESS
        );
    }
    assoc.abort().unwrap();
}

#[test]
fn a_half_received_series_is_never_listed_as_complete() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scp = start_scp(dir.path(), Duration::from_secs(5), &[]);
    let files: Vec<PathBuf> = dicom_files(&ct).into_iter().take(3).collect();

    send_then_abort(scp.local_addr(), &files);
    let (events, aborted) = events_until(&scp, Duration::from_secs(5), |e| {
        matches!(e, ScpEvent::Aborted { .. })
    });
    assert!(aborted, "{events:?}");
    let Some(ScpEvent::Aborted { objects, partial, .. }) = events.last() else {
        unreachable!()
    };
    assert_eq!(*objects, 3, "all three were stored before the abort");
    assert!(
        partial
            .as_ref()
            .is_some_and(|p| p.starts_with(dir.path().join(".partial")))
    );
    assert!(
        !events.iter().any(|e| matches!(e, ScpEvent::Arrived(_))),
        "an aborted series was offered: {events:?}"
    );
    assert!(
        net::list_received(dir.path()).is_empty(),
        "an aborted series is listed"
    );

    // A cancelled send is aborted too: never listed.
    let ctx = JobCtx::default();
    ctx.cancel.cancel();
    let err = net::send_files(&node_of(&scp), &files, &ScuOptions::default(), &ctx).unwrap_err();
    assert!(matches!(err, net::NetError::Cancelled), "{err}");
    assert!(net::list_received(dir.path()).is_empty());

    // The same objects sent to the end and released: listed, complete.
    let report = net::send_files(&node_of(&scp), &files, &ScuOptions::default(), &JobCtx::default()).unwrap();
    assert_eq!(report.sent, 3);
    let (_, arrived) = events_until(
        &scp,
        Duration::from_secs(5),
        |e| matches!(e, ScpEvent::Arrived(s) if s.objects == 3),
    );
    assert!(arrived);
    let listed = net::list_received(dir.path());
    assert_eq!((listed.len(), listed[0].objects), (1, 3));
    scp.stop();
}

#[test]
fn an_object_above_the_size_limit_aborts_the_association() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scp = scp::start(
        ScpConfig {
            ae_title: "ABLATEST".into(),
            bind: LOCALHOST,
            port: 0,
            folder: dir.path().to_path_buf(),
            timeout: Duration::from_secs(5),
            max_object_bytes: 100_000, // a CT slice here is ~526 kB
            ..ScpConfig::default()
        },
        None,
    )
    .unwrap();
    let files: Vec<PathBuf> = dicom_files(&ct).into_iter().take(1).collect();
    let err = net::send_files(&node_of(&scp), &files, &ScuOptions::default(), &JobCtx::default());
    assert!(err.is_err(), "an oversized object was accepted");
    let (events, aborted) = events_until(&scp, Duration::from_secs(5), |e| {
        matches!(e, ScpEvent::Aborted { .. })
    });
    assert!(aborted, "{events:?}");
    assert!(
        format!("{events:?}").contains("larger than the maximum"),
        "{events:?}"
    );
    assert!(net::list_received(dir.path()).is_empty());
    scp.stop();
}

#[test]
fn the_cli_receives_and_sends() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let exe = env!("CARGO_BIN_EXE_ablaplan");
    let _receiver = KillOnDrop(
        Command::new(exe)
            .args([
                "receive",
                "--ae",
                "CLIRX",
                "--bind",
                "127.0.0.1",
                "--for",
                "60",
                "--port",
            ])
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let to = format!("CLIRX@127.0.0.1:{port}");
    let t0 = Instant::now();
    while !Command::new(exe)
        .args(["echo", &to])
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "ablaplan receive did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let files: Vec<PathBuf> = dicom_files(&ct).into_iter().take(3).collect();
    let out = Command::new(exe)
        .args(["send", "--to", &to])
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sent 3 of 3"), "{stdout}");
    let t0 = Instant::now();
    while net::list_received(dir.path()).first().map(|s| s.objects) != Some(3) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the sent series is not listed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A bad address is bad input (exit 2), named.
    let bad = Command::new(exe)
        .args(["send", "--to", "nohost"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("AE@host:port"));
}
