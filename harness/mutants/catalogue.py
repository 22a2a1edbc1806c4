"""The bug zoo's catalogue: each broken layer, where it is planted and where the harness must catch it.

A mutant replaces ONE named layer of a reference model, LeNet (with its variants' layers) or the 1998 LeNet-5
(the correct NumPy layers stay everywhere else). It must be
caught by every mode in ``caught_by`` (all inputs are seeded, so this is deterministic, not luck), and the
first failure at a checked layer must be at ``layer_name``, on one of ``expected_tensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lenet_parity.errors import UserInputError
from lenet_parity.harness.mutants import conv_pool as cp
from lenet_parity.harness.mutants import dense_head as dh
from lenet_parity.harness.mutants import new_types as nt
from lenet_parity.vocabulary import HYBRID, LENET, LENET5, MODES, REFERENCE_MODELS, SNAPSHOT, STATE, SWEEP, TRAIN

LOCAL = (SNAPSHOT, HYBRID, SWEEP)  # a layer alone or in one pass: enough for every bug but one


@dataclass(frozen=True)
class Mutant:
    name: str  # kebab-case id: ``lenet-parity mutants --mutant NAME``
    description: str  # the bug in a few words (the table's column); the class docstring says more
    layer_name: str  # the submodule it replaces in ``model``: conv1, pool2, fc1, tanh3, ..., or "loss"
    expected_tensors: tuple[str, ...]  # where the first failure at a checked layer must be
    factory: Any  # the broken class, built like its torch twin: factory(**spec.kwargs)
    modes: tuple[str, ...] = LOCAL  # the modes it is run in
    caught_by: tuple[str, ...] = LOCAL  # the modes that must catch it (a subset of ``modes``)
    diagnosis: str = "unknown"  # the code harness/diagnosis.py must give its first failure
    model: str = LENET  # the reference model it is planted in (vocabulary.REFERENCE_MODELS): lenet or lenet5

    def __post_init__(self):
        if self.model not in REFERENCE_MODELS:
            raise ValueError(f"mutant {self.name}: model {self.model!r} must be one of {', '.join(REFERENCE_MODELS)}")
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
    # the variants' head (model LENET: sigmoid3, sigmoid4 and softmax are variants layers) and the 1998 LeNet-5
    Mutant("sigmoid-grad-no-one-minus", "sigmoid gradient dy * s, no (1 - s)", "sigmoid3", ("grad_input",),
           nt.SigmoidNoOneMinus, diagnosis="wrong-derivative"),
    Mutant("softmax-grad-elementwise", "softmax gradient as if elementwise", "softmax", ("grad_input",),
           nt.SoftmaxGradElementwise, diagnosis="elementwise-grad"),
    Mutant("tanh-grad-from-input", "tanh gradient from x: dy * (1 - x**2)", "tanh3", ("grad_input",),
           nt.TanhGradFromInput, diagnosis="grad-from-input", model=LENET5),
    Mutant("avgpool-grad-not-divided", "avg-pool gradient not divided by kh*kw", "pool1", ("grad_input",),
           nt.AvgPoolGradNotDivided, diagnosis="scale", model=LENET5),
    Mutant("crossentropy-summed", "cross-entropy summed over the batch", "loss", ("loss",),
           nt.CrossEntropyLossSummed, diagnosis="scale", model=LENET5),
    Mutant("crossentropy-no-max-shift", "cross-entropy's softmax without the max", "loss", ("loss",),
           nt.CrossEntropyLossNoMaxShift, caught_by=(SWEEP,), diagnosis="overflow", model=LENET5),  # logits of 1e4
]


def find(name: str) -> Mutant:
    """The mutant called ``name``; an unknown name is bad input (exit 2) listing the known ones."""
    for mutant in CATALOGUE:
        if mutant.name == name:
            return mutant
    raise UserInputError(f"--mutant {name}: no such mutant; the mutants are {', '.join(m.name for m in CATALOGUE)}")
