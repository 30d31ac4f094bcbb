"""Loading libnanoclaw and declaring its C API to ctypes (private).

The structures mirror include/nanoclaw.h field by field; tests/test_abi.py
checks them against the C compiler's own offsets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (POINTER, Structure, byref, c_bool, c_char, c_char_p, c_int, c_size_t, c_uint64, c_void_p)
from pathlib import Path
from typing import List, Optional, Tuple

from .errors import LibraryNotFoundError

__all__ = ["lib", "library_path", "NcError", "NcRunResult", "NcExecResult", "take_string"]

SONAME = "libnanoclaw.so.0"


class NcError(Structure):
    """struct nc_error"""
    _fields_ = [("code", c_int), ("msg", c_char * 1024)]

    @property
    def text(self) -> str:
        return self.msg.decode("utf-8", "replace")


class NcRunResult(Structure):
    """struct nc_run_result"""
    _fields_ = [
        ("id", c_char * 33),
        ("exit_code", c_int),
        ("signal", c_int),
        ("timed_out", c_bool),
        ("oom_killed", c_bool),
        ("output_truncated", c_bool),
        ("wall_ms", c_uint64),
        ("cpu_user_ms", c_uint64),
        ("cpu_sys_ms", c_uint64),
        ("mem_peak_bytes", c_uint64),
        ("output_dropped_bytes", c_uint64),
        ("enforced_memory", c_bool),
        ("enforced_cpu_shares", c_bool),
        ("enforced_cpus", c_bool),
        ("enforced_pids", c_bool),
        ("net_allowed", c_uint64),
        ("net_denied", c_uint64),
        ("net_failed", c_uint64),
        ("net_bytes_out", c_uint64),
        ("net_bytes_in", c_uint64),
    ]


class NcExecResult(Structure):
    """struct nc_exec_result (out/err as raw pointers: they may hold NUL bytes)"""
    _fields_ = [
        ("exit_code", c_int),
        ("signal", c_int),
        ("timed_out", c_bool),
        ("wall_ms", c_uint64),
        ("out", c_void_p),
        ("err", c_void_p),
        ("out_len", c_size_t),
        ("err_len", c_size_t),
        ("out_truncated", c_bool),
        ("err_truncated", c_bool),
    ]


_P = c_void_p  # opaque nc_profile*, nc_session*, nc_agent*
_E = POINTER(NcError)

# name: (restype, argtypes); "optional" ones may be missing from an older library
_API = {
    "nc_version": (c_char_p, []),
    "nc_profile_new": (_P, []),
    "nc_profile_free": (None, [_P]),
    "nc_profile_load_file": (c_int, [_P, c_char_p, _E]),
    "nc_profile_set": (c_int, [_P, c_char_p, c_char_p, c_char_p, _E]),
    "nc_profile_validate": (c_int, [_P, _E]),
    "nc_profile_to_json": (c_void_p, [_P, _E]),
    "nc_profile_key_name": (c_char_p, [c_size_t]),
    "nc_profile_key_info": (c_int, [c_char_p, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_bool)]),
    "nc_run_result_to_json": (c_void_p, [_P, POINTER(NcRunResult)]),
    "nc_session_start": (c_int, [_P, POINTER(_P), _E]),
    "nc_session_id": (c_char_p, [_P]),
    "nc_session_exec": (c_int, [_P, POINTER(c_char_p), c_char_p, c_size_t, c_uint64, c_size_t,
                                POINTER(NcExecResult), _E]),
    "nc_exec_result_free": (None, [POINTER(NcExecResult)]),
    "nc_session_stop": (c_int, [_P, POINTER(NcRunResult), _E]),
    "nc_agent_new": (_P, [c_char_p, c_char_p, _P, _E]),
    "nc_agent_execute": (c_int, [_P, c_char_p, POINTER(c_void_p), _E]),
    "nc_agent_execute_ex": (c_int, [_P, c_char_p, POINTER(c_void_p), POINTER(c_int), _E]),
    "nc_agent_free": (None, [_P]),
}
_REQUIRED = ("nc_version", "nc_profile_new", "nc_profile_free", "nc_profile_set", "nc_profile_validate",
             "nc_profile_to_json", "nc_profile_key_name", "nc_profile_key_info", "nc_session_start",
             "nc_session_exec", "nc_exec_result_free", "nc_session_stop")


def _candidates() -> List[Tuple[str, str]]:
    """(how, what) pairs in the order they are tried."""
    out: List[Tuple[str, str]] = []
    env = os.environ.get("NANOCLAW_LIBRARY")
    if env:  # explicit: that one or nothing
        return [("$NANOCLAW_LIBRARY", env)]
    here = Path(__file__).resolve().parent
    for name in (SONAME, "libnanoclaw.so"):
        if (here / name).exists():
            out.append(("the package directory", str(here / name)))
    out.append(("the system loader", SONAME))
    # in-tree use: python/nanoclaw/ -> ../../build/
    build = here.parent.parent / "build" / "libnanoclaw.so"
    out.append(("the source tree's build/", str(build)))
    return out


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_path: Optional[str] = None


def _load() -> ctypes.CDLL:
    global _lib, _path
    tried = []
    for how, what in _candidates():
        try:
            cdll = ctypes.CDLL(what)
        except OSError as e:
            tried.append("%s (%s): %s" % (what, how, e))
            continue
        missing = [n for n in _REQUIRED if not hasattr(cdll, n)]
        if missing:
            tried.append("%s (%s): too old, lacks %s" % (what, how, ", ".join(missing)))
            continue
        for name, (res, args) in _API.items():
            if hasattr(cdll, name):
                fn = getattr(cdll, name)
                fn.restype = res
                fn.argtypes = args
        _path = what
        return cdll
    raise LibraryNotFoundError(
        "cannot load libnanoclaw; tried " + "; ".join(tried) +
        ". Build it (meson setup build && ninja -C build) and set NANOCLAW_LIBRARY=/path/to/libnanoclaw.so, "
        "or install it (ninja -C build install && ldconfig)", 2)


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use, so `import nanoclaw` and help() work without it)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _load()
    return _lib


def library_path() -> str:
    """Where libnanoclaw was loaded from (loads it if needed)."""
    lib()
    assert _path is not None
    return _path


def has(name: str) -> bool:
    return hasattr(lib(), name)


def take_string(ptr: Optional[int]) -> Optional[str]:
    """A malloc'd C string as str; frees it."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        _libc_free(ptr)


_free = None


def _libc_free(ptr: int) -> None:
    global _free
    if _free is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.free.argtypes = [c_void_p]
        libc.free.restype = None
        _free = libc.free
    _free(ptr)


def new_error() -> NcError:
    return NcError()


__all__ += ["byref", "has", "new_error"]
