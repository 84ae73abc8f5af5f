#!/usr/bin/env python3
"""Where 8-bit arithmetic loses accuracy in a saex network, against f32 (and bf16 for scale).

Runs the network of MODEL (default models/vocals) in PyTorch on the context-stacked magnitudes
of a 16-bit WAV (default audio/demo/mixture.wav, both channels), the way saex does (frame
scale, ReLU layers, output times the scale), with inputs and/or weights rounded as
`--network-precision int8` rounds them (weights: 7 bits per output unit; activations: 7 bits
per frame), and prints per variant the mean and 90th percentile of each frame's relative output
error and the SNR of the ratio-masked mixture against f32's. Needs Python with torch and numpy
(the LibTorch venv of scripts/setup-libtorch.sh has both).

    scripts/quantization-error.py [MODEL] [WAV]
"""

import json
import struct
import sys
import wave

import numpy as np
import torch


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, base, out = json.loads(raw[8:8 + n]), 8 + n, {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        start, end = v["data_offsets"]
        dtype = {"F16": np.float16, "F32": np.float32}[v["dtype"]]
        data = np.frombuffer(raw[base + start:base + end], dtype=dtype)
        out[name] = torch.tensor(data.reshape(v["shape"]).astype(np.float32))
    return out


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "models/vocals"
    path = sys.argv[2] if len(sys.argv) > 2 else "audio/demo/mixture.wav"
    config = json.load(open(f"{model}/config.json"))
    weights = load_safetensors(f"{model}/model.safetensors")
    layers = [(weights[f"fc{i}.weight"], weights[f"fc{i}.bias"])
              for i in range(1, config["nb_layers"] + 1)]
    n_fft, hop, c = config["n_fft"], config["hop"], config["context"]
    stride, bins = config["context_stride"], config["nb_bins_in"]
    with wave.open(path, "rb") as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
        audio = audio.reshape(-1, f.getnchannels()) / 32768.0
    rows = []
    for ch in range(audio.shape[1]):
        mags = torch.stft(torch.tensor(audio[:, ch], dtype=torch.float32), n_fft, hop,
                          window=torch.hann_window(n_fft), return_complex=True).abs().T[:, :bins]
        reach = c * stride
        rows.append(torch.stack([mags[t - reach:t + reach + 1:stride].reshape(-1)
                                 for t in range(reach, mags.shape[0] - reach)]))
    x = torch.cat(rows)
    scale = x.norm(2, 1, keepdim=True) + 1e-8
    mix = x[:, c * bins:(c + 1) * bins]

    def rounded(t):
        """t with each row rounded to 7 bits of its largest magnitude."""
        top = t.abs().amax(1, keepdim=True).clamp_min(1e-30) / 127
        return (t / top).round() * top

    def run(int8_inputs=(), int8_weights=(), bf16=False):
        y = x / scale
        for i, (w, b) in enumerate(layers):
            if bf16:
                y = torch.nn.functional.linear(y.bfloat16(), w.bfloat16(), b.bfloat16()).float()
            else:
                # Per row, so the first layer's frame scale makes no difference.
                yi = rounded(y) if i in int8_inputs else y
                wi = rounded(w) if i in int8_weights else w
                y = yi @ wi.T + b
            y = torch.relu(y)
        return y * scale

    ref = run()
    every = tuple(range(len(layers)))
    hidden = every[1:]

    def report(name, out):
        err = (out - ref).norm(dim=1) / (ref.norm(dim=1) + 1e-9)
        m_ref = torch.clamp(ref / (mix + 1e-9), max=1)
        m_out = torch.clamp(out / (mix + 1e-9), max=1)
        snr = 10 * torch.log10((m_ref * mix).pow(2).sum() / ((m_ref - m_out) * mix).pow(2).sum())
        print(f"| {name} | {err.mean():.4f} | {err.quantile(0.9):.4f} | {snr:.1f} dB |")

    print(f"{model} on {path}: {x.shape[0]} frames")
    print("| variant | relative error, mean | 90th percentile | masked mix SNR against f32 |")
    print("|---|---:|---:|---:|")
    report("bf16 products (the default on CPUs with native bf16)", run(bf16=True))
    report("int8: every layer's inputs and weights (`--network-precision int8`)",
           run(every, every))
    report("int8: first layer's inputs only", run((0,), ()))
    report("int8: first layer's weights only", run((), (0,)))
    report("int8: hidden layers' inputs only", run(hidden, ()))
    report("int8: hidden layers' weights only", run((), hidden))
    report("int8: hidden layers only, inputs and weights", run(hidden, hidden))
    zeroed = (x / (x.amax(1, keepdim=True) / 127)).round() == 0
    print(f"first layer's inputs rounded to 0 in 8 bits: {zeroed.float().mean():.1%}")


if __name__ == "__main__":
    main()
