// Configuration comes from the environment only (PROTOCOL.md §0); defaults give a working local system.
export type Config = {
  port: number; host: string; dataDir: string; databaseUrl: string | undefined; logLevel: string;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env['PORT'] ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${env['PORT']}"`);
  return {
    port,
    host: env['HOST'] ?? '127.0.0.1',
    dataDir: env['DATA_DIR'] ?? './data',
    databaseUrl: env['DATABASE_URL'] || undefined,
    logLevel: env['LOG_LEVEL'] ?? 'info',
  };
}
