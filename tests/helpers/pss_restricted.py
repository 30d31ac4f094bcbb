#!/usr/bin/env python3
"""pss_restricted.py — check Kubernetes workloads against the Pod Security Standards, "restricted"
profile (which includes "baseline"), one rule at a time, as the Kubernetes documentation states them
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, v1.34), plus nanoclaw's own
stricter rules (marked "nanoclaw:").

Usage: pss_restricted.py FILE.json [--quiet]
FILE holds a JSON array of objects or a kind: List; every Pod, Job, Deployment (any object with a pod
template) is checked. Prints "ok RULE" or "FAIL RULE: why" per pod and rule; exits 1 on any failure.
"""
import json
import sys

BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def containers(spec):
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            yield field, c


def sc(c):
    return c.get("securityContext") or {}


# Each rule: (name, function(pod_spec, pod_metadata) -> list of violations)
def host_process(spec, meta):
    out = []
    if (spec.get("securityContext") or {}).get("windowsOptions", {}).get("hostProcess"):
        out.append("spec.securityContext.windowsOptions.hostProcess is true")
    for f, c in containers(spec):
        if sc(c).get("windowsOptions", {}).get("hostProcess"):
            out.append(f"{f}[{c['name']}].securityContext.windowsOptions.hostProcess is true")
    return out


