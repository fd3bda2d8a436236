"""Byte-level BPE merges learned in plain Python with fixed tie-breaking.

The `tokenizers` trainer breaks ties between equally frequent pairs differently in each process,
so two builds of the same tokenizer would differ. Learning here (most frequent pair first, then
the smallest pair) gives the same vocabulary every time."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from itertools import pairwise

# Prompt-like English; the merges only make tokens shorter, any text would do.
CORPUS = (
    "A photo of a cat sitting on a wooden table next to a window with soft morning light. "
    "A portrait of a woman with red hair in a green dress, studio lighting, high detail. "
    "A futuristic city skyline at night with neon signs and flying cars, cinematic. "
    "An oil painting of mountains and a lake at sunset, in the style of an old master. "
    "A cute dog wearing sunglasses on the beach, bright colors, sharp focus. "
    "Replace the background with a forest and make the sky blue. Change the text to read hello. "
    "Restore this old photograph, remove scratches and noise, and keep the faces natural. "
    "You are an AI that reasons about image descriptions. You give structured responses "
    "focusing on object relationships, object attribution and actions without speculation. "
)

_WORD = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+")


@cache
def byte_alphabet() -> tuple[str, ...]:
    """GPT-2's printable stand-in for each byte 0..255, as the ByteLevel pre-tokenizer uses."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return tuple(chars[b] for b in range(256))


def _words(text: str) -> Counter[tuple[str, ...]]:
    alphabet = byte_alphabet()
    return Counter(
        tuple(alphabet[b] for b in piece.encode("utf-8")) for piece in _WORD.findall(text)
    )


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


@cache
def learn_merges(num_merges: int, text: str = CORPUS) -> tuple[tuple[str, str], ...]:
    """The first `num_merges` merges of `text`, most frequent first, ties to the smallest pair."""
    words = _words(text)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in pairwise(word):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        words = Counter({_merge(w, best): c for w, c in words.items()})
    return tuple(merges)
