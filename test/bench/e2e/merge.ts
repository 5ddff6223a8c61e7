/**
 * How an end-to-end run that measured only some targets or workloads goes into latest.json
 * without losing what it did not measure: the runs of the other targets and modes (a paced run,
 * a run of several worker processes, a traced one, the other workloads whole) are kept from the previous file, each marked `carriedFrom` with the
 * timestamp and commit of the run that measured it. Ratios and target verdicts are this run's
 * alone: a ratio of two runs from different sessions would compare two machine states.
 */

interface RunLike {
  target: string;
  mode?: string;
  workers?: number;
  tracing?: unknown;
  carriedFrom?: { timestamp: unknown; commit: unknown };
}

interface WorkloadLike {
  name: string;
  runs: RunLike[];
}

export interface E2eSectionLike {
  timestamp?: unknown;
  commit?: unknown;
  workloads: WorkloadLike[];
}

export function mergeE2e<T extends E2eSectionLike>(previous: unknown, fresh: T): T {
  if (typeof previous !== 'object' || previous === null) return fresh;
  const prev = previous as Partial<E2eSectionLike>;
  if (!Array.isArray(prev.workloads)) return fresh;
  const stamp = { timestamp: prev.timestamp ?? null, commit: prev.commit ?? null };
  const mark = (r: RunLike): RunLike => ({ ...r, carriedFrom: r.carriedFrom ?? stamp });
  const kind = (r: RunLike) =>
    `${r.target}/${r.mode ?? 'max'}/${r.workers ?? 1}/${r.tracing ? 'traced' : ''}`;
  const ran = new Set(fresh.workloads.flatMap((w) => w.runs.map(kind)));
  const workloads: WorkloadLike[] = fresh.workloads.map((w) => {
    const old = prev.workloads!.find((p) => p.name === w.name);
    const kept = (old?.runs ?? []).filter((r) => !ran.has(kind(r))).map(mark);
    return { ...w, runs: [...w.runs, ...kept] };
  });
  for (const old of prev.workloads) {
    if (!workloads.some((w) => w.name === old.name))
      workloads.push({ ...old, runs: old.runs.map(mark) });
  }
  return { ...fresh, workloads };
}
