// Writes medpix-vqa/data/train-00000-of-00001.parquet under this folder with DuckDB, a Parquet
// writer other than arrow-go: no ARROW:schema metadata, DuckDB's own encodings and row groups.
// The committed file was made with @duckdb/node-api (DuckDB 1.x, see duckdb_version.txt) from
// the three small grayscale PNGs in pngs/:
//   npm install @duckdb/node-api && node make.mjs "$PWD/pngs" > duckdb_version.txt
// Tests only read the committed file.
import { DuckDBInstance } from '@duckdb/node-api';

const pngs = process.argv[2];
const out = new URL('./medpix-vqa/data/train-00000-of-00001.parquet', import.meta.url).pathname;
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const version = await con.runAndReadAll('SELECT version()');
console.log(version.getRows()[0][0]);
await con.run(`
  COPY (
    SELECT {'bytes': content, 'path': regexp_extract(filename, '[^/]+$')} AS image_id,
           'CT' AS mode,
           'MPX9' || row_number() OVER (ORDER BY filename) AS case_id,
           'What organ is shown in scan ' || row_number() OVER (ORDER BY filename) || '?' AS question,
           'A synthetic ellipse phantom.' AS answer
    FROM read_blob('${pngs}/scan*.png') ORDER BY filename
  ) TO '${out}' (FORMAT parquet, ROW_GROUP_SIZE 2, COMPRESSION zstd)`);
