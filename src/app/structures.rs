//! The structures of the loaded CT with undo/redo, and the structure list panel.
//!
//! Every mask change, addition, removal, rename or kind change is an [`Edit`] on the undo
//! stack; display settings (visibility, colour, opacity) are not, as in Slicer.

use eframe::egui::{self, Color32, RichText};

use super::command::Command;
use crate::anatomy::{Mask, Structure, StructureKind};

#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    Mask {
        index: usize,
        before: Mask,
        after: Mask,
    },
    Insert {
        index: usize,
        structure: Box<Structure>,
    },
    Remove {
        index: usize,
        structure: Box<Structure>,
    },
    Rename {
        index: usize,
        before: String,
        after: String,
    },
    Kind {
        index: usize,
        before: StructureKind,
        after: StructureKind,
    },
    /// Several edits undone and redone as one step (in order forwards, reversed backwards).
    Group(Vec<Edit>),
}

#[derive(Clone, Debug, Default)]
pub struct StructureSet {
    pub items: Vec<Structure>,
    pub selected: Option<usize>,
    undo: Vec<Edit>,
    redo: Vec<Edit>,
    /// Mask of the structure being painted, as it was when the stroke began.
    stroke_before: Option<(usize, Mask)>,
    /// Recorded edits so far (the app's unified undo history watches it).
    edits: u64,
}

/// Bound on remembered edits (masks are run-length encoded, so this stays small).
const MAX_UNDO: usize = 200;

