#!/usr/bin/env python3
"""Checks that a studio screenshot is a real render: not blank, egui panels present, and the
planner's trajectory colours (viridis samples, white mean plan) drawn in the 3D view; with
--arrow also a push's arrow (its exact red, apart from the executed path's orange).
Standard library only (zlib PNG decoding), so CI needs nothing extra."""
import struct
import sys
import zlib

ARROW = (255, 64, 26)  # src/studio/push_tool.rs: Color::srgb(1.0, 0.25, 0.1)
VIRIDIS = [(68, 1, 84), (72, 36, 117), (65, 68, 135), (53, 95, 141), (42, 120, 142),
           (33, 145, 140), (34, 168, 132), (122, 209, 81), (253, 231, 37)]


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG file")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG layout (depth {depth}, colour {colour})")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def main(path, arrow=False):
    width, height, rows = read_png(path)
    lum = [0.299 * r + 0.587 * g + 0.114 * b for row in rows[::4] for (r, g, b) in row[::4]]
    mean = sum(lum) / len(lum)
    variance = sum((v - mean) ** 2 for v in lum) / len(lum)
    # Panels: egui's dark panel fill dominates the left and right edges.
    def dark_share(x0, x1):
        pixels = [rows[y][x] for y in range(0, height, 6) for x in range(x0, x1, 6)]
        return sum(1 for p in pixels if max(p) < 40) / len(pixels)
    left, right = dark_share(0, width // 8), dark_share(width - width // 8, width)
    centre = [rows[y][x] for y in range(0, height - 30) for x in range(width // 4, 3 * width // 4)]
    traj = sum(1 for p in centre if min(sum((a - b) ** 2 for a, b in zip(p, v)) for v in VIRIDIS) < 30 ** 2 and max(p) - min(p) > 40)
    white = sum(1 for p in centre if min(p) > 235)
    print(f"{path}: {width}x{height}, luminance variance {variance:.0f}, dark panel share left {left:.2f} right {right:.2f}, "
          f"trajectory pixels {traj}, white (mean plan) pixels {white}")
    problems = []
    if variance < 100:
        problems.append("image is nearly uniform (blank render?)")
    if left < 0.3 or right < 0.3:
        problems.append("egui panels not found at the left and right edges")
    if traj < 30:
        problems.append("no planned-trajectory colours in the 3D view")
    if arrow:
        red = sum(1 for p in centre if sum((a - b) ** 2 for a, b in zip(p, ARROW)) < 10 ** 2)
        print(f"{path}: push-arrow pixels {red}")
        if red < 50:
            problems.append("no push arrow in the 3D view")
    if problems:
        raise SystemExit(f"{path}: " + "; ".join(problems))


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    for p in sys.argv[1:]:
        if not p.startswith("--"):
            main(p, arrow="--arrow" in flags)
