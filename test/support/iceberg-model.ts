/**
 * A model of what matters in an Iceberg table for schema evolution, with no engine: columns carry field ids,
 * data files store values by field id (as Parquet files written for Iceberg do), and a read projects every file
 * through the CURRENT schema by id, so a column added after a file was written reads as null in it, and a
 * renamed or re-typed column could not silently take another's values. It understands the two statements
 * lib/query/analytics-schema-ddl.ts generates (CREATE TABLE, ALTER TABLE … ADD COLUMNS) and refuses any other,
 * so a migration that tried to drop, rename or re-type a column fails here.
 */
import type { StoredScalar } from '../../lib/store/capture-store';

export interface ModelColumn {
  id: number;
  name: string;
  type: string;
}

const COLUMN = /`([a-z0-9_]+)` (string|bigint|double|boolean)(?: COMMENT '(?:[^']|'')*')?/g;

function columnsOf(list: string): { name: string; type: string }[] {
  return [...list.matchAll(COLUMN)].map((m) => ({ name: m[1] as string, type: m[2] as string }));
}

export class IcebergTableModel {
  readonly columns: ModelColumn[] = [];
  partitionColumn: string | undefined;
  private nextId = 1;
  private readonly files: Map<number, StoredScalar>[] = [];

  /** Runs one generated statement. */
  apply(statement: string): void {
    const create =
      /^CREATE TABLE IF NOT EXISTS `\w+`\.`\w+` \(\n([\s\S]*)\n\)\nPARTITIONED BY \(`(\w+)`\)/.exec(
        statement,
      );
    if (create) {
      if (this.columns.length > 0) return; // IF NOT EXISTS
      for (const c of columnsOf(create[1] as string)) this.add(c.name, c.type);
      this.partitionColumn = create[2];
      return;
    }
    const alter = /^ALTER TABLE `\w+`\.`\w+` ADD COLUMNS \((.*)\)$/s.exec(statement);
    if (alter) {
      for (const c of columnsOf(alter[1] as string)) {
        if (this.columns.some((x) => x.name === c.name)) throw new Error(`column ${c.name} exists`);
        this.add(c.name, c.type);
      }
      return;
    }
    throw new Error(`statement the model does not accept: ${statement.slice(0, 60)}`);
  }

  private add(name: string, type: string): void {
    this.columns.push({ id: this.nextId++, name, type });
  }

  /** One data file of one row: the values of the columns the table has now, by field id; others are dropped. */
  write(row: Record<string, StoredScalar>): void {
    const file = new Map<number, StoredScalar>();
    for (const c of this.columns) if (c.name in row) file.set(c.id, row[c.name] as StoredScalar);
    this.files.push(file);
  }

  /** Every row through the current schema. */
  read(): Record<string, StoredScalar>[] {
    return this.files.map((file) =>
      Object.fromEntries(
        this.columns.map((c) => [c.name, file.has(c.id) ? (file.get(c.id) as StoredScalar) : null]),
      ),
    );
  }
}
