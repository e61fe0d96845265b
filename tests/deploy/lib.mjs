// Helpers for the deploy checks: YAML loading, strict schema validation (Kubernetes + KEDA +
// Prometheus Operator models), a small libconfig reader and the rendered-overlay cache.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const OVERLAYS = ["aks-virtual-nodes", "eks", "eks-mtls"];
export const RENDER_DIR = process.env.DEPLOY_RENDER_DIR; // set by run.sh: <dir>/<overlay>.yaml

/* All documents of a YAML file or string (null documents dropped). */
export function loadYaml(text) {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(d.errors[0].message);
      return d.toJS();
    })
    .filter((d) => d != null);
}
export const loadFile = (p) => loadYaml(fs.readFileSync(p, "utf8"));

/* The objects `kustomize build k8s/overlays/<name>` produced (run.sh renders them first). */
export function rendered(overlay) {
  if (!RENDER_DIR) throw new Error("DEPLOY_RENDER_DIR not set: run tests/deploy/run.sh");
  return loadFile(path.join(RENDER_DIR, `${overlay}.yaml`));
}

const MODELS = path.join(HERE, "node_modules");
function schemaFile(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
  const V = version[0].toUpperCase() + version.slice(1);
  const table = {
    core: `kubernetes-models/_schemas/IoK8sApiCoreV1${kind}.js`,
    apps: `kubernetes-models/_schemas/IoK8sApiApps${V}${kind}.js`,
    "keda.sh": `@kubernetes-models/keda/_schemas/ComGithubKedacoreKedaV2ApisKeda${V}${kind}.js`,
    "monitoring.coreos.com":
      `@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoring${V}${kind}.js`,
  };
  const rel = table[group];
  if (!rel || (group === "core" && version !== "v1")) return null;
  const p = path.join(MODELS, rel);
  return fs.existsSync(p) ? p : null;
}

/* Wraps v so that every property the validator reads (or enumerates) is recorded in `seen`. */
function track(v, at, seen) {
  if (v === null || typeof v !== "object") return v;
  return new Proxy(v, {
    get(t, k, r) {
      if (typeof k === "string") seen.add(`${at}/${k}`);
      return track(Reflect.get(t, k, r), `${at}/${String(k)}`, seen);
    },
    ownKeys(t) {
      for (const k of Reflect.ownKeys(t)) if (typeof k === "string") seen.add(`${at}/${k}`);
      return Reflect.ownKeys(t);
    },
  });
}
function unread(v, at, seen, out) {
  if (v === null || typeof v !== "object") return;
  for (const k of Object.keys(v)) {
    const p = `${at}/${k}`;
    if (!seen.has(p)) out.push(p);
    else unread(v[k], p, seen, out);
  }
}

/*
 * Validates one object against its published schema. The models' compiled validators check
 * types, enums, formats and required fields but (like the API server's non-strict mode) ignore
 * unknown fields; so the validator runs on a proxy that records every property it reads, and any
 * property it never looked at is an unknown field (kubectl --validate=strict behaviour).
 * Returns a list of error strings (empty = valid). ignoreRequired: for patches (partial objects).
 */
export async function validateObject(obj, { ignoreRequired = false } = {}) {
  if (!obj || typeof obj !== "object") return ["not an object"];
  const file = schemaFile(String(obj.apiVersion ?? ""), String(obj.kind ?? ""));
  if (!file) return [`no schema for apiVersion=${obj.apiVersion} kind=${obj.kind}`];
  const { validate } = await import(file);
  const seen = new Set();
  const ok = validate(track(obj, "", seen));
  const errors = ok
    ? []
    : (validate.errors ?? [])
        .filter((e) => !(ignoreRequired && e.keyword === "required"))
        .map((e) => `${e.instancePath || "/"} ${e.keyword}: ${JSON.stringify(e.params)}`);
  const unknown = [];
  unread(obj, "", seen, unknown);
  return [...new Set(errors)].concat(unknown.map((p) => `${p}: unknown field`));
}

/*
 * Minimal libconfig reader for the worker's file: groups of scalar settings
 * (`group = { name = "str" | 123 | true; };`), # // and block comments. Returns {"group.name": value}.
 */
