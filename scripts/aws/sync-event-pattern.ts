/**
 * scripts/event-patterns.json is the one source of the EventBridge patterns; this
 * keeps the copies inside scripts/cloudformation.yaml equal to it.
 *
 *   npx tsx scripts/aws/sync-event-pattern.ts           check, exit 1 when out of date
 *   npx tsx scripts/aws/sync-event-pattern.ts --write   rewrite the template's copies
 *
 * In the template each pattern sits between `# BEGIN event-pattern <key>` and
 * `# END event-pattern <key>` as one item of a YAML sequence written in JSON (valid
 * YAML flow style), so no YAML parser is needed to read or write it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const PATTERNS_PATH = path.resolve(__dirname, '..', 'event-patterns.json');
export const TEMPLATE_PATH = path.resolve(__dirname, '..', 'cloudformation.yaml');

export const PATTERN_KEYS = ['default', 'withCloudTrail'] as const;
export type PatternKey = (typeof PATTERN_KEYS)[number];
export type EventPattern = Record<string, unknown>;
export type EventPatterns = Record<PatternKey, EventPattern>;

const BLOCK = /^( *)# BEGIN event-pattern (\S+)\n([\s\S]*?)^ *# END event-pattern \2$/gm;
const INLINE_MAX = 72;

export function loadPatterns(file = PATTERNS_PATH): EventPatterns {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: expected an object with keys ${PATTERN_KEYS.join(', ')}`);
  }
  const keys = Object.keys(raw).sort();
  if (keys.join() !== [...PATTERN_KEYS].sort().join()) {
    throw new Error(`${file}: expected exactly the keys ${PATTERN_KEYS.join(', ')}, found ${keys.join(', ')}`);
  }
  const patterns = raw as Record<string, unknown>;
  for (const key of PATTERN_KEYS) {
    const p = patterns[key];
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      throw new Error(`${file}: "${key}" must be an event pattern object`);
    }
  }
  return raw as EventPatterns;
}

function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** JSON with short arrays on one line, so the template stays readable. */
export function formatPattern(value: unknown, depth = 0): string {
  const pad = '  '.repeat(depth + 1);
  const end = '  '.repeat(depth);
  if (Array.isArray(value)) {
    const one = inline(value);
    if (one.length <= INLINE_MAX) return one;
    return `[\n${value.map((v) => pad + formatPattern(v, depth + 1)).join(',\n')}\n${end}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return `{\n${entries
      .map(([k, v]) => `${pad}${JSON.stringify(k)}: ${formatPattern(v, depth + 1)}`)
      .join(',\n')}\n${end}}`;
  }
  return JSON.stringify(value);
}

function renderItem(pattern: EventPattern, indent: string): string {
  const [first, ...rest] = formatPattern(pattern).split('\n');
  return [`${indent}- ${first}`, ...rest.map((line) => `${indent}  ${line}`)].join('\n') + '\n';
}

interface Block {
  key: string;
  body: string;
}

function blocks(template: string): Block[] {
  return [...template.matchAll(BLOCK)].map((m) => ({ key: m[2] ?? '', body: m[3] ?? '' }));
}

function checkKeys(found: string[]): void {
  const missing = PATTERN_KEYS.filter((k) => !found.includes(k));
  const extra = found.filter((k) => !(PATTERN_KEYS as readonly string[]).includes(k));
  const twice = found.filter((k, i) => found.indexOf(k) !== i);
  if (missing.length || extra.length || twice.length) {
    throw new Error(
      `cloudformation.yaml: event-pattern markers wrong (missing: ${missing.join(', ') || '-'}; ` +
        `unknown: ${extra.join(', ') || '-'}; repeated: ${twice.join(', ') || '-'})`,
    );
  }
}

/** The patterns as they are written in the template, parsed. */
export function readTemplatePatterns(template: string): EventPatterns {
  const found = blocks(template);
  checkKeys(found.map((b) => b.key));
  const out: Partial<EventPatterns> = {};
  for (const { key, body } of found) {
    const json = body.replace(/^\s*- /, '');
    try {
      out[key as PatternKey] = JSON.parse(json) as EventPattern;
    } catch (err) {
      throw new Error(`cloudformation.yaml: pattern "${key}" is not JSON: ${(err as Error).message}`);
    }
  }
  return out as EventPatterns;
}

/** The template with every marked pattern replaced by its rendering from `patterns`. */
export function renderTemplate(template: string, patterns: EventPatterns): string {
  checkKeys(blocks(template).map((b) => b.key));
  return template.replace(BLOCK, (_all, indent: string, key: string) =>
    `${indent}# BEGIN event-pattern ${key}\n` +
    renderItem(patterns[key as PatternKey], indent) +
    `${indent}# END event-pattern ${key}`,
  );
}

function main(argv: string[]): number {
  const write = argv.includes('--write');
  const template = readFileSync(TEMPLATE_PATH, 'utf8');
  const wanted = renderTemplate(template, loadPatterns());
  const rel = path.relative(process.cwd(), TEMPLATE_PATH);
  if (wanted === template) {
    console.log(`${rel}: event patterns match ${path.relative(process.cwd(), PATTERNS_PATH)}`);
    return 0;
  }
  if (write) {
    writeFileSync(TEMPLATE_PATH, wanted);
    console.log(`${rel}: event patterns rewritten from ${path.relative(process.cwd(), PATTERNS_PATH)}`);
    return 0;
  }
  console.error(
    `${rel}: event patterns differ from ${path.relative(process.cwd(), PATTERNS_PATH)}; ` +
      'run `npx tsx scripts/aws/sync-event-pattern.ts --write`',
  );
  return 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
