//! Frame budget: how often the window redraws and whether the ground is a shaded plane with
//! shadows or grid lines only. On a software renderer every frame is CPU time taken from the
//! control loop's planning threads, so there the studio caps the frame rate and draws the grid
//! only, unless the user asks otherwise.

use std::time::Duration;

use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use bevy::winit::{UpdateMode, WinitSettings};
use bevy_egui::egui;

use super::StudioSet;
use super::panels::WidgetRects;
use super::view::Ground;

/// Frame cap used on a software (CPU) renderer when the user did not choose one. Measured on
/// 2 cores with llvmpipe at 1280x720 (docs/BENCHMARKS.md), the share of the headless env steps/s
/// the studio keeps: pendulum 85% at 5 fps, 83-85% at 6, 79% at 8, 69% at 10; leg2r (cheaper
/// plans, so rendering weighs more) 85% at 5 fps and 77-78% at 6. Input wakes the window at
/// once, so the cap only applies while the user watches.
pub const SOFTWARE_MAX_FPS: f32 = 5.0;

/// How the window spends its frames.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct FrameBudget {
    /// Redraw at most this often (frames per second); `None` redraws as fast as vsync allows.
    /// Mouse and keys still wake the window at once.
    pub max_fps: Option<f32>,
    /// Whether the ground is a shaded plane that receives the sun's shadows; if not, the grid
    /// lines alone show the ground. The plane is by far the most costly thing in a
    /// software-rendered frame (about 200 ms of llvmpipe time at 1280x720 even unlit, as it
    /// covers most of the view's pixels).
    pub ground_plane: bool,
    /// Whether the user chose the frame cap / the ground (kept), or they are defaults that the
    /// detected renderer may replace.
    pub fps_chosen: bool,
    pub ground_chosen: bool,
    /// The renderer, once known: its name and whether it runs on the CPU.
    pub renderer: Option<(String, bool)>,
}

impl Default for FrameBudget {
    fn default() -> Self {
        FrameBudget { max_fps: None, ground_plane: true, fps_chosen: false, ground_chosen: false, renderer: None }
    }
}

impl FrameBudget {
    /// A budget chosen in full (screenshots, tests): the detected renderer does not change it.
    pub fn chosen(max_fps: Option<f32>, ground_plane: bool) -> FrameBudget {
        FrameBudget { max_fps, ground_plane, fps_chosen: true, ground_chosen: true, renderer: None }
    }

    /// A frame cap chosen by the user (`--max-fps`); the ground still follows the renderer.
    pub fn with_max_fps(max_fps: Option<f32>) -> FrameBudget {
        FrameBudget { max_fps, fps_chosen: true, ..FrameBudget::default() }
    }

    /// Records the renderer and, unless the user chose, adopts its defaults: capped frames and
    /// grid-only ground without shadows on a CPU renderer, uncapped and shaded on a GPU.
    pub fn adopt_renderer(&mut self, name: &str, software: bool) {
        self.renderer = Some((name.to_string(), software));
        if !self.fps_chosen {
            self.max_fps = software.then_some(SOFTWARE_MAX_FPS);
        }
        if !self.ground_chosen {
            self.ground_plane = !software;
        }
    }

    /// The window update mode that enforces the cap.
    pub fn update_mode(&self) -> UpdateMode {
        match self.max_fps {
            // The timer and input (mouse and keys arrive as device events while the window has
            // focus) wake the loop; window events must not: every redraw is one, so the next
            // update would start at once and the cap would do nothing.
            Some(fps) if fps > 0.0 && fps.is_finite() => UpdateMode::Reactive {
                wait: Duration::from_nanos((1e9 / f64::from(fps)).round() as u64),
                react_to_device_events: true,
                react_to_user_events: false,
                react_to_window_events: false,
            },
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
        app.init_resource::<FrameBudget>()
            .add_systems(Update, (detect_renderer, apply_budget).chain().in_set(StudioSet::View));
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
        info!(
            "renderer: {}; ground plane and shadows {}",
            budget.describe(),
            if budget.ground_plane { "on" } else { "off" }
        );
    }
}

/// Applies the budget whenever it changes: the window's update mode, the lights' shadows and
/// whether the ground plane is drawn.
pub fn apply_budget(
    budget: Res<FrameBudget>,
    mut winit: Option<ResMut<WinitSettings>>,
    mut lights: Query<&mut DirectionalLight>,
    mut ground: Query<&mut Visibility, With<Ground>>,
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
        if light.shadow_maps_enabled != budget.ground_plane {
            light.shadow_maps_enabled = budget.ground_plane;
        }
    }
    for mut visibility in &mut ground {
        *visibility = if budget.ground_plane { Visibility::Inherited } else { Visibility::Hidden };
    }
}

/// The panel section: frame cap and ground plane, and which renderer runs. Any edit marks the
/// budget as the user's choice, so a late renderer detection does not undo it.
pub fn budget_controls(ui: &mut egui::Ui, budget: &mut FrameBudget) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let mut capped = budget.max_fps.is_some();
    let cap = ui.checkbox(&mut capped, "cap frame rate").on_hover_text(
        "Redraw at most this often while you watch, leaving CPU to planning and learning; mouse and keys still redraw at once.",
    );
    rects.insert("cap_frame_rate", cap.rect);
    let mut fps = budget.max_fps.unwrap_or(SOFTWARE_MAX_FPS);
    let slider = ui
        .add_enabled(capped, egui::Slider::new(&mut fps, 1.0..=60.0).text("max fps"))
        .on_hover_text("Frames per second at most while the cap is on.");
    rects.insert("max_fps", slider.rect);
    let mut ground_plane = budget.ground_plane;
    let plane_box = ui.checkbox(&mut ground_plane, "ground plane and shadows").on_hover_text(
        "A shaded ground with the robot's shadow (otherwise grid lines only): costly on a software renderer.",
    );
    rects.insert("ground_plane", plane_box.rect);
    let max_fps = capped.then_some(fps);
    if max_fps != budget.max_fps {
        budget.max_fps = max_fps;
        budget.fps_chosen = true;
    }
    if ground_plane != budget.ground_plane {
        budget.ground_plane = ground_plane;
        budget.ground_chosen = true;
    }
    ui.label(format!("renderer: {}", budget.describe()));
    rects
}
