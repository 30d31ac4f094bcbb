// validate.mjs — check Kubernetes objects against the vendored schemas of a recent release
// (tests/k8s/schemas, see README.md), strictly: a field the schema does not know is an error too
// (kubectl --validate=strict), found by recording which properties the validator looked up.
// Usage: node tests/k8s/validate.mjs FILE.json   (a JSON array of objects, or a kind: List)
// Prints one line per problem and exits 1 when there is any.
import { readFileSync } from "node:fs";

const kinds = {
  "batch/v1/Job": "IoK8sApiBatchV1Job",
  "networking.k8s.io/v1/NetworkPolicy": "IoK8sApiNetworkingV1NetworkPolicy",
  "apps/v1/Deployment": "IoK8sApiAppsV1Deployment",
  "v1/Service": "IoK8sApiCoreV1Service",
  "v1/Secret": "IoK8sApiCoreV1Secret",
};

// Wrap every object in a Proxy that records the keys the validator reads; an object it enumerates
// (a map such as labels or resources.limits) may hold any key.
function track(v, path, records) {
  if (v === null || typeof v !== "object") return v;
  const rec = { path, v, seen: new Set(), map: false, array: Array.isArray(v) };
  records.push(rec);
  const kids = rec.array
    ? v.map((x, i) => track(x, `${path}/${i}`, records))
    : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, track(x, `${path}/${k}`, records)]));
  return new Proxy(kids, {
    get(t, k) { if (typeof k === "string") rec.seen.add(k); return t[k]; },
    has(t, k) { if (typeof k === "string") rec.seen.add(k); return k in t; },
    ownKeys(t) { rec.map = true; return Reflect.ownKeys(t); },
  });
}

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const items = Array.isArray(doc) ? doc : doc.kind === "List" ? doc.items : [doc];
let problems = 0;
for (const [i, obj] of items.entries()) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind}/${obj.metadata?.name}`;
  if (!kinds[key]) { console.log(`${name}: no schema for ${key}`); problems++; continue; }
  const { validate } = await import(`./schemas/core/${kinds[key]}.js`);
  const records = [];
  if (!validate(track(obj, "", records))) {
    for (const e of validate.errors) console.log(`${name}: ${e.instancePath || "/"} ${e.keyword} ${JSON.stringify(e.params)}`);
    problems += validate.errors.length;
  }
  for (const r of records) {
    if (r.array || r.map) continue;
    for (const k of Object.keys(r.v)) {
      if (!r.seen.has(k)) { console.log(`${name}: ${r.path}/${k} is not a field of the schema`); problems++; }
    }
  }
  if (i >= 0 && problems === 0) console.log(`ok ${name} (${key})`);
}
process.exit(problems ? 1 : 0);
