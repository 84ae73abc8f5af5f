"""Open-Unmix inference on one WAV file, timed like `saex extract`: decode, separate, encode.

Builds the umxhq architecture (the OpenUnmix class defaults: 3 BLSTM layers, 512 hidden units,
n_fft 4096, hop 1024, bins up to 16 kHz) with random weights, since its trained weights cannot be
downloaded here; speed does not depend on the weights. The separator runs as `umx` does
(one Wiener EM iteration, 300-frame Wiener windows), on the given targets plus the residual.

    python openunmix_extract.py MIX.wav OUT_DIR [--targets vocals ...] [--threads N] [--device D]

With --device cuda the whole track and the models go to the GPU (the time includes the copies
and waits for the GPU to finish).
"""

import argparse
import time
import wave
from pathlib import Path

import numpy as np
import torch
from openunmix import utils
from openunmix.model import OpenUnmix, Separator


def read_wav(path):
    """16-bit PCM WAV -> (channels, samples) float32 tensor and the sample rate."""
    with wave.open(str(path), "rb") as f:
        assert f.getsampwidth() == 2, "16-bit PCM expected"
        rate, channels = f.getframerate(), f.getnchannels()
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    audio = data.reshape(-1, channels).T.astype(np.float32) / 32768.0
    return torch.from_numpy(audio), rate


def write_wav(path, audio, rate):
    """(channels, samples) float tensor -> 16-bit PCM WAV."""
    pcm = (audio.clamp(-1.0, 1.0 - 1.0 / 32768.0) * 32768.0).round().to(torch.int16)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(pcm.shape[0])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.T.contiguous().numpy().tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mix")
    parser.add_argument("out_dir")
    parser.add_argument("--targets", nargs="+", default=["vocals"])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    start = time.perf_counter()
    audio, rate = read_wav(args.mix)
    max_bin = utils.bandwidth_to_max_bin(rate=44100.0, n_fft=4096, bandwidth=16000)
    models = {
        t: OpenUnmix(nb_bins=4096 // 2 + 1, nb_channels=2, hidden_size=512, max_bin=max_bin)
        for t in args.targets
    }
    separator = Separator(
        target_models=models, niter=1, residual=True, n_fft=4096, n_hop=1024, nb_channels=2,
        sample_rate=44100.0, wiener_win_len=300,
    )
    separator.freeze()
    device = torch.device(args.device)
    separator.to(device)
    loaded = time.perf_counter()
    with torch.inference_mode():
        estimates = separator(audio[None].to(device))[0].cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    separated = time.perf_counter()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, estimate in zip(args.targets + ["residual"], estimates):
        write_wav(out / f"{name}.wav", estimate, rate)
    done = time.perf_counter()
    print(
        f"threads {torch.get_num_threads()}: decode and build {loaded - start:.2f} s, "
        f"separate {separated - loaded:.2f} s, encode {done - separated:.2f} s, "
        f"total {done - start:.2f} s"
    )


if __name__ == "__main__":
    main()
