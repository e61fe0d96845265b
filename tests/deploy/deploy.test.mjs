// Checks of the deployment files (Dockerfile, k8s/, keda/) without a cluster: schema validation
// of every manifest and every rendered overlay, and consistency checks that fail on drift between
// the worker's configuration and the Deployment, Secret templates and KEDA objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { ROOT, OVERLAYS, loadFile, rendered, validateObject, find, one, workerView, parseLibconfig } from "./lib.mjs";

const WORKER = path.join(ROOT, "bin/worker");
const rel = (p) => path.relative(ROOT, p);
// The page with each overlay's `kubectl create secret` command (a <!-- secret:<overlay> --> block).
const DEPLOY_PAGE = { "aks-virtual-nodes": "docs/deploy-aks.md", eks: "docs/deploy-eks.md", "eks-mtls": "docs/deploy-eks.md" };
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}
const yamlFiles = ["k8s", "keda"].flatMap((d) => walk(path.join(ROOT, d))).filter((f) => /\.ya?ml$/.test(f));
const isKustomization = (f) => /(^|\/)kustomization\.ya?ml$/.test(f);
// Plain Prometheus rules files (top-level `groups:`, no kind) are checked by promtool in
// monitoring.test.mjs, not against a Kubernetes schema.
const isRulesFile = (f) => loadFile(f).every((d) => d.groups && !d.kind);
// Files used as patches hold partial objects: they are checked without `required`.
const patchFiles = new Set(yamlFiles.filter(isKustomization).flatMap((k) =>
  (loadFile(k)[0].patches ?? []).filter((p) => p.path).map((p) => path.resolve(path.dirname(k), p.path))));
const secretTemplate = (o) => one(loadFile(path.join(ROOT, "k8s/overlays", o, "secret.template.yaml")), "Secret", "ordersink");
const templateKeys = (o) => { const s = secretTemplate(o); return new Set(Object.keys({ ...s.data, ...s.stringData })); };

// ---------------------------------------------------------------- schema validation
for (const f of yamlFiles.filter((f) => !isKustomization(f) && !isRulesFile(f))) {
  test(`schema: ${rel(f)}`, async () => {
    for (const obj of loadFile(f)) {
      const errs = await validateObject(obj, { ignoreRequired: patchFiles.has(f) });
      assert.deepEqual(errs, [], `${obj.kind} ${obj.metadata?.name}`);
    }
  });
}
for (const o of OVERLAYS) {
  test(`schema: kustomize build k8s/overlays/${o}`, async () => {
    const objs = rendered(o);
    const kinds = objs.map((x) => x.kind).sort();
    for (const k of ["ConfigMap", "Deployment", "Namespace", "ScaledObject", "Service", "TriggerAuthentication"])
      assert.ok(kinds.includes(k), `${o} renders a ${k}`);
    for (const obj of objs) assert.deepEqual(await validateObject(obj), [], `${obj.kind} ${obj.metadata?.name}`);
  });
}
test("schema: the validator rejects a misspelled field and a wrong type (negative test)", async () => {
  const dep = structuredClone(one(rendered("eks"), "Deployment", "ordersink-worker"));
  const so = structuredClone(one(rendered("eks"), "ScaledObject", "ordersink-worker"));
  assert.deepEqual(await validateObject(dep), []);
  const c = dep.spec.template.spec.containers[0];
  c.readinesProbe = c.readinessProbe; // misspelled
  let errs = await validateObject(dep);
  assert.ok(errs.some((e) => e.includes("/readinesProbe: unknown field")), errs.join("\n"));
  delete c.readinesProbe;
  dep.spec.template.spec.terminationGracePeriodSeconds = "45"; // wrong type
  errs = await validateObject(dep);
  assert.ok(errs.some((e) => e.includes("terminationGracePeriodSeconds type")), errs.join("\n"));
  so.spec.pollingInterva1 = 15; // misspelled (KEDA schema)
  so.spec.minReplicaCount = "0"; // wrong type
  errs = await validateObject(so);
  assert.ok(errs.some((e) => e.includes("/spec/pollingInterva1: unknown field")), errs.join("\n"));
  assert.ok(errs.some((e) => e.includes("/spec/minReplicaCount type")), errs.join("\n"));
  const ta = structuredClone(one(rendered("eks"), "TriggerAuthentication", "ordersink-kafka"));
  ta.spec.secretTargetRef[0].secretKey = ta.spec.secretTargetRef[0].key; // wrong field name
  delete ta.spec.secretTargetRef[0].key;
  errs = await validateObject(ta);
  assert.ok(errs.some((e) => e.includes("secretKey: unknown field")) && errs.some((e) => e.includes("required")), errs.join("\n"));
  assert.ok((await validateObject({ apiVersion: "v1", kind: "Bogus" }))[0].startsWith("no schema"));
});

