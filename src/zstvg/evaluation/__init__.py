"""Evaluation: metrics, protocols, tables, plots and visualisations
(docs/method.md#evaluation-protocols).

This package never imports zstvg.grounding, zstvg.mllm or zstvg.proposals for scoring: a
metric must not depend on the method it judges (tests/evaluation checks the imports).

Where the three protocols differ (details and sources in :mod:`zstvg.evaluation.protocols`):

=================  =========================  =======================  ==========================
rule               ``tubedetr`` (canonical)   ``official`` (HC-STVG)   ``seed`` (released code)
=================  =========================  =======================  ==========================
frames scored      5 fps grid in clip_span,   every native frame       every 10th native frame
                   <= 200 frames (uniform)
union              grid frames in             max(end) - min(start)    inclusive grid positions
                   [min_start, max_end)       native frames            (+1; VidSTG: no +1)
tIoU               native, half-open          GT frames with a box     grid positions, their
                                              / union                  ``end - start`` lengths
vIoU numerator     IoU, grid frames in        IoU, GT frames with a    IoU, GT grid frames in
                   [max_start, min_end)       box in the pred span     the inclusive intersection
missing / failed   0, counted                 0, counted               dropped from the means
excluded videos    none                       none                     4 HC-STVG videos dropped
``vIoU@R``         ``> R``                    ``> R``                  ``> R``
VidSTG             per query type             per query type           per query type
=================  =========================  =======================  ==========================

``seed`` numbers are for comparison with the authors' printouts only; their metrics.json has a
``note`` saying so.
"""
