"""The names real code gives LeNet's layers, their constructor arguments, weights and gradients.

Names are compared normalised: lower case, without underscores, and without a ``layer`` suffix, so ``Conv2D``,
``ConvLayer`` and ``conv_layer`` are one name. Each list is in order of preference.
"""

from __future__ import annotations

import difflib
import re

LOSSES = ("NLLLoss", "CrossEntropyLoss")  # torch's loss classes: forward(input, target) -> loss, backward() -> dinput

# torch class -> the normalised class names that mean it
CLASS_NAMES = {
    "Conv2d": ("conv2d", "conv", "convolution", "convolution2d", "convolutional", "conv2dlayer", "convlayer"),
    "MaxPool2d": ("maxpool2d", "maxpool", "maxpooling2d", "maxpooling", "pooling", "pool", "pool2d", "maxpoollayer"),
    "ReLU": ("relu", "relulayer", "rectifiedlinear"),
    "Linear": ("linear", "dense", "affine", "fullyconnected", "fc", "linearlayer", "denselayer", "fclayer"),
    "Flatten": ("flatten", "flattenlayer", "reshape"),
    "LogSoftmax": ("logsoftmax", "logsoftmaxlayer"),
    "NLLLoss": ("nllloss", "nll", "negativeloglikelihood", "nlllosslayer", "nllosslayer"),
    "Tanh": ("tanh", "tanhlayer", "hyperbolictangent"),
    "Sigmoid": ("sigmoid", "logistic", "sigmoidlayer", "logisticsigmoid"),
    "AvgPool2d": ("avgpool2d", "avgpool", "averagepool", "averagepool2d", "averagepooling", "averagepooling2d",
                  "avgpooling", "avgpooling2d", "meanpool", "meanpooling", "subsampling", "avgpoollayer"),
    "Softmax": ("softmax", "softmaxlayer"),
    # softmax fused with cross-entropy, on logits (a cross-entropy alone, nnfs's or Keras's, reads probabilities)
    "CrossEntropyLoss": ("crossentropyloss", "softmaxwithloss", "softmaxcrossentropy", "softmaxcrossentropyloss",
                         "softmaxloss", "softmaxlosscategoricalcrossentropy", "softmaxcategoricalcrossentropy",
                         "crossentropywithlogits", "softmaxce", "celoss", "crossentropy"),
}

# torch class -> function stems of the functions convention (``<stem>_forward[_suffix]``, ``<stem>_backward...``)
FUNCTION_STEMS = {
    "Conv2d": ("conv", "conv2d", "convolution"),
    "MaxPool2d": ("max_pool", "maxpool", "max_pool2d", "pool", "max_pooling"),
    "ReLU": ("relu",),
    "Linear": ("affine", "linear", "fc", "dense", "fully_connected"),
    "Flatten": ("flatten",),
    "LogSoftmax": ("log_softmax", "logsoftmax"),
    "NLLLoss": ("nll_loss", "nll", "nllloss", "negative_log_likelihood"),
    "Tanh": ("tanh",),
    "Sigmoid": ("sigmoid",),
    "AvgPool2d": ("avg_pool", "avgpool", "avg_pool2d", "average_pool", "avg_pooling", "mean_pool"),
    "Softmax": ("softmax",),
    "CrossEntropyLoss": ("softmax_loss", "softmax_cross_entropy", "cross_entropy", "cross_entropy_loss",
                         "softmax_with_loss", "softmax_cross_entropy_loss"),
}

