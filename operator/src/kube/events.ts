/** Kubernetes Events, through core/v1: what `kubectl describe` shows. */
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, type Mapping } from '../mappings/model';
import { OPERATOR_NAME } from '../names';
import type { EventPort, EventTarget, EventType } from '../rotation/ports';

/** Where a mapping's Events go: on the mapping, or on the object discovery found it in. */
export function mappingEventTarget(mapping: Mapping): EventTarget {
  return mapping.origin?.object ?? { apiVersion: API_VERSION, kind: KIND, name: mapping.name, namespace: mapping.namespace, uid: mapping.uid };
}

/** Kubernetes Events on an object of a namespace (core/v1, what `kubectl describe` shows). */
export class EventRecorder implements EventPort {
  constructor(
    private readonly core: k8s.CoreV1Api,
    private readonly instance: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const t = this.now();
    await this.core.createNamespacedEvent(target.namespace, {
      metadata: { name: `${target.name}.${t.getTime().toString(16)}${Math.random().toString(16).slice(2, 8)}`, namespace: target.namespace },
      involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: target.namespace, ...(target.uid ? { uid: target.uid } : {}) },
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
