/**
 * SQS message body → what it means for us. Pure: no I/O, no clock.
 *
 * Three outcomes, each explicit:
 *  - a SecretChange: some secret's AWSCURRENT version moved, workloads may need a restart;
 *  - NotAChange: a Secrets Manager event that must not restart anything (acknowledged);
 *  - ParseError: not something we understand (left to the queue's dead-letter redrive).
 * See docs/architecture.md, "What counts as the secret changed".
 *
 * Never throws, whatever the body: one message's fate must not become its batch's.
 * Values from the body are untrusted and reach messages only through `describe`.
 */
import { InvalidSecretId, parseSecretId, type Fullness, type SecretRef } from '../secrets/secretId';
import { AWSCURRENT } from '../secrets/stages';

/** SQS allows 256 KiB; anything larger cannot be a genuine message. */
export const MAX_BODY_BYTES = 256 * 1024;
/**
 * Longest event id accepted. EventBridge's ids are 36-character UUIDs; the id reaches logs,
 * Events and status.lastRotation.eventId, so a longer one is refused as malformed (to the
 * dead-letter queue, counted) rather than cut: a cut id would name another event.
 */
export const MAX_EVENT_ID_CHARS = 256;

export type ChangeKind =
  | 'SecretLabelUpdated'
  | 'PutSecretValue'
  | 'UpdateSecret'
  | 'UpdateSecretVersionStage'
  | 'RotationSucceeded'
  | 'DriftDetected';

export interface SecretChange {
  readonly kind: ChangeKind;
  readonly eventId: string;
  /** ISO-8601 time AWS gives the event, if any. */
  readonly eventTime?: string;
  readonly region?: string;
  readonly account?: string;
  readonly secret: SecretRef;
  /** The version that became AWSCURRENT, when the event says. */
  readonly versionId?: string;
}

export interface NotAChange {
  readonly reason: string;
  readonly message: string;
  readonly eventId?: string;
  readonly secretId?: string;
}

export type ParseErrorCode =
  | 'EmptyBody'
  | 'TooLarge'
  | 'NotJson'
  | 'NotAnEvent'
  | 'ForeignSource'
  | 'MissingField'
  | 'InvalidField'
  /** A defect of ours, not of the message: interpretation threw where nothing should. */
  | 'Unexpected';

export class ParseError extends Error {
  constructor(
    readonly code: ParseErrorCode,
    message: string,
    readonly eventId?: string,
  ) {
    super(message);
    this.name = 'ParseError';
  }
}

export type Interpretation =
  | { readonly type: 'change'; readonly change: SecretChange }
  | { readonly type: 'not-a-change'; readonly notAChange: NotAChange }
  | { readonly type: 'parse-error'; readonly error: ParseError };

type Json = Record<string, unknown>;

const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';
const CLOUDTRAIL_EVENT_SOURCE = 'secretsmanager.amazonaws.com';
const DT_LABEL_UPDATED = 'Secret Label Updated';
const DT_API_CALL = 'AWS API Call via CloudTrail';
const DT_SERVICE_EVENT = 'AWS Service Event via CloudTrail';

export function interpretMessage(body: string): Interpretation {
  try {
    return interpretEvent(unwrapSns(parseJsonObject(body)));
  } catch (err) {
    if (err instanceof ParseError) return { type: 'parse-error', error: err };
    if (err instanceof InvalidSecretId) {
      return { type: 'parse-error', error: new ParseError('InvalidField', err.message) };
    }
    const what = err instanceof Error ? `${err.name}: ${err.message}` : typeof err;
    return { type: 'parse-error', error: new ParseError('Unexpected', `interpreting the message failed: ${clip(what)}`) };
  }
}

