"""Accuracy and loss of a model on the test set held on the device."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


@torch.inference_mode()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000,
             autocast_dtype: torch.dtype | None = None) -> tuple[float, float]:
    """(mean loss, accuracy); one host sync at the end, not per batch."""
    loss_sum, correct = evaluate_sums(model, x, y, batch_size=batch_size, autocast_dtype=autocast_dtype)
    n = x.shape[0]
    return loss_sum.item() / n, correct.item() / n


@torch.inference_mode()
def evaluate_sums(model, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000,
                  autocast_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed loss, correct count) as device tensors: the loop never waits for the device."""
    was_training = model.training
    model.eval()
    ctx = (torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype
           else contextlib.nullcontext())
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    with ctx:
        for i in range(0, x.shape[0], batch_size):
            out = model(x[i : i + batch_size]).float()
            yb = y[i : i + batch_size]
            loss_sum += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    return loss_sum, correct
