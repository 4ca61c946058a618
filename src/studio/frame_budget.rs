//! Frame budget: how often the window redraws and whether lights cast shadows. On a software
//! renderer every frame is CPU time taken from the control loop's planning threads, so there
//! the studio caps the frame rate and drops shadows unless the user asks otherwise.

use std::time::Duration;

use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use bevy::winit::{UpdateMode, WinitSettings};
use bevy_egui::egui;

use super::panels::WidgetRects;

/// Frame cap used on a software (CPU) renderer when the user did not choose one: about one
/// core-tenth of llvmpipe time per frame at 1280x720 leaves most of two cores to planning.
pub const SOFTWARE_MAX_FPS: f32 = 10.0;

/// How the window spends its frames.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct FrameBudget {
    /// Redraw at most this often (frames per second); `None` redraws as fast as vsync allows.
    /// Input events still wake the window at once, so the camera and panels stay responsive.
    pub max_fps: Option<f32>,
    /// Whether the sun casts shadows (about 10% of a software-rendered frame).
    pub shadows: bool,
    /// Whether the choices above came from the user (kept) or are defaults that the detected
    /// renderer may replace.
    pub chosen: bool,
    /// The renderer, once known: its name and whether it runs on the CPU.
    pub renderer: Option<(String, bool)>,
}

impl Default for FrameBudget {
    fn default() -> Self {
        FrameBudget { max_fps: None, shadows: true, chosen: false, renderer: None }
    }
}

impl FrameBudget {
    /// A budget the user chose (`--max-fps`, screenshots): the detected renderer does not change it.
    pub fn chosen(max_fps: Option<f32>, shadows: bool) -> FrameBudget {
        FrameBudget { max_fps, shadows, chosen: true, renderer: None }
    }

    /// Records the renderer and, unless the user chose, adopts its defaults: capped frames and
    /// no shadows on a CPU renderer, uncapped with shadows on a GPU.
    pub fn adopt_renderer(&mut self, name: &str, software: bool) {
        self.renderer = Some((name.to_string(), software));
        if !self.chosen {
            self.max_fps = software.then_some(SOFTWARE_MAX_FPS);
            self.shadows = !software;
        }
    }

    /// The window update mode that enforces the cap.
    pub fn update_mode(&self) -> UpdateMode {
        match self.max_fps {
            Some(fps) if fps > 0.0 && fps.is_finite() => {
                UpdateMode::reactive(Duration::from_nanos((1e9 / f64::from(fps)).round() as u64))
            }
            _ => UpdateMode::Continuous,
        }
    }

    /// One line for the status bar, e.g. "llvmpipe (software), ≤ 10 fps".
    pub fn describe(&self) -> String {
        let cap = self.max_fps.map_or("uncapped".to_string(), |fps| format!("≤ {fps:.0} fps"));
        match &self.renderer {
            Some((name, true)) => format!("{name} (software), {cap}"),
            Some((name, false)) => format!("{name}, {cap}"),
            None => cap,
        }
    }
}

pub struct FrameBudgetPlugin;

impl Plugin for FrameBudgetPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FrameBudget>().add_systems(Update, (detect_renderer, apply_budget).chain());
    }
}

/// Reads the adapter once the renderer is up (it is created after start-up, asynchronously).
fn detect_renderer(mut budget: ResMut<FrameBudget>, adapter: Option<Res<RenderAdapterInfo>>) {
    if budget.renderer.is_some() {
        return;
    }
    if let Some(info) = adapter {
        // bevy does not re-export wgpu's DeviceType; its Debug name is stable ("Cpu" for llvmpipe,
        // lavapipe, SwiftShader, WARP), and this avoids a direct wgpu dependency.
        let software = format!("{:?}", info.device_type) == "Cpu";
        budget.adopt_renderer(&info.name, software);
    }
}

/// Applies the budget whenever it changes: the window's update mode and the lights' shadows.
pub fn apply_budget(
    budget: Res<FrameBudget>,
    mut winit: Option<ResMut<WinitSettings>>,
    mut lights: Query<&mut DirectionalLight>,
) {
    if !budget.is_changed() {
        return;
    }
    if let Some(winit) = winit.as_deref_mut() {
        let mode = budget.update_mode();
        winit.focused_mode = mode;
        winit.unfocused_mode = mode;
    }
    for mut light in &mut lights {
        if light.shadow_maps_enabled != budget.shadows {
            light.shadow_maps_enabled = budget.shadows;
        }
    }
}

/// The panel section: frame cap and shadows, and which renderer runs. Any edit marks the
/// budget as the user's choice, so a late renderer detection does not undo it.
pub fn budget_controls(ui: &mut egui::Ui, budget: &mut FrameBudget) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let mut capped = budget.max_fps.is_some();
    let cap = ui.checkbox(&mut capped, "cap frame rate").on_hover_text(
        "Redraw at most this often, leaving CPU to planning and learning; mouse and keys still redraw at once.",
    );
    rects.insert("cap_frame_rate", cap.rect);
    let mut fps = budget.max_fps.unwrap_or(SOFTWARE_MAX_FPS);
    let slider = ui
        .add_enabled(capped, egui::Slider::new(&mut fps, 1.0..=60.0).text("max fps"))
        .on_hover_text("Frames per second at most while the cap is on.");
    rects.insert("max_fps", slider.rect);
    let mut shadows = budget.shadows;
    let shadow_box =
        ui.checkbox(&mut shadows, "shadows").on_hover_text("The sun's shadows: costly on a software renderer.");
    rects.insert("shadows", shadow_box.rect);
    let max_fps = capped.then_some(fps);
    if max_fps != budget.max_fps || shadows != budget.shadows {
        budget.max_fps = max_fps;
        budget.shadows = shadows;
        budget.chosen = true;
    }
    ui.label(format!("renderer: {}", budget.describe()));
    rects
}