function parseJsonObject(body: string): Json {
  if (body.trim() === '') throw new ParseError('EmptyBody', 'message body is empty');
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw new ParseError('TooLarge', `message body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ParseError('NotJson', 'message body is not JSON');
  }
  if (!isObject(parsed)) throw new ParseError('NotAnEvent', 'message body is JSON but not an object');
  return parsed;
}

/** An SNS topic between EventBridge and SQS wraps the event in a notification. */
function unwrapSns(body: Json): Json {
  if (body.Type === 'Notification' && typeof body.Message === 'string') {
    return parseJsonObject(body.Message);
  }
  return body;
}

function interpretEvent(event: Json): Interpretation {
  const id = optString(event, 'id');
  const tooLong = id !== undefined && id.length > MAX_EVENT_ID_CHARS;
  // An error still names the event for the log, by a clipped id.
  const shownId = tooLong ? clip(id) : id;
  const source = event.source;
  const detailType = event['detail-type'];
  if (typeof source !== 'string' || typeof detailType !== 'string') {
    throw new ParseError('NotAnEvent', 'not an EventBridge event: "source" or "detail-type" is missing', shownId);
  }
  if (source !== SECRETS_MANAGER_SOURCE) {
    throw new ParseError('ForeignSource', `event from ${describe(source)}, expected ${SECRETS_MANAGER_SOURCE}`, shownId);
  }
  if (!id) throw new ParseError('MissingField', 'event has no "id"');
  if (tooLong) throw new ParseError('InvalidField', `event "id" is longer than ${MAX_EVENT_ID_CHARS} characters (${id.length})`, shownId);
  const eventId = id;
  const detail = event.detail;
  if (!isObject(detail)) throw new ParseError('MissingField', 'event has no "detail" object', eventId);

  const envelope: Envelope = {
    eventId,
    eventTime: optString(event, 'time'),
    region: optString(event, 'region'),
    account: optString(event, 'account'),
  };
  switch (detailType) {
    case DT_LABEL_UPDATED:
      return labelUpdated(event, detail, envelope);
    case DT_API_CALL:
    case DT_SERVICE_EVENT:
      return cloudTrail(detail, envelope);
    default:
      return notAChange('UnhandledDetailType', `detail-type ${describe(detailType)} does not change a secret's value`, envelope);
  }
}

interface Envelope {
  readonly eventId: string;
  readonly eventTime?: string;
  readonly region?: string;
  readonly account?: string;
}

function labelUpdated(event: Json, detail: Json, env: Envelope): Interpretation {
  const label = optString(detail, 'labelUpdated') ?? optString(detail, 'label');
  const arn = firstResource(event) ?? optString(detail, 'secretArn') ?? optString(detail, 'arn');
  const name = optString(detail, 'name') ?? optString(detail, 'secretName');
  if (label !== AWSCURRENT) {
    return notAChange('NotAwsCurrent', `label ${describe(label ?? null)} moved, not ${AWSCURRENT}`, env, arn ?? name);
  }
  const secret = arn ? secretRef(arn, resourceFullness(arn, name), env) : name ? secretRef(name, 'unknown', env) : undefined;
  if (!secret) throw new ParseError('MissingField', 'Secret Label Updated event names no secret (resources[0] / detail.name)', env.eventId);
  return change('SecretLabelUpdated', env, secret, optString(detail, 'versionId'));
}

/**
 * Whether the event's ARN is full. A full ARN ends in `-` and 6 random characters, but so
 * does the partial ARN of a name that happens to (`…:secret:db-secret`): the ARN alone
 * cannot tell. The event's `detail.name` can: the ARN is full when it is that name plus a
 * suffix, partial when it ends in the name itself. Without a name (or with one naming
 * neither) both readings are kept, and DescribeSecret settles which, as for a requested id.
 */
function resourceFullness(arn: string, name: string | undefined): Fullness {
  if (name === undefined) return 'unknown';
  const readings = parseSecretId(arn, 'unknown').readings;
  if (readings.some((r) => r.fullArn !== undefined && r.name === name)) return 'full';
  if (readings.some((r) => r.fullArn === undefined && r.name === name)) return 'partial';
  return 'unknown';
}

function cloudTrail(detail: Json, env: Envelope): Interpretation {
  const eventSource = optString(detail, 'eventSource');
  const eventName = optString(detail, 'eventName');
  if (eventSource !== undefined && eventSource !== CLOUDTRAIL_EVENT_SOURCE) {
    throw new ParseError('ForeignSource', `CloudTrail event from ${describe(eventSource)}`, env.eventId);
  }
  if (!eventName) throw new ParseError('MissingField', 'CloudTrail event has no detail.eventName', env.eventId);
  const call = clip(eventName);
  // CloudTrail's own fields are more precise than the envelope's when present.
  const ct: Envelope = {
    ...env,
    eventTime: optString(detail, 'eventTime') ?? env.eventTime,
    region: optString(detail, 'awsRegion') ?? env.region,
    account: optString(detail, 'recipientAccountId') ?? env.account,
  };
  const errorCode = detail.errorCode;
  if (errorCode !== undefined && errorCode !== null) {
    return notAChange('CallFailed', `${call} failed with ${typeof errorCode === 'string' ? clip(errorCode) : describe(errorCode)}`, ct);
  }
  const request = isObject(detail.requestParameters) ? detail.requestParameters : {};
  const response = isObject(detail.responseElements) ? detail.responseElements : {};
  const responseArn = optString(response, 'arn') ?? optString(response, 'aRN');
  const requestedId = optString(request, 'secretId');

  switch (eventName) {
    case 'PutSecretValue': {
      const stages = request.versionStages;
      if (stages !== undefined && stages !== null && !(Array.isArray(stages) && stages.includes(AWSCURRENT))) {
        return notAChange('NotAwsCurrent', `PutSecretValue staged the version as ${describe(stages)}, not ${AWSCURRENT}`, ct, requestedId);
      }
      const version = optString(response, 'versionId') ?? optString(request, 'clientRequestToken');
      return change('PutSecretValue', ct, requiredSecret(responseArn, requestedId, ct), version);
    }
    case 'UpdateSecret': {
      const version = optString(response, 'versionId');
      if (!version) return notAChange('NoNewVersion', 'UpdateSecret changed metadata only, no new version', ct, requestedId);
      return change('UpdateSecret', ct, requiredSecret(responseArn, requestedId, ct), version);
    }
    case 'UpdateSecretVersionStage': {
      const stage = optString(request, 'versionStage');
      const moveTo = optString(request, 'moveToVersionId');
      if (stage !== AWSCURRENT) {
        return notAChange('NotAwsCurrent', `stage ${describe(stage ?? null)} moved, not ${AWSCURRENT}`, ct, requestedId);
      }
      if (!moveTo) return notAChange('NoNewVersion', `${AWSCURRENT} was removed from a version, not moved to one`, ct, requestedId);
      return change('UpdateSecretVersionStage', ct, requiredSecret(responseArn, requestedId, ct), moveTo);
    }
    case 'RotationSucceeded': {
      const extra = isObject(detail.additionalEventData) ? detail.additionalEventData : {};
      const id = optString(extra, 'SecretId') ?? optString(extra, 'secretId');
      if (!id) throw new ParseError('MissingField', 'RotationSucceeded event has no additionalEventData.SecretId', ct.eventId);
      return change('RotationSucceeded', ct, secretRef(id, 'full', ct), undefined);
    }
    default:
      return notAChange('NotAChange', `${call} does not make a new version current`, ct, requestedId);
  }
}

