// Renders both kustomize overlays with the real `kubectl kustomize` (offline) and checks what a
// cluster would run: the roles and replicas, probes, the non-root security context, secrets only by
// reference, the mounted configuration, the disruption budgets, the autoscaler and the alert rules.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const ROOT = new URL("../../", import.meta.url);
const path = (relative: string) => new URL(relative, ROOT).pathname;

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } };

/** `kubectl kustomize DIR` (kustomize 5 inside kubectl), parsed. */
function render(dir: string): Obj[] {
  let text: string;
  try {
    text = execFileSync("kubectl", ["kustomize", path(dir)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const e = error as { code?: string; stderr?: string; message: string };
    // kubectl (1.27+, kustomize 5) is part of the machine's stack (/work/shared/STACK.md); Debian's kubernetes-client 1.20 is too old.
    throw new Error(
      e.code === "ENOENT"
        ? "kubectl is not installed: this test renders the overlays with `kubectl kustomize`"
        : `kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`,
    );
  }
  return parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

const find = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: Obj[], kind: string, name: string) => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
};
const container = (d: Obj) =>
  d.spec.template.spec.containers[0] as { env: EnvVar[]; volumeMounts: Array<{ name: string; mountPath: string }>; [k: string]: any };
const env = (d: Obj, name: string) => container(d).env.find((e) => e.name === name);

/** The invariants every SQLGuard Deployment keeps, whichever overlay. */
function checkDeployment(d: Obj, objs: Obj[]) {
  const pod = d.spec.template.spec;
  const c = container(d);
  expect(c.livenessProbe.httpGet.path, d.metadata.name).toBe("/healthz");
  expect(c.readinessProbe.httpGet.path, d.metadata.name).toBe("/readyz");
  expect(c.livenessProbe.httpGet.port).toBe("http");
  expect(c.ports).toContainEqual({ name: "http", containerPort: 8080 });
  expect(env(d, "SQLGUARD_PORT")?.value).toBe("8080");
  // Non-root, read-only root file system, no capabilities.
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
  expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
  expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
  expect(c.securityContext.capabilities.drop).toEqual(["ALL"]);
  // The data directory is writable (a volume, since the root file system is not).
  const dataDir = env(d, "SQLGUARD_DATA_DIR")?.value;
  const dataMount = c.volumeMounts.find((m) => m.mountPath === dataDir);
  expect(dataMount, "a volume at SQLGUARD_DATA_DIR").toBeDefined();
  expect(pod.volumes.find((v: { name: string }) => v.name === dataMount!.name)).toBeDefined();
  expect(c.resources.requests.cpu).toBeDefined();
  expect(c.resources.requests.memory).toBeDefined();
  expect(c.resources.limits.memory).toBeDefined();
  // Secrets only by reference, and the references name keys of one Secret.
  for (const name of ["DATABASE_URL", "SQLGUARD_SECRET_KEY", "SQLGUARD_ADMIN_PASSWORD"]) {
    const v = env(d, name);
    expect(v?.value, `${name} must not be inline`).toBeUndefined();
    expect(v?.valueFrom?.secretKeyRef?.name, name).toBe("sqlguard");
  }
  for (const v of c.env) {
    if (/PASSWORD|SECRET|TOKEN|DATABASE_URL/.test(v.name)) expect(v.valueFrom?.secretKeyRef, v.name).toBeDefined();
  }
  expect(c.envFrom).toBeUndefined();
  // sqlguard.yaml: the generated ConfigMap is mounted where SQLGUARD_CONFIG_FILE points.
  const configFile = env(d, "SQLGUARD_CONFIG_FILE")?.value;
  expect(configFile).toBe("/etc/sqlguard/sqlguard.yaml");
  const configVolume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap);
  const configMap = one(objs, "ConfigMap", configVolume.configMap.name);
  expect(configMap.metadata.name).toMatch(/^sqlguard-config-[a-z0-9]+$/);
  expect(c.volumeMounts).toContainEqual({ name: configVolume.name, mountPath: "/etc/sqlguard", readOnly: true });
  const document = parse(configMap.data!["sqlguard.yaml"]!) as { apiVersion: string; kind: string };
  expect(document).toMatchObject({ apiVersion: "sqlguard/v1", kind: "Configuration" });
  // A PodDisruptionBudget selects this Deployment's pods.
  const labels = d.spec.template.metadata.labels as Record<string, string>;
  const pdbs = find(objs, "PodDisruptionBudget").filter((p) =>
    Object.entries(p.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v),
  );
  expect(pdbs, `a PodDisruptionBudget for ${d.metadata.name}`).toHaveLength(1);
  // The Deployment's selector matches its own pods.
  for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) expect(labels[k]).toBe(v);
}

/** Nothing in the output looks like a secret value (Secrets are created by the user, not rendered). */
function checkNoSecrets(objs: Obj[]) {
  expect(find(objs, "Secret")).toEqual([]);
  const text = JSON.stringify(objs);
  expect(text).not.toMatch(/mysql:\/\/[^"]*:[^"@]*@/);
}

