/**
 * The operator's AWS rights, written in five places (two READMEs, the chart's
 * README, the CloudFormation role, the chart's ACK role), held to what the code
 * calls: the AWS SDK command classes imported under operator/src. A role built
 * from a doc that lists fewer actions fails at run time; one that lists more
 * grants what nothing needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SCHEMA, Type, load } from 'js-yaml';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The SDK packages the operator uses, and the IAM service prefix of each. */
const SERVICE_OF_PACKAGE: Record<string, string> = {
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
};
const PREFIXES = Object.values(SERVICE_OF_PACKAGE);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * ReceiveMessageCommand → sqs:ReceiveMessage. SQS authorises a batch call by its
 * single-message action (DeleteMessageBatch needs sqs:DeleteMessage; there is no
 * sqs:DeleteMessageBatch action), so a Batch suffix is dropped.
 */
function actionsCalledByCode(): string[] {
  const actions = new Set<string>();
  const importFrom = /import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g;
  for (const file of sourceFiles(path.join(ROOT, 'operator', 'src'))) {
    for (const [, names, pkg] of fs.readFileSync(file, 'utf8').matchAll(importFrom)) {
      const service = SERVICE_OF_PACKAGE[pkg];
      if (!service) continue;
      for (const name of names.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
        const command = /^(\w+?)(Batch)?Command$/.exec(name);
        if (command) actions.add(`${service}:${command[1]}`);
      }
    }
  }
  return [...actions].sort();
}

/** Every `sqs:Action` / `secretsmanager:Action` a text names (ARNs have a lower-case region there). */
function actionsNamedIn(text: string): string[] {
  const named = new RegExp(`\\b(?:${PREFIXES.join('|')}):[A-Z][A-Za-z]+\\b`, 'g');
  return [...new Set(text.match(named) ?? [])].sort();
}

/** CloudFormation's short-form tags, read as opaque values: only the policy's actions matter here. */
const CFN_SCHEMA = DEFAULT_SCHEMA.extend(
  ['Ref', 'GetAtt', 'Sub', 'If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select', 'Split', 'Condition', 'FindInMap', 'Base64']
    .flatMap((tag) => (['scalar', 'sequence', 'mapping'] as const).map((kind) => new Type(`!${tag}`, { kind, construct: (d: unknown) => ({ [tag]: d }) }))),
);

interface Statement {
  Effect: string;
  Action: string | string[];
}

function cloudFormationRoleActions(): string[] {
  const template = load(read('scripts/cloudformation.yaml'), { schema: CFN_SCHEMA }) as {
    Resources: Record<string, { Type: string; Properties: { Policies?: { PolicyDocument: { Statement: Statement[] } }[] } }>;
  };
  const roles = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::Role');
  expect(roles).toHaveLength(1);
  const statements = (roles[0].Properties.Policies ?? []).flatMap((p) => p.PolicyDocument.Statement);
  return actionsNamedIn(JSON.stringify(statements.filter((s) => s.Effect === 'Allow').map((s) => s.Action)));
}

describe("the operator's IAM actions are the ones its code calls", () => {
  const called = actionsCalledByCode();

  it('the code calls SQS receive, delete, re-time and attributes, and Secrets Manager metadata only', () => {
    // Pins the derivation itself, so an empty scan cannot make every comparison below pass.
    expect(called).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:ListSecrets',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
  });

  it.each(['README.md', 'examples/README.md', 'Chart-README.md'])('%s lists exactly those actions', (doc) => {
    expect(actionsNamedIn(read(doc))).toEqual(called);
  });

  it("the CloudFormation role (scripts/cloudformation.yaml) allows exactly those actions", () => {
    expect(cloudFormationRoleActions()).toEqual(called);
  });

  it("the chart's ACK role (templates/prerequisites-iam.yaml) allows exactly those actions", () => {
    expect(actionsNamedIn(read('charts/secrets-rotation-operator/templates/prerequisites-iam.yaml'))).toEqual(called);
  });
});
