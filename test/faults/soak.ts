/**
 * Scenario 7, the soak: a long mixed stream (1% poison) through one worker process, with its
 * resident memory and throughput sampled as it goes, then every invariant of the fault suite
 * checked. Runs on the shared services under a vhost, database and key prefix of its own.
 *
 *   npm run soak -- --events 1000000 [--seed N] [--poison 0.01] [--sample-seconds 5]
 *
 * The default is 100,000 events. The stream is generated and published in slices while the
 * worker consumes (at most `--backlog` events queued ahead), so memory stays flat on our side.
 */
import { parseArgs } from 'node:util';
import { report, sleep, World } from './support/harness.js';
import { checkInvariants, type Findings } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { mixedSetup, mixedStream, toMessage, type Message } from './support/stream.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Math.floor(Math.random() * 1e6)) },
    poison: { type: 'string', default: '0.01' },
    backlog: { type: 'string', default: '50000' },
    'sample-seconds': { type: 'string', default: '5' },
  },
});
const EVENTS = Number(values.events);
const SEED = Number(values.seed);
const BACKLOG = Number(values.backlog);
const SAMPLE_MS = Number(values['sample-seconds']) * 1000;
const MB = 1024 * 1024;

interface Sample {
  seconds: number;
  processed: number;
  perSecond: number;
  rssMb: number;
}

async function main(): Promise<void> {
  const world = await World.create('soak');
  const samples: Sample[] = [];
  let findings: Findings | undefined;
  let failure: unknown;
  try {
    const options = {
      tenants: ['s1', 's2'],
      events: EVENTS,
      seed: SEED,
      poisonRate: Number(values.poison),
    };
    const oracle = new Oracle();
    const setup = mixedSetup(options).map(toMessage);
    for (const m of setup) oracle.apply(m);
    const [worker] = await world.startWorkers(1);
    await world.publish(setup);
    await world.drained(setup.length, 0, 120_000);
    const base = await world.processed();
    const rssStart = worker!.rss();
    console.log(
      `soak: ${EVENTS} events, seed ${SEED}, worker RSS at start ${(rssStart / MB).toFixed(0)} MB`,
    );

    const started = Date.now();
    let last = { at: started, processed: base };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(SAMPLE_MS);
        const processed = await world.processed().catch(() => last.processed);
        const now = Date.now();
        const s: Sample = {
          seconds: Math.round((now - started) / 1000),
          processed: processed - base,
          perSecond: Math.round(((processed - last.processed) * 1000) / (now - last.at)),
          rssMb: Math.round(worker!.rss() / MB),
        };
        samples.push(s);
        console.log(
          `  t=${s.seconds}s processed=${s.processed} rate=${s.perSecond}/s rss=${s.rssMb}MB`,
        );
        last = { at: now, processed };
      }
    })();

    // publish in slices, never more than BACKLOG valid events ahead of the worker
    const slice: Message[] = [];
    const flush = async () => {
      while (oracle.validCount - setup.length - ((await world.processed()) - base) > BACKLOG)
        await sleep(200);
      await world.publish(slice.splice(0));
    };
    for (const m of mixedStream(options)) {
      oracle.apply(m);
      slice.push(m);
      if (slice.length === 5000) await flush();
    }
    await flush();
    await world.drained(oracle.validCount, oracle.poison.size, 3_600_000);
    const seconds = (Date.now() - started) / 1000;
    sampling = false;
    await sampler;
    const rssEnd = worker!.rss();
    await world.stopWorkers();

    console.log(
      `soak: ${oracle.validCount - setup.length} valid + ${oracle.poison.size} poison in ${seconds.toFixed(1)} s ` +
        `(${Math.round((oracle.validCount - setup.length + oracle.poison.size) / seconds)}/s); ` +
        `worker RSS ${(rssStart / MB).toFixed(0)} MB at start, ${(rssEnd / MB).toFixed(0)} MB at the end`,
    );
    try {
      findings = await checkInvariants(world, oracle, { onFindings: (f) => (findings = f) });
      console.log('soak: every invariant holds');
    } catch (e) {
      failure = e;
    }
    report({
      scenario: '7 soak, 1% poison',
      events: EVENTS,
      lost: findings?.lost ?? -1,
      doubled: findings?.doubled ?? -1,
      oversold: findings?.oversold ?? -1,
      drainSeconds: seconds,
      note: `RSS ${(rssStart / MB).toFixed(0)} → ${(rssEnd / MB).toFixed(0)} MB; ${Math.round(EVENTS / seconds)} events/s overall; rate per ${SAMPLE_MS / 1000} s: ${samples.map((s) => s.perSecond).join(' ')}; seed ${SEED}`,
    });
  } finally {
    await world.close();
  }
  if (failure) throw failure;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