// ---------------------------------------------------------------- consistency
for (const o of OVERLAYS) {
  test(`drift: ${o}: ScaledObject topic/consumerGroup/bootstrap/offsetResetPolicy = worker config`, () => {
    const objs = rendered(o);
    const { settings } = workerView(objs);
    const so = one(objs, "ScaledObject", "ordersink-worker");
    const trig = so.spec.triggers.filter((t) => t.type === "kafka");
    assert.equal(trig.length, 1);
    const md = trig[0].metadata;
    assert.equal(md.topic, settings["kafka.topic"]);
    assert.equal(md.consumerGroup, settings["kafka.group_id"]);
    assert.equal(md.bootstrapServers, settings["kafka.bootstrap_servers"]);
    assert.equal(md.offsetResetPolicy ?? "latest", settings["kafka.auto_offset_reset"]);
    assert.ok(!/FROM-CONFIGMAP/.test(JSON.stringify(md)), "replacements filled the trigger");
    assert.equal(so.spec.scaleTargetRef.name, workerView(objs).dep.metadata.name);
    assert.equal(trig[0].authenticationRef.name, one(objs, "TriggerAuthentication").metadata.name);
  });

  test(`drift: ${o}: KEDA numbers (min 0, max >= 1, lagThreshold >= 5 x batch.max_count, no flapping)`, () => {
    const objs = rendered(o);
    const { settings } = workerView(objs);
    const so = one(objs, "ScaledObject", "ordersink-worker").spec;
    assert.equal(so.minReplicaCount, 0);
    assert.ok(so.maxReplicaCount >= 1);
    const md = so.triggers[0].metadata;
    assert.ok(Number(md.lagThreshold) >= 5 * settings["batch.max_count"], "lagThreshold vs batch.max_count");
    assert.ok(Number(md.activationLagThreshold) >= 0);
    assert.notEqual(md.allowIdleConsumers, "true", "never more consumers than partitions");
    const b = so.advanced.horizontalPodAutoscalerConfig.behavior;
    assert.ok(b.scaleDown.stabilizationWindowSeconds >= 120, "scale-down stabilization");
    assert.ok(so.cooldownPeriod >= 60 && so.pollingInterval > 0);
  });

  test(`drift: ${o}: every Secret key referenced exists in secret.template.yaml and in the docs' command`, () => {
    const objs = rendered(o);
    const keys = templateKeys(o);
    const refs = [];
    const { pod } = workerView(objs);
    for (const c of pod.containers) for (const e of c.env ?? []) {
      const r = e.valueFrom?.secretKeyRef; if (r) refs.push([r.name, r.key, `env ${e.name}`]);
    }
    for (const v of pod.volumes ?? []) if (v.secret) {
      assert.ok(v.secret.items?.length, `secret volume ${v.name} projects explicit items`);
      for (const it of v.secret.items) refs.push([v.secret.secretName, it.key, `volume ${v.name}`]);
    }
    for (const ta of find(objs, "TriggerAuthentication"))
      for (const r of ta.spec.secretTargetRef ?? []) refs.push([r.name, r.key, `TriggerAuthentication ${r.parameter}`]);
    assert.ok(refs.length >= 3);
    for (const [name, key, where] of refs) {
      assert.equal(name, "ordersink", `${where} uses Secret ordersink`);
      assert.ok(keys.has(key), `${where}: key ${key} missing from k8s/overlays/${o}/secret.template.yaml`);
    }
    // Every template key is used, and the deploy page's `kubectl create secret` command creates exactly them.
    const used = new Set(refs.map((r) => r[1]));
    assert.deepEqual([...keys].sort(), [...used].sort(), "template keys = referenced keys");
    const page = DEPLOY_PAGE[o];
    const doc = fs.readFileSync(path.join(ROOT, page), "utf8");
    const block = doc.split(`<!-- secret:${o} -->`)[1]?.split("```")[1];
    assert.ok(block, `${page} has a <!-- secret:${o} --> command block`);
    const created = [...block.matchAll(/--from-(?:literal|file)=([A-Za-z0-9._-]+)=/g)].map((m) => m[1]);
    assert.deepEqual(created.sort(), [...keys].sort(), `${page} kubectl create secret keys`);
  });

  test(`drift: ${o}: file paths in env/config point into mounted volumes`, () => {
    const objs = rendered(o);
    const { container, pod, env, settings } = workerView(objs);
    const files = Object.entries({ ...settings, ...env })
      .filter(([k, v]) => /(_file|\.key_file|ORDERSINK_CONFIG)$/i.test(k) && typeof v === "string" && v.startsWith("/"));
    assert.ok(files.length >= 2);
    for (const [k, p] of files) {
      const m = container.volumeMounts.find((x) => p.startsWith(x.mountPath + "/"));
      assert.ok(m, `${k}=${p} is under a volumeMount`);
      const v = pod.volumes.find((x) => x.name === m.name);
      const name = p.slice(m.mountPath.length + 1);
      if (v.secret) assert.ok(v.secret.items.some((it) => it.path === name), `${k}: ${name} projected from the Secret`);
      if (v.configMap) assert.ok(find(objs, "ConfigMap", v.configMap.name)[0].data[name] !== undefined, `${k}: ${name} in ConfigMap`);
    }
  });

  test(`drift: ${o}: terminationGracePeriodSeconds > shutdown.timeout_ms`, () => {
    const { pod, settings } = workerView(rendered(o));
    const ms = Number(settings["shutdown.timeout_ms"]);
    assert.ok(Number.isInteger(ms) && ms > 0);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 >= ms + 5000,
      `grace ${pod.terminationGracePeriodSeconds}s vs shutdown.timeout_ms ${ms} (+5 s margin)`);
  });

  test(`drift: ${o}: probes /healthz and /readyz on metrics.port, Service and containerPort match`, () => {
    const objs = rendered(o);
    const { container, settings } = workerView(objs);
    const port = Number(settings["metrics.port"]);
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.port, port);
    assert.equal(container.readinessProbe.httpGet.port, port);
    assert.equal(container.startupProbe, undefined, "no startupProbe");
    assert.ok(container.ports.some((p) => p.containerPort === port && p.name === "metrics"));
    const svc = one(objs, "Service", "ordersink");
    assert.ok(svc.spec.ports.some((p) => p.targetPort === port));
    const sel = svc.spec.selector;
    for (const [k, v] of Object.entries(sel)) assert.equal(workerView(objs).dep.spec.template.metadata.labels[k], v);
  });

  test(`drift: ${o}: every ORDERSINK_ env var is a real setting`, () => {
    const { container } = workerView(rendered(o));
    let known;
    if (fs.existsSync(WORKER)) {
      known = execFileSync(WORKER, ["--print-settings"], { encoding: "utf8" });
    } else {
      known = fs.readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8"); // settings table, checked against the code
    }
    const names = new Set([...known.matchAll(/`(ORDERSINK_[A-Z0-9_]+)`/g)].map((m) => m[1]));
    assert.ok(names.size > 20, "settings table found");
    for (const e of container.env ?? []) {
      if (!e.name.startsWith("ORDERSINK_")) continue;
      if (e.name === "ORDERSINK_CONFIG" || e.name.startsWith("ORDERSINK_LIBRDKAFKA_")) continue;
      assert.ok(names.has(e.name), `${e.name} is not a worker setting`);
    }
  });

  test(`security: ${o}: non-root, read-only root fs, no privilege escalation, drop ALL, labels`, () => {
    const objs = rendered(o);
    const { pod, container, dep } = workerView(objs);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    const sc = container.securityContext;
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ["ALL"]);
    assert.equal(pod.enableServiceLinks, false, "service links would inject ORDERSINK_* env vars");
    for (const k of ["cpu", "memory"]) assert.ok(container.resources.requests[k] && container.resources.limits[k]);
    assert.ok(Array.isArray(container.command) && container.command.length, "command set");
    for (const obj of objs)
      for (const l of ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"])
        assert.ok(obj.metadata.labels?.[l], `${obj.kind} ${obj.metadata.name} label ${l}`);
    assert.equal(dep.spec.template.metadata.labels["app.kubernetes.io/name"], "ordersink");
    assert.equal(dep.spec.replicas, undefined, "KEDA owns replicas");
    assert.ok(!find(objs, "Secret").length, "no Secret rendered (kubectl apply -k must not overwrite it)");
  });
}

