"""The tiered prompt check: categories, thresholds, the always-on minors rule, normalisation."""

from __future__ import annotations

import time

import pytest

from fluxserve.safety import terms
from fluxserve.safety.policy import SafetyPolicy
from fluxserve.safety.prompt_check import check_prompt, normalize_text

STRICTEST = SafetyPolicy(enabled=True, strictness=1.0)
MOST_PERMISSIVE = SafetyPolicy(enabled=True, strictness=0.0)
DISABLED = SafetyPolicy(enabled=False, strictness=0.0)


@pytest.mark.parametrize(
    "prompt",
    [
        "A cozy cabin in a snowy forest at golden hour, shot on 35mm film",
        "Editorial photo shoot, close-up shot of a model in a red coat",
        "Gorgeous sunset over the Essex countryside",
        "A kid flying a kite on the beach, 12 year old boy laughing",
        "A child holding a cobra at the zoo",
        "Harbour of Pornic, Brittany, watercolor",
        "Therapist office with a classic analysis couch",
        "Portrait with nude lipstick and bare shoulders",
        "It's my ex-boyfriend's birthday cake",
        "Fantasy warrior raising a sword, epic battle scene",
    ],
)
def test_everyday_prompts_pass_even_at_the_strictest_level(prompt: str) -> None:
    verdict = check_prompt(prompt, STRICTEST)
    assert verdict.allowed, verdict
    assert verdict.reason is None
    assert verdict.matched == ()


@pytest.mark.parametrize(
    ("prompt", "label", "term"),
    [
        ("a porn scene", "explicit sexual content", "porn"),
        ("heil hitler banner", "hateful content", "heil hitler"),
        ("person thinking about suicide", "self-harm", "suicide"),
        ("decapitated soldier in a trench", "graphic violence or gore", "decapitated"),
        ("nude woman on a sofa", "nudity", "nude"),
    ],
)
def test_each_category_blocks_at_the_strictest_level(prompt: str, label: str, term: str) -> None:
    verdict = check_prompt(prompt, STRICTEST)
    assert not verdict.allowed
    assert verdict.reason is not None and verdict.reason.endswith(label)
    assert verdict.matched == (term,)


@pytest.mark.parametrize("category", terms.CATEGORIES, ids=lambda c: c.name)
def test_category_thresholds_are_where_blocking_starts(category: terms.Category) -> None:
    prompt = f"a picture of {category.terms[0]}"
    at_threshold = SafetyPolicy(enabled=True, strictness=category.threshold)
    assert not check_prompt(prompt, at_threshold).allowed
    if category.threshold > 0:
        below = SafetyPolicy(enabled=True, strictness=category.threshold - 0.01)
        assert check_prompt(prompt, below).allowed


def test_every_listed_term_blocks_its_category_at_full_strictness() -> None:
    for category in terms.CATEGORIES:
        for term in category.terms:
            verdict = check_prompt(f"an image of {term}, high detail", STRICTEST)
            assert not verdict.allowed, term
            assert term in verdict.matched, (term, verdict.matched)


def test_tiers_at_the_moderate_level() -> None:
    moderate = SafetyPolicy(enabled=True, strictness=0.5)
    assert check_prompt("nude figure study", moderate).allowed
    assert not check_prompt("a gory battlefield", moderate).allowed
    assert check_prompt("a gory battlefield", MOST_PERMISSIVE).allowed
    assert not check_prompt("hardcore porn", MOST_PERMISSIVE).allowed


def test_disabled_policy_lets_adult_categories_through() -> None:
    for prompt in ("hardcore porn", "severed head", "nude", "the kkk"):
        assert check_prompt(prompt, DISABLED).allowed, prompt


