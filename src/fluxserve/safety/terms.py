"""The prompt check's term lists, all in one place.

Clinical and deliberately modest: this is the first line; the image checker is the second. Terms
are written plainly in lower case; `fluxserve.safety.prompt_check` matches them whole-word, case-
and accent-insensitively, through leetspeak digits, stretched letters ("nuuude"), punctuation
inside a word ("p.o.r.n"), any separator (or none) between the words of a phrase, and a plural
"s"/"es". Categories run most severe first; the first one that blocks names the verdict.

A category blocks when the policy is enabled and its strictness is at least the category's
`threshold`. Sexual content involving minors is not a threshold category: it is always blocked,
even when the policy is disabled (see `MINOR_*` below).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    """One family of blocked terms and the strictness from which it blocks."""

    name: str
    label: str
    threshold: float
    terms: tuple[str, ...]


SEXUAL_MINORS = "sexual_minors"
SEXUAL_MINORS_LABEL = "sexual content involving minors"

# Blocked on their own, always.
MINOR_SEXUAL_TERMS: tuple[str, ...] = (
    "child porn",
    "child pornography",
    "child sexual abuse",
    "child nudity",
    "csam",
    "jailbait",
    "loli",
    "lolicon",
    "shota",
    "shotacon",
    "pedo",
    "pedophile",
    "paedophile",
    "pedophilia",
    "paedophilia",
    "underage sex",
    "underage nude",
    "preteen nude",
)

# Words that place a minor in the prompt. Alone they are harmless; beside any sexual, nudity or
# sexualising term they block, always.
MINOR_TERMS: tuple[str, ...] = (
    "child",
    "children",
    "kid",
    "kiddie",
    "minor",
    "underage",
    "under age",
    "toddler",
    "infant",
    "baby",
    "preteen",
    "tween",
    "teen",
    "teenager",
    "teenage",
    "adolescent",
    "schoolgirl",
    "schoolboy",
    "little girl",
    "little boy",
    "young girl",
    "young boy",
    "elementary school",
    "middle school",
    "junior high",
)

# Ages 0-17 written as "12 yo", "12-year-old", "twelve years old", "16yrs". Possessive `*+`
# so that a long run of spaces costs linear time, not quadratic.
MINOR_AGE_PATTERN = (
    r"(?<![0-9])(?:1[0-7]|[0-9])\s*+-?\s*+(?:y\s*+/?\s*+o|yrs?|years?\s*+-?\s*+old)(?![a-z])"
    r"|(?<![a-z])(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen)\s*+-?\s*+years?\s*+-?\s*+old(?![a-z])"
)

# Not blocked alone at any strictness, but sexualising beside a minor.
SEXUALISING_TERMS: tuple[str, ...] = (
    "sexy",
    "seductive",
    "sultry",
    "sensual",
    "provocative",
    "suggestive",
    "flirtatious",
    "lingerie",
    "underwear",
    "panties",
    "bra",
    "bikini",
    "cleavage",
    "bedroom eyes",
    "spread legs",
    "see through",
    "wet t shirt",
)

SEXUAL_EXPLICIT = Category(
    name="sexual_explicit",
    label="explicit sexual content",
    threshold=0.0,
    terms=(
        "porn",
        "porno",
        "pornography",
        "pornographic",
        "xxx",
        "hentai",
        "rule 34",
        "nsfw",
        "sex act",
        "sex scene",
        "having sex",
        "explicit sex",
        "sexual intercourse",
        "intercourse",
        "oral sex",
        "anal sex",
        "blowjob",
        "handjob",
        "cumshot",
        "creampie",
        "gangbang",
        "orgy",
        "orgasm",
        "masturbation",
        "masturbating",
        "ejaculation",
        "erection",
        "genitals",
        "genitalia",
        "penis",
        "vagina",
        "vulva",
        "clitoris",
        "dildo",
        "sex toy",
        "bdsm",
    ),
)

HATE = Category(
    name="hate",
    label="hateful content",
    threshold=0.0,
    terms=(
        "nazi propaganda",
        "nazi swastika",
        "swastika flag",
        "heil hitler",
        "sieg heil",
        "white power",
        "white supremacy",
        "white supremacist",
        "kkk",
        "ku klux klan",
        "ethnic cleansing",
        "racial slur",
        "hate symbol",
        "burning cross",
        "lynching",
        "lynch mob",
        "antisemitic",
        "racist caricature",
        "blackface",
    ),
)

SELF_HARM = Category(
    name="self_harm",
    label="self-harm",
    threshold=0.25,
    terms=(
        "self harm",
        "suicide",
        "suicidal",
        "kill myself",
        "killing myself",
        "cutting myself",
        "slit wrist",
        "slashed wrists",
        "wrist cutting",
        "noose around neck",
        "hanging himself",
        "hanging herself",
        "overdose",
        "pro ana",
        "thinspiration",
        "starving myself",
    ),
)

GRAPHIC_VIOLENCE = Category(
    name="graphic_violence",
    label="graphic violence or gore",
    threshold=0.4,
    terms=(
        "gore",
        "gory",
        "dismembered",
        "dismemberment",
        "decapitated",
        "decapitation",
        "beheaded",
        "beheading",
        "disemboweled",
        "eviscerated",
        "mutilated",
        "mutilation",
        "mangled corpse",
        "severed head",
        "severed limb",
        "blood splatter",
        "pool of blood",
        "covered in blood",
        "blood soaked",
        "bloodbath",
        "exposed organs",
        "spilling guts",
        "torture",
        "tortured",
        "massacre",
        "mass shooting",
        "school shooting",
        "public execution",
        "snuff",
        "impaled",
        "flayed",
        "skinned alive",
        "burned alive",
        "shot in the head",
        "brain matter",
    ),
)

NUDITY = Category(
    name="nudity",
    label="nudity",
    threshold=0.6,
    terms=(
        "nude",
        "naked",
        "nudity",
        "nudist",
        "naturist",
        "topless",
        "bottomless",
        "undressed",
        "unclothed",
        "no clothes",
        "without clothes",
        "nipple",
        "bare breast",
        "exposed breast",
        "bare buttocks",
        "erotic",
        "erotica",
        "striptease",
        "stripper",
        "skinny dipping",
    ),
)

# Most severe first; the verdict's reason names the first category that blocks.
CATEGORIES: tuple[Category, ...] = (SEXUAL_EXPLICIT, HATE, SELF_HARM, GRAPHIC_VIOLENCE, NUDITY)
