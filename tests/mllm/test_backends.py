"""Acceptance tests of every MLLM backend on its tiny checkpoint (issue 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

PROMPT = "Is there a man in a red shirt in this video?"
# Frames of 56 x 84 px: a multiple of 28 px for Qwen (2 x 3 merged tokens per slot).
H, W = 56, 84
FRAME_IDX = [0, 10, 20, 30, 40]
FPS = 25.0

# family -> (slot of frame 2, (h, w) token of the pixel block rows 28:56, cols 28:56,
#            whether token-level reversal equals a forward on reversed frames)
BACKENDS = {
    "qwen2-vl": dict(slot_of_frame2=1, region_token=(1, 1), reverse_exact=False),
    "qwen2.5-vl": dict(slot_of_frame2=1, region_token=(1, 1), reverse_exact=False),
    # 56 x 84 frames are squashed to 84 x 84: rows 28:56 -> 42:84 (patches 3-5), cols 28:56
    # (patches 2-3); bilinear 6 -> 3 pooling averages patch pairs, so (2, 1) holds it fully.
    "llava-ov": dict(slot_of_frame2=2, region_token=(2, 1), reverse_exact=True),
    # 56 x 84 frames become 64 x 96 (patch 16 x merge 2 = 32 px tokens): rows 28:56 -> 32:64,
    # cols 28:56 -> 32:64, token (1, 1).
    "qwen3-vl": dict(slot_of_frame2=1, region_token=(1, 1), reverse_exact=False),
    # Shortest edge 84 -> 84 x 126, center crop cols 21:105: rows 42:84 (patches 3-5), cols
    # 21:63 (patches 1.5-4.5); 2x2 average pooling: token row 2 and column 1 hold it fully.
    "llava-next-video": dict(slot_of_frame2=2, region_token=(2, 1), reverse_exact=True),
    # Squashed to 84 x 84 as for LLaVA-OV; pixel shuffle merges 2x2 patches like the pooling.
    "internvl3": dict(slot_of_frame2=2, region_token=(2, 1), reverse_exact=True),
}


def frames(seed: int = 0) -> list[np.ndarray]:
    return list(
        np.random.RandomState(seed).randint(0, 256, (len(FRAME_IDX), H, W, 3), dtype=np.uint8)
    )


def test_candidates_are_the_template_tokens_after_the_user_text(loaded, family):
    m = loaded(family)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    assert inp.candidate_positions[-1] == inp.last_position == inp.seq_len - 1
    text = m.tokenizer.decode(inp.input_ids[0, inp.candidate_positions[0] :])
    # The shortest token tail spelling the suffix (a tokenizer may glue its leading space to
    # the word before).
    assert text.strip() == m.grounding_suffix.strip()
    assert m.grounding_suffix.strip() not in m.tokenizer.decode(
        inp.input_ids[0, inp.candidate_positions[1] :]
    )
    # The visual tokens precede the candidates and map onto the grid.
    assert int(inp.layout.grid_index.max()) < inp.candidate_positions[0]
    assert len(inp.layout.grid_index) == int(np.prod(inp.layout.grid_thw))


def test_captured_rows_equal_eager_attention(loaded, family):
    m, ref = loaded(family), loaded(family, "eager")
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    res = m.forward(inp)
    assert res.layers == tuple(range(m.num_layers))
    out = ref.model(
        input_ids=inp.input_ids,
        **inp.pixel_inputs,
        **inp.extra,
        output_attentions=True,
        use_cache=False,
    )
    pos = list(res.positions)
    grid = inp.layout.grid_index
    for k, layer in enumerate(res.layers):
        eager = out.attentions[layer][0][:, pos][:, :, grid].mean(0)
        eager = eager.reshape(len(pos), *inp.layout.grid_thw)
        torch.testing.assert_close(res.attn_thw[:, k], eager, atol=1e-5, rtol=0)
    # Rows of a softmax over all keys: the visual part is a proper fraction of 1.
    assert float(res.attn_thw.sum(dim=(2, 3, 4)).max()) < 1.0 + 1e-5


def test_per_head_rows_averaged_over_heads_are_the_captured_rows(loaded, family):
    # probe-layers' per-head maps (issue 27): their mean over heads is, to 1e-6, what every
    # other step reads, in every layer; logits unchanged by the extra capture
    m = loaded(family)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    plain = m.forward(inp)
    res = m.forward(inp, per_head=True)
    heads = res.attn_heads_thw
    assert heads is not None and plain.attn_heads_thw is None
    assert heads.shape == (len(res.positions), m.num_layers, m.num_heads, *inp.layout.grid_thw)
    assert heads.device.type == "cpu"
    torch.testing.assert_close(heads.mean(dim=2), plain.attn_thw, atol=1e-6, rtol=0)
    torch.testing.assert_close(res.attn_thw, plain.attn_thw, atol=0, rtol=0)
    torch.testing.assert_close(res.last_logits, plain.last_logits, atol=0, rtol=0)


def test_a_head_subset_averages_only_those_heads(tiny_checkpoint, loaded, family):
    from zstvg.mllm import build_mllm

    m = loaded(family)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    every = m.forward(inp, per_head=True).attn_heads_thw
    sub = build_mllm(family, str(tiny_checkpoint(family)), dtype="float32", device="cpu",
                     layer_start=0, layer_stop=None, heads=[1])  # fmt: skip
    assert sub.heads == (1,)
    torch.testing.assert_close(sub.forward(inp).attn_thw, every[:, :, 1], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"heads=\[99\] \(mllm.heads.*0\.\.3"):
        build_mllm(family, str(tiny_checkpoint(family)), dtype="float32", device="cpu",
                   layer_start=0, layer_stop=None, heads=[99])  # fmt: skip


def test_yes_no_logits_equal_a_plain_full_forward(loaded, family):
    m = loaded(family)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    plain = m.plain_forward(inp).logits[0, -1]
    res = m.forward(inp, capture=False)
    torch.testing.assert_close(res.yes_logit, plain[list(m.yes_ids)].max(), atol=1e-5, rtol=0)
    torch.testing.assert_close(res.no_logit, plain[list(m.no_ids)].max(), atol=1e-5, rtol=0)
    assert len(m.yes_ids) == 2 and len(m.no_ids) == 2  # "Yes" and " Yes" are both tokens


def test_second_unrelated_call_is_not_affected_by_the_first(loaded, family):
    m = loaded(family)
    a = m.encode(frames(0), FRAME_IDX, PROMPT, FPS)
    b = m.encode(frames(1)[:3], FRAME_IDX[:3], "Please describe this video in detail.", FPS)
    first = m.forward(b, capture=False).last_logits
    m.plain_forward(a)  # leaves cached state (Qwen: rope_deltas of another sequence length)
    again = m.forward(b, capture=False).last_logits
    torch.testing.assert_close(first, again, atol=0, rtol=0)


def test_changed_region_lands_in_its_token(loaded, family):
    m = loaded(family)
    spec = BACKENDS[family]
    base = frames()
    edited = [f.copy() for f in base]
    edited[2][28:56, 28:56] = 255 - edited[2][28:56, 28:56]
    inp0 = m.encode(base, FRAME_IDX, PROMPT, FPS)
    inp1 = m.encode(edited, FRAME_IDX, PROMPT, FPS)
    t, h, w = inp0.layout.grid_thw
    rows = inp0.layout.grid_rows()
    f0 = m.visual_features(inp0).embeds[rows].view(t, h, w, -1)
    f1 = m.visual_features(inp1).embeds[rows].view(t, h, w, -1)
    change = (f1 - f0).norm(dim=-1)
    slot = spec["slot_of_frame2"]
    assert FRAME_IDX[2] in inp0.layout.frames_of_t[slot]
    others = [s for s in range(t) if s != slot]
    assert float(change[others].max()) == 0.0  # the vision tower keeps slots apart
    assert float(change[slot].max()) > 0
    hw = divmod(int(change[slot].argmax()), w)
    assert hw == spec["region_token"]


def test_only_the_prompt_tensor_gets_a_gradient(loaded, family):
    m = loaded(family)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    feats = m.visual_features(inp)
    delta = torch.zeros_like(feats.embeds, requires_grad=True)
    res = m.forward(inp, feats, visual_delta=delta)
    loss = 1 - (res.yes_logit - res.no_logit)
    loss.backward()
    assert delta.grad is not None and float(delta.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in m.model.parameters())
    # A step along the gradient changes the answer logits: the prompt is wired in.
    with torch.no_grad():
        moved = m.forward(inp, feats, visual_delta=-8 * delta.grad, capture=False)
    assert float(1 - (moved.yes_logit - moved.no_logit)) < float(loss.detach())


def test_reversal(loaded, family):
    m = loaded(family)
    spec = BACKENDS[family]
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    feats = m.visual_features(inp)
    rev = m.reverse(feats, inp)
    t, h, w = inp.layout.grid_thw
    rows = inp.layout.grid_rows()
    torch.testing.assert_close(
        rev.embeds[rows].view(t, h, w, -1), feats.embeds[rows].view(t, h, w, -1).flip(0)
    )
    torch.testing.assert_close(m.reverse(rev, inp).embeds, feats.embeds)
    rev_frames = frames()[::-1]
    inp_r = m.encode(rev_frames, FRAME_IDX[::-1], PROMPT, FPS)
    on_reversed = m.forward(inp_r).last_logits
    token_reversed = m.forward(inp, rev).last_logits
    same = torch.allclose(on_reversed, token_reversed, atol=1e-5)
    assert same is spec["reverse_exact"]


def test_bad_inputs_fail_clearly(loaded, family):
    m = loaded(family)
    with pytest.raises(ValueError, match="frame indices"):
        m.encode(frames(), FRAME_IDX[:2], PROMPT, FPS)
    with pytest.raises(ValueError, match="uint8"):
        m.encode([f.astype(np.float32) for f in frames()], FRAME_IDX, PROMPT, FPS)
    with pytest.raises(ValueError, match="fps must be positive"):
        m.encode(frames(), FRAME_IDX, PROMPT, 0.0)
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    with pytest.raises(ValueError, match="visual_delta has shape"):
        m.forward(inp, visual_delta=torch.zeros(3, 3))


def test_qwen2_5_temporal_positions_use_the_sampling_rate(loaded):
    m = loaded("qwen2.5-vl")
    # Frames every 10 native frames at 25 fps = 2.5 sampled fps; 2 frames per patch = 0.8 s.
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    torch.testing.assert_close(inp.extra["second_per_grid_ts"], torch.tensor([0.8]))
    slower = m.encode(frames(), [i * 2 for i in FRAME_IDX], PROMPT, FPS)
    torch.testing.assert_close(slower.extra["second_per_grid_ts"], torch.tensor([1.6]))


def test_qwen3_deepstack_features_reach_the_llm_and_follow_the_reversal(loaded):
    m = loaded("qwen3-vl")
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    feats = m.visual_features(inp)
    deep = feats.extras["deepstack"]
    assert deep.shape == (2, *feats.embeds.shape)  # two taps -> LLM layers 0 and 1
    without = type(feats)(feats.embeds, {"deepstack": torch.zeros_like(deep)})
    a = m.forward(inp, feats, capture=False).last_logits
    b = m.forward(inp, without, capture=False).last_logits
    assert float((a - b).abs().max()) > 1e-4
    t, h, w = inp.layout.grid_thw
    rev = m.reverse(feats, inp).extras["deepstack"]
    torch.testing.assert_close(rev.view(2, t, h, w, -1), deep.view(2, t, h, w, -1).flip(1))


def test_video_kwargs_change_the_processor_resolution(tiny_checkpoint):
    from zstvg.mllm import build_mllm

    # A per-frame pixel budget of exactly 112 x 168 upscales the 56 x 84 frames 2x: the grid
    # doubles in h and w (2 x 3 -> 4 x 6 merged tokens) and the processor's own expansion
    # writes that many placeholders.
    budget = 112 * 168
    m = build_mllm(
        "qwen2-vl",
        str(tiny_checkpoint("qwen2-vl")),
        dtype="float32",
        device="cpu",
        layer_start=0,
        layer_stop=None,
        video_kwargs={"size": {"shortest_edge": budget, "longest_edge": budget}},
    )
    inp = m.encode(frames(), FRAME_IDX, PROMPT, FPS)
    assert inp.layout.grid_thw == (3, 4, 6)
    assert len(inp.layout.visual_index) == 3 * 4 * 6
    assert m.forward(inp).attn_thw.shape == (len(inp.candidate_positions), m.num_layers, 3, 4, 6)
