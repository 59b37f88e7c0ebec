import { parseArgs, USAGE } from '../../../src/cli/args';

describe('srm arguments', () => {
  it('reads preview with a secret, the output format and the ceiling', () => {
    expect(parseArgs(['preview', 'prod/db', '-o', 'json', '--max-concurrent', '20'])).toEqual({ command: 'preview', secret: 'prod/db', output: 'json', maxConcurrent: 20 });
    expect(parseArgs(['preview', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf'])).toEqual({
      command: 'preview',
      secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
      output: 'table',
    });
    expect(parseArgs(['preview', '--output=json', 'db'])).toEqual({ command: 'preview', secret: 'db', output: 'json' });
  });

  it('reads the chart-wide windows for preview, checked as the chart checks them', () => {
    const w = { kind: 'allow', schedule: '0 2 * * 6', duration: '4h', timeZone: 'Europe/Paris' };
    expect(parseArgs(['preview', 'db', '--windows', JSON.stringify([w])])).toEqual({ command: 'preview', secret: 'db', output: 'table', windows: [w] });
    expect(parseArgs(['preview', 'db', '--windows', '[{"kind":"allow","schedule":"0 2 * * 6","duration":"4h","timeZone":"Mars/Olympus"}]'])).toEqual({
      command: 'error',
      message: '--windows: window 0: timeZone must be an IANA time zone name, got "Mars/Olympus"',
    });
    expect(parseArgs(['preview', 'db', '--windows', '{'])).toEqual({ command: 'error', message: '--windows: is not JSON (a list of windows: kind, schedule, duration, timeZone)' });
    expect(parseArgs(['status', '--windows', '[]'])).toEqual({ command: 'error', message: '--max-concurrent and --windows are for preview' });
  });

  it('reads status with or without a namespace and a mapping', () => {
    expect(parseArgs(['status'])).toEqual({ command: 'status', output: 'table' });
    expect(parseArgs(['status', '-n', 'shop', 'db', '-o', 'json'])).toEqual({ command: 'status', namespace: 'shop', mapping: 'db', output: 'json' });
    expect(parseArgs(['status', '--namespace=shop'])).toEqual({ command: 'status', namespace: 'shop', output: 'table' });
  });

  it('answers --help and no arguments with the usage', () => {
    expect(parseArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseArgs([])).toEqual({ command: 'help' });
    expect(parseArgs(['preview', '-h'])).toEqual({ command: 'help' });
    expect(USAGE).toMatch(/preview <secret name or ARN>/);
  });

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['preview'], 'preview needs a secret name or ARN'],
    [['preview', 'a', 'b'], 'preview takes one secret, got a second: "b"'],
    [['preview', 'not a secret!'], '"not a secret!" is not a Secrets Manager secret name or ARN'],
    [['preview', 'db', '-o', 'yaml'], '-o must be table or json, got "yaml"'],
    [['preview', 'db', '-o'], '-o needs a value'],
    [['preview', 'db', '--max-concurrent', '0'], '--max-concurrent must be a whole number of at least 1, got "0"'],
    [['preview', 'db', '--colour'], 'unknown flag --colour'],
    [['status', 'a', 'b'], 'status takes at most one mapping, got a second: "b"'],
    [['status', '-n'], '-n needs a value'],
  ])('refuses %j with one line: %s', (argv, message) => {
    expect(parseArgs(argv)).toEqual({ command: 'error', message });
  });
});
