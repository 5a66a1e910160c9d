"""Module and Parameter: the registry of parameters, buffers and submodules (PyTorch semantics)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..tensor import RemovableHandle, Tensor


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Parameter(Tensor):
    """A leaf tensor that a Module registers as trainable (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Assigning a Parameter, a Module or (via ``register_buffer``) a buffer as an attribute registers
    it; ``parameters()``, ``state_dict()``, ``train()/eval()`` and ``zero_grad()`` walk the tree.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run; call super().__init__() first "
                f"in {type(self).__name__}.__init__")
        params, mods, bufs = self._parameters, self._modules, self._buffers
        is_buffer = name in bufs
        if isinstance(value, Parameter):
            target = params
        elif isinstance(value, Module):
            target = mods
        elif is_buffer:
            target = bufs
            value = value if value is None or isinstance(value, Tensor) else Tensor(np.asarray(value))
        else:
            target = None
        for d in (params, mods, bufs):
            if d is not target:
                d.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
            return
        target[name] = value  # an existing key keeps its position (layer order of Sequential)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """A tensor that is state but not trained (e.g. BatchNorm running statistics)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """All modules of the tree, depth first in registration order (PyTorch's order, so
        ``parameters()`` and ``state_dict()`` list tensors as the equivalent torch model does)."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            subs = [(f"{name}.{k}" if name else k, sub) for k, sub in m._modules.items() if sub is not None]
            stack.extend(reversed(subs))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        for m in self._modules.values():
            if m is not None:
                yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for k, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue  # shared (tied) parameters are listed once
                seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mname, m in self.named_modules(prefix):
            for k, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{k}" if mname else k), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, flag: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._wrap(np.zeros_like(p.data))

    def apply(self, fn) -> Module:
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    def to(self, target) -> Module:
        """``model.to(np.float64)`` casts parameters and floating buffers; ``'cpu'`` is a no-op."""
        if isinstance(target, str):
            if target != "cpu":
                raise ValueError(f"device {target!r} is not available on this backend (NumPy, CPU)")
            return self
        dt = np.dtype(target)
        for m in self.modules():
            for _k, p in m._parameters.items():
                if p is not None and p.dtype != dt:
                    p.data = p.data.astype(dt)
                    p._version += 1
            for _k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    b.data = b.data.astype(dt)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (arrays copied)."""
        sd = OrderedDict()
        for mname, m in self.named_modules():
            nonp = m.__dict__.get("_non_persistent", set())
            for k, p in m._parameters.items():
                if p is not None:
                    sd[f"{mname}.{k}" if mname else k] = Tensor._wrap(p.data.copy())
            for k, b in m._buffers.items():
                if b is not None and k not in nonp:
                    sd[f"{mname}.{k}" if mname else k] = Tensor._wrap(np.array(b.data, copy=True))
        return sd

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values in place (each tensor keeps its dtype and identity, so optimizers holding the
        parameters stay valid).  ``strict=True``: missing or unexpected keys raise a RuntimeError that
        names them; mis-shaped entries always raise.  Returns ``(missing_keys, unexpected_keys)``."""
        own = {}
        for mname, m in self.named_modules():
            nonp = m.__dict__.get("_non_persistent", set())
            for k, p in m._parameters.items():
                if p is not None:
                    own[f"{mname}.{k}" if mname else k] = p
            for k, b in m._buffers.items():
                if b is not None and k not in nonp:
                    own[f"{mname}.{k}" if mname else k] = b
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        shapes = []
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                v = v.data if isinstance(v, Tensor) else np.asarray(v)
                if v.shape != t.shape:
                    shapes.append(f"{k}: checkpoint {v.shape} vs model {t.shape}")
        if shapes or (strict and (missing or unexpected)):
            parts = []
            if missing:
                parts.append(f"missing keys: {missing}")
            if unexpected:
                parts.append(f"unexpected keys: {unexpected}")
            if shapes:
                parts.append("shape mismatches: " + "; ".join(shapes))
            raise RuntimeError(
                f"error loading state_dict into {type(self).__name__}: " + " | ".join(parts)
                + ". Was the checkpoint saved from a different model? (strict=False ignores missing/unexpected keys)")
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                t.data[...] = v.data if isinstance(v, Tensor) else np.asarray(v)  # in place, keeps the dtype
                t._version += 1
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- call and repr
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_forward_hooks")
        out = self.forward(*args, **kwargs)
        if hooks:
            for hook in list(hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return replaces the
        output.  Returns a handle whose ``remove()`` unregisters the hook."""
        hooks = self.__dict__.setdefault("_forward_hooks", OrderedDict())
        handle = RemovableHandle(lambda: hooks.pop(handle.id, None))
        hooks[handle.id] = hook
        return handle

    def extra_repr(self) -> str:
        return ""

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    def __repr__(self) -> str:
        lines = []
        for k, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({k}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        own = sum(p.size for p in self._parameters.values() if p is not None)
        if lines:
            return head + "\n" + "\n".join(lines) + f"\n)  # {self.num_parameters():,} parameters"
        return head + ")" + (f"  # {own:,} parameters" if own else "")


class Sequential(Module):
    """Modules applied in order."""

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for k, m in modules[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m: Module) -> Sequential:
        self.add_module(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    """A list of submodules, registered (indexable, iterable)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, ms) -> ModuleList:
        for m in ms:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __setitem__(self, i: int, m: Module) -> None:
        keys = list(self._modules)
        self._modules[keys[i]] = m

    def insert(self, index: int, m: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, m)
        self._modules.clear()
        for k, sub in enumerate(mods):
            self._modules[str(k)] = sub

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, k):
        return self._modules[k]

    def __setitem__(self, k, m):
        self.add_module(k, m)

    def __len__(self):
        return len(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def __iter__(self):
        return iter(self._modules)
