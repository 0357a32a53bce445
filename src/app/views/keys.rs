//! The keyboard of the slice views (OHIF conventions, REFERENCE.md §5): slices, W/L presets,
//! reset, annotations, undo / redo, tools.

use super::*;

/// Keys: ↑/↓ and PgUp/PgDn scroll (Shift ×10), number keys apply presets (0 = DICOM
/// default), R resets the view, Space or I toggles annotations, Esc cancels a running job.
/// Keys go to the focused widget only: nothing here runs while a widget had the focus when the
/// frame began or has it now, or while this frame's typed text went to a text field.
pub fn keyboard(app: &mut AblaApp, ui: &egui::Ui, focused_at_start: bool) {
    let ctx = ui.ctx();
    if focused_at_start || ctx.egui_wants_keyboard_input() || ctx.text_edit_focused() {
        return;
    }
    let Some(viewer) = &app.viewer else { return };
    let Some(loaded) = &app.loaded else { return };
    let mut cmds = Vec::new();
    ctx.input_mut(|i| {
        // Shifted first: the plain pattern matches logically and would swallow Ctrl+Shift+Z.
        if i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
            || i.consume_key(Modifiers::COMMAND, Key::Y)
        {
            cmds.push(Command::Redo);
        }
        if i.consume_key(Modifiers::COMMAND, Key::Z) {
            cmds.push(Command::Undo);
        }
    });
    let view = app.views.hovered_view.unwrap_or(viewer.active);
    let m = loaded.volume.view_mapping(view);
    let fwd = forward_step(&loaded.volume.geometry, &m);
    ctx.input_mut(|i| {
        for (key, dir) in [
            (Key::ArrowDown, 1),
            (Key::PageDown, 1),
            (Key::ArrowUp, -1),
            (Key::PageUp, -1),
        ] {
            // Shift first: a plain pattern also matches shifted keys (egui matches logically).
            for (mods, mult) in [(Modifiers::SHIFT, 10), (Modifiers::NONE, 1)] {
                let n = i.count_and_consume_key(mods, key) as i64;
                if n > 0 {
                    cmds.push(Command::Scroll {
                        view,
                        delta: dir * mult * n * fwd,
                    });
                }
            }
        }
        let digits = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
        ];
        for (n, k) in digits.iter().enumerate() {
            if i.consume_key(Modifiers::NONE, *k) {
                cmds.push(Command::ApplyPreset(n));
            }
        }
        if i.consume_key(Modifiers::NONE, Key::Num0) {
            cmds.push(Command::ApplyDicomWindow);
        }
        if i.consume_key(Modifiers::NONE, Key::R) {
            cmds.push(Command::ResetView);
        }
        if i.consume_key(Modifiers::NONE, Key::Space) || i.consume_key(Modifiers::NONE, Key::I) {
            cmds.push(Command::ToggleAnnotations);
        }
        if i.consume_key(Modifiers::NONE, Key::M) {
            cmds.push(Command::SetTool(if app.tool == Tool::Ruler {
                Tool::Navigate
            } else {
                Tool::Ruler
            }));
        }
        if i.consume_key(Modifiers::NONE, Key::B) {
            cmds.push(Command::SetTool(Tool::Brush));
        }
        if i.consume_key(Modifiers::NONE, Key::E) {
            cmds.push(Command::SetTool(Tool::Eraser));
        }
        if i.consume_key(Modifiers::NONE, Key::Escape) {
            cmds.push(Command::SetTool(Tool::Navigate));
        }
        if let Some(sel) = app.plan.selected
            && i.consume_key(Modifiers::NONE, Key::Delete)
        {
            cmds.push(Command::DeleteProbe(sel));
        }
    });
    app.commands.extend(cmds);
}
