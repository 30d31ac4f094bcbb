"""A self-contained PEP 517/660 build backend for the nanoclaw package.

It needs nothing but the standard library, so ``pip install ./python`` works
offline, with pip's build isolation on (no setuptools or wheel download).

The wheel holds python/nanoclaw/ and, when one is found, a copy of
libnanoclaw (``nanoclaw/libnanoclaw.so.0``) so the installed package works
without NANOCLAW_LIBRARY: $NANOCLAW_LIBRARY if set, else the source tree's
build/libnanoclaw.so. NANOCLAW_BUNDLE=0 builds a pure-Python wheel that
finds the library at run time instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path

NAME = "nanoclaw"
HERE = Path(__file__).resolve().parent.parent  # python/
PKG = HERE / NAME


def _version() -> str:
    m = re.search(r'^__version__ = "([^"]+)"', (PKG / "__init__.py").read_text(), re.M)
    assert m, "no __version__ in nanoclaw/__init__.py"
    return m.group(1)


def _metadata() -> str:
    readme = HERE / "README.md"
    meta = [
        "Metadata-Version: 2.1",
        "Name: %s" % NAME,
        "Version: %s" % _version(),
        "Summary: Run AI agents and their commands in hardened Linux sandboxes (binding of libnanoclaw)",
        "License: Apache-2.0",
        "Requires-Python: >=3.8",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Programming Language :: Python :: 3",
    ]
    if readme.exists():
        meta.append("Description-Content-Type: text/markdown")
        return "\n".join(meta) + "\n\n" + readme.read_text()
    return "\n".join(meta) + "\n"


def _library() -> "Path | None":
    if os.environ.get("NANOCLAW_BUNDLE", "1") == "0":
        return None
    env = os.environ.get("NANOCLAW_LIBRARY")
    cands = [Path(env)] if env else [HERE.parent / "build" / "libnanoclaw.so"]
    for c in cands:
        if c.exists():
            return c.resolve()
    return None


def _sources():
    for p in sorted(PKG.rglob("*")):
        rel = p.relative_to(HERE).as_posix()
        if p.is_file() and "__pycache__" not in rel and not p.name.endswith((".pyc", ".so", ".so.0")):
            yield rel, p


class _Wheel:
    def __init__(self, path: Path, tag: str, purelib: bool) -> None:
        self.zf = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.records = []
        self.distinfo = "%s-%s.dist-info" % (NAME, _version())
        self.tag = tag
        self.purelib = purelib

    def add(self, arcname: str, data: bytes, mode: int = 0o644) -> None:
        zi = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        zi.external_attr = (0o100000 | mode) << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        self.zf.writestr(zi, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def close(self) -> None:
        d = self.distinfo
        self.add(d + "/METADATA", _metadata().encode())
        self.add(d + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: nanoclaw_build\nRoot-Is-Purelib: %s\nTag: %s\n"
                                % ("true" if self.purelib else "false", self.tag)).encode())
        self.add(d + "/top_level.txt", (NAME + "\n").encode())
        self.records.append(d + "/RECORD,,")
        self.zf.writestr(zipfile.ZipInfo(d + "/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
                         "\n".join(self.records) + "\n")
        self.zf.close()


def _tag(bundled: bool) -> str:
    if not bundled:
        return "py3-none-any"
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


# ---- PEP 517 ----

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    lib = _library()
    tag = _tag(lib is not None)
    name = "%s-%s-%s.whl" % (NAME, _version(), tag)
    w = _Wheel(Path(wheel_directory) / name, tag, lib is None)
    for rel, p in _sources():
        w.add(rel, p.read_bytes())
    if lib is not None:
        w.add(NAME + "/libnanoclaw.so.0", lib.read_bytes(), 0o755)
    w.close()
    return name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """An editable install: a .pth file putting python/ on sys.path (the library is
    then found through the source tree's build/ or NANOCLAW_LIBRARY)."""
    tag = "py3-none-any"
    name = "%s-%s-%s.whl" % (NAME, _version(), tag)
    w = _Wheel(Path(wheel_directory) / name, tag, True)
    w.add("__editable__.%s.pth" % NAME, (str(HERE) + "\n").encode())
    w.close()
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, _version())
    name = base + ".tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        def add(rel: str, data: bytes) -> None:
            ti = tarfile.TarInfo(base + "/" + rel)
            ti.size = len(data)
            ti.mtime = int(time.time())
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
        for rel, p in _sources():
            add(rel, p.read_bytes())
        for extra in ("pyproject.toml", "README.md", "build_backend/nanoclaw_build.py"):
            if (HERE / extra).exists():
                add(extra, (HERE / extra).read_bytes())
        add("PKG-INFO", _metadata().encode())
    return name
