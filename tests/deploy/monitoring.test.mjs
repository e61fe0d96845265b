// Checks of the monitoring files (k8s/components/monitoring, k8s/components/podmonitor): the alert
// rules through promtool, the generated PrometheusRule against its source, schemas of everything
// the component renders, runbook links into docs/operating.md, every alert covered by the promtool
// unit tests, and the Grafana dashboard's structure.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, MONITORING, loadFile, rendered, validateObject, find, one, workerView, prometheusRuleText } from "./lib.mjs";

const PROMTOOL = path.join(ROOT, ".cache/promtool/usr/bin/promtool");
const RULES = path.join(MONITORING, "ordersink-rules.yaml");
const RULES_TEST = path.join(ROOT, "tests/monitoring/rules_test.yaml");
const DASHBOARD = path.join(MONITORING, "ordersink-dashboard.json");
const OPERATING = path.join(ROOT, "docs/operating.md");
const noPromtool = !fs.existsSync(PROMTOOL) && "promtool not installed (tests/rig/deps.sh)";
const rules = () => loadFile(RULES)[0];
const alerts = () => rules().groups.flatMap((g) => g.rules).filter((r) => r.alert);

test("rules: promtool check rules", { skip: noPromtool }, () => {
  const r = spawnSync(PROMTOOL, ["check", "rules", RULES], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("rules: promtool test rules (tests/monitoring/rules_test.yaml)", { skip: noPromtool }, () => {
  const r = spawnSync(PROMTOOL, ["test", "rules", RULES_TEST], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("drift: prometheusrule.yaml is generated from ordersink-rules.yaml", () => {
  const text = fs.readFileSync(RULES, "utf8");
  const file = fs.readFileSync(path.join(MONITORING, "prometheusrule.yaml"), "utf8");
  assert.equal(file, prometheusRuleText(text), "run: node tests/deploy/gen-prometheusrule.mjs");
  assert.deepEqual(loadFile(path.join(MONITORING, "prometheusrule.yaml"))[0].spec, rules());
});

test("rules: every alert has severity, summary, description and a runbook in docs/operating.md", () => {
  const doc = fs.readFileSync(OPERATING, "utf8");
  // GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes.
  const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map((m) =>
    m[1].trim().toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-")));
  const names = alerts().map((a) => a.alert);
  assert.ok(names.length >= 8);
  assert.equal(new Set(names).size, names.length, "alert names unique");
  for (const a of alerts()) {
    assert.ok(["critical", "warning"].includes(a.labels?.severity), `${a.alert}: severity`);
    assert.ok(a.annotations?.summary && a.annotations?.description, `${a.alert}: summary, description`);
    assert.equal(a.annotations.runbook, `docs/operating.md#${a.alert.toLowerCase()}`, `${a.alert}: runbook`);
    assert.ok(anchors.has(a.alert.toLowerCase()), `${a.alert}: docs/operating.md has no "${a.alert}" heading`);
  }
  // And no runbook for an alert that no longer exists.
  for (const m of doc.matchAll(/^#+ (Ordersink[A-Za-z]+)\s*$/gm))
    assert.ok(names.includes(m[1]), `docs/operating.md: runbook for unknown alert ${m[1]}`);
});

test("rules: every alert is unit-tested where it fires and where it must not", () => {
  const t = loadFile(RULES_TEST)[0];
  const cases = t.tests.flatMap((g) => g.alert_rule_test ?? []);
  for (const a of alerts()) {
    const mine = cases.filter((c) => c.alertname === a.alert);
    assert.ok(mine.some((c) => c.exp_alerts?.length), `${a.alert}: no case where it fires`);
    assert.ok(mine.some((c) => Array.isArray(c.exp_alerts) && !c.exp_alerts.length), `${a.alert}: no case where it must not fire`);
  }
});

test("schema: kustomize build k8s/overlays/eks + k8s/components/monitoring", async () => {
  const objs = rendered("monitoring+eks");
  for (const obj of objs) assert.deepEqual(await validateObject(obj), [], `${obj.kind} ${obj.metadata?.name}`);
  const { dep } = workerView(objs);
  const ns = dep.metadata.namespace;
  for (const k of ["PodMonitor", "PrometheusRule"]) assert.equal(one(objs, k).metadata.namespace, ns, `${k} namespace`);
  const cm = one(objs, "ConfigMap", "ordersink-dashboard");
  assert.equal(cm.metadata.namespace, ns);
  assert.equal(cm.metadata.labels?.grafana_dashboard, "1", "label the Grafana sidecar looks for");
  assert.equal(cm.data["ordersink-dashboard.json"], fs.readFileSync(DASHBOARD, "utf8"));
  assert.deepEqual(one(objs, "PrometheusRule").spec, rules());
});

test("schema: the validator rejects a misspelled PrometheusRule / PodMonitor field (negative test)", async () => {
  const objs = rendered("monitoring+eks");
  const pr = structuredClone(one(objs, "PrometheusRule"));
  pr.spec.groups[1].rules[0].expresion = pr.spec.groups[1].rules[0].expr;
  let errs = await validateObject(pr);
  assert.ok(errs.some((e) => e.includes("/expresion: unknown field")), errs.join("\n"));
  const pm = structuredClone(one(objs, "PodMonitor"));
  pm.spec.podMetricsEndpoints[0].prot = "metrics";
  errs = await validateObject(pm);
  assert.ok(errs.some((e) => e.includes("/prot: unknown field")), errs.join("\n"));
});

for (const c of ["podmonitor", "monitoring"]) {
  test(`drift: ${c}+eks: the PodMonitor selects the worker pods and scrapes its metrics port`, () => {
    const objs = rendered(`${c}+eks`);
    const { dep, container } = workerView(objs);
    const pm = one(objs, "PodMonitor");
    assert.equal(pm.metadata.namespace, dep.metadata.namespace, "same namespace (no namespaceSelector)");
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels))
      assert.equal(dep.spec.template.metadata.labels[k], v, `pod label ${k}`);
    for (const ep of pm.spec.podMetricsEndpoints) {
      assert.ok(container.ports.some((p) => p.name === ep.port), `container port named ${ep.port}`);
      assert.equal(ep.path, "/metrics");
    }
  });
}

test("dashboard: Grafana dashboard JSON: ${datasource} variable, panels with targets, unique ids, rows", () => {
  const d = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
  assert.ok(d.title && d.uid && Number.isInteger(d.schemaVersion) && d.schemaVersion >= 36);
  const vars = d.templating.list;
  const ds = vars.find((v) => v.name === "datasource");
  assert.equal(ds?.type, "datasource");
  assert.equal(ds.query, "prometheus");
  const ids = new Set();
  const rows = d.panels.filter((p) => p.type === "row").map((p) => p.title);
  assert.deepEqual(rows, ["Throughput", "Lag", "Batches", "Cosmos DB", "Scaling"]);
  let targets = 0;
  for (const p of d.panels) {
    assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `panel ${p.title}: unique id`);
    ids.add(p.id);
    const g = p.gridPos;
    assert.ok(g && [g.h, g.w, g.x, g.y].every(Number.isInteger) && g.x + g.w <= 24, `panel ${p.title}: gridPos`);
    if (p.type === "row") continue;
    assert.equal(p.type, "timeseries");
    assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, `panel ${p.title}: datasource`);
    assert.ok(p.targets?.length, `panel ${p.title}: targets`);
    const refs = new Set();
    for (const t of p.targets) {
      assert.ok(typeof t.expr === "string" && t.expr.length, `panel ${p.title}: expr`);
      assert.ok(t.refId && !refs.has(t.refId), `panel ${p.title}: refId`);
      refs.add(t.refId);
      assert.deepEqual(t.datasource, p.datasource);
      targets++;
    }
  }
  assert.ok(targets >= 20);
  // The query variables use the datasource variable too.
  for (const v of vars.filter((v) => v.type === "query")) assert.equal(v.datasource.uid, "${datasource}");
});
