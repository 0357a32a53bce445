//! Exchange with PACS and scanners over DICOM networking (PS3.7, PS3.8), on `dicom-ul` (the
//! dicom-rs upper layer: associations and PDUs):
//! - `scp.rs`: a C-STORE SCP with C-ECHO — receives objects into a folder sorted by study and
//!   series, offers a series only after the association that carried it was released normally
//!   (aborted or timed-out transfers stay under `.partial/`), refuses unknown calling AE titles
//!   when a list is set, and has read/write timeouts, a maximum PDU and a maximum object size.
//! - `scu.rs`: C-ECHO and C-STORE SCU with progress and cancel for a [`crate::jobs::Job`].
//! - `dimse.rs`: the DIMSE command sets; `part10.rs`: Part-10 meta information and a bounded
//!   walk over received bytes; `storage_classes.rs`: the storage SOP classes accepted.
//!
//! Nothing here listens unless a caller starts the SCP; no GUI code.

pub mod dimse;
pub mod part10;
mod received;
pub mod scp;
pub mod scu;
mod storage_classes;

pub use received::list_received;
pub use scp::{ArrivedSeries, ScpConfig, ScpEvent, ScpHandle};
pub use scu::{ScuOptions, SendReport, echo, send_files};
pub use storage_classes::STORAGE_SOP_CLASSES;

use std::time::Duration;

/// Verification SOP Class (C-ECHO).
pub const VERIFICATION: &str = "1.2.840.10008.1.1";

/// Default read/write timeout of one socket operation: a peer silent for this long is aborted.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum PDU length this node receives (what DCMTK proposes by default, 16 KiB
/// is the standard minimum most peers handle; 116 794 is DCMTK's own default).
pub const DEFAULT_MAX_PDU: u32 = 116_794;
/// Default largest object accepted (a multi-frame enhanced CT can reach a few hundred MB).
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1 << 30;
/// Default number of associations served at once; more connections are closed at once.
pub const DEFAULT_MAX_ASSOCIATIONS: usize = 8;

/// Why a network operation failed, for a message that names the peer and the step.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("cannot listen on port {port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot associate with {node}: {reason}")]
    Associate { node: String, reason: String },
    #[error("{node} refused the association: {reason}")]
    Rejected { node: String, reason: String },
    #[error("the exchange with {node} failed: {reason}")]
    Exchange { node: String, reason: String },
    #[error("cancelled")]
    Cancelled,
}

/// A remote DICOM node (application entity): AE title, host, port.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

impl Node {
    /// Parses `AE@host:port` (the CLI's `--to`).
    pub fn parse(s: &str) -> Result<Node, NetError> {
        let bad = || NetError::Config(format!("\"{s}\" is not AE@host:port"));
        let (ae, rest) = s.split_once('@').ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let node = Node {
            ae_title: ae.to_string(),
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
        };
        node.validate()?;
        Ok(node)
    }

    pub fn validate(&self) -> Result<(), NetError> {
        check_ae_title(&self.ae_title)?;
        if self.host.trim().is_empty() {
            return Err(NetError::Config("the host is empty".into()));
        }
        if self.port == 0 {
            return Err(NetError::Config("the port must be 1-65535".into()));
        }
        Ok(())
    }
}

/// An AE title is 1–16 characters of the default character repertoire without backslash
/// or control characters, and not only spaces (PS3.5 §6.2, VR AE).
pub fn check_ae_title(ae: &str) -> Result<(), NetError> {
    let t = ae.trim();
    if t.is_empty() {
        return Err(NetError::Config("the AE title is empty".into()));
    }
    if ae.len() > 16 {
        return Err(NetError::Config(format!(
            "the AE title \"{ae}\" is longer than 16 characters"
        )));
    }
    if let Some(c) = ae.chars().find(|c| !(' '..='~').contains(c) || *c == '\\') {
        return Err(NetError::Config(format!(
            "the AE title \"{}\" holds {c:?}, not allowed in an AE title",
            ae.escape_debug()
        )));
    }
    Ok(())
}

/// An error and its causes on one line (`dicom-ul`'s errors nest the I/O error that says why).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_parse_and_bad_ones_are_refused() {
        let n = Node::parse("PACS@10.0.0.5:104").unwrap();
        assert_eq!(
            (n.ae_title.as_str(), n.host.as_str(), n.port),
            ("PACS", "10.0.0.5", 104)
        );
        assert_eq!(Node::parse("A@[::1]:11112").unwrap().host, "::1");
        for bad in [
            "PACS10.0.0.5:104",
            "PACS@host",
            "PACS@host:0",
            "@host:104",
            "WAY_TOO_LONG_AE_TITLE@h:1",
            "A\\B@h:1",
        ] {
            assert!(Node::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