def test_most_severe_category_names_the_verdict_and_all_hits_are_listed() -> None:
    verdict = check_prompt("gore and porn", STRICTEST)
    assert verdict.reason is not None and verdict.reason.endswith("explicit sexual content")
    assert verdict.matched == ("porn", "gore")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("jailbait photo", ("jailbait",)),
        ("loli character art", ("loli",)),
        ("a kid in lingerie", ("kid", "lingerie")),
        ("14yo, nude", ("14yo", "nude")),
        ("fifteen-year-old girl, sexy pose", ("fifteen-year-old", "sexy")),
        ("16 years old, bikini", ("16 years old", "bikini")),
        ("teenagers having sex", ("teenager", "having sex")),
        ("schoolgirl, seductive pose", ("schoolgirl", "seductive")),
    ],
)
def test_sexual_content_with_minors_is_blocked_whatever_the_policy(
    prompt: str, expected: tuple[str, ...]
) -> None:
    for policy in (DISABLED, MOST_PERMISSIVE, STRICTEST):
        verdict = check_prompt(prompt, policy)
        assert not verdict.allowed
        assert verdict.reason is not None and verdict.reason.endswith(terms.SEXUAL_MINORS_LABEL)
        assert verdict.matched == expected


def test_the_sanitizer_cannot_launder_a_minors_prompt() -> None:
    # "seductive pose" is a rewrite-table phrase; the minors rule reads the original text.
    assert not check_prompt("child, seductive pose", DISABLED).allowed


def test_minors_alone_and_adults_with_adult_terms_are_not_the_minors_rule() -> None:
    assert check_prompt("a toddler building a sandcastle", DISABLED).allowed
    assert check_prompt("18 year old woman in lingerie", DISABLED).allowed
    verdict = check_prompt("18 year old woman, nude", STRICTEST)
    assert verdict.reason is not None and verdict.reason.endswith("nudity")


@pytest.mark.parametrize(
    "prompt",
    [
        "PORN",
        "p0rn",
        "pr0n p0rn0",
        "p.o.r.n",
        "p-o-r-n-o",
        "p_o_r_n",
        "pooorrrnnn",
        "p\u200bo\u200brn",
        "ｐｏｒｎ",
        "$ex scene",
        "5ex scene",
        "s.e.x. scene",
        "sex-scene",
        "sexscene",
        "p0rnos",
    ],
)
def test_obfuscations_are_seen_through(prompt: str) -> None:
    verdict = check_prompt(prompt, MOST_PERMISSIVE)
    assert not verdict.allowed, prompt


@pytest.mark.parametrize(
    "prompt",
    ["Décapitated knight", "DECAPITATED", "d3c4pit4ted", "deeecapitated", "d.e.c.a.p.i.t.a.t.e.d"],
)
def test_normalisation_on_a_violence_term(prompt: str) -> None:
    assert check_prompt(prompt, STRICTEST).matched == ("decapitated",)


def test_spaces_inside_a_word_are_not_joined() -> None:
    # "it's ex" must not read as "sex", nor "xx" as "xxx".
    assert check_prompt("it's ex-rated? no: xx large", STRICTEST).allowed


def test_doubled_letters_stay_doubled() -> None:
    assert check_prompt("kkk", STRICTEST).matched == ("kkk",)
    assert check_prompt("kk", STRICTEST).allowed


def test_normalize_text_folds_case_accents_and_symbol_letters() -> None:
    assert normalize_text("CAFÉ $ex @ss wow!") == "cafe sex ass wow!"
    assert normalize_text("a\u200bb") == "ab"


def test_term_lists_hold_no_duplicates_or_spelled_out_plurals() -> None:
    every = [t for c in terms.CATEGORIES for t in c.terms]
    every += [*terms.MINOR_SEXUAL_TERMS, *terms.MINOR_TERMS, *terms.SEXUALISING_TERMS]
    assert len(every) == len(set(every))
    plurals = [t for t in every if t.endswith("s") and (t[:-1] in every or t[:-2] in every)]
    assert plurals == []
    assert all(t == t.strip().lower() for t in every)


@pytest.mark.parametrize(
    "prompt",
    ["$" * 20_000, "1" + " " * 20_000 + "x", "twelve" + " " * 20_000 + "x", "p." * 10_000],
)
def test_hostile_long_prompts_are_checked_in_linear_time(prompt: str) -> None:
    started = time.perf_counter()
    assert check_prompt(prompt, STRICTEST).allowed
    # Quadratic backtracking took seconds on these; linear takes a fraction of one.
    assert time.perf_counter() - started < 2.0
