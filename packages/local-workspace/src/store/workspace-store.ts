import Database from 'better-sqlite3';
import { COLUMN_NAME_RE, COLUMN_TYPES, silentLogger, type ColumnType, type Logger } from '@oma/core';
import { TABLE_NAME_RE } from '../constants.js';
import { decodeValue, encodeFilter, encodeValue, type SqlValue } from './values.js';

/** A column as the store knows it. */
export interface StoredColumn {
  readonly name: string;
  readonly type: ColumnType;
}

export interface StoreQuery {
  readonly table: string;
  /** Rows to return, 1..10,000; default 100. */
  readonly limit?: number;
  /** Only rows whose TimeGenerated is at or after this instant (epoch ms). */
  readonly sinceMs?: number;
  /** Column equality filters, ANDed; values are text converted to the column's type. */
  readonly where?: Readonly<Record<string, string>>;
  /** `desc` (default): newest TimeGenerated first, ties by insertion order, newest first. */
  readonly order?: 'asc' | 'desc';
  /** Rows to skip first, in that order (paging past MAX_QUERY_LIMIT); default 0. */
  readonly offset?: number;
}

export interface QueryResult {
  readonly table: string;
  readonly columns: readonly StoredColumn[];
  readonly rows: Record<string, unknown>[];
}

export interface TableInfo {
  readonly name: string;
  readonly rowCount: number;
}

export type WorkspaceStoreErrorCode = 'unknown_table' | 'invalid_query' | 'schema_conflict' | 'invalid_value';

/** A store error; `code` says which (branch on it, not on the class). */
export class WorkspaceStoreError extends Error {
  constructor(
    readonly code: WorkspaceStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WorkspaceStoreError';
  }
}

export interface WorkspaceStoreOptions {
  /** The SQLite database file (created if missing). */
  readonly file: string;
  readonly log?: Logger;
  /** Keep at most this many rows per table; the oldest are pruned after each insert. */
  readonly retentionRows?: number;
  /** Keep the database's used size near this many bytes by pruning the oldest rows of the largest table. */
  readonly maxDbBytes?: number;
}

export const MAX_QUERY_LIMIT = 10_000;
export const DEFAULT_QUERY_LIMIT = 100;
const STATEMENT_CACHE_SIZE = 256;
const TIME_RECEIVED = '_TimeReceived';
const TIME_COLUMN: StoredColumn = { name: 'TimeGenerated', type: 'datetime' };
/** Suffix of the integer millisecond column beside each datetime column; `#` cannot occur in column names. */
const MS_SUFFIX = '#ms';

interface TableMeta {
  readonly name: string;
  readonly columns: StoredColumn[];
  /** Lower-cased column name -> column (SQLite identifiers are case-insensitive). */
  readonly byLowerName: Map<string, StoredColumn>;
  rowCount: number | undefined;
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function assertTableName(table: string): void {
  if (!TABLE_NAME_RE.test(table) || /^sqlite_/i.test(table)) {
    throw new WorkspaceStoreError('invalid_query', `invalid table name ${JSON.stringify(table.slice(0, 80))}`);
  }
}

function assertColumn(c: StoredColumn): void {
  if (!COLUMN_NAME_RE.test(c.name)) throw new WorkspaceStoreError('schema_conflict', `invalid column name ${JSON.stringify(c.name.slice(0, 80))}`);
  if (!(COLUMN_TYPES as readonly string[]).includes(c.type)) throw new WorkspaceStoreError('schema_conflict', `invalid column type ${c.type}`);
}

function columnDefs(c: StoredColumn): string[] {
  switch (c.type) {
    case 'datetime':
      return [`${quote(c.name)} TEXT`, `${quote(c.name + MS_SUFFIX)} INTEGER`];
    case 'int':
    case 'long':
    case 'boolean':
      return [`${quote(c.name)} INTEGER`];
    case 'real':
      return [`${quote(c.name)} REAL`];
    case 'string':
    case 'dynamic':
      return [`${quote(c.name)} TEXT`];
  }
}

function physicalColumns(c: StoredColumn): string[] {
  return c.type === 'datetime' ? [c.name, c.name + MS_SUFFIX] : [c.name];
}

/**
 * Rows of the local workspace in SQLite: one table per Log Analytics table, created on first use from its
 * columns (datetime as ISO text plus an indexed integer millisecond column, dynamic as JSON text, boolean
 * as 0/1, int/long as INTEGER, real as REAL), plus `_rowid` and `_TimeReceived`. Column declarations are
 * kept in `_oma_columns` so that a reopened database knows its types. Identifiers are checked against the
 * table and column name patterns before they reach SQL; values are always bound parameters.
 */
export class WorkspaceStore {
  readonly #db: Database.Database;
  readonly #log: Logger;
  readonly #opts: WorkspaceStoreOptions;
  readonly #tables = new Map<string, TableMeta>();
  readonly #statements = new Map<string, Database.Statement>();
  #closed = false;

