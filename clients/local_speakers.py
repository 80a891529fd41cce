"""Who spoke when, for a provider that gives no speakers (local Whisper): a small, local method.

Two methods, chosen by the recording:

- **By channel.** A recording with two distinct channels (a call recorder's usual layout: each
  party on its own channel) gives each span to the channel that is loudest over it. Exact when
  each person has their own channel; wrong for a stereo room microphone, where both channels
  hear everyone alike, which is why channels that are (nearly) the same fall through to:
- **By voice.** Each span gets a voice print, the means of its MFCCs (1-12) and its median
  pitch over its voiced frames, computed with numpy from the decoded samples. Spans of at
  least ``MIN_PRINT_SECONDS`` are clustered bottom-up (average linkage) until the two closest
  clusters are further apart than ``SAME_SPEAKER_DISTANCE`` or ``max_speakers`` remain;
  shorter spans (too few frames to trust) join the nearest cluster. Deterministic: no random
  initialisation, ties broken by position.

Limits of the voice method, stated plainly: it tells apart voices that differ in pitch or
timbre (a low and a high voice, as in the tests' fixture), not two similar voices; a span in
which two people speak gets one speaker; overlapping speech, music and strong noise shift the
prints; the distance threshold was set on synthetic (espeak-ng) voices and clean audio. Real
diarization (pyannote, Google's) does better; this is what runs offline with no extra model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RATE = 16_000
FRAME = 512  # 32 ms: long enough for a 70 Hz pitch period
HOP = 160  # 10 ms
MEL_BANDS = 26
CEPSTRA = 12  # c1..c12; c0 is loudness, which says more about the microphone than the voice
PITCH_RANGE_HZ = (70.0, 400.0)
# A frame is voiced when its energy is within this many dB of the span's loudest frame.
VOICED_WITHIN_DB = 30.0
MIN_PRINT_SECONDS = 1.0
# Euclidean, in the print's units (orthonormal MFCCs of natural-log mel energies; pitch in octaves
# times PITCH_WEIGHT). Measured on the two-voice fixture: sentences of one voice lie 2.1-4.2 apart,
# of the two voices (about an octave apart in pitch) 9.3-12.2; the threshold sits between.
SAME_SPEAKER_DISTANCE = 6.5
PITCH_WEIGHT = 4.0
# Two channels this correlated carry the same sound (a mono source or a room microphone).
SAME_CHANNEL_CORRELATION = 0.95

Span = tuple[float, float]


def speakers_by_channel(channels: Sequence[np.ndarray], spans: Sequence[Span]) -> list[int] | None:
    """The loudest channel over each span, or ``None`` when the channels carry the same sound."""
    if len(channels) < 2 or _same_sound(channels[0], channels[1]):
        return None
    labels = []
    for start, end in spans:
        window = slice(int(start * RATE), max(int(end * RATE), int(start * RATE) + 1))
        energies = [float(np.mean(np.square(channel[window]))) for channel in channels]
        labels.append(int(np.argmax(energies)))
    return labels


def speakers_by_voice(samples: np.ndarray, spans: Sequence[Span], max_speakers: int) -> list[int]:
    """A cluster index per span (see the module's docstring for the method and its limits)."""
    prints = [voice_print(samples, span) for span in spans]
    trusted = [
        i
        for i, (start, end) in enumerate(spans)
        if end - start >= MIN_PRINT_SECONDS and prints[i] is not None
    ]
    if not trusted:
        return [0] * len(spans)
    clusters = _agglomerate([prints[i] for i in trusted], max_speakers)
    labels = [0] * len(spans)
    for cluster_index, members in enumerate(clusters):
        for member in members:
            labels[trusted[member]] = cluster_index
    centroids = [np.mean([prints[trusted[m]] for m in members], axis=0) for members in clusters]
    for i in set(range(len(spans))) - set(trusted):
        vector = prints[i]
        if vector is not None:
            labels[i] = int(np.argmin([np.linalg.norm(vector - centroid) for centroid in centroids]))
    return labels


def voice_print(samples: np.ndarray, span: Span) -> np.ndarray | None:
    """MFCC 1-12 means and scaled median log2 pitch over the span's voiced frames."""
    segment = samples[int(span[0] * RATE) : int(span[1] * RATE)]
    if len(segment) < FRAME:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(segment, FRAME)[::HOP] * np.hamming(FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy_db = 10 * np.log10(power.sum(axis=1) + 1e-12)
    voiced = energy_db >= energy_db.max() - VOICED_WITHIN_DB
    if not voiced.any():
        return None
    mel = np.log(power[voiced] @ _mel_filterbank().T + 1e-10)
    cepstra = mel @ _dct_matrix().T
    pitch = _pitch_hz(frames[voiced])
    pitch = pitch[pitch > 0]
    octaves = float(np.log2(np.median(pitch))) if len(pitch) else 0.0
    return np.concatenate([cepstra.mean(axis=0), [octaves * PITCH_WEIGHT]])


def _same_sound(left: np.ndarray, right: np.ndarray) -> bool:
    if not left.any() or not right.any():
        return False
    return float(np.corrcoef(left, right)[0, 1]) >= SAME_CHANNEL_CORRELATION


def _agglomerate(prints: list[np.ndarray], max_speakers: int) -> list[list[int]]:
    """Average-linkage clustering, cluster distances updated in place (Lance-Williams), so an
    hour's thousand spans take about a second rather than the naive cubic rescan's minutes."""
    vectors = np.array(prints)
    distance = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    np.fill_diagonal(distance, np.inf)
    clusters: dict[int, list[int]] = {i: [i] for i in range(len(prints))}
    while len(clusters) > 1:
        # argmin scans row by row, so of equal distances the earliest pair merges: deterministic.
        a, b = sorted(np.unravel_index(int(np.argmin(distance)), distance.shape))
        if distance[a, b] > SAME_SPEAKER_DISTANCE and len(clusters) <= max_speakers:
            break
        size_a, size_b = len(clusters[a]), len(clusters[b])
        distance[a] = (size_a * distance[a] + size_b * distance[b]) / (size_a + size_b)
        distance[:, a] = distance[a]
        distance[a, a] = np.inf
        distance[b] = distance[:, b] = np.inf
        clusters[a] = sorted(clusters[a] + clusters.pop(b))
    return sorted(clusters.values(), key=lambda members: members[0])


def _pitch_hz(frames: np.ndarray) -> np.ndarray:
    """Per frame, the autocorrelation peak in the pitch range as Hz (0 where it is weak: unvoiced)."""
    spectrum = np.fft.rfft(frames, n=2 * FRAME, axis=1)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :FRAME]
    low, high = int(RATE / PITCH_RANGE_HZ[1]), int(RATE / PITCH_RANGE_HZ[0])
    lags = autocorrelation[:, low:high]
    peak = lags.argmax(axis=1)
    strength = lags.max(axis=1) / (autocorrelation[:, 0] + 1e-12)
    return np.where(strength > 0.3, RATE / (peak + low), 0.0)


def _mel_filterbank() -> np.ndarray:
    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + hz / 700)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700 * (10 ** (m / 2595) - 1)

    edges = hz(np.linspace(mel(np.array(0.0)), mel(np.array(RATE / 2)), MEL_BANDS + 2))
    bins = np.fft.rfftfreq(FRAME, 1 / RATE)
    bank = np.zeros((MEL_BANDS, len(bins)))
    for band in range(MEL_BANDS):
        left, centre, right = edges[band : band + 3]
        rising = (bins - left) / (centre - left)
        falling = (right - bins) / (right - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0, None)
    return bank


def _dct_matrix() -> np.ndarray:
    # Orthonormal DCT-II, so a cepstral distance is on the scale of the log mel energies.
    n = np.arange(MEL_BANDS)
    rows = [np.cos(np.pi * k * (2 * n + 1) / (2 * MEL_BANDS)) for k in range(1, CEPSTRA + 1)]
    return np.sqrt(2 / MEL_BANDS) * np.array(rows)
