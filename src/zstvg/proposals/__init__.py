"""Candidate object tracks: the detector + tracker backends that build tracks from frames, the
``propose`` step, and ``official_import`` (the authors' released proposal files, validated and
copied: the ``import-proposals`` step). The files themselves (the authors' per-video format, COCO
RLE masks, the manifest) are read and written in :mod:`zstvg.files`
(docs/method.md#object-proposals)."""
