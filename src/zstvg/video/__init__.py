"""Frames: pure frame-index math (``index``), PyAV decoding of selected frames (``decode``) and
the ``zstvg sample-frames`` step (``cli``)."""
