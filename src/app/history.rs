//! The unified undo history of structures and plan edits.

#[allow(unused_imports)]
use super::*;

impl AblaApp {
    /// Enters new structure / plan edits into the unified history. A new edit in one domain
    /// makes the redo steps of both unreachable, so they are dropped.
    pub(super) fn sync_history(&mut self) {
        let (s, p) = (self.structures.edit_count(), self.plan.edit_count());
        let (seen_s, seen_p) = self.seen_edits;
        let new_s = s.saturating_sub(seen_s).min(MAX_HISTORY as u64) as usize;
        let new_p = p.saturating_sub(seen_p).min(MAX_HISTORY as u64) as usize;
        if new_s > 0 {
            self.history
                .extend(std::iter::repeat_n(Domain::Structures, new_s));
            self.plan.clear_redo();
            // Structures are the model's tissue input (Target → tumour, Vessel → blood …).
            if !self.plan.probes.is_empty() {
                self.plan.touch();
            }
        }
        if new_p > 0 {
            self.history.extend(std::iter::repeat_n(Domain::Plan, new_p));
            self.structures.clear_redo();
        }
        if new_s > 0 || new_p > 0 {
            self.future.clear();
            if self.history.len() > MAX_HISTORY {
                let extra = self.history.len() - MAX_HISTORY;
                self.history.drain(..extra);
            }
        }
        self.seen_edits = (s, p);
    }

    pub(super) fn undo_redo(&mut self, undo: bool) {
        // Finish a stroke or drag in progress first, so that it is the step undone.
        self.structures.end_stroke();
        self.plan.end_drag();
        self.sync_history();
        let mut done = None;
        loop {
            let d = if undo {
                self.history.pop()
            } else {
                self.future.pop()
            };
            let Some(d) = d else { break };
            let ok = match (d, undo) {
                (Domain::Structures, true) => self.structures.undo(),
                (Domain::Structures, false) => self.structures.redo(),
                (Domain::Plan, true) => self.plan.undo(),
                (Domain::Plan, false) => self.plan.redo(),
            };
            // A step the domain no longer holds (its own bound dropped it) is skipped.
            if ok {
                if undo {
                    self.future.push(d);
                } else {
                    self.history.push(d);
                }
                done = Some(d);
                break;
            }
        }
        match done {
            None => self.notify(
                NoticeLevel::Info,
                if undo {
                    "Nothing to undo"
                } else {
                    "Nothing to redo"
                },
            ),
            Some(Domain::Plan) => {}
            Some(Domain::Structures) => {
                if !self.plan.probes.is_empty() {
                    self.plan.touch();
                }
            }
        }
    }
}
