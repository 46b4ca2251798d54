"""zstvg: zero-shot spatio-temporal video grounding with multimodal LLMs."""

__version__ = "0.1.0"
