"""Pixels an animated or chunked image file makes its decoder allocate, read without decoding.

TensorFlow's GIF decoder decodes every frame, each onto a canvas that holds the logical screen
and the frame (a frame may declare itself larger than the screen); its WebP decoder reads the
canvas of the VP8X header, or the one frame of a simple file. So the pixels a file costs are
frames x canvas, which the logical screen alone does not tell: a GIF whose screen is 1 x 1 can
hold a 12000 x 12000 frame. These walkers read the block and chunk headers only.

References: the GIF89a specification (CompuServe, 1990), sections 18-20 and 23-24; the WebP
container specification (RFC 9649, sections 2.5-2.7).
"""

from __future__ import annotations

import struct

#: What a file costs when its structure cannot be read: more than any limit, so it is refused.
UNREADABLE = 2**62


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Position after the data sub-blocks starting at `pos` (each a length byte, then data)."""
    while pos < len(data):
        length = data[pos]
        pos += 1
        if length == 0:
            return pos
        pos += length
    return pos


def _colour_table_size(flags: int) -> int:
    return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0


def gif_pixels(data: bytes) -> int:
    """Frames x canvas of a GIF, the canvas spanning the logical screen and every frame."""
    if len(data) < 13 or data[:3] != b"GIF":
        return UNREADABLE
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + _colour_table_size(flags)
    frames = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor: left, top, width, height, flags
            if pos + 10 > len(data):
                break
            left, top, frame_w, frame_h, frame_flags = struct.unpack_from("<HHHHB", data, pos + 1)
            frames += 1
            width, height = max(width, left + frame_w), max(height, top + frame_h)
            pos += 10 + _colour_table_size(frame_flags) + 1  # + LZW minimum code size
            pos = _skip_sub_blocks(data, pos)
        else:  # damaged: what was read so far counts, the decoder judges the rest
            break
    return max(frames, 1) * width * height


def webp_pixels(data: bytes) -> int:
    """Frames x canvas of a WebP file (a simple lossy or lossless one has one frame)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return UNREADABLE
    kind = data[12:16]
    if kind == b"VP8 ":  # key frame: tag (3 bytes), start code (3), 14-bit width and height
        if data[23:26] != b"\x9d\x01\x2a":
            return UNREADABLE
        width, height = struct.unpack_from("<HH", data, 26)
        return (width & 0x3FFF) * (height & 0x3FFF)
    if kind == b"VP8L":  # signature 0x2f, then 14-bit width - 1 and height - 1
        if data[20] != 0x2F:
            return UNREADABLE
        bits = int.from_bytes(data[21:25], "little")
        return ((bits & 0x3FFF) + 1) * (((bits >> 14) & 0x3FFF) + 1)
    if kind == b"VP8X":  # 24-bit canvas width - 1 and height - 1; frames in ANMF chunks
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        frames, pos = 0, 12
        while pos + 8 <= len(data):
            fourcc, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
            frames += fourcc == b"ANMF"
            pos += 8 + size + (size & 1)
        return max(frames, 1) * width * height
    return UNREADABLE
