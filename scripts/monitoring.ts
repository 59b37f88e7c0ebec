/**
 * The chart's alert rules (files/alerts.yaml) and Grafana dashboard (files/dashboard.json)
 * as data: every PromQL expression they hold, with where it is. Read by
 * scripts/dashboard-rules.ts (promtool's syntax check) and by the monitoring tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { CHART_DIR } from './stack/paths';

export const ALERTS_FILE = path.join(CHART_DIR, 'files', 'alerts.yaml');
export const DASHBOARD_FILE = path.join(CHART_DIR, 'files', 'dashboard.json');

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface DashboardPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly DashboardPanel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[] };
}

export function alertRules(): AlertRule[] {
  const file = load(fs.readFileSync(ALERTS_FILE, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

export function dashboard(): Dashboard {
  return JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every PromQL expression of the rules and the dashboard (panels and template variables), with where it is. */
export function expressions(): { where: string; expr: string }[] {
  const d = dashboard();
  return [
    ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
    ...d.templating.list.flatMap((v) => {
      // label_values(<selector>, <label>): the selector is PromQL.
      const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query?: string }).query : undefined;
      const m = q ? /^label_values\((.+),\s*(\w+)\)$/.exec(q) : null;
      return m ? [{ where: `variable ${v.name}`, expr: m[1] }] : [];
    }),
  ];
}

/** Grafana's interval variables, as the duration a syntax check can take. */
export function withoutGrafanaIntervals(expr: string): string {
  return expr.replace(/\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g, '5m');
}
