"""Candidate object tracks: COCO RLE masks, the authors' released proposal format (validated and
copied by ``official_import``, the ``import-proposals`` step), and the detector + tracker
backends that build tracks from frames (DESIGN §2 step 4, §4)."""
