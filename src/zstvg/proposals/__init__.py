"""Candidate object tracks: COCO RLE masks, the authors' released proposal format, and the
detector + tracker backends that build tracks from frames (DESIGN §2 step 4, §4)."""
