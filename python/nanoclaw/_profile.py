"""Profile keys and keyword arguments -> nc_profile (private).

The key list is libnanoclaw's own (nc_profile_key_name/nc_profile_key_info),
so a key the C library gains is accepted here without a change, and a typo is
refused before anything runs.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import weakref
from ctypes import byref, c_bool, c_char_p
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from . import _lib
from .errors import ProfileError

# One setting as nc_profile_set takes it: (key, value, where). where names the
# origin in messages; None means the key itself. A key of "@file" loads a JSON
# profile file (value: its path).
Setting = Tuple[str, str, Optional[str]]
FILE = "@file"


@dataclass(frozen=True)
class KeyInfo:
    """One profile key, as libnanoclaw describes it.

    Attributes:
        name: the key as in a JSON profile, dotted for groups (``"mem_limit"``, ``"audit.log"``).
        default: the default as ``nanoclaw run --help`` shows it.
        help: one line saying what it does.
        is_list: True when the key takes a list (each element is appended).
    """

    name: str
    default: str
    help: str
    is_list: bool

    @property
    def kwarg(self) -> str:
        """The flattened keyword form: ``"audit.log"`` -> ``"audit_log"``."""
        return self.name.replace(".", "_")

    @property
    def group(self) -> Optional[str]:
        """``"audit"`` for ``"audit.log"``; None for a plain key."""
        return self.name.split(".", 1)[0] if "." in self.name else None


_keys: Optional[Tuple[KeyInfo, ...]] = None


def profile_keys() -> Tuple[KeyInfo, ...]:
    """Every key a sandbox profile accepts, in ``nanoclaw run --help`` order (from libnanoclaw)."""
    global _keys
    if _keys is None:
        L = _lib.lib()
        out = []
        i = 0
        while True:
            raw = L.nc_profile_key_name(i)
            if raw is None:
                break
            d, h, lst = c_char_p(), c_char_p(), c_bool()
            if L.nc_profile_key_info(raw, byref(d), byref(h), byref(lst)) == 0:
                out.append(KeyInfo(raw.decode(), (d.value or b"").decode(), (h.value or b"").decode(), bool(lst.value)))
            i += 1
        _keys = tuple(out)
    return _keys


def key_map() -> Dict[str, KeyInfo]:
    return {k.name: k for k in profile_keys()}


# ---- values ----

def _scalar(key: str, where: str, v: Any) -> str:
    """One Python value as nanoclaw's string form of it."""
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, int):
        s = str(v)
    elif isinstance(v, float):
        s = repr(v)
        if "e" in s or "E" in s:
            s = format(v, "f").rstrip("0").rstrip(".") if v == v and abs(v) != float("inf") else s
    elif isinstance(v, datetime.timedelta):
        s = _scalar(key, where, v.total_seconds())
    elif isinstance(v, str):
        s = v
    elif isinstance(v, os.PathLike):
        s = os.fspath(v)
        if isinstance(s, bytes):
            s = os.fsdecode(s)
    else:
        raise TypeError("%s: expected str, int, float or bool, got %s" % (where, type(v).__name__))
    if "\0" in s:
        raise ProfileError("%s: %r contains a NUL byte" % (where, s), 22)
    return s


def _values(k: KeyInfo, where: str, v: Any) -> List[str]:
    """The string(s) nc_profile_set is called with for value v of key k."""
    if k.is_list:
        if isinstance(v, Mapping):
            if k.name != "env":
                raise TypeError("%s: expected a list of strings, got a dict" % where)
            out = []
            for name, val in v.items():
                if not isinstance(name, str):
                    raise TypeError("%s: variable names must be str, got %s" % (where, type(name).__name__))
                # None: copy it from the caller's environment (like --env NAME)
                out.append(_scalar(k.name, where, name) if val is None
                           else "%s=%s" % (_scalar(k.name, where, name), _scalar(k.name, where, val)))
            return out
        if isinstance(v, (str, os.PathLike)):
            return [_scalar(k.name, where, v)]
        if isinstance(v, (bytes, bytearray)) or not isinstance(v, Iterable):
            raise TypeError("%s: expected a list of strings, got %s" % (where, type(v).__name__))
        return [_scalar(k.name, where, x) for x in v]
    if isinstance(v, (list, tuple, set, frozenset, Mapping)):
        raise TypeError("%s takes one value, not a %s" % (where, type(v).__name__))
    return [_scalar(k.name, where, v)]


