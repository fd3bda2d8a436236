"""Prompt sanitizing: rewrite innocent phrases that content moderation tends to misread.

The hosted generateT2I and schnell batch endpoints promise that "the prompt is automatically
sanitized to avoid content moderation false positives (e.g. "fingers brushing lips" is converted
to "hand near face")". `REWRITES` is the one table of such phrases. Matching is case-insensitive
and whole-phrase (spaces or hyphens between words), the rest of the prompt is kept as written,
and no replacement contains a phrase of the table, so sanitizing twice changes nothing.
Photographic "shot" and "shoot" ("close-up shot", "photo shoot") are left alone.
"""

from __future__ import annotations

import re

REWRITES: tuple[tuple[str, str], ...] = (
    ("fingers brushing lips", "hand near face"),
    ("fingers on lips", "hand near face"),
    ("finger on lips", "hand near face"),
    ("finger to lips", "hand near face"),
    ("bare shoulders", "off-shoulder top"),
    ("bare shoulder", "off-shoulder top"),
    ("bare back", "open-back dress"),
    ("biting lip", "thoughtful expression"),
    ("biting her lip", "thoughtful expression"),
    ("biting his lip", "thoughtful expression"),
    ("lip bite", "thoughtful expression"),
    ("bedroom eyes", "soft gaze"),
    ("come hither look", "inviting smile"),
    ("seductive pose", "confident pose"),
    ("sultry look", "confident gaze"),
    ("sultry gaze", "confident gaze"),
    ("passionate kiss", "romantic kiss"),
    ("skin tight", "form-fitting"),
    ("see through", "translucent"),
    ("wet look", "glossy look"),
    ("nude makeup", "natural makeup"),
    ("nude lipstick", "neutral lipstick"),
    ("nude lips", "neutral lips"),
    ("nude color", "beige color"),
    ("nude colour", "beige colour"),
    ("nude heels", "beige heels"),
    ("nude tones", "neutral tones"),
    ("nude palette", "neutral palette"),
    ("flesh tone", "skin tone"),
    ("flesh tones", "skin tones"),
    ("head shot", "headshot"),
    ("killer smile", "radiant smile"),
    ("dressed to kill", "elegantly dressed"),
    ("drop dead gorgeous", "stunningly beautiful"),
    ("shooting star", "meteor"),
    ("shooting stars", "meteors"),
    ("blood moon", "red moon"),
    ("explosion of color", "burst of color"),
    ("explosion of colors", "burst of colors"),
    ("color explosion", "burst of color"),
    ("gun metal", "dark steel"),
    ("gunmetal", "dark steel"),
)

_SEPARATORS = re.compile(r"[\s-]+")


def _key(phrase: str) -> str:
    return " ".join(_SEPARATORS.split(phrase.strip().casefold()))


def _phrase_pattern(phrase: str) -> str:
    return r"[\s-]+".join(re.escape(word) for word in _key(phrase).split(" "))


_REPLACEMENTS = {_key(source): target for source, target in REWRITES}
# Longest first, so "explosion of colors" wins over "explosion of color".
_PATTERN = re.compile(
    r"(?<!\w)(?:"
    + "|".join(_phrase_pattern(s) for s in sorted(_REPLACEMENTS, key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)


def sanitize_prompt(prompt: str) -> str:
    """Rewrite every known false-positive phrase in `prompt`; everything else is kept."""
    return _PATTERN.sub(_replace, prompt)


def _replace(match: re.Match[str]) -> str:
    found = match.group()
    replacement = _REPLACEMENTS[_key(found)]
    # Keep the writer's emphasis: SHOUTED stays shouted, a capitalised phrase stays capitalised.
    if found.isupper() and len(found) > 1:
        return replacement.upper()
    if found[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement
