"""The one registry type behind every name a user can type: metrics, pruning methods, models, datasets,
encodings and graph file formats.

A :class:`Registry` maps names to objects with metadata. It refuses duplicates, resolves unknown names
with a "did you mean" hint, and can hold *lazy* entries (``"package.module:attribute"``) that are imported
on first use, so a low layer can name an implementation that lives in a higher one without importing it
(this is how :meth:`Graph.save <sparsegraph.graphs.base.Graph.save>` reaches the file writers).

Built-in modules and third-party plugins are loaded once, at the first lookup. Each plugin (an entry point
of the registry's group) is isolated: if it fails, whatever it registered is removed again, one warning
names the distribution, and the failure is listed by :meth:`Registry.broken_plugins`.

Example:
    >>> from sparsegraph.registry import Registry
    >>> colours = Registry("colour")
    >>> colours.register("red", (255, 0, 0), family="warm")
    (255, 0, 0)
    >>> colours.get("red"), colours.info("red")
    ((255, 0, 0), {'family': 'warm'})
    >>> colours.get("rde")
    Traceback (most recent call last):
    ...
    sparsegraph.errors.UsageError: unknown colour 'rde'; did you mean 'red'? known: red
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import importlib
import importlib.metadata
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sparsegraph.errors import RegistrationError, SparsegraphError, UsageError

T = TypeVar("T")


def did_you_mean(name: object, candidates: Iterable[str], *, cutoff: float = 0.6, lower: bool = False) -> str:
    """``"did you mean 'a', 'b'? "`` for the close matches of ``name`` among ``candidates``, else ``""``.

    Example:
        >>> did_you_mean("snp", ["snip", "synflow", "random"])
        "did you mean 'snip'? "
    """
    text = str(name).lower() if lower else str(name)
    close = difflib.get_close_matches(text, list(candidates), n=3, cutoff=cutoff)
    return f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""


def import_object(target: str) -> Any:
    """The object a ``"package.module"`` or ``"package.module:attr.sub"`` reference names."""
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass
class _Entry:
    name: str
    obj: Any
    lazy: str | None
    info: dict[str, Any]
    plugin: bool = False


@dataclass
class _State:
    entries: dict[str, _Entry] = field(default_factory=dict)
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (alias, canonical key)
    loaded: bool = False
    broken: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)


class Registry(Generic[T]):
    """Names -> objects with metadata.

    Args:
        kind: what an entry is, for messages (``"metric"``, ``"pruning method"``, ``"graph format"``).
        builtins: modules imported (once, before plugins) to register the built-in entries.
        entry_point_group: the entry-point group plugins use, or None.
        load_plugin: ``load_plugin(obj, registry)`` for what an entry point loaded; the default imports a
            module for its side effects and calls anything else with this registry.
        error: the :class:`UsageError` subclass raised for an unknown name.
        listing: a phrase after the hint of an unknown name; default ``"known: <names>"``.
        key: maps a name to its lookup key (e.g. case-insensitive): two names with one key are duplicates,
            and a lookup matches any spelling with the same key.
        cutoff: the similarity cutoff of the "did you mean" hint.
        lower: compare the lower-cased name with the candidates in that hint.
    """

    def __init__(self, kind: str, *, builtins: Iterable[str] = (), entry_point_group: str | None = None,
                 load_plugin: Callable[[Any, Registry], None] | None = None,
                 error: type[SparsegraphError] = UsageError, listing: Callable[[], str] | None = None,
                 key: Callable[[str], str] | None = None, cutoff: float = 0.6, lower: bool = False):
        self.kind = kind
        self.builtins = tuple(builtins)
        self.entry_point_group = entry_point_group
        self._load_plugin = load_plugin or _default_load_plugin
        self._error = error
        self._listing = listing
        self._key = key or (lambda name: name)
        self._cutoff = cutoff
        self._lower = lower
        self._state = _State()
        self._loading_plugin = False

    # ---------------------------------------------------------------------------------- registration
    def register(self, name: str, obj: T, *, override: bool = False, aliases: Iterable[str] = (),
                 **info: Any) -> T:
        """Add ``obj`` under ``name`` (and its ``aliases``) with metadata ``info``; returns ``obj``.

        Raises:
            RegistrationError: ``name`` is taken and ``override`` is False, or is not a non-empty string.
        """
        self._add(name, _Entry(name, obj, None, dict(info), self._loading_plugin), override)
        own = self._key(name)
        for alias in aliases:  # an alias may differ from the name only in spelling (it still helps hints)
            key = self._key(alias)
            if key != own and (key in self._state.entries or key in self._state.aliases):
                raise RegistrationError(f"alias {alias!r} of {self.kind} {name!r} is already taken")
            self._state.aliases[key] = (alias, own)
        return obj

    def register_lazy(self, name: str, target: str, *, override: bool = False, **info: Any) -> None:
        """Add ``"package.module:attribute"`` under ``name``; it is imported by the first :meth:`get`."""
        self._add(name, _Entry(name, None, target, dict(info), self._loading_plugin), override)

    def _add(self, name: str, entry: _Entry, override: bool) -> None:
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"a {self.kind} needs a non-empty name, got {name!r}")
        key = self._key(name)
        if (key in self._state.entries or key in self._state.aliases) and not override:
            raise RegistrationError(f"a {self.kind} named {name!r} is already registered")
        self._state.entries[key] = entry

    def peek(self, name: str) -> T | None:
        """What is registered as ``name`` right now (None if nothing), without loading anything."""
        entry = self._state.entries.get(self._key(name))
        if entry is not None and entry.lazy is not None:
            entry.obj, entry.lazy = import_object(entry.lazy), None
        return None if entry is None else entry.obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` (no error if absent)."""
        self._state.entries.pop(self._key(name), None)

    # ---------------------------------------------------------------------------------------- lookup
    def get(self, name: str) -> T:
        """The object registered as ``name`` (imported first if lazy).

        Raises:
            UsageError: (or the registry's ``error`` type) an unknown name, with close matches.
        """
        entry = self._find(name)
        if entry.lazy is not None:
            entry.obj, entry.lazy = import_object(entry.lazy), None
        return entry.obj

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (or of the entry it is an alias of)."""
        return self._find(name).name

    def info(self, name: str) -> dict[str, Any]:
        """The metadata registered with ``name``."""
        return dict(self._find(name).info)

    def is_plugin(self, name: str) -> bool:
        """Whether ``name`` was registered by a plugin (an entry point)."""
        return self._find(name).plugin

    def _find(self, name: str) -> _Entry:
        self.load()
        entry = self._state.entries.get(self._resolve_key(name)) if isinstance(name, str) else None
        if entry is None:
            raise self.unknown(name)
        return entry

    def _resolve_key(self, name: str) -> str:
        key = self._key(name)
        return self._state.aliases[key][1] if key in self._state.aliases else key

    def unknown(self, name: object, candidates: Iterable[str] | None = None) -> SparsegraphError:
        """The error for an unknown ``name``: close matches among ``candidates`` (default: every name and
        alias)."""
        if candidates is None:
            candidates = self.names() + [alias for alias, _ in self._state.aliases.values()]
        listing = self._listing() if self._listing else "known: " + ", ".join(self.names())
        hint = did_you_mean(str(name).strip(), candidates, cutoff=self._cutoff, lower=self._lower)
        return self._error(f"unknown {self.kind} {name!r}; {hint}{listing}")

    def names(self) -> list[str]:
        """Every registered name (as registered), in registration order."""
        self.load()
        return [entry.name for entry in self._state.entries.values()]

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, object)`` pairs in registration order (lazy entries are imported)."""
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: object) -> bool:
        self.load()
        return isinstance(name, str) and self._resolve_key(name) in self._state.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    # --------------------------------------------------------------------------------------- plugins
    def load(self) -> None:
        """Import the built-in modules, then every plugin of the entry-point group (once)."""
        if self._state.loaded:
            return
        self._state.loaded = True  # first: built-ins and plugins look names up while they load
        for module in self.builtins:
            importlib.import_module(module)
        if self.entry_point_group is None:
            return
        for entry_point in importlib.metadata.entry_points(group=self.entry_point_group):
            self._load_entry_point(entry_point)

    def _load_entry_point(self, entry_point: Any) -> None:
        dist_info = getattr(entry_point, "dist", None)
        dist = dist_info.name if dist_info is not None else "unknown distribution"
        before = set(self._state.entries)
        self._loading_plugin = True
        value = getattr(entry_point, "value", "?")
        try:
            self._load_plugin(entry_point.load(), self)
        except Exception as exc:  # a broken plugin must never break sparsegraph itself
            for name in set(self._state.entries) - before:
                del self._state.entries[name]
            self._state.broken.append(f"{dist}: {entry_point.name} = {value} ({type(exc).__name__}: {exc})")
            warnings.warn(f"skipped {self.kind} plugin {entry_point.name!r} of distribution {dist!r}: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=5)
            return
        finally:
            self._loading_plugin = False
        added = [self._state.entries[key].name for key in self._state.entries if key not in before]
        what = f"{len(added)} {self.kind}{'' if len(added) == 1 else 's'}"
        self._state.plugins.append(f"{dist}: {entry_point.name} = {value} ({what}"
                                   + (f": {', '.join(sorted(added))})" if added else ")"))

    def broken_plugins(self) -> list[str]:
        """One line per plugin that failed to load: ``distribution: name = value (error)``."""
        self.load()
        return list(self._state.broken)

    def loaded_plugins(self) -> list[str]:
        """One line per plugin that loaded: ``distribution: name = value (N <kind>s: names)``."""
        self.load()
        return list(self._state.plugins)

    def plugin_names(self) -> list[str]:
        """The names registered by plugins."""
        self.load()
        return [entry.name for entry in self._state.entries.values() if entry.plugin]

    def reset_plugins(self) -> None:
        """Forget plugin discovery: remove what plugins registered; the next lookup discovers again.

        For tests that install a plugin distribution at run time (built-in modules stay imported).
        """
        for name in [n for n, entry in self._state.entries.items() if entry.plugin]:
            del self._state.entries[name]
        self._state.broken.clear()
        self._state.plugins.clear()
        self._state.loaded = False

    @contextlib.contextmanager
    def sandbox(self, *, empty: bool = False, discover: bool = True) -> Iterator[Registry[T]]:
        """A scratch copy of the registry for the duration of a ``with`` block (tests).

        Args:
            empty: start with no entries (and no discovery) instead of a copy of the loaded registry.
            discover: with ``empty=False``, load built-ins and plugins before copying.
        """
        if not empty and discover:
            self.load()
        saved = self._state
        self._state = _State(loaded=True) if empty else copy.copy(saved)
        if not empty:
            self._state.entries = dict(saved.entries)
            self._state.aliases = dict(saved.aliases)
            self._state.broken = list(saved.broken)
            self._state.plugins = list(saved.plugins)
        try:
            yield self
        finally:
            self._state = saved


def _default_load_plugin(obj: Any, registry: Registry) -> None:
    import inspect

    if inspect.ismodule(obj):
        return  # imported for its registration side effects
    if not callable(obj):
        raise RegistrationError(f"entry point object {obj!r} is neither a module nor a callable")
    obj(registry)
