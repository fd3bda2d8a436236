"""The prompt sanitizer: one rewrite table, whole phrases, case-insensitive, idempotent."""

from __future__ import annotations

import itertools

import pytest

from fluxserve.safety.sanitize import REWRITES, sanitize_prompt


def test_spec_example() -> None:
    assert sanitize_prompt("fingers brushing lips") == "hand near face"


def test_rest_of_the_prompt_is_kept_and_capitals_follow_the_writer() -> None:
    prompt = "A woman, Fingers Brushing Lips, golden hour; BARE SHOULDERS, 85mm"
    assert sanitize_prompt(prompt) == "A woman, Hand near face, golden hour; OFF-SHOULDER TOP, 85mm"


@pytest.mark.parametrize(("source", "target"), REWRITES)
def test_every_table_entry_rewrites_inside_a_sentence(source: str, target: str) -> None:
    assert sanitize_prompt(f"portrait, {source}, soft light") == f"portrait, {target}, soft light"


@pytest.mark.parametrize(
    "variant", ["fingers  brushing\tlips", "fingers-brushing-lips", "FINGERS brushing LIPS"]
)
def test_spacing_hyphens_and_case_do_not_matter(variant: str) -> None:
    assert sanitize_prompt(variant).lower() == "hand near face"


@pytest.mark.parametrize(
    "prompt",
    [
        "close-up shot, shot on 35mm film, photo shoot, headshot, wide shot",
        "a bare backpack on a bench",
        "skin tightness cream advert",
        "unbare shoulders",
        "the shooting range of a stargazer",
        "",
    ],
)
def test_only_whole_phrases_change(prompt: str) -> None:
    assert sanitize_prompt(prompt) == prompt


def test_photographic_head_shot_becomes_headshot() -> None:
    assert sanitize_prompt("studio head shot, shot on film") == "studio headshot, shot on film"


def test_longest_phrase_wins() -> None:
    assert sanitize_prompt("explosion of colors") == "burst of colors"
    assert sanitize_prompt("shooting stars") == "meteors"


def test_table_is_one_place_of_unique_phrases_of_useful_size() -> None:
    sources = [source for source, _ in REWRITES]
    assert len(sources) >= 20
    assert len(sources) == len(set(sources))
    assert ("fingers brushing lips", "hand near face") in REWRITES


def test_no_replacement_holds_a_phrase_of_the_table() -> None:
    for _, target in REWRITES:
        assert sanitize_prompt(target) == target


def test_sanitizing_twice_changes_nothing() -> None:
    sources = [source for source, _ in REWRITES]
    for first, second in itertools.product(sources, repeat=2):
        prompt = f"{first} {second}, {first.upper()}-{second}"
        once = sanitize_prompt(prompt)
        assert sanitize_prompt(once) == once, prompt
