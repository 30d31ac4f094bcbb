#!/usr/bin/env python3
"""mkimage.py — build container images by hand for tests/integration/image.sh.

  mkimage.py oci OUT_DIR [options] LAYER...        an OCI image layout (index.json, blobs/)
  mkimage.py docker-archive OUT_TAR [options] LAYER...   what `docker save` writes
  mkimage.py hostile KIND OUT_TAR                  one hostile layer tarball (see HOSTILE)

A LAYER is a directory (tarred as root:root, sorted) or an existing .tar file.
Options: --env K=V (repeatable), --workdir DIR, --user U, --entrypoint JSON,
--cmd JSON, --gzip, --tag NAME (docker-archive RepoTags / oci ref.name), --arch A.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def tar_dir(path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def filt(ti):
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mtime = 1700000000
            return ti
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                full = os.path.join(root, name)
                arc = os.path.relpath(full, path)
                t.add(full, arcname=arc, recursive=False, filter=filt)
    return buf.getvalue()


def layer_bytes(spec):
    if os.path.isdir(spec):
        return tar_dir(spec)
    with open(spec, "rb") as f:
        return f.read()


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def config_for(args, diff_ids):
    cfg = {"Env": args.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    if args.workdir:
        cfg["WorkingDir"] = args.workdir
    if args.user is not None:
        cfg["User"] = args.user
    if args.entrypoint:
        cfg["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd:
        cfg["Cmd"] = json.loads(args.cmd)
    return json.dumps({
        "architecture": args.arch, "os": "linux", "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "mkimage.py"}],
    }, sort_keys=True).encode()


def build_layers(args):
    raw = [layer_bytes(s) for s in args.layers]
    diff_ids = [sha(b) for b in raw]
    shipped = [gzip.compress(b, mtime=0) if args.gzip else b for b in raw]
    return raw, diff_ids, shipped


def oci(args):
    raw, diff_ids, shipped = build_layers(args)
    os.makedirs(os.path.join(args.out, "blobs", "sha256"), exist_ok=True)

    def put(b):
        d = sha(b)
        with open(os.path.join(args.out, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(b)
        return d

    cfg = config_for(args, diff_ids)
    lt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if args.gzip else "")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
        "layers": [{"mediaType": lt, "digest": put(b), "size": len(b)} for b in shipped],
    }, sort_keys=True).encode()
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
            "size": len(manifest)}
    if args.tag:
        desc["annotations"] = {"org.opencontainers.image.ref.name": args.tag}
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(args.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(desc["digest"])


def docker_archive(args):
    raw, diff_ids, shipped = build_layers(args)
    cfg = config_for(args, diff_ids)
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    members = [(cfg_name, cfg)]
    names = []
    for i, b in enumerate(shipped):
        n = "%064x/layer.tar" % (i + 1)
        names.append(n)
        members.append((n, b))
    man = [{"Config": cfg_name, "RepoTags": [args.tag] if args.tag else None, "Layers": names}]
    members.append(("manifest.json", json.dumps(man).encode()))
    with tarfile.open(args.out, "w") as t:
        for n, b in members:
            ti = tarfile.TarInfo(n)
            ti.size = len(b)
            ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(b))


def add(t, name, typ=tarfile.REGTYPE, data=b"", mode=0o644, link="", dev=(0, 0)):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.linkname = link
    ti.devmajor, ti.devminor = dev
    ti.mtime = 1700000000
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)


# Each builds one hostile layer. TARGET (env NC_TARGET) is a host directory
# the attack tries to write into.
def hostile(kind, out):
    target = os.environ.get("NC_TARGET", "/tmp/nc-hostile-target")
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
        add(t, "ok", data=b"fine\n")
        if kind == "dotdot":
            add(t, "../../../../../.." + target + "/dotdot", data=b"pwned\n")
        elif kind == "abs":
            add(t, target + "/abs", data=b"pwned\n")
        elif kind == "symlink-write":
            add(t, "link", tarfile.SYMTYPE, link=target)
            add(t, "link/through-symlink", data=b"pwned\n")
        elif kind == "symlink-rel-write":
            add(t, "up", tarfile.SYMTYPE, link="../../../../../../../../.." + target)
            add(t, "up/through-rel-symlink", data=b"pwned\n")
        elif kind == "hardlink-out":
            add(t, "shadow", tarfile.LNKTYPE, link="/etc/shadow")
        elif kind == "hardlink-dotdot":
            add(t, "shadow", tarfile.LNKTYPE, link="../../../../../../etc/shadow")
        elif kind == "hardlink-via-symlink":
            add(t, "etcl", tarfile.SYMTYPE, link="/etc")
            add(t, "shadow", tarfile.LNKTYPE, link="etcl/shadow")
        elif kind == "device":
            add(t, "mem", tarfile.CHRTYPE, mode=0o666, dev=(1, 1))
            add(t, "sda", tarfile.BLKTYPE, mode=0o666, dev=(8, 0))
            add(t, "fifo", tarfile.FIFOTYPE, mode=0o666)
        elif kind == "setuid":
            add(t, "suid", data=b"#!/bin/sh\nid\n", mode=0o4755)
            add(t, "sgid", data=b"x", mode=0o2755)
            add(t, "sticky", tarfile.DIRTYPE, mode=0o1777)
        elif kind == "whiteout-escape":
            add(t, ".wh...", data=b"")
        else:
            sys.exit("unknown hostile kind " + kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("out")
    ap.add_argument("layers", nargs="*")
    ap.add_argument("--env", action="append")
    ap.add_argument("--workdir")
    ap.add_argument("--user")
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--tag")
    ap.add_argument("--arch", default="amd64")
    args = ap.parse_args()
    if args.mode == "oci":
        oci(args)
    elif args.mode == "docker-archive":
        docker_archive(args)
    elif args.mode == "hostile":
        hostile(args.out, args.layers[0])
    else:
        sys.exit("unknown mode " + args.mode)


if __name__ == "__main__":
    main()
