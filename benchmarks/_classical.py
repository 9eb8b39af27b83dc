"""Classical restoration baselines and the PSNR/SSIM table the restoration benchmarks share.

Used by benchmarks/reconstruction.py and benchmarks/restoration.py: a Gaussian blur, the blur
fill (normalised convolution, Knutsson & Westin 1993: blur(m * x) / blur(m) in the masked
pixels, known pixels kept) and the mean fill of masked pixels, all on NumPy images in [-1, 1].
"""

import numpy as np
import scipy.ndimage

from tfgen.models.autoencoder import psnr, ssim


def scores(clean, restored):
    restored = np.clip(restored, -1.0, 1.0)
    return float(np.mean(psnr(clean, restored))), float(np.mean(ssim(clean, restored)))


def blur(images, sigma):
    return np.stack(
        [
            scipy.ndimage.gaussian_filter(im, sigma=(sigma, sigma, 0), mode="reflect")
            for im in images
        ]
    )


def blur_fill(corrupted, known, sigma):
    known = np.broadcast_to(known, corrupted.shape)
    numerator = blur(corrupted * known, sigma)
    denominator = blur(known.astype(np.float32), sigma)
    filled = np.where(denominator > 1e-3, numerator / np.maximum(denominator, 1e-3), 0.0)
    return known * corrupted + (1.0 - known) * filled


def mean_fill(corrupted, known):
    known = np.broadcast_to(known, corrupted.shape)
    means = (corrupted * known).sum(axis=(1, 2), keepdims=True) / np.maximum(
        known.sum(axis=(1, 2), keepdims=True), 1.0
    )
    return known * corrupted + (1.0 - known) * means


def table(title, rows):
    print(f"\n{title}\n")
    print("| method                                   | PSNR (dB) |  SSIM  |")
    print("|------------------------------------------|-----------|--------|")
    for name, (p, s) in rows:
        print(f"| {name:<40} | {p:9.2f} | {s:6.3f} |")