impl StructureSet {
    pub fn new(items: Vec<Structure>) -> Self {
        Self {
            items,
            ..Self::default()
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Number of recorded (undoable) edits so far.
    pub fn edit_count(&self) -> u64 {
        self.edits
    }

    /// Forget redoable edits (a plan edit came after them in the unified history).
    pub fn clear_redo(&mut self) {
        self.redo.clear();
    }

    fn record(&mut self, e: Edit) {
        self.undo.push(e);
        if self.undo.len() > MAX_UNDO {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.edits += 1;
    }

    pub fn add(&mut self, s: Structure) -> usize {
        let index = self.items.len();
        self.items.push(s.clone());
        self.record(Edit::Insert {
            index,
            structure: Box::new(s),
        });
        self.selected = Some(index);
        index
    }

    pub fn remove(&mut self, index: usize) {
        if index >= self.items.len() {
            return;
        }
        let s = self.items.remove(index);
        self.record(Edit::Remove {
            index,
            structure: Box::new(s),
        });
        self.fix_selection();
    }

    /// Remove several structures as one undoable step.
    pub fn remove_many(&mut self, indices: &[usize]) {
        let mut sorted: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|i| *i < self.items.len())
            .collect();
        sorted.sort_unstable();
        sorted.dedup();
        // Highest index first, so that the recorded indices stay valid when replayed in order.
        let edits: Vec<Edit> = sorted
            .into_iter()
            .rev()
            .map(|index| Edit::Remove {
                index,
                structure: Box::new(self.items.remove(index)),
            })
            .collect();
        if !edits.is_empty() {
            self.record(Edit::Group(edits));
            self.fix_selection();
        }
    }

    pub fn rename(&mut self, index: usize, name: String) {
        if let Some(s) = self.items.get_mut(index)
            && s.name != name
        {
            let before = std::mem::replace(&mut s.name, name.clone());
            self.record(Edit::Rename {
                index,
                before,
                after: name,
            });
        }
    }

    pub fn set_kind(&mut self, index: usize, kind: StructureKind) {
        if let Some(s) = self.items.get_mut(index)
            && s.kind != kind
        {
            let before = s.kind;
            s.kind = kind;
            self.record(Edit::Kind {
                index,
                before,
                after: kind,
            });
        }
    }

    /// Replace a mask as one undoable step.
    pub fn set_mask(&mut self, index: usize, mask: Mask) {
        if let Some(s) = self.items.get_mut(index) {
            let before = s.mask().clone();
            s.replace_mask(mask.clone());
            self.record(Edit::Mask {
                index,
                before,
                after: mask,
            });
        }
    }

    /// Start a brush stroke: later `stroke_mask` calls change the mask live, `end_stroke`
    /// records the whole stroke as one edit.
    pub fn begin_stroke(&mut self, index: usize) {
        if let Some(s) = self.items.get(index) {
            self.stroke_before = Some((index, s.mask().clone()));
        }
    }

    pub fn stroke_mask(&mut self, index: usize, f: impl FnOnce(&mut Mask)) {
        if self.stroke_before.as_ref().map(|(i, _)| *i) != Some(index) {
            self.begin_stroke(index);
        }
        if let Some(s) = self.items.get_mut(index) {
            s.edit_mask(f);
        }
    }

    pub fn end_stroke(&mut self) {
        if let Some((index, before)) = self.stroke_before.take()
            && let Some(s) = self.items.get(index)
            && *s.mask() != before
        {
            let after = s.mask().clone();
            self.record(Edit::Mask { index, before, after });
        }
    }

    pub fn undo(&mut self) -> bool {
        self.end_stroke();
        let Some(e) = self.undo.pop() else { return false };
        self.apply_edit(&e, true);
        self.redo.push(e);
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(e) = self.redo.pop() else { return false };
        self.apply_edit(&e, false);
        self.undo.push(e);
        true
    }

    fn apply_edit(&mut self, e: &Edit, backwards: bool) {
        match e {
            Edit::Mask { index, before, after } => {
                if let Some(s) = self.items.get_mut(*index) {
                    s.replace_mask(if backwards { before.clone() } else { after.clone() });
                }
            }
            Edit::Insert { index, structure } | Edit::Remove { index, structure } => {
                let insert = matches!(e, Edit::Insert { .. }) != backwards;
                if insert {
                    let i = (*index).min(self.items.len());
                    self.items.insert(i, (**structure).clone());
                } else if *index < self.items.len() {
                    self.items.remove(*index);
                }
            }
            Edit::Rename { index, before, after } => {
                if let Some(s) = self.items.get_mut(*index) {
                    s.name = if backwards { before.clone() } else { after.clone() };
                }
            }
            Edit::Kind { index, before, after } => {
                if let Some(s) = self.items.get_mut(*index) {
                    s.kind = if backwards { *before } else { *after };
                }
            }
            Edit::Group(edits) => {
                if backwards {
                    edits.iter().rev().for_each(|e| self.apply_edit(e, true));
                } else {
                    edits.iter().for_each(|e| self.apply_edit(e, false));
                }
            }
        }
        self.fix_selection();
    }

    fn fix_selection(&mut self) {
        if let Some(sel) = self.selected
            && sel >= self.items.len()
        {
            self.selected = self.items.len().checked_sub(1);
        }
    }
}

/// Continuous voxel centroid of a mask (None when empty).
pub fn mask_centroid(mask: &Mask) -> Option<[f64; 3]> {
    let dims = mask.dims();
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for k in 0..dims[2] {
        for r in mask.slice_runs(k) {
            let len = (r.i1 - r.i0) as f64;
            sum[0] += (r.i0 as f64 + r.i1 as f64 - 1.0) / 2.0 * len;
            sum[1] += r.j as f64 * len;
            sum[2] += k as f64 * len;
            n += len;
        }
    }
    (n > 0.0).then(|| [sum[0] / n, sum[1] / n, sum[2] / n])
}

fn colour32(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// The structure list: show/hide, colour, opacity, kind, rename, delete, volume, jump to.
/// `can_undo` / `can_redo` are the app's (structures and plan share one history).
pub fn panel(
    ui: &mut egui::Ui,
    set: &StructureSet,
    spacing_mm: [f64; 3],
    (can_undo, can_redo): (bool, bool),
    cmds: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.heading("Structures");
        if ui
            .add_enabled(can_undo, egui::Button::new("Undo"))
            .on_hover_text("Undo the last structure or plan edit (Ctrl+Z)")
            .clicked()
        {
            cmds.push(Command::Undo);
        }
        if ui
            .add_enabled(can_redo, egui::Button::new("Redo"))
            .on_hover_text("Redo (Ctrl+Shift+Z / Ctrl+Y)")
            .clicked()
        {
            cmds.push(Command::Redo);
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("New:");
        for kind in StructureKind::ALL {
            if ui.small_button(format!("+ {}", kind.label())).clicked() {
                cmds.push(Command::NewStructure(kind));
            }
        }
    });
    ui.separator();
    if set.items.is_empty() {
        ui.label("No structures. Import RTSTRUCT / SEG / NIfTI or create one above.");
    }
    let duplicates = crate::anatomy::duplicates::duplicate_names(&set.items);
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (n, s) in set.items.iter().enumerate() {
            let others = duplicates.get(n).map(Vec::as_slice).unwrap_or(&[]);
            let selected = set.selected == Some(n);
            egui::Frame::group(ui.style())
                .fill(if selected {
                    ui.visuals().selection.bg_fill.gamma_multiply(0.35)
                } else {
                    Color32::TRANSPARENT
                })
                .show(ui, |ui| {
                    ui.set_min_width(ui.available_width());
                    ui.horizontal(|ui| {
                        let mut visible = s.visible;
                        if ui
                            .checkbox(&mut visible, "")
                            .on_hover_text(format!("Show {}", s.name))
                            .changed()
                        {
                            cmds.push(Command::SetStructureVisible(n, visible));
                        }
                        let mut rgb = s.colour;
                        if ui.color_edit_button_srgb(&mut rgb).changed() {
                            cmds.push(Command::SetStructureColour(n, rgb));
                        }
                        let title = RichText::new(&s.name).color(colour32(s.colour)).strong();
                        if ui.selectable_label(selected, title).clicked() {
                            cmds.push(Command::SelectStructure(Some(n)));
                        }
                    });
                    // Where it came from, always visible: same names from two sources are
                    // otherwise indistinguishable.
                    let source = s.provenance.source_short();
                    ui.label(RichText::new(format!("Source: {source}")).small().weak());
                    if !others.is_empty() {
                        duplicate_row(ui, n, &source, others, set, cmds);
                    }
                    ui.horizontal(|ui| {
                        let mut kind = s.kind;
                        egui::ComboBox::from_id_salt(("kind", n))
                            .selected_text(kind.label())
                            .width(80.0)
                            .show_ui(ui, |ui| {
                                for k in StructureKind::ALL {
                                    ui.selectable_value(&mut kind, k, k.label());
                                }
                            });
                        if kind != s.kind {
                            cmds.push(Command::SetStructureKind(n, kind));
                        }
                        let mut op = s.opacity;
                        if ui
                            .add(egui::Slider::new(&mut op, 0.0..=1.0).show_value(false))
                            .on_hover_text("Fill opacity")
                            .changed()
                        {
                            cmds.push(Command::SetStructureOpacity(n, op));
                        }
                        ui.label(format!("{:.1} mL", s.volume_ml(spacing_mm)));
                    });
                    if selected {
                        let mut name = s.name.clone();
                        let r = ui.add(egui::TextEdit::singleline(&mut name).desired_width(f32::INFINITY));
                        if r.lost_focus() && name != s.name && !name.trim().is_empty() {
                            cmds.push(Command::RenameStructure(n, name));
                        }
                        ui.horizontal_wrapped(|ui| {
                            if ui.button("Jump to").clicked() {
                                cmds.push(Command::JumpToStructure(n));
                            }
                            if ui
                                .button("Fill between slices")
                                .on_hover_text(
                                    "Shape-based interpolation of empty axial slices between painted ones",
                                )
                                .clicked()
                            {
                                cmds.push(Command::FillBetweenSlices(n));
                            }
                            if ui.button("Delete").clicked() {
                                cmds.push(Command::DeleteStructure(n));
                            }
                        });
                        ui.add(egui::Label::new(RichText::new(provenance_text(s)).small().weak()).wrap());
                    }
                });
        }
    });
}

