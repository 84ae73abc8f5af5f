"""Singing that is sung (corpus v3): speech turned into a sung line with the WORLD vocoder.

A phrase (notes sung legato, one syllable per note or a melisma) is spoken by a speech
synthesiser, analysed with WORLD (pyworld: DIO + StoneMask F0, CheapTrick spectral envelope,
D4C aperiodicity, 5 ms frames) and synthesised again at 44.1 kHz with:

- timing: each syllable's vowel starts on its note; the consonants keep their spoken length
  and come before the note's onset (or are shortened when the notes are fast); the vowel is
  lengthened or shortened in the envelope domain (frames interpolated, no overlap-add, so no
  WSOLA phasing), its transitions to and from the consonants kept at spoken speed;
- pitch: the melody's F0, not the speech's: note steps through a second-order system
  (portamento that starts a little before the note, with overshoot), vibrato fading in after
  a delay with a per-singer rate and depth (jittered per note), fine fluctuation and slow
  drift, a scoop into each phrase;
- timbre, drawn per singer so that one source voice gives many singers: a formant warp (the
  envelope's frequency axis scaled by 0.8..1.2), breathiness (aperiodicity raised), louder and
  brighter on higher notes; the envelope is extended above the speech's band (flite speaks at
  16 kHz, espeak-ng at 22.05 kHz) with a falling slope and mostly aperiodic, so that the voice
  reaches the top of the spectrum.

Where the syllables come from: flite prints each segment's end time (`-psdur`), so a phrase
is one flite utterance, and its vowels are found by name and shared out over the syllables;
when the vowels cannot be matched to the syllables, and always for espeak-ng (which gives no
timing), each syllable is spoken on its own and the syllables are joined in the envelope
domain, the vowel found by voicing and energy.

Every draw comes from a `random.Random` passed in; WORLD reseeds its noise on every call, so
the same inputs give the same samples.
"""

import math
import os
import re
import subprocess

import numpy as np
import pyworld
import scipy.signal
import soundfile as sf

import sing

