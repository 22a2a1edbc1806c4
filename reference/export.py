"""``lenet-parity export-weights``: a fresh seeded initialisation, or any checkpoint, as weights JSON."""

from __future__ import annotations

from pathlib import Path

from lenet_parity.errors import UserInputError
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.weights import build_torch_model, export_weights


def config_from_state_dict(state: dict) -> LeNetConfig:
    """Recover a LeNetConfig from a bare torch state dict (dropout leaves no trace, so it is 0)."""
    try:
        in_channels = state["conv1.weight"].shape[1]
        flat = state["fc1.weight"].shape[1]
        num_classes = state["fc3.weight"].shape[0]
    except KeyError as exc:
        raise UserInputError(f"not a LeNet state dict: missing {exc}") from None
    pool2 = int(round((flat / 16) ** 0.5))
    image_size = (pool2 * 2 + 4) * 2 + 4  # invert conv 5x5 and pool 2 twice (even sizes)
    return LeNetConfig(in_channels=in_channels, image_size=image_size, num_classes=num_classes,
                       residual="res1.weight" in state, batchnorm="bn1.weight" in state)


def export_initial_or_checkpoint(out: Path, *, seed: int, checkpoint: Path | None = None,
                                 config: LeNetConfig = LeNetConfig()) -> None:
    """``config``'s fresh initialisation from ``seed`` (He for ReLU, LeCun's for tanh), or a checkpoint's weights."""
    import torch

    from lenet_parity.reference.determinism import seed_everything
    from lenet_parity.reference.model import LeNet

    if checkpoint is None:
        seed_everything(seed)
        model = LeNet(config)
        init = "He" if config.activation == "relu" else "LeCun normal"
        export_weights(model, out, seed=seed, meta={"source": f"{init} initialisation, seed {seed}"})
        return
    if not checkpoint.is_file():
        raise UserInputError(f"{checkpoint}: checkpoint not found")
    if checkpoint.suffix == ".json":
        model = build_torch_model(checkpoint)
    else:
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise UserInputError(f"{checkpoint}: cannot read as a torch state dict ({exc.__class__.__name__})") from None
        state = state.get("model", state) if isinstance(state, dict) else state
        model = LeNet(config_from_state_dict(state))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise UserInputError(f"{checkpoint}: does not fit LeNet ({str(exc).splitlines()[0]})") from None
    export_weights(model, out, seed=None, meta={"source": str(checkpoint)})