/** Monitoring: a ServiceMonitor on /metrics and a PrometheusRule with exactly alerts.yml's groups. */
function checkMonitoring(objs: Obj[]) {
  const monitor = one(objs, "ServiceMonitor", "sqlguard");
  expect(monitor.spec.endpoints[0]).toMatchObject({ port: "http", path: "/metrics" });
  const selected = find(objs, "Service").filter((s) =>
    Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => s.metadata.labels?.[k] === v),
  );
  expect(selected.length).toBeGreaterThan(0);
  // The alert "down" rule expects job="sqlguard": the job label comes from the Services' label.
  for (const s of selected) expect(s.metadata.labels?.[monitor.spec.jobLabel]).toBe("sqlguard");
  const alerts = parse(fs.readFileSync(path("deploy/prometheus/alerts.yml"), "utf8")) as { groups: unknown[] };
  expect(one(objs, "PrometheusRule", "sqlguard").spec.groups).toEqual(alerts.groups);
  expect(JSON.stringify(alerts.groups)).toContain('"alert"');
}

describe("deploy/kubernetes", () => {
  it("overlays/ha: 2 api pods, workers scaled by an HPA on sqlguard_jobs_queued", () => {
    const objs = render("deploy/kubernetes/overlays/ha");
    const deployments = find(objs, "Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["sqlguard-api", "sqlguard-worker"]);
    const api = one(objs, "Deployment", "sqlguard-api");
    const worker = one(objs, "Deployment", "sqlguard-worker");
    expect(env(api, "SQLGUARD_ROLE")?.value).toBe("api");
    expect(env(worker, "SQLGUARD_ROLE")?.value).toBe("worker");
    expect(api.spec.replicas).toBe(2);
    // The autoscaler owns the workers' count: no replicas in the Deployment that a re-apply would reset.
    expect(worker.spec.replicas).toBeUndefined();
    for (const d of deployments) checkDeployment(d, objs);
    expect(env(worker, "SQLGUARD_INSTANCE_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    // With two api pods, a drain keeps one serving.
    expect(one(objs, "PodDisruptionBudget", "sqlguard-api").spec).toMatchObject({ minAvailable: 1 });

    const hpa = one(objs, "HorizontalPodAutoscaler", "sqlguard-worker");
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "sqlguard-worker" });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const metric = hpa.spec.metrics[0];
    expect(["External", "Pods"]).toContain(metric.type);
    const source = metric.type === "External" ? metric.external : metric.pods;
    expect(source.metric.name).toBe("sqlguard_jobs_queued");
    expect(find(objs, "HorizontalPodAutoscaler")).toHaveLength(1);

    // The console Service reaches the api pods only; workers have their own (headless) one for scraping.
    const service = one(objs, "Service", "sqlguard");
    expect(service.spec.selector).toEqual({ "app.kubernetes.io/name": "sqlguard", "app.kubernetes.io/component": "api" });
    expect(one(objs, "Service", "sqlguard-worker").spec.clusterIP).toBe("None");
    checkNoSecrets(objs);
    checkMonitoring(objs);
  });

  it("overlays/single: one pod with SQLGUARD_ROLE=all on a persistent volume", () => {
    const objs = render("deploy/kubernetes/overlays/single");
    const deployments = find(objs, "Deployment");
    expect(deployments).toHaveLength(1);
    const all = deployments[0]!;
    expect(env(all, "SQLGUARD_ROLE")?.value).toBe("all");
    expect(all.spec.replicas).toBe(1);
    expect(all.spec.strategy).toEqual({ type: "Recreate" });
    checkDeployment(all, objs);
    const data = all.spec.template.spec.volumes.find((v: { name: string }) => v.name === "data");
    expect(data).toEqual({ name: "data", persistentVolumeClaim: { claimName: "sqlguard-data" } });
    expect(one(objs, "PersistentVolumeClaim", "sqlguard-data").spec.accessModes).toEqual(["ReadWriteOnce"]);
    expect(find(objs, "HorizontalPodAutoscaler")).toEqual([]);
    expect(find(objs, "Service").map((s) => s.metadata.name)).toEqual(["sqlguard"]);
    expect(find(objs, "PodDisruptionBudget").map((p) => p.metadata.name)).toEqual(["sqlguard-api"]);
    checkNoSecrets(objs);
    checkMonitoring(objs);
  });

  it("base: an api and a worker Deployment with their roles", () => {
    const objs = render("deploy/kubernetes/base");
    expect(env(one(objs, "Deployment", "sqlguard-api"), "SQLGUARD_ROLE")?.value).toBe("api");
    expect(env(one(objs, "Deployment", "sqlguard-worker"), "SQLGUARD_ROLE")?.value).toBe("worker");
    for (const d of find(objs, "Deployment")) checkDeployment(d, objs);
  });
});
