import type { ChildProcess } from 'node:child_process';
import { exited, onLines, spawnTs } from './spawn.js';

export interface RunningServer {
  child: ChildProcess;
  url: string;
  /** Every log line the server printed, parsed. */
  logs: Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `src/server.ts` in its own process on a free port and waits for its "ready" log line. */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const child = spawnTs('src/server.ts', [], { PORT: '0', HOST: '127.0.0.1', SEED: 'false', ...env });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    onLines(child, (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'servidor pronto') resolve(entry.port as number);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before ready: ${stderr}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    logs,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited(child);
    },
  };
}

/** Runs the server expecting it to refuse to start; resolves with its exit code and stderr. */
export async function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawnTs('src/server.ts', [], { PORT: '0', HOST: '127.0.0.1', SEED: 'false', ...env });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { code } = await exited(child);
  return { code, stderr };
}
