"""Where a layer keeps a parameter or its gradient, and in which layout: a ``Slot`` reads and writes it in torch's
layout (weight ``(out, in, kh, kw)`` or ``(out, in)``, bias ``(out,)``), whatever the layer's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lenet_parity.conventions.names import normalise

# torch layout -> another layout: how to turn a torch-shaped array into it, and back
LAYOUTS = {
    "torch": (lambda a: a, lambda a: a),
    "in,out": (lambda a: a.T, lambda a: a.T),  # a Linear weight stored (in, out): x @ W
    "hwio": (lambda a: a.transpose(2, 3, 1, 0), lambda a: a.transpose(3, 2, 0, 1)),  # (kh, kw, in, out)
    "ohwi": (lambda a: a.transpose(0, 2, 3, 1), lambda a: a.transpose(0, 3, 1, 2)),  # (out, kh, kw, in)
}
WEIGHT_LAYOUTS = {2: ("torch", "in,out"), 4: ("torch", "hwio", "ohwi")}


def layouts_fitting(shape: tuple[int, ...], torch_shape: tuple[int, ...]) -> list[str]:
    """The layouts in which an array of ``shape`` holds a weight of ``torch_shape`` (several when it is square)."""
    probe = np.empty(torch_shape, dtype=np.uint8)
    return [name for name in WEIGHT_LAYOUTS.get(len(torch_shape), ("torch",))
            if LAYOUTS[name][0](probe).shape == tuple(shape)]


@dataclass
class Slot:
    """``owner.<name>`` or ``owner.<name>[key]`` (``key`` None: an attribute), in ``layout``; a bias keeps the
    shape it was found in ((F,), (F, 1), (1, F) ...)."""

    place: str  # the attribute name
    key: Any = None  # the dict key, when the attribute is a dict
    layout: str = "torch"
    shape: tuple[int, ...] | None = None  # the layer's own shape (a bias's)
    member: str | None = None  # a parameter object's array: "data" (its gradient then in "grad")

    def describe(self) -> str:
        where = self.place if self.key is None else f"{self.place}[{self.key!r}]"
        where += f".{self.member}" if self.member else ""
        return where + (f" ({self.layout})" if self.layout != "torch" else "")

    def holder(self, owner: Any) -> Any:
        value = getattr(owner, self.place)
        return value[self.key] if self.key is not None else value

    def read(self, owner: Any) -> Any:
        value = self.holder(owner)
        return getattr(value, self.member) if self.member else value

    def get(self, owner: Any, torch_shape: tuple[int, ...]) -> np.ndarray:
        """The value in torch's layout and shape."""
        value = np.asarray(self.read(owner))
        return LAYOUTS[self.layout][1](value).reshape(torch_shape)

    def set(self, owner: Any, value: Any) -> None:
        """Store a torch-layout value the layer's way (its layout, its bias shape)."""
        value = LAYOUTS[self.layout][0](np.asarray(value))
        if self.shape is not None and value.size == int(np.prod(self.shape)):
            value = value.reshape(self.shape)
        value = np.ascontiguousarray(value)
        if self.member:
            setattr(self.holder(owner), self.member, value)
        elif self.key is None:
            setattr(owner, self.place, value)
        else:
            getattr(owner, self.place)[self.key] = value


def find_array(owner: Any, names: tuple[str, ...], dicts: tuple[str, ...], *, ndim: int | None = None,
               size: int | None = None, position: int | None = None, in_attributes: bool = True) -> Slot | None:
    """The first attribute (or entry of a dict attribute, or the ``position``-th of a list attribute) whose
    normalised name is in ``names`` and that holds an array of ``ndim`` dimensions or ``size`` elements."""
    def fits(value: Any) -> bool:
        if isinstance(value, (np.ndarray, list)) and not isinstance(value, str):
            array = np.asarray(value) if isinstance(value, list) else value
            if array.dtype.kind not in "fiu":
                return False
            return (ndim is None or array.ndim == ndim) and (size is None or array.size == size)
        return False

    attributes = _attributes(owner)
    by_name = {normalise(n): n for n in attributes}
    for wanted in names if in_attributes else ():
        name = by_name.get(wanted)
        if name is not None and fits(attributes[name]):
            return Slot(name, shape=np.shape(attributes[name]))
        data = getattr(attributes.get(name), "data", None) if name is not None else None
        if isinstance(data, np.ndarray) and fits(data):  # a Parameter object: .data (and .grad)
            return Slot(name, shape=data.shape, member="data")
    for dict_name in dicts:
        name = by_name.get(normalise(dict_name))
        mapping = attributes.get(name) if name else None
        if isinstance(mapping, (list, tuple)) and position is not None and position < len(mapping):
            if fits(mapping[position]):  # self.params = [W, b]: by position
                return Slot(name, position, shape=np.shape(mapping[position]))
        if isinstance(mapping, dict):
            keys = {normalise(str(k)): k for k in mapping}
            for wanted in names:
                key = keys.get(wanted)
                if key is not None and fits(mapping[key]):
                    return Slot(name, key, shape=np.shape(mapping[key]))
    return None


def _attributes(owner: Any) -> dict[str, Any]:
    try:
        return dict(vars(owner))
    except TypeError:  # __slots__
        return {n: getattr(owner, n) for n in dir(owner) if not n.startswith("__") and hasattr(owner, n)}


def reference_output(torch_class: str, x: np.ndarray, weight: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    """What a layer with this torch-layout weight and a zero bias computes on x: x @ W.T, or the
    cross-correlation (stride and padding from kwargs) torch's conv computes."""
    if torch_class == "Linear":
        return x.reshape(len(x), -1) @ weight.T
    stride = kwargs.get("stride", 1)
    pad = kwargs.get("padding", 0)
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    pad = pad[0] if isinstance(pad, (tuple, list)) else pad
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, weight.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncyxij,fcij->nfyx", windows, weight)


def probe_input(torch_class: str, kwargs: dict[str, Any]) -> np.ndarray:
    """A small random input of the layer's shape."""
    rng = np.random.default_rng(3)
    if torch_class == "Linear":
        return rng.standard_normal((3, kwargs["in_features"]))
    k = kwargs["kernel_size"]
    k = k[0] if isinstance(k, (tuple, list)) else k
    return rng.standard_normal((2, kwargs["in_channels"], k + 3, k + 3))


def layout_by_values(torch_class: str, kwargs: dict[str, Any], layouts: list[str], run) -> str | None:
    """The one layout in which the layer computes what torch does: ``run(layout, torch_weight, x)`` runs the layer
    with that weight stored in that layout (zero bias) and returns its output, or raises (not this layout).
    None when no layout, or more than one, gives torch's output."""
    x = probe_input(torch_class, kwargs)
    shape = (kwargs["out_features"], kwargs["in_features"]) if torch_class == "Linear" else None
    if shape is None:
        k = kwargs["kernel_size"]
        k = k[0] if isinstance(k, (tuple, list)) else k
        shape = (kwargs["out_channels"], kwargs["in_channels"], k, k)
    weight = np.random.default_rng(2).standard_normal(shape)
    expected = reference_output(torch_class, x, weight, kwargs)
    matching = []
    for layout in layouts:
        try:
            out = np.asarray(run(layout, weight, x.copy()), dtype=np.float64)
        except Exception:  # noqa: BLE001 - the layer cannot multiply in this layout
            continue
        if out.size == expected.size and np.allclose(out.reshape(expected.shape), expected, rtol=1e-6, atol=1e-8):
            matching.append(layout)
    return matching[0] if len(matching) == 1 else None
