/**
 * Process helpers for the stack: start detached (outliving the command that
 * started them, output to a log file), find out whether a pid is still the process
 * we started (start time from /proc), stop a process group (SIGTERM, then SIGKILL
 * after a deadline) and wait until it is really gone. Polling with deadlines only.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { TimeoutError, waitFor } from '../kit/wait';

export interface ProcInfo {
  pid: number;
  state: string;
  pgrp: number;
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTime: string;
}

export function procInfo(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ... starttime(22)"; comm may hold spaces.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0], pgrp: Number(rest[2]), startTime: rest[19] };
}

/** True while `pid` exists, is not a zombie, and (if given) started at `startTime`. */
export function isRunning(pid: number, startTime?: string): boolean {
  const info = procInfo(pid);
  if (!info || info.state === 'Z' || info.state === 'X') return false;
  return startTime === undefined || info.startTime === startTime;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procInfo(Number(entry));
    if (info && info.pgrp === pgid && info.state !== 'Z' && info.state !== 'X') out.push(info.pid);
  }
  return out;
}

export interface SpawnedProcess {
  pid: number;
  startTime: string;
}

/**
 * Starts `command` in its own session/process group, stdio to `logFile` (appended),
 * not tied to this process: it keeps running when this process exits.
 */
export function spawnDetached(
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): SpawnedProcess {
  const fd = fs.openSync(opts.logFile, 'a');
  try {
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} starting: ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.on('error', () => undefined);
    child.unref();
    const info = procInfo(child.pid);
    return { pid: child.pid, startTime: info?.startTime ?? '' };
  } finally {
    fs.closeSync(fd);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* group already gone */
  }
}

/**
 * Stops the process group led by `pid` (if `pid` is still the process that started
 * at `startTime`): SIGTERM, then SIGKILL after `graceMs` (0: SIGKILL at once);
 * resolves once no member is left, and throws if something survives SIGKILL.
 */
export async function stopProcessGroup(pid: number, startTime: string | undefined, opts: { graceMs?: number; name?: string } = {}): Promise<void> {
  const name = opts.name ?? String(pid);
  const leader = procInfo(pid);
  // pid reused by another process since we started ours: leave it alone.
  if (leader && leader.state !== 'Z' && startTime && leader.startTime !== startTime) return;
  // The leader's pid is the group id (spawnDetached starts a new session).
  const gone = (): boolean => groupMembers(pid).length === 0;
  if (gone()) return;
  const graceMs = opts.graceMs ?? 10_000;
  let exited = false;
  if (graceMs > 0) {
    signalGroup(pid, 'SIGTERM');
    try {
      await waitFor(`${name} to exit after SIGTERM`, gone, { timeoutMs: graceMs, intervalMs: 100 });
      exited = true;
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
    }
  }
  if (!exited) {
    signalGroup(pid, 'SIGKILL');
    await waitFor(`${name} to exit after SIGKILL`, gone, { timeoutMs: 10_000, intervalMs: 100 });
  }
}

/**
 * Exited processes stay zombies until their parent reaps them (this process, or
 * init once the starter has exited, which here takes a second or two): wait a
 * little for that, so `ps` right afterwards shows nothing. Best effort.
 */
export async function waitReaped(pids: number[], timeoutMs = 3_000): Promise<void> {
  await waitFor('exited processes to be reaped', () => pids.every((pid) => procInfo(pid) === undefined), { timeoutMs, intervalMs: 100 }).catch(
    () => undefined,
  );
}

/** The last `n` lines of a file ('' if it does not exist). */
export function tailFile(file: string, n = 30): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}
