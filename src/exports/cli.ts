// `loyalty export --org ID --from DATE --to DATE --format xlsx|csv --out FILE [--flagged true|false]`:
// the raw votes export straight from the configured store, with a progress bar on stderr.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig, storeOptionsOf } from '../config.ts';
import { openStore, migrateToLatest } from '../store/db.ts';
import { parseDate } from '../domain/time.ts';
import { AppError } from '../domain/errors.ts';
import { countVotes, type VoteQuery } from './votes.ts';
import { writeVotesCsv, writeVotesXlsx } from './votes-export.ts';

const USAGE = 'usage: loyalty export --org ID --from YYYY-MM-DD --to YYYY-MM-DD [--format xlsx|csv] --out FILE [--flagged true|false]';

export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    org: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string', default: 'xlsx' },
    out: { type: 'string' }, flagged: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { console.log(USAGE); return 0; }
  const missing = (['org', 'from', 'to', 'out'] as const).find((k) => !values[k]);
  if (missing) { console.error(`--${missing} is required\n${USAGE}`); return 2; }
  if (values.format !== 'xlsx' && values.format !== 'csv') { console.error(`--format must be xlsx or csv\n${USAGE}`); return 2; }
  if (values.flagged !== undefined && values.flagged !== 'true' && values.flagged !== 'false') { console.error(`--flagged must be true or false\n${USAGE}`); return 2; }
  let q: VoteQuery;
  try {
    q = { from: parseDate(values.from!, 'from'), to: parseDate(values.to!, 'to'), flagged: values.flagged === undefined ? undefined : values.flagged === 'true' };
    if (q.from > q.to) { console.error('--from must not be after --to'); return 2; }
  } catch (e) {
    if (e instanceof AppError) { console.error(`--${e.field}: ${e.message}`); return 2; }
    throw e;
  }
  const config = loadConfig();
  const store = await openStore(storeOptionsOf(config));
  try {
    await migrateToLatest(store);
    const org = await store.db.selectFrom('orgs').select(['id', 'name']).where('id', '=', values.org!).executeTakeFirst();
    if (!org) { console.error(`no organisation ${values.org}`); return 1; }
    const total = await countVotes(store, org.id, q);
    const bar = new cliProgress.SingleBar({ stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000, format: 'export [{bar}] {percentage}% | {value}/{total} votes | {duration_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic);
    bar.start(total, 0);
    const out = createWriteStream(values.out!);
    const progress = (n: number): void => bar.update(n);
    const n = values.format === 'csv'
      ? await writeVotesCsv(store, org.id, q, out, progress)
      : await writeVotesXlsx(store, org.id, q, out, { orgName: org.name, progress });
    if (!out.writableEnded) out.end();
    if (!out.writableFinished) await once(out, 'finish');
    bar.update(n);
    bar.stop();
    console.error(`${n} votes written to ${values.out}`);
    return 0;
  } finally {
    await store.close();
  }
}
