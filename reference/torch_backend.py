"""The torch side of the training loop: LeNet with torch.optim.SGD (momentum), as a training Backend."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from lenet_parity.reference.model import LeNet, loss_function
from lenet_parity.reference.weights import export_weights, load_into_torch


class TorchBackend:
    name = "torch"

    def __init__(self, model: LeNet, *, lr: float, momentum: float, weight_decay: float = 0.0, seed: int = 42):
        self.model, self.seed = model, seed
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.model.loss(self.model(x), y)  # NLLLoss on log-probabilities; LeNet-5's cross-entropy
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        self.model.eval()
        out = self.model(x)  # log-probabilities or logits: the same argmax
        return float(loss_function(self.model.config)(out, y, reduction="sum")), int((out.argmax(1) == y).sum())

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def save_weights(self, path: Path, meta: dict[str, Any]) -> None:
        export_weights(self.model, path, seed=self.seed, meta=meta)

    def load_weights(self, path: Path) -> None:
        load_into_torch(self.model, path)

    def get_state(self) -> dict[str, Any]:
        return {"model": copy.deepcopy(self.model.state_dict()), "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "rng": torch.get_rng_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
