"""Grounding: choosing a track and a span for each sample (DESIGN §3)."""
