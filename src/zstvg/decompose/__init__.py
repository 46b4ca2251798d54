"""Query decomposition (docs/method.md#query-decomposition, paper Sec. 3.3 "Generation of
target-related cues").

An LLM (GPT-4o by default, any OpenAI-compatible server) splits each query into the target's
class noun (the detector's text prompt), an attribute description (for spatial grounding) and an
action description (for temporal grounding); each description becomes a yes/no sub-query with
the paper's template "Is there {description} in this video?". Modules: ``prompts`` (the
versioned few-shot prompt and its hash), ``client`` (requests, retries, concurrency, usage),
``cache`` (content-addressed store), ``fallback`` (rule-based split), ``official_import`` (the
authors' released file: the ``import-decompositions`` step), ``decompose`` (the order cache ->
official -> API -> fallback: the ``decompose`` step). The answer schema, its tolerant parsing and
the output rows are the decompositions file's, in :mod:`zstvg.files.decompositions`. The local
chat-completions server that tests and the benchmark use lives in tests/decompose.
"""
