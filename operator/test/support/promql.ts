/**
 * What a PromQL expression reads, from Prometheus' own grammar (@prometheus-io/lezer-promql,
 * the parser of Prometheus' web UI): the metric of each selector with the labels it
 * matches on, and the labels each `by (...)` aggregation groups by. Grafana's interval
 * variables ($__rate_interval, $__interval, $__range) become a duration first; its other
 * variables may only stand inside label values, where PromQL takes them as text.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { withoutGrafanaIntervals } from '../../../scripts/monitoring';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface Selector {
  readonly metric: string;
  /** Label names of its matchers (`__name__` aside). */
  readonly matchers: readonly string[];
}

/** `sum by (a, b) (...)`: the labels, and the metrics of the selectors inside. */
export interface Grouping {
  readonly labels: readonly string[];
  readonly metrics: readonly string[];
}

export interface Reads {
  readonly selectors: readonly Selector[];
  readonly groupings: readonly Grouping[];
}

export class PromqlError extends Error {}

export function readsOf(expression: string): Reads {
  const expr = withoutGrafanaIntervals(expression);
  const tree = parser.parse(expr);
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to);
  const errors: number[] = [];
  tree.iterate({ enter: (n) => void (n.type.isError ? errors.push(n.from) : undefined) });
  if (errors.length > 0) throw new PromqlError(`not valid PromQL at offset ${errors[0]}: ${expression}`);

  const selectorOf = (n: SyntaxNode): Selector => {
    const matchers = n.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
    const named = matchers.map((m) => ({ label: text(m.getChild('LabelName')!), op: m.getChild('MatchOp'), value: m.getChild('StringLiteral') }));
    const byName = named.find((m) => m.label === '__name__' && m.op?.getChild('EqlSingle'));
    const metric = n.getChild('Identifier') ? text(n.getChild('Identifier')!) : byName?.value ? JSON.parse(text(byName.value)) : undefined;
    if (typeof metric !== 'string') throw new PromqlError(`a selector without a metric name: ${text(n)} in ${expression}`);
    return { metric, matchers: named.map((m) => m.label).filter((l) => l !== '__name__') };
  };
  const selectorsIn = (n: SyntaxNode): Selector[] => {
    const found: Selector[] = [];
    n.cursor().iterate((c) => void (c.name === 'VectorSelector' ? found.push(selectorOf(c.node)) : undefined));
    return found;
  };

  const groupings: Grouping[] = [];
  tree.cursor().iterate((c) => {
    if (c.name !== 'AggregateExpr') return;
    const modifier = c.node.getChild('AggregateModifier');
    if (!modifier?.getChild('By')) return;
    const labels = (modifier.getChild('GroupingLabels')?.getChildren('LabelName') ?? []).map(text);
    groupings.push({ labels, metrics: [...new Set(selectorsIn(c.node.getChild('FunctionCallBody') ?? c.node).map((s) => s.metric))] });
  });
  return { selectors: selectorsIn(tree.topNode), groupings };
}
