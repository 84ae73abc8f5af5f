"""A sung line from espeak-ng: one syllable per note, at the note's pitch and length.

Each syllable is spoken by espeak-ng with a voice variant whose pitch range is a single
frequency (`pitch F F` in the variant file), so the voice is nearly monotone at the note's
pitch. The small error left (espeak-ng rounds and adds flutter) is measured by autocorrelation
and corrected by resampling (sox `speed`), then sox `tempo` (WSOLA, keeps the pitch) stretches
the syllable to the note's length. The line is placed sample-exactly at the note onsets.
"""

import io
import os
import re
import shutil
import subprocess

import numpy as np
import soundfile as sf

RATE = 44100
VARIANT_DIR = "voices/!v"
# Voice variants that sing reasonably; (name, "male" | "female"). Others (whisper, croak,
# robots) are left out on purpose.
VOICES = [
    ("m1", "male"), ("m2", "male"), ("m3", "male"), ("m4", "male"), ("m5", "male"),
    ("m6", "male"), ("m7", "male"), ("adam", "male"), ("david", "male"), ("john", "male"),
    ("norbert", "male"), ("paul", "male"), ("max", "male"),
    ("f1", "female"), ("f2", "female"), ("f3", "female"), ("f4", "female"), ("f5", "female"),
    ("anika", "female"), ("belinda", "female"), ("linda", "female"), ("aunty", "female"),
]
# Where each kind of voice sings: the melody is moved by octaves so that its median pitch
# lands nearest to this MIDI note.
MEDIAN_PITCH = {"male": 55, "female": 67}
# Syllables for melodies without lyrics (read with an Italian voice: plain vowels).
SYLLABLES = ["la", "na", "da", "ma", "lo", "no", "do", "mo", "li", "ni", "lu", "nu", "ya",
             "ra", "ta", "ba", "a", "o", "e", "ve", "so", "si", "le", "ne"]
VOWELS = "aeiouyäöü"


def espeak_data_dir():
    """The installed espeak-ng-data folder (from `espeak-ng --version`)."""
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"Data at:\s*(\S+)", out)
    if not match:
        raise RuntimeError(f"cannot find espeak-ng's data folder in: {out.strip()}")
    return match.group(1)


def prepare_voice_data(cache_dir):
    """A private copy of espeak-ng-data under `cache_dir` (variant files are added there, the
    system's copy is left alone). Returns the folder to pass to `espeak-ng --path`."""
    root = os.path.join(cache_dir, "espeak")
    data = os.path.join(root, "espeak-ng-data")
    if not os.path.isdir(data):
        os.makedirs(root, exist_ok=True)
        tmp = f"{data}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(espeak_data_dir(), tmp)
        os.replace(tmp, data)
    # Variant files left by runs that were killed (saex-<pid>-...): removed when that process
    # is gone, so that espeak-ng's voice list stays short.
    folder = os.path.join(data, VARIANT_DIR)
    for entry in os.listdir(folder):
        match = re.match(r"\.?saex-(\d+)-", entry)
        if match and not pid_alive(int(match.group(1))):
            os.remove(os.path.join(folder, entry))
    return root


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def midi_to_hz(pitch):
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def fit_range(pitches, gender):
    """The octave shift (in semitones, a multiple of 12) that puts the median of `pitches`
    nearest to the voice's singing range."""
    median = float(np.median(pitches))
    return 12 * round((MEDIAN_PITCH[gender] - median) / 12)


def syllable_of(text):
    """A lyric (e.g. 'Gott,' or '-ren') as letters espeak-ng can read, or None."""
    letters = re.sub(r"[^\w']", "", text or "", flags=re.UNICODE).replace("_", "")
    return letters.lower() or None


def last_vowel(syllable):
    """The last vowel group of a syllable (a melisma goes on singing it)."""
    groups = re.findall(f"[{VOWELS}]+", syllable)
    return groups[-1] if groups else "a"