test("aks-virtual-nodes: nothing ACI rejects; virtual-node selector and tolerations", () => {
  const objs = rendered("aks-virtual-nodes");
  const { pod } = workerView(objs);
  assert.equal(pod.initContainers, undefined, "no init containers");
  assert.equal(pod.ephemeralContainers, undefined);
  for (const c of pod.containers) {
    assert.equal(c.lifecycle, undefined, `${c.name}: no lifecycle hooks`);
    assert.equal(c.startupProbe, undefined, `${c.name}: no startupProbe`);
    assert.ok(!c.args || c.command, `${c.name}: args only with command`);
    for (const p of [c.livenessProbe, c.readinessProbe]) assert.equal(typeof p.httpGet.port, "number", "numeric probe port");
  }
  for (const v of pod.volumes ?? []) {
    assert.equal(v.hostPath, undefined, `${v.name}: no hostPath`);
    assert.equal(v.persistentVolumeClaim, undefined, `${v.name}: no PVC`);
    assert.equal(v.ephemeral, undefined, `${v.name}: no ephemeral PVC`);
  }
  assert.ok(!find(objs, "PersistentVolumeClaim").length);
  assert.deepEqual(pod.nodeSelector, { "kubernetes.io/role": "agent", "kubernetes.io/os": "linux", type: "virtual-kubelet" });
  assert.ok(pod.tolerations.some((t) => t.key === "virtual-kubelet.io/provider" && t.operator === "Exists"));
  assert.ok(pod.tolerations.some((t) => t.key === "azure.com/aci" && t.effect === "NoSchedule"));
  const { env } = workerView(objs);
  assert.ok("EVENTHUBS_CONNECTION_STRING" in env);
  assert.match(env.ORDERSINK_KAFKA_BOOTSTRAP_SERVERS, /\.servicebus\.windows\.net:9093$/);
  const ta = one(objs, "TriggerAuthentication").spec.secretTargetRef;
  const tmpl = secretTemplate("aks-virtual-nodes").stringData;
  const param = (p) => tmpl[ta.find((r) => r.parameter === p).key];
  assert.equal(param("sasl"), "plaintext"); assert.equal(param("tls"), "enable");
  assert.equal(param("username"), "$ConnectionString");
});