RATE = 44100
FRAME_MS = 5.0
FRAME_S = FRAME_MS / 1000.0
FFT_OUT = pyworld.get_cheaptrick_fft_size(RATE, 71.0)  # 2048 at 44.1 kHz
OUT_HZ = np.arange(FFT_OUT // 2 + 1) * RATE / FFT_OUT
PHRASE_GAP_S = 0.3  # a rest this long ends a phrase (the singer breathes)
MAX_UNITS = 12  # syllables in one utterance at most
CMU_VOWELS = {"aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "el", "em", "en", "er",
              "ey", "ih", "ix", "iy", "ow", "oy", "uh", "uw"}
VOWEL_LETTERS = "aeiouyäöüéèàòóíú"
_ANALYSIS_CACHE = {}  # (engine, voice, language, hz, texts) -> Speech, per process
_CACHE_LIMIT = 64


# ---------------------------------------------------------------------------------------------
# The singer


def draw_singer(rng, voice_gender, range_gender):
    """A singer made from one speech voice (a dict for the manifest). A voice singing in the
    other gender's range gets its formants warped that way."""
    if range_gender == voice_gender:
        warp = rng.uniform(0.88, 1.12)
    elif range_gender == "female":
        warp = rng.uniform(1.08, 1.2)
    else:
        warp = rng.uniform(0.8, 0.92)
    return {
        "formant_warp": round(warp, 3),
        "breath_db": round(rng.choice([0.0, rng.uniform(2, 6), rng.uniform(5, 12)]), 1),
        "vibrato_cents": round(rng.choice([0.0, rng.uniform(20, 50), rng.uniform(40, 100)]), 1),
        "vibrato_hz": round(rng.uniform(4.6, 6.8), 2),
        "vibrato_onset_s": round(rng.uniform(0.12, 0.45), 3),
        "portamento_s": round(rng.uniform(0.04, 0.16), 3),
        "damping": round(rng.uniform(0.45, 0.9), 3),
        "scoop_cents": round(rng.choice([0.0, rng.uniform(40, 200)]), 1),
        "fluctuation_cents": round(rng.uniform(3, 12), 1),
        "drift_cents": round(rng.uniform(3, 18), 1),
        "legato": round(rng.uniform(0.85, 0.98), 3),
        "dynamics_db_per_semitone": round(rng.uniform(0.1, 0.4), 3),
        "brightness": round(rng.uniform(0.0, 1.0), 3),
    }


# ---------------------------------------------------------------------------------------------
# Notes into phrases


def is_melisma(previous, syllable, gap_s):
    """A note whose syllable is only the previous syllable's last vowel, sung right after it,
    goes on singing that vowel (pieces.sung_notes writes melismas that way)."""
    return (previous is not None and gap_s < 0.05 and re.fullmatch(f"[{sing.VOWELS}]+", syllable)
            is not None and syllable == sing.last_vowel(previous))


def phrases_of(notes):
    """[[group]], group = (syllable, [(start_s, length_s, pitch)]): the notes (sorted by
    start, overlaps cut) as syllables (a melisma's notes in one group), split into phrases at
    rests of PHRASE_GAP_S or more and every MAX_UNITS syllables."""
    phrases, groups = [], []
    previous, end = None, None
    for start, length, pitch, syllable in sorted(notes):
        if end is not None and start < end:
            continue  # a second voice of a chord in the melody: the singer sings one
        syllable = syllable or "a"
        gap = start - end if end is not None else math.inf
        if groups and (gap >= PHRASE_GAP_S or len(groups) >= MAX_UNITS
                       and not is_melisma(previous, syllable, gap)):
            phrases.append(groups)
            groups, previous = [], None
        if groups and is_melisma(previous, syllable, gap):
            groups[-1][1].append((start, length, pitch))
        else:
            groups.append((syllable, [(start, length, pitch)]))
            previous = syllable
        end = start + length
    if groups:
        phrases.append(groups)
    return phrases


# ---------------------------------------------------------------------------------------------
# Speech: an utterance, its WORLD analysis and its syllables


class Speech:
    """A spoken phrase analysed by WORLD: `f0`, `sp` (power), `ap` per 5 ms frame at `rate`,
    and `units`: one (start, vowel_start, vowel_end, end) frame tuple per syllable."""

    def __init__(self, f0, sp, ap, rate, units):
        self.f0, self.sp, self.ap, self.rate, self.units = f0, sp, ap, rate, units
        self.log_sp = np.log(np.maximum(sp, 1e-16))
        self.voiced = close_gaps(f0 > 0, 4)
        for _, v0, v1, _ in units:  # a vowel is voiced, whatever DIO said of a frame
            self.voiced[v0:v1] = True


def close_gaps(mask, frames):
    """`mask` with runs of False shorter than `frames` between two True filled."""
    out = mask.copy()
    idx = np.flatnonzero(mask)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= frames:
            out[a:b] = True
    return out


def analyse(audio, rate):
    """WORLD features of mono `audio`: f0 (DIO + StoneMask), sp, ap at 5 ms frames."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, t = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=700.0, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, t, rate)
    sp = pyworld.cheaptrick(x, f0, t, rate)
    ap = pyworld.d4c(x, f0, t, rate)
    return f0, sp, ap


def flite_segments(voice, text, hz, path):
    """flite speaks `text` near `hz` into `path`; returns [(phone, start_s, end_s)]."""
    cmd = ["flite", "-voice", voice, "--setf", f"int_f0_target_mean={hz}",
           "--setf", "int_f0_target_stddev=0", "-psdur", "-t", text, "-o", path]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(f"flite failed on {text!r} with voice {voice}: "
                           f"{result.stderr.strip()[-300:]}")
    out, start = [], 0.0
    for item in result.stdout.split():
        phone, _, end = item.rpartition(":")
        try:
            end = float(end)
        except ValueError:
            continue
        out.append((phone, start, end))
        start = end
    return out


def vowel_groups(word):
    return max(1, len(re.findall(f"[{VOWEL_LETTERS}]+", word)))


def share_vowels(words, nb_vowels):
    """How many of the utterance's vowels each word gets: its vowel-letter groups, evened out
    to `nb_vowels` (each word at least one). None when there are fewer vowels than words."""
    if nb_vowels < len(words):
        return None
    counts = [vowel_groups(w) for w in words]
    while sum(counts) > nb_vowels:
        counts[max(range(len(counts)), key=lambda i: (counts[i], i))] -= 1
    # Extra vowels go first to words with a vowel pair ("lui", "lei": a diphthong or two
    # vowels in English letter-to-sound), then to the longest words.
    pairs = [len(re.findall(f"[{VOWEL_LETTERS}]{{2,}}", w)) for w in words]
    while sum(counts) < nb_vowels:
        i = max(range(len(counts)), key=lambda i: (pairs[i], len(words[i]), -i))
        counts[i] += 1
        pairs[i] = max(0, pairs[i] - 1)
    return counts


def leading_consonants(word):
    m = re.match(f"[^{VOWEL_LETTERS}]*", word)
    return len(m.group(0))


def flite_units(segments, words):
    """Syllables of a flite utterance as (start, vowel_start, vowel_end, end) in seconds, or
    None when its vowels cannot be shared out over `words`. The vowel of a syllable is its
    longest vowel segment; the consonants between two vowels go to the next syllable as many
    as its spelling starts with (none when the previous word ends in a vowel)."""
    speech = [(p, s, e) for p, s, e in segments if p != "pau"]
    vowels = [i for i, (p, _, _) in enumerate(speech) if p in CMU_VOWELS]
    counts = share_vowels(words, len(vowels))
    if not speech or counts is None:
        return None
    spans, k = [], 0  # (first vowel index, last vowel index) of each word in `speech`
    for c in counts:
        spans.append((vowels[k], vowels[k + c - 1]))
        k += c
    units = []
    for w, (first, last) in enumerate(spans):
        if w == 0:
            begin = 0
        else:
            prev_last = spans[w - 1][1]
            between = first - prev_last - 1
            if words[w - 1][-1:] in VOWEL_LETTERS:
                onset = between
            elif leading_consonants(words[w]) == 0:
                onset = 0
            else:
                onset = min(leading_consonants(words[w]), max(between - 1, 0)) if between > 1 \
                    else between
            begin = first - onset
        end = spans[w + 1][0] if w + 1 < len(spans) else len(speech)
        units.append([begin, first, last, end])
    for w in range(len(units) - 1):  # the next word's onset starts where this word's coda ends
        units[w][3] = units[w + 1][0]
    out = []
    for begin, first, last, end in units:
        vowel = max(range(first, last + 1), key=lambda i: (
            speech[i][2] - speech[i][1] if speech[i][0] in CMU_VOWELS else -1.0, -i))
        out.append((speech[begin][1], speech[vowel][1], speech[vowel][2], speech[end - 1][2]))
    return out


def syllable_vowel(voiced, energy):
    """(start, end) frames of the vowel of one spoken syllable: the longest voiced run within
    12 dB of the syllable's loudest frame (its middle half when nothing is voiced)."""
    n = len(energy)
    loud = voiced & (energy >= energy.max() - 12.0 * math.log(10) / 10)
    best, run_start = (n // 4, max(n // 4 + 1, 3 * n // 4)), None
    best_len = 0
    for i in range(n + 1):
        if i < n and loud[i]:
            run_start = i if run_start is None else run_start
        elif run_start is not None:
            if i - run_start > best_len:
                best, best_len = (run_start, i), i - run_start
            run_start = None
    return best


def band_energy(sp, rate):
    """Natural log of the envelope's power between 300 Hz and 3.4 kHz, per frame."""
    hz = np.arange(sp.shape[1]) * rate / (2 * (sp.shape[1] - 1))
    band = (hz >= 300) & (hz <= 3400)
    return np.log(np.maximum(sp[:, band].sum(axis=1), 1e-16))


class Voice:
    """One speech voice: flite's `awb`, `rms`, `slt`, `kal16`, or an espeak-ng variant (with a
    language), speaking near `hz` (the singer's range, so that the envelope is estimated from
    harmonics near the sung ones)."""

    def __init__(self, engine, name, language, hz, voice_root, work):
        self.engine, self.name, self.language, self.hz = engine, name, language, int(hz)
        # espeak-ng and flite per syllable go through sing.Singer (variant files, pitch target).
        self.speaker = sing.Singer(voice_root, name, language, engine=engine, work=work)
        self.work = work

    def speech(self, words):
        """The Speech of `words` (one per syllable), cached per process."""
        key = (self.engine, self.name, self.language, self.hz, tuple(words))
        if key not in _ANALYSIS_CACHE:
            if len(_ANALYSIS_CACHE) >= _CACHE_LIMIT:
                _ANALYSIS_CACHE.pop(next(iter(_ANALYSIS_CACHE)))
            found = self._phrase(words) if self.engine == "flite" else None
            _ANALYSIS_CACHE[key] = found or self._syllables(words)
        return _ANALYSIS_CACHE[key]

    def _phrase(self, words):
        """One flite utterance; None when its vowels do not match the syllables."""
        path = os.path.join(self.work, f".saex-{os.getpid()}-phrase.wav")
        try:
            segments = flite_segments(self.name, " ".join(words), self.hz, path)
            audio, rate = sf.read(path, dtype="float64")
        finally:
            if os.path.exists(path):
                os.remove(path)
        units = flite_units(segments, words)
        if units is None:
            return None
        f0, sp, ap = analyse(audio, rate)
        last = len(f0) - 1
        frames = [tuple(min(last, int(round(t / FRAME_S))) for t in u) for u in units]
        frames = [(a, v0, max(v0 + 1, v1), max(v0 + 1, v1, b)) for a, v0, v1, b in frames]
        if any(b > last + 1 for *_, b in frames):
            return None
        return Speech(f0, sp, ap, rate, frames)

    def _syllables(self, words):
        """Each syllable spoken on its own, trimmed, joined with 20 ms of silence between."""
        pieces, rate = [], None
        for word in words:
            audio, rate = self.speaker._speak(word, self.hz, 160)
            audio = sing.trim_silence(np.asarray(audio, dtype=np.float64))
            if len(audio) < rate // 20:
                audio = np.zeros(rate // 20)
            pieces.append(audio)
        gap = np.zeros(int(0.02 * rate))
        joined, bounds, pos = [], [], 0
        for audio in pieces:
            joined += [audio, gap]
            bounds.append((pos, pos + len(audio)))
            pos += len(audio) + len(gap)
        audio = np.concatenate(joined)
        f0, sp, ap = analyse(audio, rate)
        energy = band_energy(sp, rate)
        voiced = f0 > 0
        units, hop = [], rate * FRAME_S
        for a, b in bounds:
            fa = min(len(f0) - 2, int(round(a / hop)))
            fb = max(fa + 2, min(len(f0), int(round(b / hop))))
            v0, v1 = syllable_vowel(voiced[fa:fb], energy[fa:fb])
            units.append((fa, fa + v0, fa + max(v1, v0 + 1), fb))
        return Speech(f0, sp, ap, rate, units)


# ---------------------------------------------------------------------------------------------
# Time: where each output frame reads the speech


def time_map(speech, groups, start_s, end_s):
    """Breakpoints (output seconds from start_s, speech frames) that put each syllable's vowel
    on its first note, the next syllable's onset consonants just before that syllable's note
    and this syllable's coda before them. Consonants keep their spoken length unless together
    they would take more than 60 % of the note (then they are read faster); the vowel fills
    the rest, its middle stretched or squeezed (its first and last 30 % at spoken speed when
    the note is longer than the spoken vowel)."""
    units = speech.units
    onsets = [notes[0][0] - start_s for _, notes in groups]
    times, frames = [], []

    def point(t, f):
        if times and t <= times[-1]:
            t = times[-1] + 1e-6  # np.interp needs increasing times; a jump is a step
        times.append(t)
        frames.append(float(f))

    a, v0 = units[0][:2]
    lead = min((v0 - a) * FRAME_S, onsets[0])  # the onset left when the phrase starts late
    point(onsets[0] - lead, v0 - lead / FRAME_S)
    for k, (a, v0, v1, b) in enumerate(units):
        t_on = onsets[k]
        last = k + 1 == len(units)
        t_next = end_s - start_s if last else onsets[k + 1]
        next_onset = 0.0 if last else (units[k + 1][1] - units[k + 1][0]) * FRAME_S
        consonants = (b - v1) * FRAME_S + next_onset
        squeeze = min(1.0, 0.6 * (t_next - t_on) / consonants) if consonants > 0 else 1.0
        vowel_end = t_next - consonants * squeeze
        natural = (v1 - v0) * FRAME_S
        point(t_on, v0)
        if vowel_end - t_on > natural:
            edge = 0.3 * natural
            point(t_on + edge, v0 + 0.3 * (v1 - v0))
            point(vowel_end - edge, v1 - 0.3 * (v1 - v0))
        point(vowel_end, v1)
        point(vowel_end + (b - v1) * FRAME_S * squeeze, b)
        if not last:
            point(vowel_end + (b - v1) * FRAME_S * squeeze, units[k + 1][0])
    return np.array(times), np.array(frames)


# ---------------------------------------------------------------------------------------------
# Pitch: the melody's F0 contour


def second_order(step, seconds, damping):
    """`step` (per frame) through a second-order system whose 10-90 % rise takes about
    `seconds`: a glide into each note that overshoots when `damping` < 1."""
    omega = 1.8 / seconds
    b, a = scipy.signal.bilinear([omega * omega], [1.0, 2 * damping * omega, omega * omega],
                                 fs=1.0 / FRAME_S)
    zi = scipy.signal.lfilter_zi(b, a) * step[0]
    return scipy.signal.lfilter(b, a, step, zi=zi)[0]


def smooth_noise(gen, n, cutoff_hz, std):
    """Low-passed Gaussian noise of `std` (per frame, `n` frames)."""
    if n == 0 or std == 0:
        return np.zeros(n)
    b, a = scipy.signal.butter(2, min(0.99, cutoff_hz * 2 * FRAME_S))
    noise = scipy.signal.lfilter(b, a, gen.standard_normal(n + 200))[200:]
    return noise * std / (np.std(noise) + 1e-12)


def f0_contour(groups, start_s, nb_frames, singer, rng):
    """F0 in Hz per output frame (from start_s) for the notes of `groups`."""
    gen = np.random.default_rng(rng.randrange(1 << 63))
    t = start_s + np.arange(nb_frames) * FRAME_S
    notes = [n for _, group in groups for n in group]
    lead = 0.35 * singer["portamento_s"]  # the glide starts a little before the note
    cents = np.full(nb_frames, 100.0 * notes[0][2])
    for start, _, pitch in notes[1:]:
        cents[t >= start - lead] = 100.0 * pitch
    cents = second_order(cents, singer["portamento_s"], singer["damping"])
    if singer["scoop_cents"] > 0:
        cents -= singer["scoop_cents"] * np.exp(-np.maximum(t - notes[0][0], 0.0) / 0.06)
    if singer["vibrato_cents"] > 0:
        for start, length, _ in notes:
            inside = (t >= start) & (t < start + length + 0.1)
            tn = t[inside] - start
            onset = singer["vibrato_onset_s"] * rng.uniform(0.8, 1.25)
            ramp = np.clip((tn - onset) / rng.uniform(0.15, 0.35), 0.0, 1.0)
            rate = singer["vibrato_hz"] * rng.uniform(0.92, 1.08)
            depth = singer["vibrato_cents"] * rng.uniform(0.8, 1.2)
            cents[inside] += depth * ramp * np.sin(2 * math.pi * rate * tn)
    cents += smooth_noise(gen, nb_frames, 8.0, singer["fluctuation_cents"])
    cents += smooth_noise(gen, nb_frames, 0.5, singer["drift_cents"])
    return 440.0 * 2.0 ** ((cents / 100.0 - 69.0) / 12.0)


# ---------------------------------------------------------------------------------------------
# Timbre: the envelope on the 44.1 kHz grid


def warp_grid(rate, fft_size, warp):
    """For each output bin: the speech bin it reads (fractional, at most the speech band's
    edge) and the dB added above that edge (-12 dB per octave)."""
    edge_hz = 0.85 * rate / 2
    source_hz = OUT_HZ / warp
    position = np.minimum(source_hz, edge_hz) * fft_size / rate
    above = np.maximum(source_hz / edge_hz, 1.0)
    return position, -12.0 * np.log2(above), source_hz > edge_hz


def read_frames(matrix, frames):
    """Rows of `matrix` at fractional `frames` (linear interpolation)."""
    i0 = np.clip(np.floor(frames).astype(int), 0, len(matrix) - 1)
    i1 = np.minimum(i0 + 1, len(matrix) - 1)
    w = (frames - i0)[:, None]
    return matrix[i0] * (1 - w) + matrix[i1] * w


def read_bins(matrix, position):
    """Columns of `matrix` at fractional bin `position`."""
    i0 = np.clip(np.floor(position).astype(int), 0, matrix.shape[1] - 1)
    i1 = np.minimum(i0 + 1, matrix.shape[1] - 1)
    w = position - i0
    return matrix[:, i0] * (1 - w) + matrix[:, i1] * w


def envelope(speech, src_frames, singer, gain_db):
    """(sp, ap) at 44.1 kHz for the output frames reading `src_frames` of the speech: warped,
    extended above the speech's band, breathier, with `gain_db` per frame (louder frames
    brighter)."""
    fft_size = 2 * (speech.sp.shape[1] - 1)
    position, extra_db, above = warp_grid(speech.rate, fft_size, singer["formant_warp"])
    log_sp = read_bins(read_frames(speech.log_sp, src_frames), position)
    ap = read_bins(read_frames(speech.ap, src_frames), position)
    octaves_over_1k = np.log2(np.maximum(OUT_HZ, 1000.0) / 1000.0)
    tilt_db = (singer["brightness"] * 0.5 * gain_db)[:, None] * octaves_over_1k[None, :]
    db = extra_db[None, :] + gain_db[:, None] + tilt_db
    sp = np.exp(log_sp + db * (math.log(10) / 10))
    # Above the speech's band: mostly noise, as breath and the highest harmonics are.
    ap[:, above] = np.maximum(ap[:, above], 0.8)
    # Breathiness: more aperiodic energy from about 1 kHz up, by the singer's breath_db.
    weight = np.clip((OUT_HZ - 500.0) / 1500.0, 0.0, 1.0)
    ap = np.clip(ap * 10 ** (singer["breath_db"] * weight / 20)[None, :], 0.001, 0.999)
    return np.ascontiguousarray(sp), np.ascontiguousarray(ap)


def note_gain_db(groups, start_s, nb_frames, singer, centre, rng):
    """Per-frame level (dB): higher notes louder, each note drawn +-1.5 dB, smoothed."""
    t = start_s + np.arange(nb_frames) * FRAME_S
    gain = np.zeros(nb_frames)
    for _, notes in groups:
        for start, _, pitch in notes:
            level = singer["dynamics_db_per_semitone"] * (pitch - centre)
            gain[t >= start] = float(np.clip(level, -6, 6)) + rng.uniform(-1.5, 1.5)
    b, a = scipy.signal.butter(1, 2 * 6.0 * FRAME_S)
    return scipy.signal.filtfilt(b, a, gain) if nb_frames > 9 else gain


# ---------------------------------------------------------------------------------------------
# A phrase and a line


def sing_phrase(voice, groups, singer, not_before, centre, rng):
    """(first sample, mono float32 at 44.1 kHz) of one phrase starting at sample `not_before`
    or later, or None. Note times are taken to whole samples first and everything is computed
    from the phrase's first sample, so that notes moved by N samples give the same samples N
    later."""
    words = [sing.syllable_of(syllable) or "a" for syllable, _ in groups]
    speech = voice.speech(words)
    a, v0 = speech.units[0][:2]
    onset = int(round(groups[0][1][0][0] * RATE))
    first_sample = max(not_before, onset - int(round((v0 - a) * FRAME_S * RATE)), 0)
    rel = [(syllable, [((int(round(s * RATE)) - first_sample) / RATE,
                        int(round(l * RATE)) / RATE, p) for s, l, p in notes])
           for syllable, notes in groups]
    last_start, last_length, _ = rel[-1][1][-1]
    nb_samples = int(round((last_start + last_length * singer["legato"]) * RATE))
    if nb_samples < RATE // 40:
        return None
    end_s = nb_samples / RATE
    nb_frames = int(math.ceil(nb_samples / (RATE * FRAME_S))) + 1
    times, frames = time_map(speech, rel, 0.0, end_s)
    src = np.interp(np.arange(nb_frames) * FRAME_S, times, frames)
    voiced = speech.voiced[np.clip(np.round(src).astype(int), 0, len(speech.voiced) - 1)]
    f0 = f0_contour(rel, 0.0, nb_frames, singer, rng) * voiced
    gain = note_gain_db(rel, 0.0, nb_frames, singer, centre, rng)
    sp, ap = envelope(speech, src, singer, gain)
    audio = pyworld.synthesize(np.ascontiguousarray(f0), sp, ap, RATE, FRAME_MS)
    audio = np.concatenate([audio, np.zeros(max(0, nb_samples - len(audio)))])[:nb_samples]
    audio = audio.astype(np.float32)
    fade_in, fade_out = min(nb_samples, RATE // 200), min(nb_samples, RATE // 40)
    audio[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    audio[nb_samples - fade_out:] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
    return first_sample, audio


def sing_line(voice, notes, total_samples, singer, rng):
    """A mono float32 line of `total_samples` at 44.1 kHz from `notes` [(start_s, length_s,
    pitch, syllable)]: phrase by phrase, each about -20 dBFS RMS, peaks under -1 dBFS."""
    out = np.zeros(total_samples, dtype=np.float32)
    if not notes:
        return out
    centre = float(np.median([p for _, _, p, _ in notes]))
    not_before = 0
    for groups in phrases_of(notes):
        if groups[0][1][0][0] * RATE >= total_samples:
            break
        sung = sing_phrase(voice, groups, singer, not_before, centre, rng)
        if sung is None:
            continue
        start, audio = sung
        level = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
        if not np.all(np.isfinite(audio)) or level < 1e-6:
            continue  # nothing sung (should not happen; never write NaN into a corpus)
        audio *= np.float32(0.1 / level)
        peak = float(np.max(np.abs(audio)))
        if peak > 0.89:
            audio *= np.float32(0.89 / peak)
        end = min(total_samples, start + len(audio))
        out[start:end] += audio[: end - start]
        not_before = start + len(audio)
    return out
