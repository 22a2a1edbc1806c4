"""The custom LeNet as a training Backend (reference/training.py's protocol): our layers, our NLLLoss, our optimiser.

The twin of reference/torch_backend.py: torch.optim.SGD (momentum, weight decay) becomes custom_layers'
SGD, or Adam with ``optimizer="adam"``; F.nll_loss becomes the custom NLLLoss. The shared loop hands
every backend the same torch batches; they are converted to this backend's arrays here.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.errors import UserInputError
from lenet_parity.custom_lenet.model import CustomLeNet
from lenet_parity.vocabulary import PYTHON
from lenet_parity.reference.layers import loss_spec
from lenet_parity.reference.weights import WeightsFile, read_weights

OPTIMIZERS = ("sgd", "adam")
# the loop evaluates 1000 images at a time; as nested lists (im2col of conv1) that is ~1 GB, so python goes by 100
EVAL_CHUNK = {PYTHON: 100}


def _targets(y: Any, backend: str) -> Any:
    """Class indices as the backend's loss wants them: an int64 array, or a list of ints."""
    if hasattr(y, "detach"):  # a torch tensor
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    return y.astype(np.int64) if backend == "numpy" else y.tolist()


class CustomBackend:
    """train_step / evaluate / save / load / set_lr / get_state / set_state over a CustomLeNet."""

    def __init__(self, model: CustomLeNet, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 optimizer: str = "sgd", betas: tuple[float, float] = (0.9, 0.999), seed: int | None = None):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.model, self.seed, self.optimizer_name = model, seed, optimizer
        self.name = model.backend
        layers = importlib.import_module(f"lenet_parity.custom_layers.{model.backend}")
        optim = importlib.import_module(f"lenet_parity.custom_layers.{model.backend}.optim")
        loss = getattr(layers, loss_spec(model.config).cls)  # NLLLoss; LeNet-5's CrossEntropyLoss on logits
        self.loss = loss()  # the mean over the batch, as torch's
        self.sum_loss = loss(reduction="sum")
        first = next(iter(model.layers.values()))
        first.needs_input_grad = False  # training never reads the image's gradient; torch skips it too
        params = model.trainable_layers()  # slots named conv1.weight, conv1.bias, ... like torch's
        if optimizer == "sgd":
            self.optimizer = optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        else:
            self.optimizer = optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)

    @classmethod
    def from_weights(cls, name: str, weights: WeightsFile | str | Path, *, lr: float, momentum: float = 0.0,
                     weight_decay: float = 0.0, dtype: str = "float32", optimizer: str = "sgd") -> "CustomBackend":
        """What custom_lenet/training.py's make_backend calls for ``--backend numpy|python``."""
        if not isinstance(weights, WeightsFile):
            weights = read_weights(weights)
        model = CustomLeNet.from_weights(name, weights, dtype)
        return cls(model, lr=lr, momentum=momentum, weight_decay=weight_decay, optimizer=optimizer, seed=weights.seed)

    def train_step(self, x: Any, y: Any) -> float:
        self.model.train()
        out = self.model.forward(x)  # (N, num_classes) log-probabilities, or LeNet-5's logits
        loss = self.loss.forward(out, _targets(y, self.name))
        self.model.backward(self.loss.backward())  # every layer's grads overwritten: nothing to zero
        self.optimizer.step()
        return float(loss)

    def evaluate(self, x: Any, y: Any) -> tuple[float, int]:
        """(summed loss, number correct) in evaluation mode."""
        self.model.eval()
        chunk = EVAL_CHUNK.get(self.name) or len(x)
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), chunk):
            logp = self.model.forward(x[start:start + chunk])
            targets = _targets(y[start:start + chunk], self.name)
            loss_sum += self.sum_loss.forward(logp, targets)
            predicted = np.asarray(logp).argmax(axis=1)  # the first maximum on a tie, as torch.argmax
            correct += int((predicted == np.asarray(targets)).sum())
        return float(loss_sum), correct

    def set_lr(self, lr: float) -> None:
        self.optimizer.lr = float(lr)

    def save_weights(self, path: Path, meta: dict[str, Any]) -> None:
        self.model.save_weights(path, seed=self.seed, meta={**meta, "optimizer": self.optimizer_name})

    def load_weights(self, path: Path) -> None:
        self.model.load_weights(read_weights(path))

    def get_state(self) -> dict[str, Any]:
        """Params, buffers, optimiser state and the random generators dropout draws from: enough to resume."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