test("eks: MSK SCRAM-SHA-512 over TLS on 9096, KEDA scram_sha512 + tls; eks-mtls: ssl + client cert", () => {
  let objs = rendered("eks");
  let { env, pod } = workerView(objs);
  assert.equal(env.ORDERSINK_KAFKA_SECURITY_PROTOCOL, "sasl_ssl");
  assert.equal(env.ORDERSINK_KAFKA_SASL_MECHANISM, "SCRAM-SHA-512");
  assert.ok(env.ORDERSINK_KAFKA_BOOTSTRAP_SERVERS.split(",").every((b) => b.endsWith(":9096")));
  assert.equal(pod.nodeSelector, undefined, "Fargate profile selects by namespace + labels");
  let ta = one(objs, "TriggerAuthentication").spec.secretTargetRef;
  let tmpl = secretTemplate("eks").stringData;
  const param = (p) => tmpl[ta.find((r) => r.parameter === p)?.key];
  assert.equal(param("sasl"), "scram_sha512"); assert.equal(param("tls"), "enable");
  objs = rendered("eks-mtls");
  ({ env } = workerView(objs));
  assert.equal(env.ORDERSINK_KAFKA_SECURITY_PROTOCOL, "ssl");
  assert.ok(env.ORDERSINK_KAFKA_SSL_CERT_FILE && env.ORDERSINK_KAFKA_SSL_KEY_FILE);
  assert.ok(env.ORDERSINK_KAFKA_BOOTSTRAP_SERVERS.split(",").every((b) => b.endsWith(":9094")));
  ta = one(objs, "TriggerAuthentication").spec.secretTargetRef;
  tmpl = secretTemplate("eks-mtls").stringData;
  assert.deepEqual(ta.map((r) => r.parameter).sort(), ["cert", "key", "tls"]);
  assert.equal(param("tls"), "enable");
});

