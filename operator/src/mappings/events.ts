/** Kubernetes Events, through core/v1: what `kubectl describe` shows. */
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, type Mapping } from './model';
import { OPERATOR_NAME } from '../core/names';
import type { EventPort, EventTarget, EventType } from './ports';

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
      metadata: { name: eventName(target.name, `${t.getTime().toString(16)}${Math.random().toString(16).slice(2, 8)}`), namespace: target.namespace },
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

/** The API server refuses an object name longer than this (a DNS subdomain). */
const MAX_NAME_CHARS = 253;

/**
 * An Event's name: its object's name, then `.unique` (as kubectl's own Events). An object
 * name may already be 253 characters, so a name that would be longer keeps a prefix of it
 * (cut where a DNS label may end) and a hash of the whole: still valid, and two long names
 * with one beginning do not share their Events' names.
 */
function eventName(objectName: string, unique: string): string {
  const whole = `${objectName}.${unique}`;
  if (whole.length <= MAX_NAME_CHARS) return whole;
  const hash = createHash('sha256').update(objectName).digest('hex').slice(0, 10);
  const prefix = objectName.slice(0, MAX_NAME_CHARS - unique.length - hash.length - 2).replace(/[-.]+$/, '');
  return `${prefix}-${hash}.${unique}`;
}