function requiredSecret(responseArn: string | undefined, requestedId: string | undefined, env: Envelope): SecretRef {
  if (responseArn) return secretRef(responseArn, 'full', env);
  if (requestedId) return secretRef(requestedId, 'unknown', env);
  throw new ParseError('MissingField', 'CloudTrail event has no requestParameters.secretId', env.eventId);
}

function secretRef(id: string, fullness: Fullness, env: Envelope): SecretRef {
  return parseSecretId(id, fullness, { region: env.region, account: env.account });
}

function change(kind: ChangeKind, env: Envelope, secret: SecretRef, versionId: string | undefined): Interpretation {
  const c: SecretChange = {
    kind,
    eventId: env.eventId,
    secret,
    ...(env.eventTime ? { eventTime: env.eventTime } : {}),
    ...(env.region ? { region: env.region } : {}),
    ...(env.account ? { account: env.account } : {}),
    ...(versionId ? { versionId } : {}),
  };
  return { type: 'change', change: c };
}

function notAChange(reason: string, message: string, env: Envelope, secretId?: string): Interpretation {
  return { type: 'not-a-change', notAChange: { reason, message, eventId: env.eventId, ...(secretId ? { secretId } : {}) } };
}

function firstResource(event: Json): string | undefined {
  const r = event.resources;
  return Array.isArray(r) && typeof r[0] === 'string' && r[0] !== '' ? r[0] : undefined;
}

function optString(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const CLIP_CHARS = 100;
const DESCRIBE_CHARS = 200;
const DESCRIBE_ITEMS = 5;
const DESCRIBE_DEPTH = 2;

/**
 * A short rendering of an untrusted JSON value for a message. Calls none of the value's
 * methods (String() on {"toString": 1} throws) and stops at a fixed depth (JSON.parse
 * builds nesting that JSON.stringify cannot render without overflowing the stack).
 */
function describe(value: unknown): string {
  return clip(render(value, 0), DESCRIBE_CHARS);
}

function render(v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(clip(v));
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'object') return typeof v;
  const keys = Array.isArray(v) ? undefined : Object.keys(v);
  const count = keys ? keys.length : (v as unknown[]).length;
  const [open, close] = keys ? ['{', '}'] : ['[', ']'];
  if (count === 0) return `${open}${close}`;
  if (depth >= DESCRIBE_DEPTH) return `${open}…${close}`;
  const shown: string[] = [];
  for (let i = 0; i < Math.min(count, DESCRIBE_ITEMS); i++) {
    shown.push(keys ? `${JSON.stringify(clip(keys[i]))}:${render((v as Json)[keys[i]], depth + 1)}` : render((v as unknown[])[i], depth + 1));
  }
  const more = count > DESCRIBE_ITEMS ? `,…${count - DESCRIBE_ITEMS} more` : '';
  return `${open}${shown.join(',')}${more}${close}`;
}

/** Cuts a string to `max` characters, never through a surrogate pair. */
function clip(s: string, max = CLIP_CHARS): string {
  if (s.length <= max) return s;
  const end = /[\uD800-\uDBFF]/.test(s[max - 1]) ? max - 1 : max;
  return `${s.slice(0, end)}…`;
}
