//! Looks inside a recorded MP4 (`screenshot --video`, the studio's Record button): prints its
//! frame count, size and duration, and writes chosen frames as PNG files to look at.
//!
//! `cargo run --release --example video_frames -- run.mp4 OUT_DIR 0 50 99`

use std::path::Path;

use anyhow::{Context, bail};
use demorl_studio::studio::video::decode_mp4;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [video, out, frames @ ..] = args.as_slice() else {
        bail!("usage: video_frames VIDEO.mp4 OUT_DIR [FRAME ...]");
    };
    let wanted: Vec<usize> =
        frames.iter().map(|f| f.parse().context("frames are numbers from 0")).collect::<Result<_, _>>()?;
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let info = decode_mp4(Path::new(video), |k, w, h, rgb| {
        if wanted.contains(&k) {
            let path = Path::new(out).join(format!("frame-{k:04}.png"));
            written.push((path.clone(), write_png(&path, w as u32, h as u32, rgb)));
        }
    })?;
    println!("{video}: {} frames of {}×{}, {:.2} s", info.frames, info.width, info.height, info.seconds);
    for (path, result) in written {
        result.with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> anyhow::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.write_header()?.write_image_data(rgb)?;
    Ok(())
}
