/**
 * Reading rendered Deployments the way a pod would see them: each container's environment
 * (env values and the ConfigMaps of envFrom; secrets by name only), its named ports and probes.
 */
import type { K8sObject } from './render.ts';

export interface Probe {
  httpGet?: { path?: string; port?: string | number };
  tcpSocket?: { port?: string | number };
}

export interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}

export interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seccompProfile?: { type?: string };
  };
}

export interface Deployment extends K8sObject {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

export function deployments(objects: K8sObject[]): Deployment[] {
  return objects.filter((o): o is Deployment => o.kind === 'Deployment');
}

/** The Volley service a Deployment runs (`api`, `sender`, ...), from its command. */
export function serviceOf(d: Deployment): string | undefined {
  const args = d.spec.template.spec.containers[0]?.args ?? [];
  return /^services\/([^/]+)\/dist\/main\.js$/.exec(args[0] ?? '')?.[1];
}

/**
 * The container's environment: literal values as given, ConfigMap keys of envFrom resolved from
 * the rendered ConfigMaps, and secret references as `secret:<name>/<key>` (their values are
 * not in the manifests).
 */
export function environment(c: Container, objects: K8sObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    if (from.secretRef)
      throw new Error(`${c.name}: envFrom a Secret hides which variables it sets`);
    const name = from.configMapRef?.name;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) throw new Error(`${c.name}: envFrom names ConfigMap ${name}, which is not rendered`);
    for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) env.set(k, v);
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    env.set(e.name, ref ? `secret:${ref.name}/${ref.key}` : (e.value ?? ''));
  }
  return env;
}

/** The container port a probe or a Service's targetPort names (by name or number). */
export function portNumber(c: Container, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}