  private constructor(db: Database.Database, opts: WorkspaceStoreOptions) {
    this.#db = db;
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger();
    this.#loadMeta();
  }

  /** Opens (or creates) the database in WAL mode. Throws when the file cannot be opened. */
  static open(opts: WorkspaceStoreOptions): WorkspaceStore {
    const db = new Database(opts.file);
    try {
      // Must precede the first table of a new database to take effect; lets pruning give space back.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(
        `CREATE TABLE IF NOT EXISTS _oma_columns (
           table_name TEXT NOT NULL, ordinal INTEGER NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL,
           PRIMARY KEY (table_name, column_name)) WITHOUT ROWID`,
      );
      return new WorkspaceStore(db, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  #loadMeta(): void {
    const rows = this.#db
      .prepare('SELECT table_name, column_name, type FROM _oma_columns ORDER BY table_name, ordinal')
      .all() as { table_name: string; column_name: string; type: string }[];
    for (const r of rows) {
      const valid =
        TABLE_NAME_RE.test(r.table_name) && COLUMN_NAME_RE.test(r.column_name) && (COLUMN_TYPES as readonly string[]).includes(r.type);
      if (!valid) {
        this.#log.error({ table: r.table_name, column: r.column_name }, 'workspace store ignores an invalid column declaration');
        continue;
      }
      const key = r.table_name.toLowerCase();
      let meta = this.#tables.get(key);
      if (!meta) this.#tables.set(key, (meta = { name: r.table_name, columns: [], byLowerName: new Map(), rowCount: undefined }));
      const c: StoredColumn = { name: r.column_name, type: r.type as ColumnType };
      meta.columns.push(c);
      meta.byLowerName.set(c.name.toLowerCase(), c);
    }
  }

  #statement(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt) {
      this.#statements.delete(sql);
    } else {
      stmt = this.#db.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next();
        if (!oldest.done) this.#statements.delete(oldest.value);
      }
    }
    this.#statements.set(sql, stmt);
    return stmt;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('workspace store is closed');
  }

  /**
   * Returns why `columns` cannot be stored in `table` (a name differing only in case, or a column whose
   * type differs from the stored one), or undefined when they fit. Changes nothing.
   */
  conflict(table: string, columns: readonly StoredColumn[]): string | undefined {
    const meta = this.#tables.get(table.toLowerCase());
    if (!meta) return undefined;
    if (meta.name !== table) return `table ${table} differs only in case from stored table ${meta.name}`;
    for (const c of columns) {
      const prev = meta.byLowerName.get(c.name.toLowerCase());
      if (prev && (prev.name !== c.name || prev.type !== c.type)) {
        return `column ${table}.${c.name} ${c.type} conflicts with stored column ${prev.name} ${prev.type}`;
      }
    }
    return undefined;
  }

  /** Creates the table, or adds missing columns; TimeGenerated is always present. */
  #ensureTable(table: string, declared: readonly StoredColumn[]): TableMeta {
    assertTableName(table);
    const columns = declared.some((c) => c.name === TIME_COLUMN.name) ? declared : [TIME_COLUMN, ...declared];
    columns.forEach(assertColumn);
    if (columns.some((c) => c.name.toLowerCase() === 'timegenerated' && (c.name !== TIME_COLUMN.name || c.type !== 'datetime'))) {
      throw new WorkspaceStoreError('schema_conflict', `table ${table}: TimeGenerated must be a datetime column`);
    }
    const why = this.conflict(table, columns);
    if (why) throw new WorkspaceStoreError('schema_conflict', why);
    const key = table.toLowerCase();
    const existing = this.#tables.get(key);
    const missing = existing ? columns.filter((c) => !existing.byLowerName.has(c.name.toLowerCase())) : columns;
    if (existing && missing.length === 0) return existing;
    const meta: TableMeta = existing ?? { name: table, columns: [], byLowerName: new Map(), rowCount: 0 };
    const addMeta = this.#db.prepare('INSERT INTO _oma_columns (table_name, ordinal, column_name, type) VALUES (?, ?, ?, ?)');
    this.#db.transaction(() => {
      if (!existing) {
        const defs = [
          '_rowid INTEGER PRIMARY KEY AUTOINCREMENT',
          `${quote(TIME_RECEIVED)} TEXT NOT NULL`,
          `${quote(TIME_RECEIVED + MS_SUFFIX)} INTEGER NOT NULL`,
          ...columns.flatMap(columnDefs),
        ];
        this.#db.exec(`CREATE TABLE ${quote(table)} (${defs.join(', ')})`);
        this.#db.exec(`CREATE INDEX ${quote(`ix_${table}_time`)} ON ${quote(table)} (${quote(TIME_COLUMN.name + MS_SUFFIX)}, _rowid)`);
      } else {
        for (const c of missing) {
          for (const def of columnDefs(c)) this.#db.exec(`ALTER TABLE ${quote(table)} ADD COLUMN ${def}`);
        }
      }
      missing.forEach((c, i) => addMeta.run(table, meta.columns.length + i, c.name, c.type));
    })();
    for (const c of missing) {
      meta.columns.push({ name: c.name, type: c.type });
      meta.byLowerName.set(c.name.toLowerCase(), c);
    }
    this.#tables.set(key, meta);
    if (!existing) this.#log.info({ table }, 'workspace table created');
    return meta;
  }

  /**
   * Stores records in one transaction. Only `columns` are written (other properties are ignored; missing
   * ones become NULL); a record without TimeGenerated gets the receive time. Values must fit their column
   * types (validate first): a value that does not throws `invalid_value` and nothing is stored.
   * Returns the number of rows stored.
   */
  insert(table: string, columns: readonly StoredColumn[], records: readonly Readonly<Record<string, unknown>>[], receivedMs: number): number {
    this.#assertOpen();
    const meta = this.#ensureTable(table, columns);
    const cols = columns.some((c) => c.name === TIME_COLUMN.name) ? columns : [TIME_COLUMN, ...columns];
    const names = [TIME_RECEIVED, TIME_RECEIVED + MS_SUFFIX, ...cols.flatMap(physicalColumns)];
    const stmt = this.#statement(
      `INSERT INTO ${quote(meta.name)} (${names.map(quote).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    );
    const receivedIso = new Date(receivedMs).toISOString();
    const params: SqlValue[][] = records.map((record, i) => {
      const row: SqlValue[] = [receivedIso, receivedMs];
      for (const c of cols) {
        const raw = record[c.name];
        const encoded = c.name === TIME_COLUMN.name && (raw === undefined || raw === null) ? [receivedIso, receivedMs] : encodeValue(c.type, raw);
        if (!encoded) throw new WorkspaceStoreError('invalid_value', `record ${i}: value of ${c.name} does not fit type ${c.type}`);
        row.push(...encoded);
      }
      return row;
    });
    this.#db.transaction(() => {
      for (const p of params) stmt.run(p);
      meta.rowCount = (meta.rowCount ?? this.#countAll(meta)) + params.length;
      const cap = this.#opts.retentionRows;
      if (cap !== undefined && meta.rowCount > cap) this.#pruneOldest(meta, meta.rowCount - cap, 'retentionRows');
    })();
    this.#enforceMaxBytes();
    return params.length;
  }

  #countAll(meta: TableMeta): number {
    const r = this.#statement(`SELECT COUNT(*) AS n FROM ${quote(meta.name)}`).get() as { n: number };
    return r.n;
  }

  #pruneOldest(meta: TableMeta, count: number, reason: string): number {
    const info = this.#statement(
      `DELETE FROM ${quote(meta.name)} WHERE _rowid IN (SELECT _rowid FROM ${quote(meta.name)} ORDER BY _rowid LIMIT ?)`,
    ).run(count);
    meta.rowCount = Math.max(0, (meta.rowCount ?? 0) - info.changes);
    this.#log.debug({ table: meta.name, count: info.changes, reason }, 'workspace store pruned oldest rows');
    return info.changes;
  }

  /** Bytes the database uses (pages not on the free list). */
  usedBytes(): number {
    this.#assertOpen();
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    const pages = this.#db.pragma('page_count', { simple: true }) as number;
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  #enforceMaxBytes(): void {
    const max = this.#opts.maxDbBytes;
    if (max === undefined || this.usedBytes() <= max) return;
    const target = Math.floor(max * 0.9);
    let pruned = 0;
    for (let round = 0; round < 64 && this.usedBytes() > target; round++) {
      let largest: TableMeta | undefined;
      for (const meta of this.#tables.values()) {
        meta.rowCount ??= this.#countAll(meta);
        if (meta.rowCount > 0 && (!largest || meta.rowCount > (largest.rowCount ?? 0))) largest = meta;
      }
      if (!largest) break;
      const n = Math.max(1, Math.ceil((largest.rowCount ?? 0) / 10));
      const victim = largest;
      pruned += this.#db.transaction(() => this.#pruneOldest(victim, n, 'maxDbBytes'))();
    }
    this.#db.pragma('incremental_vacuum');
    this.#log.warn({ count: pruned, bytes: this.usedBytes(), maxBytes: max }, 'workspace store pruned oldest rows to stay under maxDbBytes');
  }

  #where(meta: TableMeta, where: Readonly<Record<string, string>> | undefined, sinceMs: number | undefined): { sql: string; params: SqlValue[] } {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (sinceMs !== undefined) {
      if (!Number.isFinite(sinceMs)) throw new WorkspaceStoreError('invalid_query', 'since must be a finite time');
      clauses.push(`${quote(TIME_COLUMN.name + MS_SUFFIX)} >= ?`);
      params.push(Math.floor(sinceMs));
    }
    for (const [name, text] of Object.entries(where ?? {})) {
      const c = COLUMN_NAME_RE.test(name) ? meta.byLowerName.get(name.toLowerCase()) : undefined;
      if (!c || c.name !== name) throw new WorkspaceStoreError('invalid_query', `table ${meta.name} has no column ${JSON.stringify(name.slice(0, 80))}`);
      const value = encodeFilter(c.type, text);
      if (value === undefined) {
        throw new WorkspaceStoreError('invalid_query', `filter value for ${c.name} is not a valid ${c.type}: ${JSON.stringify(text.slice(0, 80))}`);
      }
      clauses.push(`${quote(c.type === 'datetime' ? c.name + MS_SUFFIX : c.name)} = ?`);
      params.push(value);
    }
    return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
  }

  #meta(table: string): TableMeta | undefined {
    const meta = this.#tables.get(table.toLowerCase());
    return meta && meta.name === table ? meta : undefined;
  }

  /** Rows of a table, newest TimeGenerated first by default. Throws `unknown_table` / `invalid_query`. */
  query(q: StoreQuery): QueryResult {
    this.#assertOpen();
    assertTableName(q.table);
    const meta = this.#meta(q.table);
    if (!meta) throw new WorkspaceStoreError('unknown_table', `table ${q.table} does not exist`);
    const limit = q.limit ?? DEFAULT_QUERY_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
      throw new WorkspaceStoreError('invalid_query', `limit must be an integer in 1..${MAX_QUERY_LIMIT}`);
    }
    const offset = q.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new WorkspaceStoreError('invalid_query', 'offset must be a non-negative integer');
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const { sql, params } = this.#where(meta, q.where, q.sinceMs);
    const select = [...meta.columns.map((c) => quote(c.name)), quote(TIME_RECEIVED)].join(', ');
    const stmt = this.#statement(
      `SELECT ${select} FROM ${quote(meta.name)}${sql} ORDER BY ${quote(TIME_COLUMN.name + MS_SUFFIX)} ${dir}, _rowid ${dir} LIMIT ? OFFSET ?`,
    );
    // Query statements are used only here: 64-bit integers come back exact (as bigint) and are decoded below.
    const raw = stmt.safeIntegers(true).all(...params, limit, offset) as Record<string, unknown>[];
    const columns: StoredColumn[] = [...meta.columns, { name: TIME_RECEIVED, type: 'datetime' }];
    const rows = raw.map((r) => {
      const out: Record<string, unknown> = {};
      for (const c of columns) out[c.name] = decodeValue(c.type, r[c.name]);
      return out;
    });
    return { table: meta.name, columns, rows };
  }

  /** Number of rows of a table matching `where` (0 for a table that does not exist yet). */
  count(table: string, where?: Readonly<Record<string, string>>): number {
    this.#assertOpen();
    assertTableName(table);
    const meta = this.#meta(table);
    if (!meta) return 0;
    if (!where || Object.keys(where).length === 0) return (meta.rowCount ??= this.#countAll(meta));
    const { sql, params } = this.#where(meta, where, undefined);
    const r = this.#statement(`SELECT COUNT(*) AS n FROM ${quote(meta.name)}${sql}`).get(...params) as { n: number };
    return r.n;
  }

  /** Columns of a stored table, or undefined when it does not exist. */
  columns(table: string): readonly StoredColumn[] | undefined {
    return this.#meta(table)?.columns.slice();
  }

  /** Stored tables with their row counts, by name. */
  tables(): TableInfo[] {
    this.#assertOpen();
    return [...this.#tables.values()]
      .map((meta) => ({ name: meta.name, rowCount: (meta.rowCount ??= this.#countAll(meta)) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Closes the database (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }
}
