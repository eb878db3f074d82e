// The `loyalty` command (PROTOCOL.md §0).
import { parseArgs } from 'node:util';
import { loadConfig, storeOptionsOf } from './config.ts';
import { openStore, migrateToLatest, isEmpty } from './store/db.ts';
import { adminToken } from './accounts/accounts.ts';
import { startServer } from './server.ts';
import { REDACT } from './http/app.ts';

const USAGE = `usage: loyalty <command>
  start [--demo]   serve everything (HTTP API, dashboard, devices over MQTT, OpenAPI at /docs); --demo seeds the demo organisation into an empty store
  migrate          bring the database schema up to date
  demo             seed the demo organisation (into an empty store)
  admin-token      print a new admin API token for the configured store (scripts; people sign in with a password)
  rebuild-rollups [--org ID]
                   recompute the score rollups from the stored votes (repair; safe while running)
  simulate --token TOKEN [--devices N] [--rate R | --votes N] [--transport http|mqtt] …
                   drive a running server with a simulated fleet, then reconcile sent vs stored (simulate --help)
  export --org ID --from DATE --to DATE [--format xlsx|csv] --out FILE
                   write the raw votes of a range of local dates to a file, with a progress bar
environment: PORT, HOST, PUBLIC_URL, DATA_DIR, DATABASE_URL, DATABASE_SCHEMA, LOG_LEVEL, MQTT_URL, MQTT_PORT, MQTT_GROUP, MQTT_CLIENT_ID, MQTT_CONSUMERS, SMTP_URL, SMTP_FROM, ALERTS_INTERVAL_SECONDS, LOYALTY_ADMIN_EMAIL, LOYALTY_ADMIN_PASSWORD, COOKIE_SECURE, WEBHOOK_ALLOWED_NETWORKS, WEBHOOK_ALLOW_PRIVATE (see README)`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'export') return (await import('./exports/cli.ts')).exportCommand(argv.slice(1));
  if (argv[0] === 'simulate') return (await import('./simulate/cli.ts')).simulateCommand(argv.slice(1));
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { demo: { type: 'boolean', default: false }, org: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const cmd = positionals[0];
  const config = loadConfig();
  const storeOptions = storeOptionsOf(config);
  if (!cmd || values.help) {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === 'migrate' || cmd === 'admin-token' || cmd === 'demo' || cmd === 'rebuild-rollups') {
    const store = await openStore(storeOptions);
    try {
      await migrateToLatest(store);
      if (cmd === 'admin-token') console.log(await adminToken(store));
      else if (cmd === 'demo') {
        const { seedDemo } = await import('./demo/seed.ts');
        if (!(await isEmpty(store))) { console.error('the store already has organisations; the demo seeds only an empty store'); return 1; }
        const r = await seedDemo(store, { log: (m) => console.error(m) });
        console.error(`demo organisation "${r.orgName}" seeded: ${r.votes} votes`);
      } else if (cmd === 'rebuild-rollups') {
        const { rebuildRollups } = await import('./scores/rebuild.ts');
        const r = await rebuildRollups(store, values.org);
        console.error(`rollups rebuilt from ${r.votes} votes: ${r.rows} rows`);
      } else console.error('schema is up to date');
    } finally {
      await store.close();
    }
    return 0;
  }
  if (cmd === 'start') {
    const store = await openStore(storeOptions);
    await migrateToLatest(store);
    const logger = { level: config.logLevel, redact: REDACT };
    const pino = (await import('pino')).default(logger);
    pino.info({ backend: store.dialect, dataDir: store.dialect === 'sqlite' ? config.dataDir : undefined }, 'store ready');
    const demo = values.demo ? await import('./demo/seed.ts') : null;
    // The first administrator (README "Accounts and access"): env, else a prompt on a terminal (not for the demo, which must just run).
    const { firstAdminBeforeStart, setupLinkIfNeeded } = await import('./accounts/first-admin.ts');
    const firstAdmin = await firstAdminBeforeStart(store, process.env, Boolean(process.stdin.isTTY) && !demo);
    // Seed before listening, so nobody sees a half-seeded demo.
    if (demo && (await isEmpty(store))) {
      pino.info('the store is empty: seeding the demo organisation (a few seconds)…');
      const r = await demo.seedDemo(store, { log: (m) => pino.info(m) });
      pino.info(`demo organisation "${r.orgName}" seeded with ${r.votes} votes`);
    }
    const server = await startServer({
      store, port: config.port, host: config.host, logger: pino,
      mqtt: { url: config.mqttUrl, port: config.mqttPort, clientId: config.mqttClientId, group: config.mqttGroup, consumers: config.mqttConsumers },
    });
    const stopDemo = demo ? demo.startDemoTraffic(server.ctx, { log: (m) => pino.debug(m) }) : () => {};
    const admin = firstAdmin ?? await setupLinkIfNeeded(store);
    const base = (process.env['PUBLIC_URL'] || server.url).replace(/\/+$/, '');
    const mqttLine = server.mqtt ? `\n  Devices over MQTT: ${server.mqtt.url}${server.mqtt.mode === 'external' ? ' (external broker)' : ''}` : '';
    const signIn = [
      admin.kind === 'link' ? `  Create the first administrator (link valid until used; a new one on each start until then):\n    ${base}${admin.path}\n  or restart with LOYALTY_ADMIN_EMAIL and LOYALTY_ADMIN_PASSWORD set.` : '',
      admin.kind === 'created' ? `  Administrator ${admin.email} created${admin.via === 'env' ? ' from LOYALTY_ADMIN_EMAIL' : ''}: sign in with that email and password.` : '',
      demo ? `  Demo sign-in: ${demo.DEMO_USER.email} / ${demo.DEMO_USER.password}` : '',
      '  API tokens for scripts: npm run -s loyalty admin-token, or the Access page of the dashboard.',
    ].filter(Boolean).join('\n');
    console.log(`\n  Loyalty Button is running: ${server.url}/\n  API docs: ${server.url}/docs${mqttLine}\n${signIn}\n`);
    const stop = async (): Promise<void> => {
      pino.info('shutting down');
      stopDemo();
      await server.close();
      await store.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    return -1; // keep running
  }
  console.error(`unknown command "${cmd}"\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exit(code); }, (e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
