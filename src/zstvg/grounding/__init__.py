"""Grounding: choosing a track and a span for each sample (docs/method.md#joint-inference)."""