export function parseLibconfig(text) {
  const src = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const toks = [];
  const re = /\s+|#[^\n]*|\/\/[^\n]*|("(?:[^"\\]|\\.)*")|([A-Za-z*][-A-Za-z0-9_*]*)|([-+]?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)L?)|([={}:;,])/y;
  let m;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    if (!(m = re.exec(src))) throw new Error(`libconfig: bad input at ${at}: ${src.slice(at, at + 20)}`);
    if (m[1] !== undefined) toks.push({ t: "str", v: JSON.parse(m[1]) });
    else if (m[2] !== undefined) toks.push({ t: "id", v: m[2] });
    else if (m[3] !== undefined) toks.push({ t: "num", v: Number(m[3].replace(/L$/, "")) });
    else if (m[4] !== undefined) toks.push({ t: "p", v: m[4] });
  }
  const out = {};
  let i = 0;
  const expect = (v) => {
    if (toks[i]?.v !== v) throw new Error(`libconfig: expected '${v}' at token ${i}`);
    i++;
  };
  function settings(prefix, end) {
    while (i < toks.length && toks[i].v !== end) {
      const name = toks[i++];
      if (name.t !== "id") throw new Error(`libconfig: expected a name, got ${name.v}`);
      if (toks[i].v !== "=" && toks[i].v !== ":") throw new Error(`libconfig: expected '=' after ${name.v}`);
      i++;
      const key = prefix ? `${prefix}.${name.v}` : name.v;
      const v = toks[i++];
      if (v.v === "{") { settings(key, "}"); expect("}"); }
      else if (v.t === "str") { let s = v.v; while (toks[i]?.t === "str") s += toks[i++].v; out[key] = s; }
      else if (v.t === "num") out[key] = v.v;
      else if (v.t === "id" && /^(true|false)$/i.test(v.v)) out[key] = /^true$/i.test(v.v);
      else throw new Error(`libconfig: unsupported value for ${key}`);
      if (toks[i]?.v === ";" || toks[i]?.v === ",") i++;
    }
  }
  settings("", undefined);
  return out;
}

/* Looks an object up by kind (and name) in a list of rendered objects. */
export const find = (objs, kind, name) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
export function one(objs, kind, name) {
  const f = find(objs, kind, name);
  if (f.length !== 1) throw new Error(`expected one ${kind}${name ? " " + name : ""}, found ${f.length}`);
  return f[0];
}

/* The worker Deployment's container, its ConfigMaps and the effective settings the worker will
 * see: defaults <- the mounted libconfig file <- env (literal values and configMapKeyRefs). */
export const DEFAULTS = {
  "kafka.group_id": "ordersink",
  "kafka.auto_offset_reset": "earliest",
  "shutdown.timeout_ms": 20000,
  "metrics.port": 9464,
  "batch.max_count": 100,
};
export function workerView(objs) {
  const dep = one(objs, "Deployment", "ordersink-worker");
  const pod = dep.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "worker");
  const cms = Object.fromEntries(find(objs, "ConfigMap").map((cm) => [cm.metadata.name, cm]));
  const envVal = (e) => {
    if (e.value !== undefined) return e.value;
    const r = e.valueFrom?.configMapKeyRef;
    if (r) return cms[r.name]?.data?.[r.key];
    return undefined; // secrets: not known here
  };
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, envVal(e)]));
  // The file ORDERSINK_CONFIG points at, found through the volume mounted at its directory.
  const cfgPath = env.ORDERSINK_CONFIG;
  const mount = (c.volumeMounts ?? []).find((m) => cfgPath?.startsWith(m.mountPath + "/"));
  const vol = mount && pod.volumes.find((v) => v.name === mount.name);
  const cm = vol?.configMap && cms[vol.configMap.name];
  const cfgText = cm?.data?.[path.posix.basename(cfgPath ?? "")];
  const file = cfgText ? parseLibconfig(cfgText) : {};
  const settings = { ...DEFAULTS, ...file };
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("ORDERSINK_") || v === undefined) continue;
    const key = k.slice("ORDERSINK_".length).toLowerCase().replace("_", ".");
    settings[key] = typeof DEFAULTS[key] === "number" ? Number(v) : v;
  }
  return { dep, pod, container: c, env, cfgText, file, settings, cms };
}

/*
 * The PrometheusRule manifest (k8s/components/monitoring/prometheusrule.yaml) made from the plain
 * rules file, the one source: its `groups:` block, comments and all, indented under `spec:`.
 * tests/deploy/gen-prometheusrule.mjs writes it; deploy.test.mjs fails when the file differs.
 */
export const MONITORING = path.join(ROOT, "k8s/components/monitoring");
export function prometheusRuleText(rulesText) {
  const lines = rulesText.split("\n");
  const start = lines.findIndex((l) => /^groups:/.test(l));
  if (start < 0) throw new Error("rules file: no top-level groups:");
  const body = lines.slice(start).map((l) => (l ? "  " + l : l)).join("\n");
  return [
    "# GENERATED from ordersink-rules.yaml by `node tests/deploy/gen-prometheusrule.mjs`: edit that",
    "# file, not this one (tests/deploy fails when they differ). For the Prometheus Operator: its",
    "# Prometheus must select this object (ruleSelector / ruleNamespaceSelector; kube-prometheus-stack",
    "# selects label release=<helm release> by default: add it in your overlay). docs/operating.md.",
    "apiVersion: monitoring.coreos.com/v1",
    "kind: PrometheusRule",
    "metadata:",
    "  name: ordersink",
    "  namespace: ordersink",
    "  labels:",
    "    app.kubernetes.io/name: ordersink",
    "    app.kubernetes.io/instance: ordersink",
    "spec:",
    body,
  ].join("\n");
}
