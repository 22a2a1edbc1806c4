"""The bug zoo's catalogue: each broken layer, where it is planted and where the harness must catch it.

A mutant replaces ONE named layer of LeNet (the correct NumPy layers stay everywhere else). It must be
caught by every mode in ``caught_by`` (all inputs are seeded, so this is deterministic, not luck), and the
first failure at a checked layer must be at ``layer_name``, on one of ``expected_tensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lenet_parity.errors import UserInputError
from lenet_parity.harness.mutants import conv_pool as cp
from lenet_parity.harness.mutants import dense_head as dh
from lenet_parity.vocabulary import HYBRID, MODES, SNAPSHOT, STATE, SWEEP, TRAIN

LOCAL = (SNAPSHOT, HYBRID, SWEEP)  # a layer alone or in one pass: enough for every bug but one


@dataclass(frozen=True)
class Mutant:
    name: str  # kebab-case id: ``lenet-parity mutants --mutant NAME``
    description: str  # the bug in a few words (the table's column); the class docstring says more
    layer_name: str  # the LeNet submodule it replaces: conv1, pool2, fc1, ..., or "loss"
    expected_tensors: tuple[str, ...]  # where the first failure at a checked layer must be
    factory: Any  # the broken class, built like its torch twin: factory(**spec.kwargs)
    modes: tuple[str, ...] = LOCAL  # the modes it is run in
    caught_by: tuple[str, ...] = LOCAL  # the modes that must catch it (a subset of ``modes``)
    diagnosis: str = "unknown"  # the code harness/diagnosis.py must give its first failure

    def __post_init__(self):
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not set(self.caught_by) <= set(self.modes) or not self.caught_by:
            raise ValueError(f"mutant {self.name}: modes {self.modes} must be among {MODES} and include the "
                             f"non-empty caught_by {self.caught_by}")
        if not self.expected_tensors:
            raise ValueError(f"mutant {self.name}: expected_tensors is empty")


CATALOGUE: list[Mutant] = [
    Mutant("pool-grad-every-tied-max", "max-pool gradient to every tied maximum", "pool1", ("grad_input",),
           cp.PoolGradToEveryTiedMax, diagnosis="tie-break"),
    Mutant("pool-window-off-by-one", "pool window one short: range(k - 1)", "pool2", ("output",),
           cp.PoolWindowOffByOne, diagnosis="window"),
    Mutant("conv-bias-grad-sign", "bias gradient with the wrong sign", "conv2", ("grad_bias",), cp.ConvBiasGradSign, diagnosis="sign"),
    Mutant("conv-flipped-kernel", "true convolution: the kernel flipped", "conv1", ("output",), cp.ConvFlippedKernel, diagnosis="flipped-kernel"),
    Mutant("conv-stride-ignored-in-backward", "stride ignored in the backward's scatter", "conv1", ("grad_input",),
           cp.ConvStrideIgnoredInBackward, caught_by=(SWEEP,), diagnosis="stride"),  # LeNet's convs have stride 1
    Mutant("conv-grads-accumulate", "grads add up over backward calls", "conv2", ("grads_overwritten", "weight", "bias"),
           cp.ConvGradsAccumulate, modes=(SNAPSHOT, STATE, TRAIN), caught_by=(STATE, TRAIN), diagnosis="accumulated"),  # one backward is right
    Mutant("residual-one-sided-padding", "conv padding 2p on one side, 0 on the other", "res1", ("output",),
           cp.ResidualOneSidedPadding, diagnosis="border"),
    Mutant("flatten-nhwc", "flatten in NHWC (channels-last) order", "flatten", ("output",), cp.FlattenNHWC, diagnosis="permutation"),
    Mutant("linear-bias-grad-mean", "bias gradient averaged over the batch", "fc1", ("grad_bias",),
           dh.LinearBiasGradMean, diagnosis="scale"),
    Mutant("linear-weight-grad-reshaped", "dW = (x^T dy).reshape(out, in), no .T", "fc2", ("grad_weight",),
           dh.LinearWeightGradReshaped, diagnosis="permutation"),
    Mutant("relu-grad-one-at-zero", "ReLU gradient 1 at exactly 0", "relu2", ("grad_input",), dh.ReLUGradOneAtZero,
           caught_by=(SWEEP,), diagnosis="relu-at-zero"),  # only the sweep's adversarial inputs hold exact zeros
    Mutant("batchnorm-running-var-biased", "running_var stored biased (/n)", "bn2", ("running_var",),
           dh.BatchNormRunningVarBiased, diagnosis="biased-variance"),
    Mutant("dropout-not-rescaled", "dropout without the 1/(1-p) rescale", "drop1", ("output",),
           dh.DropoutNotRescaled, diagnosis="scale"),
    Mutant("logsoftmax-no-max-shift", "log-softmax without subtracting the max", "logsoftmax", ("output",),
           dh.LogSoftmaxNoMaxShift, caught_by=(SWEEP,), diagnosis="overflow"),  # only the sweep's logits of 1e4 overflow
    Mutant("logsoftmax-grad-elementwise", "log-softmax gradient as if elementwise", "logsoftmax", ("grad_input",),
           dh.LogSoftmaxGradElementwise, diagnosis="elementwise-grad"),
    Mutant("loss-summed", "loss summed over the batch, not averaged", "loss", ("loss",), dh.NLLLossSummed, diagnosis="scale"),
]


def find(name: str) -> Mutant:
    """The mutant called ``name``; an unknown name is bad input (exit 2) listing the known ones."""
    for mutant in CATALOGUE:
        if mutant.name == name:
            return mutant
    raise UserInputError(f"--mutant {name}: no such mutant; the mutants are {', '.join(m.name for m in CATALOGUE)}")
