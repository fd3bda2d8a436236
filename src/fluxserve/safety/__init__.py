"""Content safety, torch-free: one normalised policy, the prompt check, the prompt sanitizer.

The image check (the second line) is `image_check.py`, chosen and run by the worker; its torch
half is `fluxserve.engine.image_classifier`.
"""

from fluxserve.safety.policy import SafetyPolicy, ToleranceScale
from fluxserve.safety.prompt_check import PromptVerdict, check_prompt
from fluxserve.safety.sanitize import sanitize_prompt

__all__ = [
    "PromptVerdict",
    "SafetyPolicy",
    "ToleranceScale",
    "check_prompt",
    "sanitize_prompt",
]