class Singer:
    """Sings notes with one espeak-ng voice variant and language.

    `data_root`: from prepare_voice_data; `voice`: a name from VOICES; `language`: an
    espeak-ng language ("it", "de", "la", ...).
    """

    def __init__(self, data_root, voice, language, engine="espeak", formant=1.0, work=None):
        self.data_root = data_root
        self.voice = voice
        self.language = language
        # "espeak" (espeak-ng variant `voice`) or "flite" (flite's built-in voice `voice`).
        self.engine = engine
        # Formant shift: the syllable is spoken at pitch / formant and resampled by about
        # `formant`, which moves pitch back to the note and the formants by `formant`.
        self.formant = formant
        self.work = work or data_root
        self.cache = {}  # (syllable, hz, speed, samples) -> rendered syllable

    def _variant(self, hz):
        """Writes a variant file: the base voice with its pitch range set to `hz`; returns its
        name. espeak-ng lists at most 349 voices, so the file is removed after use
        (see _speak) and named with the process id (parallel runs do not collide)."""
        name = f"saex-{os.getpid()}-{self.voice}-{hz}"
        folder = os.path.join(self.data_root, "espeak-ng-data", VARIANT_DIR)
        with open(os.path.join(folder, self.voice), encoding="latin-1") as f:
            base = [l for l in f if not re.match(r"\s*(name|pitch|intonation)\b", l)]
        path = os.path.join(folder, name)
        tmp = os.path.join(folder, f".{name}.tmp")
        with open(tmp, "w", encoding="latin-1") as f:
            f.write(f"name {name}\n")
            f.writelines(base)
            f.write(f"\npitch {hz} {hz}\n")
        os.replace(tmp, path)
        return name, path

    def _speak(self, syllable, hz, speed):
        """Mono float32 samples and their rate from the engine for one syllable."""
        if self.engine == "flite":
            return self._speak_flite(syllable, hz, speed)
        name, path = self._variant(hz)
        try:
            cmd = ["espeak-ng", f"--path={self.data_root}", "-v", f"{self.language}+{name}",
                   "-s", str(speed), "--stdout", syllable]
            result = subprocess.run(cmd, capture_output=True)
        finally:
            os.remove(path)
        if result.returncode != 0 or not result.stdout:
            raise RuntimeError(f"espeak-ng failed on {syllable!r} with voice {name}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
        return audio, rate

    def _speak_flite(self, syllable, hz, speed):
        """Mono float32 samples and their rate from flite (its F0 target set to `hz`)."""
        path = os.path.join(self.work, f".saex-{os.getpid()}-flite.wav")
        stretch = f"{np.clip(175.0 / speed, 0.5, 3.0):.3f}"
        cmd = ["flite", "-voice", self.voice, "--setf", f"int_f0_target_mean={hz}",
               "--setf", "int_f0_target_stddev=0", "--setf", f"duration_stretch={stretch}",
               "-t", syllable, "-o", path]
        result = subprocess.run(cmd, capture_output=True)
        if result.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"flite failed on {syllable!r} with voice {self.voice}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        audio, rate = sf.read(path, dtype="float32")
        os.remove(path)
        return audio, rate

    def syllable(self, syllable, pitch, nb_samples):
        """One syllable at MIDI `pitch`, exactly `nb_samples` long at 44.1 kHz, faded."""
        target_hz = midi_to_hz(pitch)
        hz = int(round(target_hz / self.formant))
        seconds = nb_samples / RATE
        # Slow speech for long notes, fast for short ones; tempo stretching does the rest.
        speed = int(np.clip(60.0 / max(seconds, 0.05), 80, 450)) // 10 * 10
        key = (syllable, hz, speed, nb_samples)
        if key in self.cache:
            return self.cache[key]
        audio, rate = self._speak(syllable, hz, speed)
        audio = trim_silence(audio)
        if len(audio) < rate // 50:
            out = np.zeros(nb_samples, dtype=np.float32)
            self.cache[key] = out
            return out
        measured = estimate_f0(audio, rate, target_hz / self.formant)
        ratio = target_hz / measured if measured else self.formant
        # After `speed ratio` the syllable lasts len/ratio; `tempo` brings it to the note.
        length = len(audio) / rate / ratio
        tempo = float(np.clip(length / seconds, 0.1, 10.0))
        out = sox_effects(audio, rate, ["speed", f"{ratio:.6f}", "rate", "-v", str(RATE),
                                        "tempo", "-s", f"{tempo:.6f}"])
        out = np.resize(out, 0) if len(out) == 0 else out
        shaped = np.zeros(nb_samples, dtype=np.float32)
        n = min(nb_samples, len(out))
        shaped[:n] = out[:n]
        fade_in, fade_out = min(n, RATE // 200), min(n, RATE // 40)
        if fade_in:
            shaped[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
        if fade_out:
            shaped[n - fade_out:n] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
        rms = float(np.sqrt(np.mean(shaped[:n] ** 2))) if n else 0.0
        if rms > 1e-6:
            shaped *= 0.1 / rms  # every syllable about as loud (-20 dBFS RMS)
        self.cache[key] = shaped
        return shaped

    def line(self, notes, total_samples):
        """A mono line of `total_samples` at 44.1 kHz from `notes`: [(start_s, length_s, pitch,
        syllable)]. Each syllable fills 92 % of its note (a short breath between notes)."""
        out = np.zeros(total_samples, dtype=np.float32)
        for start_s, length_s, pitch, syllable in notes:
            start = int(round(start_s * RATE))
            nb_samples = int(round(length_s * 0.92 * RATE))
            if nb_samples < RATE // 40 or start >= total_samples:
                continue
            sung = self.syllable(syllable, pitch, nb_samples)
            end = min(total_samples, start + len(sung))
            out[start:end] += sung[: end - start]
        return out


def trim_silence(audio, threshold_db=-40.0):
    """`audio` without the leading and trailing parts quieter than `threshold_db` re its peak."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak == 0.0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (threshold_db / 20))
    return audio[loud[0]: loud[-1] + 1]


def estimate_f0(audio, rate, expected_hz):
    """The median fundamental (Hz) over the voiced 30 ms frames of `audio`, searched within
    +-30 % of `expected_hz` (espeak-ng sings near it), or None when nothing is voiced."""
    frame = int(0.03 * rate)
    lo = max(2, int(rate / (expected_hz * 1.3)))
    hi = min(frame - 2, int(rate / (expected_hz / 1.3)) + 1)
    if hi <= lo:
        return None
    peak = float(np.max(np.abs(audio)))
    found = []
    for start in range(0, len(audio) - frame, frame // 2):
        x = audio[start:start + frame].astype(np.float64)
        if np.max(np.abs(x)) < 0.2 * peak:
            continue
        x = x - x.mean()
        ac = np.correlate(x, x, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] < 0.5 * ac[0]:
            continue  # not periodic enough to be voiced
        # Parabolic interpolation around the peak for a sub-sample lag.
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        found.append(rate / (lag + shift))
    return float(np.median(found)) if found else None


def sox_effects(audio, rate, effects):
    """Runs mono float32 `audio` through sox with `effects`; returns float32 at the output rate."""
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format="WAV", subtype="FLOAT")
    cmd = ["sox", "-q", "-t", "wav", "-", "-t", "raw", "-e", "floating-point", "-b", "32",
           "-c", "1", "-"] + effects
    raw = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").copy()