def settings_from_kwargs(caller: str, kwargs: Mapping[str, Any], prefix: str = "") -> List[Setting]:
    """Keyword arguments -> settings, or TypeError naming every unknown keyword.

    Accepted names: every plain key (``mem_limit``); a group as a dict
    (``audit={"log": "none"}``); a group member flattened with an underscore
    (``audit_log="none"``). With ``prefix`` ("agent."), names are members of that
    group only (``max_steps`` -> ``agent.max_steps``). None values are skipped
    (nanoclaw's default stays).
    """
    keys = key_map()
    flat = {k.kwarg: k for k in keys.values() if k.group}
    groups = {k.group: [m.name.split(".", 1)[1] for m in keys.values() if m.group == k.group]
              for k in keys.values() if k.group}
    unknown: List[Tuple[str, List[str]]] = []  # (name as given, names it may have meant)
    seen: Dict[str, str] = {}
    out: List[Setting] = []

    def add(k: KeyInfo, where: str, v: Any) -> None:
        if k.name in seen:
            raise TypeError("%s got %s twice (as %s and as %s)" % (caller, k.name, seen[k.name], where))
        seen[k.name] = where
        if v is None:
            return
        for s in _values(k, where, v):
            out.append((k.name, s, None if where == k.name else where))

    if prefix:
        members = [k.name[len(prefix):] for k in keys.values() if k.name.startswith(prefix)]
    plain = [n for n in keys if "." not in n] + sorted(groups) + sorted(flat)
    for name, v in kwargs.items():
        if prefix:
            if name in members:
                add(keys[prefix + name], name, v)
            else:
                unknown.append((repr(name), [repr(m) for m in difflib.get_close_matches(name, members, 1)]))
        elif name in keys and "." not in name:
            add(keys[name], name, v)
        elif name in groups:
            if v is None:
                continue
            if not isinstance(v, Mapping):
                raise TypeError("%s: %s takes a dict of its settings (%s), got %s"
                                % (caller, name, ", ".join(groups[name]), type(v).__name__))
            for member, mv in v.items():
                if member in groups[name]:
                    add(keys["%s.%s" % (name, member)], "%s.%s" % (name, member), mv)
                else:
                    unknown.append((repr("%s[%r]" % (name, member)),
                                    [repr("%s[%r]" % (name, m))
                                     for m in difflib.get_close_matches(str(member), groups[name], 1)]))
        elif name in flat:
            add(flat[name], name, v)
        else:
            unknown.append((repr(name), [repr(m) for m in difflib.get_close_matches(name, plain, 1)]))
    if unknown:
        parts = ["%s (did you mean %s?)" % (u, s[0]) if s else u for u, s in unknown]
        raise TypeError("%s got %s: %s" % (caller, "an unexpected keyword argument" if len(unknown) == 1
                                           else "unexpected keyword arguments", ", ".join(parts)))
    return out


# ---- nc_profile ----

class Profile:
    """An nc_profile* built from settings; freed when garbage-collected or closed."""

    def __init__(self, settings: Iterable[Setting] = ()) -> None:
        L = _lib.lib()
        ptr = L.nc_profile_new()
        if not ptr:
            raise MemoryError("nc_profile_new")
        self.ptr: Optional[int] = ptr
        self._fin = weakref.finalize(self, L.nc_profile_free, ptr)
        for s in settings:
            self.set(*s)

    def set(self, key: str, value: str, where: Optional[str] = None) -> None:
        L = _lib.lib()
        err = _lib.NcError()
        if key == FILE:
            r = L.nc_profile_load_file(self.ptr, os.fsencode(value), byref(err))
        else:
            r = L.nc_profile_set(self.ptr, key.encode(), value.encode("utf-8", "surrogateescape"),
                                 where.encode() if where else None, byref(err))
        if r < 0:
            raise ProfileError(err.text, err.code)

    def validate(self) -> None:
        err = _lib.NcError()
        if _lib.lib().nc_profile_validate(self.ptr, byref(err)) < 0:
            raise ProfileError(err.text, err.code)

    def to_json(self) -> str:
        err = _lib.NcError()
        s = _lib.take_string(_lib.lib().nc_profile_to_json(self.ptr, byref(err)))
        if s is None:
            raise ProfileError(err.text, err.code)
        return s

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(self.to_json())

    def close(self) -> None:
        self._fin()
        self.ptr = None


def duration_ms(v: Any) -> int:
    """A duration of the canonical profile JSON (60, 2.5, "2.5", "500ms") in ms."""
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, (int, float)):
        return int(round(v * 1000))
    s = str(v).strip()
    for unit, mul in (("ms", 1), ("min", 60000), ("s", 1000), ("m", 60000), ("h", 3600000)):
        if s.endswith(unit):
            return int(round(float(s[: -len(unit)]) * mul))
    return int(round(float(s) * 1000))


def size_bytes(where: str, v: Any) -> int:
    """An int, or a size string like "64k", "10m", "1MiB", in bytes."""
    if isinstance(v, bool):
        raise TypeError("%s: expected a size, got bool" % where)
    if isinstance(v, int):
        if v < 0:
            raise ValueError("%s: %d is negative" % (where, v))
        return v
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*", v, re.IGNORECASE)
        if not m:
            raise ValueError("%s: %r is not a size (try 64k or 10m)" % (where, v))
        mul = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get((m.group(2) or "").lower(), 1)
        return int(float(m.group(1)) * mul)
    raise TypeError("%s: expected an int or a size string, got %s" % (where, type(v).__name__))