def host_namespaces(spec, meta):
    return [f"spec.{k} is true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]


def privileged(spec, meta):
    return [f"{f}[{c['name']}] is privileged" for f, c in containers(spec) if sc(c).get("privileged")]


def capabilities_baseline(spec, meta):
    out = []
    for f, c in containers(spec):
        for cap in (sc(c).get("capabilities") or {}).get("add") or []:
            if cap not in BASELINE_CAPS:
                out.append(f"{f}[{c['name']}] adds {cap}")
    return out


def host_path(spec, meta):
    return [f"volume {v.get('name')} is a hostPath" for v in spec.get("volumes") or [] if "hostPath" in v]


def host_ports(spec, meta):
    out = []
    for f, c in containers(spec):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append(f"{f}[{c['name']}] uses hostPort {p['hostPort']}")
    return out


def apparmor(spec, meta):
    out = []
    ok_types = {"RuntimeDefault", "Localhost"}
    for k, v in ((meta or {}).get("annotations") or {}).items():
        if k.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if v != "runtime/default" and not v.startswith("localhost/"):
                out.append(f"annotation {k}={v}")
    profiles = [("spec", (spec.get("securityContext") or {}).get("appArmorProfile"))]
    profiles += [(f"{f}[{c['name']}]", sc(c).get("appArmorProfile")) for f, c in containers(spec)]
    for where, p in profiles:
        if p and p.get("type") not in ok_types:
            out.append(f"{where} appArmorProfile {p.get('type')}")
    return out


def selinux(spec, meta):
    out = []
    opts = [("spec", (spec.get("securityContext") or {}).get("seLinuxOptions"))]
    opts += [(f"{f}[{c['name']}]", sc(c).get("seLinuxOptions")) for f, c in containers(spec)]
    for where, o in opts:
        if not o:
            continue
        if o.get("type", "") not in SELINUX_TYPES:
            out.append(f"{where} seLinuxOptions.type {o['type']}")
        for k in ("user", "role"):
            if o.get(k):
                out.append(f"{where} seLinuxOptions.{k} is set")
    return out


def proc_mount(spec, meta):
    return [f"{f}[{c['name']}] procMount {sc(c)['procMount']}" for f, c in containers(spec)
            if sc(c).get("procMount", "Default") != "Default"]


def seccomp_baseline(spec, meta):
    out = []
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append("spec seccompProfile Unconfined")
    for f, c in containers(spec):
        if (sc(c).get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append(f"{f}[{c['name']}] seccompProfile Unconfined")
    return out


def sysctls(spec, meta):
    return [f"sysctl {s.get('name')} is not in the safe set"
            for s in (spec.get("securityContext") or {}).get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]


def volume_types(spec, meta):
    out = []
    for v in spec.get("volumes") or []:
        kinds = [k for k in v if k != "name"]
        if not kinds or any(k not in RESTRICTED_VOLUMES for k in kinds):
            out.append(f"volume {v.get('name')} is {','.join(kinds) or 'of no type'}")
    return out


def privilege_escalation(spec, meta):
    return [f"{f}[{c['name']}] allowPrivilegeEscalation is not false" for f, c in containers(spec)
            if sc(c).get("allowPrivilegeEscalation") is not False]


def run_as_non_root(spec, meta):
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    out = ["spec.securityContext.runAsNonRoot is false"] if pod is False else []
    for f, c in containers(spec):
        v = sc(c).get("runAsNonRoot")
        if v is False or (v is None and pod is not True):
            out.append(f"{f}[{c['name']}] runAsNonRoot is not true (nor is the pod's)")
    return out


def run_as_user(spec, meta):
    out = ["spec.securityContext.runAsUser is 0"] if (spec.get("securityContext") or {}).get("runAsUser") == 0 else []
    out += [f"{f}[{c['name']}] runAsUser is 0" for f, c in containers(spec) if sc(c).get("runAsUser") == 0]
    return out


def seccomp_restricted(spec, meta):
    ok = {"RuntimeDefault", "Localhost"}
    pod = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    out = [f"spec seccompProfile {pod}"] if pod is not None and pod not in ok else []
    for f, c in containers(spec):
        t = (sc(c).get("seccompProfile") or {}).get("type")
        if (t is None and pod not in ok) or (t is not None and t not in ok):
            out.append(f"{f}[{c['name']}] seccompProfile {t} (pod: {pod})")
    return out


def capabilities_restricted(spec, meta):
    out = []
    for f, c in containers(spec):
        caps = sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{f}[{c['name']}] does not drop ALL")
        for cap in caps.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                out.append(f"{f}[{c['name']}] adds {cap}")
    return out


# nanoclaw's bar above "restricted"
def read_only_root(spec, meta):
    return [f"{f}[{c['name']}] readOnlyRootFilesystem is not true" for f, c in containers(spec)
            if sc(c).get("readOnlyRootFilesystem") is not True]


def no_token(spec, meta):
    return [] if spec.get("automountServiceAccountToken") is False else ["automountServiceAccountToken is not false"]


def limits(spec, meta):
    return [f"{f}[{c['name']}] has no memory limit" for f, c in containers(spec)
            if "memory" not in ((c.get("resources") or {}).get("limits") or {})]


def memory_scratch(spec, meta):
    out = []
    for v in spec.get("volumes") or []:
        e = v.get("emptyDir")
        if e is not None and (e.get("medium") != "Memory" or not e.get("sizeLimit")):
            out.append(f"emptyDir {v.get('name')} is not memory-backed with a sizeLimit")
    return out


RULES = [
    ("baseline: HostProcess", host_process),
    ("baseline: Host Namespaces", host_namespaces),
    ("baseline: Privileged Containers", privileged),
    ("baseline: Capabilities", capabilities_baseline),
    ("baseline: HostPath Volumes", host_path),
    ("baseline: Host Ports", host_ports),
    ("baseline: AppArmor", apparmor),
    ("baseline: SELinux", selinux),
    ("baseline: /proc Mount Type", proc_mount),
    ("baseline: Seccomp", seccomp_baseline),
    ("baseline: Sysctls", sysctls),
    ("restricted: Volume Types", volume_types),
    ("restricted: Privilege Escalation", privilege_escalation),
    ("restricted: Running as Non-root", run_as_non_root),
    ("restricted: Running as Non-root user", run_as_user),
    ("restricted: Seccomp", seccomp_restricted),
    ("restricted: Capabilities", capabilities_restricted),
    ("nanoclaw: read-only root filesystem", read_only_root),
    ("nanoclaw: no service account token", no_token),
    ("nanoclaw: memory limit", limits),
    ("nanoclaw: scratch space is memory-backed and sized", memory_scratch),
]


def pods(items):
    for o in items:
        if o.get("kind") == "Pod":
            yield f"Pod/{o['metadata']['name']}", o.get("spec") or {}, o.get("metadata")
        tmpl = (o.get("spec") or {}).get("template")
        if tmpl:
            yield f"{o['kind']}/{o['metadata']['name']}", tmpl.get("spec") or {}, tmpl.get("metadata")


def main():
    doc = json.load(open(sys.argv[1]))
    quiet = "--quiet" in sys.argv
    items = doc["items"] if isinstance(doc, dict) and doc.get("kind") == "List" else doc
    if isinstance(items, dict):
        items = [items]
    failed = checked = 0
    for name, spec, meta in pods(items):
        for rule, fn in RULES:
            problems = fn(spec, meta)
            checked += 1
            if problems:
                failed += 1
                print(f"FAIL {name}: {rule}: {'; '.join(problems)}")
            elif not quiet:
                print(f"ok   {name}: {rule}")
    if checked == 0:
        print("FAIL no pod specs found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
