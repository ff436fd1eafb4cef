export { ArchiveCheckError } from './archive-check-error.js';
export type { ArchivedTable } from './archived-table.js';
export { ParquetArchive } from './parquet-archive.js';
export type { ArchivedDay, ParquetArchiveOptions } from './parquet-archive.js';