# torch keyword -> the constructor parameter names that mean it (normalised)
ARGUMENT_NAMES = {
    "in_channels": ("inchannels", "inch", "inchans", "nin", "inputchannels", "cin", "inc", "channelsin", "inputchannel",
                    "numchannels", "nchannels", "channels", "ninputchannels", "c", "ninchannels", "numinchannels",
                    "numinputchannels"),
    "out_channels": ("outchannels", "outch", "numfilters", "nfilters", "filters", "filternum", "nbfilters", "outc",
                     "cout", "nout", "outputchannels", "numkernels", "nkernels", "f", "outputchannel", "filtercount"),
    "kernel_size": ("kernelsize", "kernel", "ksize", "k", "filtersize", "size", "kernelshape", "poolsize", "pool",
                    "window", "windowsize", "fieldsize", "poolh", "poolheight", "filterh", "kh", "filtershape",
                    "poolshape", "windowshape", "filterdim", "kerneldim"),
    "kernel_size_w": ("poolw", "poolwidth", "filterw", "kw"),  # the second of a pair: given the same value
    "stride": ("stride", "strides", "s", "step", "poolstride"),
    "padding": ("padding", "pad", "p", "zeropadding", "zeropad"),
    "in_features": ("infeatures", "inputdim", "indim", "nin", "inputsize", "insize", "fanin", "ninputs", "numinputs",
                    "d", "inputs", "inputfeatures", "ninput", "inputunits", "inunits"),
    "out_features": ("outfeatures", "outputdim", "outdim", "nout", "outputsize", "outsize", "fanout", "noutputs",
                     "numoutputs", "units", "m", "outputs", "outputfeatures", "noutput", "outputunits", "outunits",
                     "nneurons", "neurons", "hiddensize"),
    "dim": ("dim", "axis"),
    "start_dim": ("startdim",),
    "end_dim": ("enddim",),
    "bias": ("bias", "usebias", "withbias", "hasbias"),
}

WEIGHT_NAMES = ("w", "weight", "weights", "kernel", "kernels", "filters", "filter")
BIAS_NAMES = ("b", "bias", "biases")
PARAM_DICTS = ("params", "parameters", "param", "weights_dict", "variables")
GRAD_DICTS = ("grads", "gradients", "grad", "dparams", "param_grads")
INPUT_GRAD_NAMES = ("dx", "dinput", "gradinput", "dinputs", "dout_prev", "dprev", "delta", "dxprev")
OUTPUT_NAMES = ("output",)  # nnfs: forward returns None and stores self.output (only that name: a forgotten
# return with the output left in self.out is a bug, not a convention)
LEARNING_RATES = ("lr", "learningrate", "eta", "alpha", "stepsize", "rate")
ZERO_GRAD_METHODS = ("zero_grad", "zero_grads", "zerograd", "flush_gradients", "clear_grads", "clear_gradients",
                     "reset_grads", "reset_gradients", "zero_gradients")


SUFFIXES = ("layer", "activation", "criterion", "module", "block", "op")  # ReLUActivation is a ReLU
PREFIXES = ("layer", "activation", "loss", "my", "custom", "simple")  # nnfs's Layer_Dense, Loss_NLL; MyConv
FORWARD_METHODS = ("forward", "fprop", "forward_pass", "forward_propagation", "forward_prop", "feedforward")
BACKWARD_METHODS = ("backward", "bprop", "backward_pass", "backward_propagation", "backward_prop", "backprop")


def normalise(name: str) -> str:
    """``ConvLayer`` -> ``conv``, ``conv_layer`` -> ``conv``, ``Max_Pool_2D`` -> ``maxpool2d``, ``ReLUActivation``
    -> ``relu``, ``NLLCriterion`` -> ``nll``."""
    text = re.sub(r"[^a-z0-9]", "", name.lower())
    for suffix in SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[:-len(suffix)]
            break
    for prefix in PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


def method(obj: object, names: tuple[str, ...]) -> str | None:
    """The first of these method names the object (or class) has: forward, or fprop, forward_pass ..."""
    return next((name for name in names if callable(getattr(obj, name, None))), None)


def torch_class_of(name: str) -> str | None:
    """The torch class a class name means (``Dense`` -> ``Linear``), None when it means none of LeNet's."""
    key = normalise(name)
    for torch_class, names in CLASS_NAMES.items():
        if key in names or key in (normalise(n) for n in names):
            return torch_class
    return None


def grad_names(param_names: tuple[str, ...]) -> tuple[str, ...]:
    """The attribute names a gradient of a parameter called any of these may have (``dW``, ``grad_W``, ``_dw``)."""
    found = []
    for name in param_names:
        found += [f"d{name}", f"grad{name}", f"{name}grad", f"dl{name}"]
    return tuple(found)


def did_you_mean(name: str, candidates: list[str]) -> str:
    """`` (did you mean Conv2d?)`` for a near name, else empty."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
