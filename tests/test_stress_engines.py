"""Every weight stress's tensors evaluate the same loaded into a model copy or stacked under vmap."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.func import functional_call, vmap

from nawt_core import bitflip, pcm, stuck
from nawt_core.models import build_model, weight_params

STRESSES = {
    "bitflip": lambda ws, t: bitflip.bitflip_weights(ws, 1e-3, trial=t),
    "bitflip-msb": lambda ws, t: bitflip.bitflip_weights(ws, 1e-3, bits=6, target="msb", trial=t),
    "stuck": lambda ws, t: stuck.stuck_weights(ws, 0.01, value="both", trial=t),
    "pcm": lambda ws, t: pcm.pcm_weights(ws, 86400.0, trial=t, compensate=True),
}


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = build_model("resnet20").eval().to(memory_format=torch.channels_last)
    x = torch.randn(16, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    return model, x


@pytest.mark.parametrize("name", sorted(STRESSES))
@torch.no_grad()
def test_loop_and_vmap_give_the_same_outputs_and_the_model_stays_clean(setup, name):
    model, x = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = [n for n, _ in weight_params(model)]
    clean = [p.detach() for _, p in weight_params(model)]
    sets = [STRESSES[name](clean, t) for t in range(2)]

    looped = []
    m = copy.deepcopy(model)
    params = [p for _, p in weight_params(m)]
    for ws in sets:
        torch._foreach_copy_(params, ws)
        looped.append(m(x))

    fixed = {k: v for k, v in {**dict(model.named_parameters()), **dict(model.named_buffers())}.items()
             if k not in names}
    stacks = [torch.stack(ts) for ts in zip(*sets)]
    batched = vmap(lambda ws: functional_call(model, {**fixed, **dict(zip(names, ws))}, (x,)))(stacks)
    for i, out in enumerate(looped):
        assert torch.allclose(batched[i], out, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(looped[0], looped[1])  # two trials, two sets of faults
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
