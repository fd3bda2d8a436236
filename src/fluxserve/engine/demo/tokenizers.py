"""Tiny tokenizers for the demo models, built without vocabulary files.

All four share one byte-level BPE (see `bpe.py`) and differ only in their special tokens,
post-processing and chat template, which is what each pipeline relies on: CLIP start/end of
text, T5's closing `</s>`, Qwen's `<|im_start|>` chat, Mistral's `[INST]` chat."""

from __future__ import annotations

from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from fluxserve.engine.demo import dimensions
from fluxserve.engine.demo.bpe import byte_alphabet, learn_merges

# A message's text, whether `content` is a string (klein) or a list of parts (FLUX.2-dev).
_TEXT = (
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% else %}{{ '[IMG]' }}{% endif %}"
    "{% endfor %}{% endif %}"
)

# Qwen3's chat layout; klein asks for the generation prompt with thinking switched off.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}" + _TEXT + "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}"
)

# Mistral Small 3's layout; FLUX.2-dev sends a system message and a user message.
MISTRAL_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '[SYSTEM_PROMPT]' }}"
    + _TEXT
    + "{{ '[/SYSTEM_PROMPT]' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST]' }}" + _TEXT + "{{ '[/INST]' }}"
    "{% else %}" + _TEXT + "{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def _byte_bpe(specials: list[str]) -> Tokenizer:
    """A byte-level BPE whose first ids are `specials`, then the 256 bytes, then the merges."""
    merges = learn_merges(dimensions.BPE_MERGES)
    tokens = [*specials, *byte_alphabet(), *(a + b for a, b in merges)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=list(merges)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def _wrap(tokenizer: Tokenizer, **settings: Any) -> PreTrainedTokenizerFast:
    # transformers leaves this constructor unannotated.
    fast: PreTrainedTokenizerFast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, **settings
    )
    return fast


def clip_tokenizer() -> PreTrainedTokenizerFast:
    """Stands in for CLIPTokenizer: `<|startoftext|> … <|endoftext|>`, padded with end of text."""
    bos, eos = "<|startoftext|>", "<|endoftext|>"
    tokenizer = _byte_bpe([bos, eos])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} $B {eos}",
        special_tokens=[(bos, 0), (eos, 1)],
    )
    return _wrap(
        tokenizer,
        bos_token=bos,
        eos_token=eos,
        pad_token=eos,
        unk_token=eos,
        model_max_length=dimensions.CLIP_MAX_LENGTH,
    )


def t5_tokenizer() -> PreTrainedTokenizerFast:
    """Stands in for T5TokenizerFast: pad 0, `</s>` 1 closing every text, unk 2."""
    pad, eos, unk = "<pad>", "</s>", "<unk>"
    tokenizer = _byte_bpe([pad, eos, unk])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, 1)]
    )
    return _wrap(
        tokenizer,
        eos_token=eos,
        pad_token=pad,
        unk_token=unk,
        model_max_length=dimensions.T5_MAX_LENGTH,
    )


def qwen_tokenizer() -> PreTrainedTokenizerFast:
    """Stands in for Qwen2TokenizerFast, with a Qwen3 chat template."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    return _wrap(
        _byte_bpe(specials),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=dimensions.CHAT_MAX_LENGTH,
        chat_template=QWEN_CHAT_TEMPLATE,
    )


def mistral_tokenizer() -> PreTrainedTokenizerFast:
    """Stands in for FLUX.2-dev's PixtralProcessor: the pipeline only calls apply_chat_template."""
    specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]
    specials += ["[IMG]", "<pad>"]
    return _wrap(
        _byte_bpe(specials),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=dimensions.CHAT_MAX_LENGTH,
        chat_template=MISTRAL_CHAT_TEMPLATE,
    )
