/**
 * Prints the Grafana dashboard's queries (charts/secrets-rotation-operator/files/dashboard.json)
 * as a Prometheus rule file of recording rules, so that `promtool check rules` parses each
 * with Prometheus' own PromQL parser (scripts/test-chart.sh). Grafana's interval variables
 * become a duration; its other variables stand inside label values, where PromQL takes them
 * as text. JSON is YAML, which promtool reads.
 *
 *   npx tsx scripts/dashboard-rules.ts > /tmp/dashboard-rules.json
 */
import { expressions, withoutGrafanaIntervals } from './monitoring';

const queries = expressions().filter((e) => !e.where.startsWith('alert '));
const rules = queries.map((q, i) => ({ record: `dashboard:query_${i + 1}`, expr: withoutGrafanaIntervals(q.expr), labels: { where: q.where } }));
process.stdout.write(`${JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2)}\n`);
