"""Content safety, torch-free: one normalised policy, the prompt check, the prompt sanitizer.

The image check (the second line) lives in `fluxserve.engine.safety_image`, since it runs a model.
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
