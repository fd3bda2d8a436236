"""The first line of content safety: a tiered term check on the prompt, before any pipeline runs.

Pass the prompt exactly as the client sent it. Sexual content involving minors is judged on that
text and always blocks, whatever the policy. The other categories (`fluxserve.safety.terms`) are
judged on the sanitized prompt (`fluxserve.safety.sanitize`), so that phrases the sanitizer
rewrites as known false positives ("nude lipstick") do not block; each blocks from its own
strictness threshold, and only while the policy is enabled.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from fluxserve.safety import terms
from fluxserve.safety.policy import SafetyPolicy
from fluxserve.safety.sanitize import sanitize_prompt

# Digits (and the symbols mapped to letters in `normalize_text`) read as the letter they mimic.
_LEET = {"a": "a4", "b": "b8", "e": "e3", "i": "i1", "o": "o0", "s": "s5", "t": "t7"}
_SYMBOL_LETTERS = {"@": "a", "$": "s", "!": "i"}
# Runs are matched from their start only and never given back: linear on "$$$$...".
_SYMBOLS_BY_LETTERS = re.compile(r"(?<=[a-z0-9])[@$]++|(?<![@$!])[@$!]++(?=[a-z0-9])")
_INSIDE_WORD = r"[^\w\s]*"  # "p.o.r.n", "n-u-d-e"; never whitespace, so words stay apart
_BETWEEN_WORDS = r"[^a-z0-9]*"  # "self harm", "self-harm", "selfharm"


@dataclass(frozen=True, slots=True)
class PromptVerdict:
    """Whether a prompt may run; when not, a client-safe `reason` and the list terms that hit."""

    allowed: bool
    reason: str | None = None
    matched: tuple[str, ...] = ()


class _TermMatcher:
    """Finds which of a fixed list of terms occur in normalised text, in one regex pass."""

    def __init__(self, term_list: Iterable[str], extra_patterns: Iterable[str] = ()) -> None:
        self._terms = tuple(term_list)
        alternatives = [f"(?P<t{i}>{_term_pattern(t)})" for i, t in enumerate(self._terms)]
        alternatives.extend(f"(?P<x{i}>{p})" for i, p in enumerate(extra_patterns))
        self._regex = re.compile("|".join(alternatives))

    def find(self, text: str) -> list[str]:
        """The listed terms found (extra patterns report the text they matched), no repeats."""
        found: dict[str, None] = {}
        for match in self._regex.finditer(text):
            group = match.lastgroup or ""
            if group.startswith("t"):
                found[self._terms[int(group[1:])]] = None
            else:
                found[" ".join(match.group().split())] = None
        return list(found)


def normalize_text(text: str) -> str:
    """Fold the text to what the term patterns expect: no accents or invisible characters,
    case-folded, and symbols standing for letters inside words ("$ex", "@ss") made letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    visible = "".join(
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    folded = visible.casefold().replace("_", ".")
    return _SYMBOLS_BY_LETTERS.sub(
        lambda m: "".join(_SYMBOL_LETTERS[ch] for ch in m.group()), folded
    )


def _word_pattern(word: str) -> str:
    runs = []
    for letter, group in itertools.groupby(word):
        count = len(list(group))
        letters = "[" + re.escape(_LEET.get(letter, letter)) + "]"
        # A stretched letter ("nuuude") matches; a doubled one must stay at least doubled.
        runs.append(letters + ("+" if count == 1 else f"{{{count},}}"))
    return _INSIDE_WORD.join(runs)


def _term_pattern(term: str) -> str:
    words = [w for w in re.split(r"[^a-z0-9]+", term.casefold()) if w]
    body = _BETWEEN_WORDS.join(_word_pattern(w) for w in words)
    return rf"(?<![a-z0-9]){body}(?:e?s)?(?![a-z0-9])"


_MINOR_SEXUAL = _TermMatcher(terms.MINOR_SEXUAL_TERMS)
_MINOR_PRESENT = _TermMatcher(terms.MINOR_TERMS, extra_patterns=(terms.MINOR_AGE_PATTERN,))
_SEXUALISING = _TermMatcher(
    itertools.chain(terms.SEXUAL_EXPLICIT.terms, terms.NUDITY.terms, terms.SEXUALISING_TERMS)
)
_CATEGORY_MATCHERS = tuple((c, _TermMatcher(c.terms)) for c in terms.CATEGORIES)


def check_prompt(prompt: str, policy: SafetyPolicy) -> PromptVerdict:
    """Judge one prompt under a policy. Minors first (always), then the enabled categories."""
    raw = normalize_text(prompt)
    minors = _minor_matches(raw)
    if minors:
        return PromptVerdict(False, _reason(terms.SEXUAL_MINORS_LABEL), tuple(minors))
    if not policy.enabled:
        return PromptVerdict(True)
    cleaned = normalize_text(sanitize_prompt(prompt))
    first_label: str | None = None
    matched: list[str] = []
    for category, matcher in _CATEGORY_MATCHERS:
        if policy.strictness < category.threshold:
            continue
        hits = matcher.find(cleaned)
        if hits and first_label is None:
            first_label = category.label
        matched.extend(hits)
    if first_label is None:
        return PromptVerdict(True)
    return PromptVerdict(False, _reason(first_label), tuple(matched))


def _minor_matches(text: str) -> list[str]:
    direct = _MINOR_SEXUAL.find(text)
    if direct:
        return direct
    present = _MINOR_PRESENT.find(text)
    if not present:
        return []
    sexual = _SEXUALISING.find(text)
    return present + sexual if sexual else []


def _reason(label: str) -> str:
    return f"Prompt rejected by the content safety filter: {label}"
