//! DIMSE command sets (PS3.7 §9.3, §E): C-ECHO and C-STORE requests and responses. A command
//! set is a flat group-0000 data set, always implicit VR little endian; it is written here from
//! its few fields and read back through the bounded walk of [`super::part10`].

use super::part10;

pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;
/// CommandDataSetType: no data set follows the command.
pub const NO_DATA_SET: u16 = 0x0101;
/// Any other value: a data set follows (0x0000 is what most implementations send).
pub const HAS_DATA_SET: u16 = 0x0000;

pub const STATUS_SUCCESS: u16 = 0x0000;
/// Refused: out of resources (the object is larger than allowed, the disk is full).
pub const STATUS_OUT_OF_RESOURCES: u16 = 0xA700;
/// Error: cannot understand (the data set could not be read).
pub const STATUS_CANNOT_UNDERSTAND: u16 = 0xC000;
/// Error: data set does not match SOP class / instance in the command.
pub const STATUS_DATASET_MISMATCH: u16 = 0xA900;
pub const STATUS_UNRECOGNISED_OPERATION: u16 = 0x0211;

const AFFECTED_SOP_CLASS: u32 = 0x0000_0002;
const COMMAND_FIELD: u32 = 0x0000_0100;
const MESSAGE_ID: u32 = 0x0000_0110;
const MESSAGE_ID_RESPONDED: u32 = 0x0000_0120;
const PRIORITY: u32 = 0x0000_0700;
const DATA_SET_TYPE: u32 = 0x0000_0800;
const STATUS: u32 = 0x0000_0900;
const AFFECTED_SOP_INSTANCE: u32 = 0x0000_1000;
const ERROR_COMMENT: u32 = 0x0000_0902;

/// The fields of a command set this module reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    pub field: u16,
    pub message_id: u16,
    pub responded_id: u16,
    pub data_set_type: u16,
    pub status: u16,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
}

impl Command {
    pub fn has_data_set(&self) -> bool {
        self.data_set_type != NO_DATA_SET
    }
}

/// Reads a command set; malformed bytes are an error naming the place.
pub fn read_command(buf: &[u8]) -> Result<Command, String> {
    let mut c = Command::default();
    let mut pos = 0;
    while pos < buf.len() {
        let h = buf.get(pos..pos + 8).ok_or("the command set is truncated")?;
        let tag =
            (u32::from(u16::from_le_bytes([h[0], h[1]])) << 16) | u32::from(u16::from_le_bytes([h[2], h[3]]));
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let v = buf
            .get(pos + 8..(pos + 8).saturating_add(len))
            .ok_or("a command element runs past the end of the command set")?;
        let us = || {
            if v.len() >= 2 {
                u16::from_le_bytes([v[0], v[1]])
            } else {
                0
            }
        };
        match tag {
            COMMAND_FIELD => c.field = us(),
            MESSAGE_ID => c.message_id = us(),
            MESSAGE_ID_RESPONDED => c.responded_id = us(),
            DATA_SET_TYPE => c.data_set_type = us(),
            STATUS => c.status = us(),
            AFFECTED_SOP_CLASS => c.sop_class_uid = part10::trim_uid(v),
            AFFECTED_SOP_INSTANCE => c.sop_instance_uid = part10::trim_uid(v),
            _ => {}
        }
        pos += 8 + len;
    }
    if c.field == 0 {
        return Err("the command set has no CommandField (0000,0100)".into());
    }
    Ok(c)
}

enum Value<'a> {
    Us(u16),
    Ui(&'a str),
    Lo(&'a str),
}

fn write_command(elements: &[(u32, Value)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (tag, v) in elements {
        let bytes: Vec<u8> = match v {
            Value::Us(x) => x.to_le_bytes().to_vec(),
            // UIDs pad with NUL, text with space, to an even length.
            Value::Ui(s) | Value::Lo(s) => {
                let mut b = s.as_bytes().to_vec();
                if b.len() % 2 == 1 {
                    b.push(if matches!(v, Value::Ui(_)) { 0 } else { b' ' });
                }
                b
            }
        };
        body.extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
        body.extend_from_slice(&((tag & 0xFFFF) as u16).to_le_bytes());
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(&bytes);
    }
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

pub fn echo_rq(message_id: u16) -> Vec<u8> {
    write_command(&[
        (AFFECTED_SOP_CLASS, Value::Ui(super::VERIFICATION)),
        (COMMAND_FIELD, Value::Us(C_ECHO_RQ)),
        (MESSAGE_ID, Value::Us(message_id)),
        (DATA_SET_TYPE, Value::Us(NO_DATA_SET)),
    ])
}

pub fn echo_rsp(responded_id: u16) -> Vec<u8> {
    write_command(&[
        (AFFECTED_SOP_CLASS, Value::Ui(super::VERIFICATION)),
        (COMMAND_FIELD, Value::Us(C_ECHO_RSP)),
        (MESSAGE_ID_RESPONDED, Value::Us(responded_id)),
        (DATA_SET_TYPE, Value::Us(NO_DATA_SET)),
        (STATUS, Value::Us(STATUS_SUCCESS)),
    ])
}

pub fn store_rq(message_id: u16, sop_class_uid: &str, sop_instance_uid: &str) -> Vec<u8> {
    write_command(&[
        (AFFECTED_SOP_CLASS, Value::Ui(sop_class_uid)),
        (COMMAND_FIELD, Value::Us(C_STORE_RQ)),
        (MESSAGE_ID, Value::Us(message_id)),
        (PRIORITY, Value::Us(0)),
        (DATA_SET_TYPE, Value::Us(HAS_DATA_SET)),
        (AFFECTED_SOP_INSTANCE, Value::Ui(sop_instance_uid)),
    ])
}

pub fn store_rsp(rq: &Command, status: u16, comment: &str) -> Vec<u8> {
    let mut e = vec![
        (AFFECTED_SOP_CLASS, Value::Ui(&rq.sop_class_uid)),
        (COMMAND_FIELD, Value::Us(C_STORE_RSP)),
        (MESSAGE_ID_RESPONDED, Value::Us(rq.message_id)),
        (DATA_SET_TYPE, Value::Us(NO_DATA_SET)),
        (STATUS, Value::Us(status)),
    ];
    if !comment.is_empty() {
        // ErrorComment is LO: at most 64 characters.
        e.push((ERROR_COMMENT, Value::Lo(comment.get(..64).unwrap_or(comment))));
    }
    e.push((AFFECTED_SOP_INSTANCE, Value::Ui(&rq.sop_instance_uid)));
    write_command(&e)
}

/// A response to a command this node does not perform (C-FIND, C-MOVE, …).
pub fn unrecognised_rsp(rq: &Command) -> Vec<u8> {
    write_command(&[
        (AFFECTED_SOP_CLASS, Value::Ui(&rq.sop_class_uid)),
        (COMMAND_FIELD, Value::Us(rq.field | 0x8000)),
        (MESSAGE_ID_RESPONDED, Value::Us(rq.message_id)),
        (DATA_SET_TYPE, Value::Us(NO_DATA_SET)),
        (STATUS, Value::Us(STATUS_UNRECOGNISED_OPERATION)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_request_reads_back() {
        let c = read_command(&store_rq(7, "1.2.840.10008.5.1.4.1.1.2", "1.2.3")).unwrap();
        assert_eq!((c.field, c.message_id), (C_STORE_RQ, 7));
        assert_eq!(c.sop_instance_uid, "1.2.3");
        assert!(c.has_data_set());
        let r = read_command(&store_rsp(&c, STATUS_SUCCESS, "")).unwrap();
        assert_eq!((r.field, r.responded_id, r.status), (C_STORE_RSP, 7, 0));
        assert!(!r.has_data_set());
    }

    #[test]
    fn a_broken_command_is_an_error() {
        let mut b = echo_rq(1);
        b.truncate(b.len() - 1);
        assert!(read_command(&b).is_err());
        assert!(read_command(&[]).is_err());
    }
}
