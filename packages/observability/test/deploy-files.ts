/** The committed dashboards and alert rules, as the tests read them. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '@volley/testkit';

export interface PanelOfFile {
  file: string;
  title: string;
  description?: string;
  exprs: string[];
}

/** Every panel of every dashboard JSON under deploy/grafana. */
export function dashboardPanels(): PanelOfFile[] {
  const dir = join(ROOT, 'deploy/grafana');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((file) => {
      const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        panels: { title: string; description?: string; targets?: { expr: string }[] }[];
      };
      return d.panels.map((p) => ({
        file,
        title: p.title,
        description: p.description,
        exprs: (p.targets ?? []).map((t) => t.expr),
      }));
    });
}

export interface AlertRule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(join(ROOT, 'deploy/prometheus/volley-alerts.yml'), 'utf8')) as {
    groups: { rules: AlertRule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}