/// "Duplicate name" marker with the one-click choice between same-named structures.
fn duplicate_row(
    ui: &mut egui::Ui,
    n: usize,
    source: &str,
    others: &[usize],
    set: &StructureSet,
    cmds: &mut Vec<Command>,
) {
    let other_sources: Vec<String> = others
        .iter()
        .filter_map(|j| set.items.get(*j))
        .map(|o| o.provenance.source_short())
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new("Duplicate name")
                .small()
                .color(ui.visuals().warn_fg_color),
        )
        .on_hover_text(format!("Also from {}", other_sources.join(", ")));
        // The name and source make the label unique (several pairs can clash at once).
        let name = set.items.get(n).map(|s| s.name.as_str()).unwrap_or_default();
        let text = if others.len() == 1 {
            format!("Keep this {name} ({source}), remove the other")
        } else {
            format!("Keep this {name} ({source}), remove the {} others", others.len())
        };
        if ui
            .small_button(text)
            .on_hover_text(format!(
                "Removes the same-named structure(s) from {} (undo restores them)",
                other_sources.join(", ")
            ))
            .clicked()
        {
            cmds.push(Command::KeepStructureRemoveDuplicates(n));
        }
    });
}

fn provenance_text(s: &Structure) -> String {
    use crate::anatomy::Provenance::*;
    match &s.provenance {
        Imported { file, detail, .. } => format!("Imported from {} ({detail})", file.display()),
        Drawn => "Drawn".into(),
        RegionGrown { min_hu, max_hu, .. } => format!("Region grown, {min_hu}…{max_hu} HU"),
        NervePath => "Nerve path (tube around a curve)".into(),
        BuiltInDemo => "Built-in demo anatomy".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::Provenance;

    fn s(name: &str) -> Structure {
        Structure::new(
            name,
            StructureKind::Other,
            Provenance::Drawn,
            Mask::empty([4, 4, 2]),
        )
    }

    #[test]
    fn removing_several_is_one_undo_step_that_restores_their_order() {
        let mut set = StructureSet::new(vec![s("a"), s("b"), s("c"), s("d")]);
        let before = set.items.clone();
        set.remove_many(&[3, 1]);
        let names: Vec<&str> = set.items.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(set.edit_count(), 1, "one step in the history");
        assert!(set.undo());
        assert_eq!(set.items, before);
        assert!(!set.can_undo());
        assert!(set.redo());
        assert_eq!(set.items.len(), 2);
    }

    #[test]
    fn stroke_is_one_undo_step_and_redo_restores_it() {
        let mut set = StructureSet::new(vec![s("a")]);
        set.begin_stroke(0);
        set.stroke_mask(0, |m| m.set_slice_dense(0, &[true; 16]));
        set.stroke_mask(0, |m| m.set_slice_dense(1, &[true; 16]));
        set.end_stroke();
        assert_eq!(set.items[0].mask().voxel_count(), 32);
        assert!(set.undo());
        assert_eq!(
            set.items[0].mask().voxel_count(),
            0,
            "the whole stroke is undone at once"
        );
        assert!(set.redo());
        assert_eq!(set.items[0].mask().voxel_count(), 32);
    }

    #[test]
    fn add_remove_rename_kind_are_undoable() {
        let mut set = StructureSet::new(vec![s("a")]);
        set.add(s("b"));
        set.rename(1, "bowel".into());
        set.set_kind(1, StructureKind::Bowel);
        set.remove(0);
        assert_eq!(set.items.len(), 1);
        assert_eq!(set.items[0].name, "bowel");
        assert!(set.undo() && set.undo() && set.undo() && set.undo());
        assert_eq!(set.items.len(), 1);
        assert_eq!(set.items[0].name, "a");
        assert!(!set.undo());
        assert!(set.redo() && set.redo() && set.redo() && set.redo());
        assert_eq!(
            (set.items[0].name.as_str(), set.items[0].kind),
            ("bowel", StructureKind::Bowel)
        );
    }

    #[test]
    fn centroid_of_a_block() {
        let mut m = Mask::empty([4, 4, 2]);
        let mut d = vec![false; 16];
        d[1 + 4 * 2] = true;
        d[2 + 4 * 2] = true;
        m.set_slice_dense(1, &d);
        assert_eq!(mask_centroid(&m), Some([1.5, 2.0, 1.0]));
        assert_eq!(mask_centroid(&Mask::empty([2, 2, 2])), None);
    }
}
