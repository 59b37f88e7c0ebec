/**
 * The house keeps its shape: every import of operator/src follows the layer order in
 * layers.ts, no two folders import each other, no file loop, and nothing outside tests
 * imports test code. Imports are read with the TypeScript compiler (static, type-only,
 * re-exports, dynamic import() and require()), not with a regular expression.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { FLOOR_FOLDERS, KIT, MAY_IMPORT, NON_TEST_CODE, ROOT_FILES, TEST_CODE } from './layers';

const REPO = path.resolve(__dirname, '../../../..');
const SRC = 'operator/src/';

function tsFiles(dir: string): string[] {
  const abs = path.join(REPO, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.posix.join(dir, f.split(path.sep).join('/')))
    .sort();
}

/** The repository-relative file a relative specifier names, or undefined for a package. */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) {
    const abs = path.join(REPO, candidate);
    if (fs.existsSync(abs) && fs.statSync(abs).isFile()) return candidate;
  }
  return base;
}

type Edge = { from: string; to: string };

function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => resolve(file, f.fileName))
    .filter((to): to is string => to !== undefined)
    .map((to) => ({ from: file, to }));
}

function unitOf(file: string): string {
  const rel = file.slice(SRC.length);
  const slash = rel.indexOf('/');
  if (slash < 0) return ROOT_FILES[rel] ?? `unlisted root file ${rel}`;
  const folder = rel.slice(0, slash);
  return FLOOR_FOLDERS.includes(folder) ? 'floor' : folder;
}

const srcEdges = tsFiles(SRC).flatMap(importsOf).filter((e) => e.to.startsWith(SRC));
const nonTestEdges = NON_TEST_CODE.flatMap(tsFiles).flatMap(importsOf);

describe('layers of operator/src', () => {
  it('reads the imports it checks', () => {
    expect(srcEdges.length).toBeGreaterThan(200);
  });

  it('places every file of operator/src in a layer', () => {
    const unplaced = tsFiles(SRC)
      .map(unitOf)
      .filter((u) => !(u in MAY_IMPORT));
    expect([...new Set(unplaced)]).toEqual([]);
  });

  it('the layer order itself has no loop', () => {
    const seen = new Set<string>();
    const visit = (unit: string, trail: string[]): string[] => {
      if (trail.includes(unit)) return [[...trail, unit].join(' → ')];
      if (seen.has(unit)) return [];
      seen.add(unit);
      return (MAY_IMPORT[unit] ?? []).flatMap((next) => visit(next, [...trail, unit]));
    };
    expect(Object.keys(MAY_IMPORT).flatMap((u) => visit(u, []))).toEqual([]);
  });

  it('every import runs down the layer order', () => {
    const wrong = srcEdges
      .map((e) => ({ ...e, a: unitOf(e.from), b: unitOf(e.to) }))
      .filter(({ a, b }) => a !== b && !(MAY_IMPORT[a] ?? []).includes(b))
      .map(({ from, to, a, b }) => `${from} imports ${to}: ${a} may not import ${b}`);
    expect(wrong).toEqual([]);
  });

  it('no two folders import each other', () => {
    const pairs = new Set(srcEdges.map((e) => `${unitOf(e.from)} → ${unitOf(e.to)}`));
    const both = [...pairs]
      .map((p) => p.split(' → '))
      .filter(([a, b]) => a < b && pairs.has(`${b} → ${a}`))
      .map(([a, b]) => `${a} ↔ ${b}`);
    expect(both).toEqual([]);
  });

  it('no file imports itself back through others', () => {
    // Tarjan's strongly connected components: any component of two or more files is a loop.
    const next = new Map<string, string[]>();
    for (const e of srcEdges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const loops: string[] = [];
    const connect = (v: string): void => {
      index.set(v, index.size);
      low.set(v, index.get(v)!);
      stack.push(v);
      for (const w of next.get(v) ?? []) {
        if (!index.has(w)) {
          connect(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) !== index.get(v)) return;
      const component: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) loops.push(component.sort().join(' ↔ '));
    };
    for (const v of tsFiles(SRC)) if (!index.has(v)) connect(v);
    expect(loops).toEqual([]);
  });
});

describe('test code', () => {
  const isTest = (f: string) => TEST_CODE.some((t) => f.startsWith(t));

  it('is imported by nothing outside tests', () => {
    const wrong = nonTestEdges.filter((e) => isTest(e.to)).map((e) => `${e.from} imports test code ${e.to}`);
    expect(wrong).toEqual([]);
  });

  it('the kit the demo and the tests share is checked as non-test code', () => {
    expect(isTest(KIT)).toBe(false);
    expect(nonTestEdges.filter((e) => e.from.startsWith(KIT)).length).toBeGreaterThan(0);
    expect(nonTestEdges.some((e) => e.from.startsWith('scripts/demo') && e.to.startsWith(KIT))).toBe(true);
  });
});
