//! A perceptual colour map (viridis-like) for colouring sampled plans by score.

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

/// Colour at `t` in [0, 1] (clamped; NaN maps to the worst colour).
pub fn viridis(t: f32) -> [f32; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let scaled = t * (ANCHORS.len() - 1) as f32;
    let i = (scaled.floor() as usize).min(ANCHORS.len() - 2);
    let f = scaled - i as f32;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
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
        let mut last = -1.0;
        for k in 0..=100 {
            let l = luminance(viridis(k as f32 / 100.0));
            assert!(l > last, "luminance must rise so better plans look brighter");
            last = l;
        }
    }
}
