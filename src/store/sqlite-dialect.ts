// Kysely's SqliteDialect over Node's built-in node:sqlite (no native build, no download).
// Statements are prepared once and cached by SQL text: the hot ingest path reuses a few texts.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

type Param = null | number | bigint | string | Uint8Array;

export function nodeSqliteDialect(db: DatabaseSync): SqliteDialect {
  const cache = new Map<string, SqliteStatement>();
  const wrap = (stmt: StatementSync): SqliteStatement => ({
    reader: stmt.columns().length > 0,
    all: (params) => stmt.all(...(params as Param[])),
    run: (params) => stmt.run(...(params as Param[])),
    iterate: (params) => stmt.iterate(...(params as Param[])) as IterableIterator<unknown>,
  });
  const database: SqliteDatabase = {
    close: () => db.close(),
    prepare(sql) {
      let s = cache.get(sql);
      if (!s) {
        if (cache.size >= 1000) cache.clear();
        s = wrap(db.prepare(sql));
        cache.set(sql, s);
      }
      return s;
    },
  };
  return new SqliteDialect({ database });
}
