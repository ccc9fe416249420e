/** Column types of Log Analytics stream declarations (DCR `streamDeclarations`). */
export const COLUMN_TYPES = ['string', 'int', 'long', 'real', 'boolean', 'datetime', 'dynamic'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
}

/** Column names: start with a letter, at most 45 characters, letters, digits and `_` (docs/protocol-notes.md#ingestion-body). */
export const COLUMN_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,44}$/;

/** Names the service reserves; never sent by a client. */
export const RESERVED_COLUMNS: ReadonlySet<string> = new Set([
  '_ResourceId',
  'id',
  '_SubscriptionId',
  'TenantId',
  'Type',
  'UniqueId',
  'Title',
]);

export function col(name: string, type: ColumnType, description: string): Column {
  return { name, type, description };
}
