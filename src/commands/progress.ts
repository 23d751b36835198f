/**
 * Progress for long runs: a redrawn bar with images/s and ETA on a TTY, plain periodic lines otherwise (CI logs),
 * nothing with --quiet. Writes to stderr.
 */
export interface Progress {
  tick(done: number, extra?: string): void;
  finish(summary?: string): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

export function createProgress(opts: {
  total: number;
  label: string;
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { tick: () => undefined, finish: () => undefined };
  const tty = Boolean(stream.isTTY);
  const start = Date.now();
  const interval = opts.intervalMs ?? (tty ? 200 : 10000);
  let last = 0;
  let lastDone = 0;
  const line = (done: number, extra?: string): string => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (opts.total - done) / rate : NaN;
    const pct = opts.total > 0 ? Math.floor((100 * done) / opts.total) : 100;
    return `${opts.label} ${done}/${opts.total} (${pct}%) ${rate.toFixed(1)} img/s ETA ${formatDuration(eta)}${extra ? ` ${extra}` : ''}`;
  };
  return {
    tick(done: number, extra?: string) {
      lastDone = done;
      const now = Date.now();
      if (now - last < interval && done < opts.total) return;
      last = now;
      if (tty) {
        const width = 24;
        const filled = opts.total > 0 ? Math.round((width * done) / opts.total) : width;
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line(done, extra)}\x1b[K`);
      } else {
        stream.write(`${line(done, extra)}\n`);
      }
    },
    finish(summary?: string) {
      if (tty) stream.write(`\r${line(lastDone)}\x1b[K\n`);
      if (summary) stream.write(`${summary}\n`);
    },
  };
}