// The worker itself checks each overlay's effective configuration: the rendered libconfig file and
// env, with test values for the Secret keys, mounts redirected into a temp dir.
for (const o of OVERLAYS) {
  test(`worker --check-config accepts ${o}`, { skip: !fs.existsSync(WORKER) && "bin/worker not built (make all)" }, () => {
    const objs = rendered(o);
    const { container, pod, cms } = workerView(objs);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ordersink-deploy-"));
    const secretVals = {
      "cosmos-key": "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==",
      "eventhubs-connection-string": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s",
      "kafka-username": "ordersink", "kafka-password": "test-password",
    };
    if (o === "eks-mtls") {
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ordersink",
        "-keyout", path.join(tmp, "k.pem"), "-out", path.join(tmp, "c.pem")], { stdio: "ignore" });
      secretVals["kafka-client-cert"] = fs.readFileSync(path.join(tmp, "c.pem"), "utf8");
      secretVals["kafka-client-key"] = fs.readFileSync(path.join(tmp, "k.pem"), "utf8");
    }
    const relocate = (s) => container.volumeMounts.reduce((acc, m) => acc.split(m.mountPath + "/").join(tmp + m.mountPath + "/"), s);
    for (const m of container.volumeMounts) {
      const v = pod.volumes.find((x) => x.name === m.name);
      const dir = tmp + m.mountPath; fs.mkdirSync(dir, { recursive: true });
      if (v.configMap) for (const [k, val] of Object.entries(cms[v.configMap.name].data)) fs.writeFileSync(path.join(dir, k), relocate(val));
      if (v.secret) for (const it of v.secret.items) fs.writeFileSync(path.join(dir, it.path), secretVals[it.key] ?? "x");
    }
    const env = { PATH: process.env.PATH };
    for (const e of container.env) {
      let v = e.value ?? (e.valueFrom?.configMapKeyRef ? cms[e.valueFrom.configMapKeyRef.name].data[e.valueFrom.configMapKeyRef.key] : secretVals[e.valueFrom?.secretKeyRef?.key]);
      env[e.name] = relocate(String(v));
    }
    const r = spawnSync(WORKER, ["--check-config"], { env, encoding: "utf8" });
    fs.rmSync(tmp, { recursive: true, force: true });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    const eff = Object.fromEntries([...r.stdout.matchAll(/^([a-z_]+\.[a-z_]+) = ("?)(.*?)\2\s+#/gm)].map((m) => [m[1], m[3]]));
    const so = one(objs, "ScaledObject").spec.triggers[0].metadata;
    assert.equal(eff["kafka.topic"], so.topic);
    assert.equal(eff["kafka.group_id"], so.consumerGroup);
    assert.equal(eff["kafka.bootstrap_servers"], so.bootstrapServers);
    assert.equal(eff["kafka.auto_offset_reset"], so.offsetResetPolicy);
    if (eff["metrics.port"]) assert.equal(Number(eff["metrics.port"]), container.readinessProbe.httpGet.port);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > Number(eff["shutdown.timeout_ms"]));
    if (o === "aks-virtual-nodes") assert.equal(eff["kafka.sasl_mechanism"], "PLAIN");
    if (o === "eks") assert.equal(eff["kafka.sasl_mechanism"], "SCRAM-SHA-512");
  });
}

// ---------------------------------------------------------------- image
test("Dockerfile: multi-stage bookworm, runtime libs only, numeric non-root user, ENTRYPOINT + CMD", () => {
  const df = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
  const lines = df.replace(/\\\n/g, " ").split("\n").filter((l) => !/^\s*#/.test(l));
  const from = lines.filter((l) => /^FROM /i.test(l));
  assert.ok(from.length >= 2, "multi-stage");
  assert.match(df, /debian:bookworm-slim/);
  const stages = df.split(/^FROM /m).slice(1);
  const runtime = stages[stages.length - 1].replace(/\\\n/g, " ");
  assert.doesNotMatch(runtime, /-dev\b|build-essential|pkg-config/, "no build deps in the runtime stage");
  for (const p of ["libcurl4", "libcjson1", "libconfig9", "libssl3", "libmicrohttpd12", "zlib1g", "libzstd1", "liblz4-1"])
    assert.match(runtime, new RegExp(`\\b${p}\\b`), p);
  // The CA bundle, from the build stage, where libcurl and OpenSSL (librdkafka) look by default.
  assert.match(runtime, /COPY --from=build \/etc\/ssl\/certs\/ca-certificates\.crt \/etc\/ssl\/certs\/ca-certificates\.crt/);
  assert.match(runtime, /ln -s \/etc\/ssl\/certs\/ca-certificates\.crt \/usr\/lib\/ssl\/cert\.pem/);
  // librdkafka is linked statically from the pinned build, never Debian's 2.0.2 package.
  assert.doesNotMatch(df, /\blibrdkafka(1|-dev)\b/, "no Debian librdkafka package");
  for (const p of ["libcurl4-openssl-dev", "libcjson-dev", "libconfig-dev", "libssl-dev", "libmicrohttpd-dev", "libjsmn-dev",
                   "zlib1g-dev", "libzstd-dev", "liblz4-dev", "curl"])
    assert.match(stages[0], new RegExp(`\\b${p}\\b`), p);
  // The same script and pin CI builds with (make deps), and the static link checked in the image.
  assert.match(stages[0], /^RUN bash scripts\/librdkafka\.sh\s*$/m);
  assert.match(stages[0], /! ldd bin\/worker \| grep -q rdkafka/);
  const user = lines.filter((l) => /^USER /.test(l)).pop();
  assert.match(user, /^USER [1-9][0-9]*(:[0-9]+)?\s*$/, "numeric non-root USER");
  const uid = Number(user.split(/[ :]/)[1]);
  for (const o of OVERLAYS) assert.equal(workerView(rendered(o)).pod.securityContext.runAsUser, uid);
  assert.ok(lines.some((l) => /^ENTRYPOINT \[/.test(l)), "exec-form ENTRYPOINT");
  assert.ok(lines.some((l) => /^CMD \[/.test(l)), "exec-form CMD");
  const pinned = fs.readFileSync(path.join(ROOT, "scripts/librdkafka.sh"), "utf8").match(/^LIBRDKAFKA_VERSION=(\S+)$/m)[1];
  assert.match(df, new RegExp(`librdkafka.*\\(${pinned.replace(/\./g, "\\.")}\\)`, "s"), "Dockerfile names the pinned version");
  assert.match(df, /2\.6\.1/); assert.match(df, /SCRAM/);
  const di = fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8");
  assert.match(di, /^\*$/m, ".dockerignore excludes by default");
  for (const c of df.matchAll(/^COPY (?!--from)(.*) \S+$/gm))
    for (const src of c[1].split(/\s+/)) assert.match(di, new RegExp(`^!${src.replace(/\/$/, "")}/?$`, "m"), `${src} in build context`);
  const port = parseLibconfig(fs.readFileSync(path.join(ROOT, "k8s/base/ordersink.cfg"), "utf8"))["metrics.port"] ?? 9464;
  assert.ok(lines.some((l) => l.trim() === `EXPOSE ${port}`));
});
