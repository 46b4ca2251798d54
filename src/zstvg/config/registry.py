"""Name -> builder registries with lazy imports for every swappable part.

A registry maps a public name ("qwen2-vl", "sam2-hf", "hcstvg-v1") to a ``"module:attr"``
string; the module is imported only when that name is built, so listing or validating names
never imports torch or a heavy backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class UnknownNameError(KeyError):
    """A registry lookup with a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class Registry:
    """A named table of lazily imported builders."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str] = {}

    def register(self, name: str, target: str) -> None:
        """Register ``name`` -> ``"package.module:attribute"``."""
        if ":" not in target:
            raise ValueError(f"{self.kind} target must look like 'module:attr', got {target!r}")
        if name in self._targets and self._targets[name] != target:
            raise ValueError(f"{self.kind} {name!r} is already registered to {self._targets[name]}")
        self._targets[name] = target

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def get(self, name: str) -> Callable[..., Any]:
        """Import and return the builder for ``name``; unknown names list the known ones."""
        try:
            target = self._targets[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or '(none)'}"
            ) from None
        module_name, attr = target.split(":", 1)
        builder: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
        return builder

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)
