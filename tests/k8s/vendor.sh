#!/usr/bin/env bash
# tests/k8s/vendor.sh — refresh tests/k8s/schemas/ from the npm registry (run by hand, not by the tests).
# The validators are the Kubernetes OpenAPI schemas compiled to JavaScript (ajv standalone) by the
# kubernetes-models project; we keep the ones our manifests use and their dependencies, with the
# imports rewritten to relative paths and its format checks replaced by tests/k8s/schemas/formats.js.
# Usage: tests/k8s/vendor.sh [VERSION]   (default: the version recorded in schemas/VERSION)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-$(sed -n 's/^kubernetes-models@//p' "$here/schemas/VERSION")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo '{"name":"vendor","version":"0.0.0","type":"module"}' >package.json
npm install --no-audit --no-fund --ignore-scripts "kubernetes-models@$version" >/dev/null 2>&1
apim=$(node -p 'require("./node_modules/@kubernetes-models/apimachinery/package.json").version')
python3 - "$here/schemas" <<'PY'
import os, re, shutil, sys
out = sys.argv[1]
roots = ["IoK8sApiBatchV1Job", "IoK8sApiNetworkingV1NetworkPolicy", "IoK8sApiAppsV1Deployment",
         "IoK8sApiCoreV1Service", "IoK8sApiCoreV1Secret"]
core, apim = "node_modules/kubernetes-models/_schemas", "node_modules/@kubernetes-models/apimachinery/_schemas"
for d in ("core", "apimachinery"):
    shutil.rmtree(os.path.join(out, d), ignore_errors=True)
    os.makedirs(os.path.join(out, d))
seen, stack = set(), [("core", r) for r in roots]
while stack:
    kind, name = stack.pop()
    if (kind, name) in seen:
        continue
    seen.add((kind, name))
    src = open(os.path.join(core if kind == "core" else apim, name + ".js")).read()
    def rewrite(m):
        imp, spec = m.group(1), m.group(2)
        return imp + target(spec)
    def target(spec):
        if spec == "@kubernetes-models/validate":
            return 'from"../formats.js"'
        if spec.startswith("@kubernetes-models/apimachinery/_schemas/"):
            n = spec.rsplit("/", 1)[1].removesuffix(".js")
            stack.append(("apimachinery", n))
            return 'from"../apimachinery/%s.js"' % n
        if spec.startswith("./"):
            n = spec[2:].removesuffix(".js")
            stack.append((kind, n))
            return 'from"./%s.js"' % n
        raise SystemExit("unexpected import " + spec)
    src = re.sub(r'(import\s*\{[^}]*\}\s*)from\s*"([^"]+)"', rewrite, src)
    open(os.path.join(out, kind, name + ".js"), "w").write(src)
print(len(seen), "validators")
PY
cp node_modules/kubernetes-models/LICENSE "$here/schemas/LICENSE"
printf 'kubernetes-models@%s\n@kubernetes-models/apimachinery@%s\n' "$version" "$apim" >"$here/schemas/VERSION"
