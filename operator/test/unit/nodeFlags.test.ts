import fs from 'node:fs';
import path from 'node:path';
import { NODE_FLAGS } from '../../src/nodeFlags';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('the V8 flags are the same wherever the operator starts', () => {
  it('in the image: the Dockerfile CMD is NODE_FLAGS then dist/main.js', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(cmd ?? 'null')).toEqual([...NODE_FLAGS, 'dist/main.js']);
  });

  it('in npm start (on the pinned Node)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(['bash scripts/toolchain/with-node.sh', 'node', ...NODE_FLAGS, 'dist/main.js'].join(' '));
  });
});
