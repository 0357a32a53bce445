//! The PACS exchange in the GUI (issue 17): off by default, every widget labelled, a series
//! sent to the app is listed in File > Received from PACS once complete and opens from there.

use std::time::Duration;

use ablaplan::app::pacs::{PacsCommand, ReceiveSettings};
use ablaplan::app::{Command, StartupOptions};
use ablaplan::jobs::JobCtx;
use ablaplan::net::{self, Node, ScuOptions};
use egui_kittest::kittest::Queryable;

use crate::common;

#[test]
fn receiving_is_off_by_default_and_every_pacs_widget_is_labelled() {
    let mut h = common::app_with(StartupOptions::default());
    assert!(
        h.state().pacs_listening().is_none(),
        "something listens by default"
    );
    assert!(!h.state().settings().pacs.receive.enabled);
    common::run(&mut h, Command::ShowSettings(true));
    for label in [
        "Receive from PACS/scanner (listen for C-STORE and C-ECHO)",
        "Receiver AE title",
        "Receiver port",
        "Listen address",
        "Allowed calling AE titles (empty: any)",
        "Storage folder (empty: app folder)",
        "Apply receiver settings",
        "PACS AE title",
        "PACS host",
        "PACS port",
        "Our calling AE title",
        "Test (C-ECHO)",
        "Send files to PACS…",
    ] {
        h.get_by_label(label);
    }
    assert!(
        h.state().pacs_status().starts_with("Off"),
        "{}",
        h.state().pacs_status()
    );
}

#[test]
fn a_series_sent_to_the_app_is_listed_once_complete_and_opens_from_the_file_menu() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut h = common::app_with(StartupOptions::default());
    common::run(
        &mut h,
        Command::Pacs(PacsCommand::SetReceive(ReceiveSettings {
            enabled: true,
            ae_title: "ABLAGUI".into(),
            port: 0,
            bind: "127.0.0.1".into(),
            allowed_callers: String::new(),
            folder: Some(dir.path().to_path_buf()),
        })),
    );
    let addr = h
        .state()
        .pacs_listening()
        .expect("the receiver listens once turned on");
    assert!(
        h.state().pacs_status().contains("Listening"),
        "{}",
        h.state().pacs_status()
    );

    let mut files: Vec<_> = std::fs::read_dir(&ct)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(5);
    let node = Node {
        ae_title: "ABLAGUI".into(),
        host: "127.0.0.1".into(),
        port: addr.port(),
    };
    // The receiver runs on its own threads: the send can block this one.
    let report = net::send_files(&node, &files, &ScuOptions::default(), &JobCtx::default()).unwrap();
    assert_eq!(report.sent, 5);
    common::step_until(&mut h, Duration::from_secs(10), "the series listed", |a| {
        !a.pacs_arrived().is_empty()
    });
    assert_eq!(h.state().pacs_arrived()[0].objects, 5);

    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Received from PACS").click();
    h.run_steps(2);
    h.get_by_label("CT PANCREAS DI, iDose (3) - 5 object(s) from ABLAPLAN")
        .click();
    h.run_steps(2);
    common::step_until(
        &mut h,
        Duration::from_secs(60),
        "the received series loaded",
        |a| a.volume().is_some_and(|v| v.geometry.dims[2] == 5),
    );

    // Turned off: nothing listens any more.
    let off = ReceiveSettings {
        enabled: false,
        ..h.state().settings().pacs.receive.clone()
    };
    common::run(&mut h, Command::Pacs(PacsCommand::SetReceive(off)));
    assert!(h.state().pacs_listening().is_none());
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "still listening"
    );
}
