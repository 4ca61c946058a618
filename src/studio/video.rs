//! Writing frames of the studio as an animated GIF (the `gif` crate, colours quantised per
//! frame) or an H.264 MP4 (OpenH264 built from source by the `openh264` crate, muxed by the
//! pure-Rust `muxide`): `screenshot --video` and the Record button. No system ffmpeg.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod};
use openh264::formats::{RgbaSliceU8, YUVBuffer, YUVSource};

/// The container a file's extension asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoFormat {
    Gif,
    Mp4,
}

impl VideoFormat {
    /// `.gif` or `.mp4` (any case); anything else is refused with the path.
    pub fn of(path: &Path) -> anyhow::Result<VideoFormat> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("gif") => Ok(VideoFormat::Gif),
            Some("mp4") => Ok(VideoFormat::Mp4),
            _ => bail!("{}: a video must end in .gif or .mp4", path.display()),
        }
    }
}

/// Frames per second beyond this are refused (GIF delays are in hundredths of a second).
pub const MAX_FPS: f64 = 100.0;

/// Frames of one size into one file, in order; `finish` completes the file.
pub struct VideoWriter {
    path: PathBuf,
    /// The frame size as given, and as written (H.264 needs even sides: one column or row is
    /// dropped from odd ones).
    given: (u32, u32),
    size: (u32, u32),
    fps: f64,
    frames: usize,
    /// When the last frame is shown (seconds from the start).
    last_at: Option<f64>,
    sink: Sink,
}

enum Sink {
    /// A GIF frame's delay is the time to the next frame, so each frame waits for its successor.
    Gif {
        encoder: Box<gif::Encoder<BufWriter<File>>>,
        pending: Option<(gif::Frame<'static>, f64)>,
    },
    Mp4 {
        encoder: Box<Encoder>,
        muxer: Box<muxide::api::Muxer<BufWriter<File>>>,
        annex_b: Vec<u8>,
    },
}

impl VideoWriter {
    /// A writer of `width` × `height` RGBA frames shown at `fps` into `path` (.gif or .mp4).
    pub fn create(path: &Path, width: u32, height: u32, fps: f64) -> anyhow::Result<VideoWriter> {
        let format = VideoFormat::of(path)?;
        if !(fps > 0.0 && fps <= MAX_FPS) {
            bail!("{}: {fps} frames per second; expected more than 0 and at most {MAX_FPS}", path.display());
        }
        let even = (width & !1, height & !1);
        let size = if format == VideoFormat::Mp4 { even } else { (width, height) };
        if size.0 < 2 || size.1 < 2 || width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
            bail!("{}: frames of {width}×{height} pixels cannot be recorded", path.display());
        }
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let file = BufWriter::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
        let sink = match format {
            VideoFormat::Gif => {
                let mut encoder = gif::Encoder::new(file, width as u16, height as u16, &[])
                    .with_context(|| format!("cannot start the GIF {}", path.display()))?;
                encoder.set_repeat(gif::Repeat::Infinite)?;
                Sink::Gif { encoder: Box::new(encoder), pending: None }
            }
            VideoFormat::Mp4 => {
                let config = EncoderConfig::new()
                    // Every frame is kept: the video has exactly one frame per recorded step.
                    .skip_frames(false)
                    .bitrate(BitRate::from_bps(2_000_000))
                    .max_frame_rate(FrameRate::from_hz(fps as f32))
                    .intra_frame_period(IntraFramePeriod::from_num_frames((2.0 * fps).ceil() as u32));
                let encoder = Encoder::with_api_config(openh264::OpenH264API::from_source(), config)
                    .map_err(|e| anyhow::anyhow!("cannot start the H.264 encoder: {e}"))?;
                let muxer = muxide::api::MuxerBuilder::new(file)
                    .video(muxide::api::VideoCodec::H264, size.0, size.1, fps)
                    .build()
                    .map_err(|e| anyhow::anyhow!("cannot start the MP4 {}: {e}", path.display()))?;
                Sink::Mp4 { encoder: Box::new(encoder), muxer: Box::new(muxer), annex_b: Vec::new() }
            }
        };
        Ok(VideoWriter { path: path.to_path_buf(), given: (width, height), size, fps, frames: 0, last_at: None, sink })
    }

    /// The size of the frames it takes.
    pub fn frame_size(&self) -> (u32, u32) {
        self.given
    }

    /// The frame size written (even sides for MP4).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Frames written so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Appends one frame shown `1 / fps` after the previous: `rgba` holds width × height pixels
    /// of 4 bytes, row by row.
    pub fn push_rgba(&mut self, rgba: &[u8]) -> anyhow::Result<()> {
        self.push_rgba_at(rgba, self.frames as f64 / self.fps)
    }

