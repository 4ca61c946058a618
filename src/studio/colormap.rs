//! Perceptual colour maps for colouring sampled plans by score: viridis-like (blue to yellow)
//! and, for a second plan beside it (A/B plans), a warm one (dark red through red to pink), which
//! shares no hue with the first.

/// Anchor colours (sRGB) at evenly spaced positions from 0 (worst) to 1 (best).
const ANCHORS: [[f32; 3]; 9] = [
    [0.267, 0.005, 0.329],
    [0.283, 0.141, 0.458],
    [0.254, 0.265, 0.530],
    [0.207, 0.372, 0.553],
    [0.164, 0.471, 0.558],
    [0.128, 0.567, 0.551],
    [0.135, 0.659, 0.518],
    [0.478, 0.821, 0.319],
    [0.993, 0.906, 0.144],
];

/// A warm map's anchors (sRGB), worst to best: dark red through red to pale pink.
const WARM_ANCHORS: [[f32; 3]; 5] =
    [[0.25, 0.0, 0.05], [0.55, 0.02, 0.10], [0.85, 0.10, 0.20], [1.0, 0.40, 0.50], [1.0, 0.75, 0.85]];

/// Colour at `t` in [0, 1] (clamped; NaN maps to the worst colour).
pub fn viridis(t: f32) -> [f32; 3] {
    interpolate(&ANCHORS, t)
}

/// The warm map at `t` in [0, 1] (clamped; NaN maps to the worst colour).
pub fn warm(t: f32) -> [f32; 3] {
    interpolate(&WARM_ANCHORS, t)
}

fn interpolate(anchors: &[[f32; 3]], t: f32) -> [f32; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let scaled = t * (anchors.len() - 1) as f32;
    let i = (scaled.floor() as usize).min(anchors.len() - 2);
    let f = scaled - i as f32;
    let (a, b) = (anchors[i], anchors[i + 1]);
    [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(c: [f32; 3]) -> f32 {
        0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    }

    #[test]
    fn endpoints_and_monotone_luminance() {
        assert_eq!(viridis(0.0), ANCHORS[0]);
        assert_eq!(viridis(1.0), ANCHORS[8]);
        assert_eq!(viridis(f32::NAN), ANCHORS[0]);
        assert_eq!(warm(1.0), WARM_ANCHORS[4]);
        for map in [viridis, warm] {
            let mut last = -1.0;
            for k in 0..=100 {
                let l = luminance(map(k as f32 / 100.0));
                assert!(l > last, "luminance must rise so better plans look brighter");
                last = l;
            }
        }
    }
}
