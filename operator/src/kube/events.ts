/** Kubernetes Events on the mapping, through core/v1: what `kubectl describe` shows. */
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, type Mapping } from '../mappings/model';
import { OPERATOR_NAME } from '../names';
import type { EventPort, EventType } from '../rotation/ports';

/** Kubernetes Events on the mapping (core/v1, what `kubectl describe` shows). */
export class EventRecorder implements EventPort {
  constructor(
    private readonly core: k8s.CoreV1Api,
    private readonly instance: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(mapping: Mapping, type: EventType, reason: string, message: string): Promise<void> {
    const t = this.now();
    await this.core.createNamespacedEvent(mapping.namespace, {
      metadata: { name: `${mapping.name}.${t.getTime().toString(16)}${Math.random().toString(16).slice(2, 8)}`, namespace: mapping.namespace },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, name: mapping.name, namespace: mapping.namespace, uid: mapping.uid },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: OPERATOR_NAME },
      reportingComponent: OPERATOR_NAME,
      reportingInstance: this.instance,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    });
  }
}