    /// Appends one frame shown at `at` seconds from the start (later than the previous frame):
    /// the studio's Record button stamps frames with simulated time, so the video plays the
    /// motion at its real speed however many steps each rendered frame took.
    pub fn push_rgba_at(&mut self, rgba: &[u8], at: f64) -> anyhow::Result<()> {
        let (w, h) = self.given;
        if rgba.len() != (w * h * 4) as usize {
            bail!("{}: a frame of {} bytes is not {w}×{h} RGBA", self.path.display(), rgba.len());
        }
        if !at.is_finite() || self.last_at.is_some_and(|last| at <= last) {
            bail!("{}: frame time {at} s does not follow the previous frame's", self.path.display());
        }
        self.last_at = Some(at);
        match &mut self.sink {
            Sink::Gif { encoder, pending } => {
                let mut pixels = rgba.to_vec();
                // Speed 10 of 1–30: NeuQuant's usual trade of quality for time.
                let frame = gif::Frame::from_rgba_speed(w as u16, h as u16, &mut pixels, 10);
                if let Some((mut previous, start)) = pending.replace((frame, at)) {
                    previous.delay = hundredths(start, at);
                    encoder.write_frame(&previous).with_context(|| format!("cannot write {}", self.path.display()))?;
                }
            }
            Sink::Mp4 { encoder, muxer, annex_b } => {
                let cropped = crop_rgba(rgba, self.given, self.size);
                let yuv = YUVBuffer::from_rgb_source(RgbaSliceU8::new(
                    &cropped,
                    (self.size.0 as usize, self.size.1 as usize),
                ));
                let stream = encoder.encode(&yuv).map_err(|e| anyhow::anyhow!("H.264 encoding failed: {e}"))?;
                let keyframe = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
                annex_b.clear();
                stream.write_vec(annex_b);
                muxer
                    .write_video(at, annex_b, keyframe)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))?;
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Completes the file; returns its path and the number of frames.
    pub fn finish(self) -> anyhow::Result<(PathBuf, usize)> {
        let path = self.path;
        match self.sink {
            Sink::Gif { mut encoder, pending } => {
                if let Some((mut last, start)) = pending {
                    last.delay = hundredths(start, start + 1.0 / self.fps);
                    encoder.write_frame(&last).with_context(|| format!("cannot write {}", path.display()))?;
                }
                encoder.into_inner().with_context(|| format!("cannot finish {}", path.display()))?;
            }
            Sink::Mp4 { muxer, .. } => {
                muxer.finish().map_err(|e| anyhow::anyhow!("cannot finish {}: {e}", path.display()))?;
            }
        }
        Ok((path, self.frames))
    }
}

/// A GIF delay from `start` to `end` in whole hundredths of a second: both ends rounded, so
/// the delays add up to the rounded total.
fn hundredths(start: f64, end: f64) -> u16 {
    ((end * 100.0).round() - (start * 100.0).round()).clamp(0.0, f64::from(u16::MAX)) as u16
}

/// The top-left `to` pixels of an RGBA image of `from` pixels.
fn crop_rgba(rgba: &[u8], from: (u32, u32), to: (u32, u32)) -> std::borrow::Cow<'_, [u8]> {
    if from == to {
        return std::borrow::Cow::Borrowed(rgba);
    }
    let row = (from.0 * 4) as usize;
    let keep = (to.0 * 4) as usize;
    std::borrow::Cow::Owned(rgba.chunks_exact(row).take(to.1 as usize).flat_map(|r| &r[..keep]).copied().collect())
}

/// What an MP4 holds: its frame count, size and duration.
#[derive(Clone, Debug, PartialEq)]
pub struct Mp4Info {
    pub frames: u32,
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
}

/// Decodes every frame of an H.264 MP4 (as this module writes them), calling `each(k, width,
/// height, rgb)` with frame k as RGB bytes, row by row. For tests and for looking at recordings.
pub fn decode_mp4(path: &Path, mut each: impl FnMut(usize, usize, usize, &[u8])) -> anyhow::Result<Mp4Info> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut mp4 = mp4::Mp4Reader::read_header(std::io::BufReader::new(file), size)
        .with_context(|| format!("{}: not an MP4", path.display()))?;
    let track = mp4.tracks().values().next().with_context(|| format!("{}: no track", path.display()))?;
    let info = Mp4Info {
        frames: track.sample_count(),
        width: u32::from(track.width()),
        height: u32::from(track.height()),
        seconds: track.duration().as_secs_f64(),
    };
    let id = track.track_id();
    // Parameter sets first, then each sample's length-prefixed NAL units as Annex B.
    let mut annex_b = Vec::new();
    for set in [track.sequence_parameter_set()?.to_vec(), track.picture_parameter_set()?.to_vec()] {
        annex_b.extend([0, 0, 0, 1]);
        annex_b.extend(set);
    }
    let mut decoder = openh264::decoder::Decoder::new().map_err(|e| anyhow::anyhow!("H.264 decoder: {e}"))?;
    let mut rgb = Vec::new();
    for k in 0..info.frames as usize {
        let sample =
            mp4.read_sample(id, k as u32 + 1)?.with_context(|| format!("{}: frame {k} is missing", path.display()))?;
        let mut rest = &sample.bytes[..];
        while rest.len() > 4 {
            let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let nal = rest.get(4..4 + len).with_context(|| format!("{}: frame {k} is cut short", path.display()))?;
            annex_b.extend([0, 0, 0, 1]);
            annex_b.extend(nal);
            rest = &rest[4 + len..];
        }
        let frame = decoder
            .decode(&annex_b)
            .map_err(|e| anyhow::anyhow!("{}: frame {k}: {e}", path.display()))?
            .with_context(|| format!("{}: frame {k} decoded to nothing", path.display()))?;
        annex_b.clear();
        let (w, h) = frame.dimensions();
        rgb.resize(w * h * 3, 0);
        frame.write_rgb8(&mut rgb);
        each(k, w, h, &rgb);
    }
    Ok(info)
}
