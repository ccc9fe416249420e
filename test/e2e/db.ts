import Database from 'better-sqlite3';

/** Reads one column of a table straight from a local workspace database (read-only, beside the server). */
export function readColumn(dbFile: string, table: string, column: string): string[] {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(table) || !/^[A-Za-z][A-Za-z0-9_]*$/.test(column)) throw new Error('bad identifier');
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (!exists) return [];
    return (db.prepare(`SELECT "${column}" AS v FROM "${table}"`).all() as Array<{ v: string }>).map((r) => r.v);
  } finally {
    db.close();
  }
}

/** Rows in a table of a local workspace database (0 when the table does not exist yet). */
export function countRows(dbFile: string, table: string): number {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(table)) throw new Error('bad identifier');
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (!exists) return 0;
    return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}
