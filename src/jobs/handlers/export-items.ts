/** EXPORT_ITEMS: the catalog matching a filter as CSV, read in keyset pages and stored page by page. */
import { SortDirection } from '../../schema/shared/connection.js';
import { toGlobalId } from '../../schema/shared/global-id.js';
import type { ItemQuery, ItemRepo } from '../../schema/item/item.repo.js';
import { itemSort } from '../../schema/item/item.repo.js';
import { FILTER_PRICE_MAX } from '../../schema/item/item.input.js';
import { Category } from '../../schema/item/item.type.js';
import type { JobRepo } from '../job.repo.js';
import { csvLine, textCell } from '../csv.js';
import { bool, num, paramsObject, stringList, text } from '../params.js';
import { JobPriority, type JobDefinition } from '../types.js';

/** Rows per page read from the catalog and per stored chunk of the file. */
export const EXPORT_PAGE_SIZE = 500;

const CATEGORIES = Object.values(Category);

export interface ExportParams {
  search?: string;
  categories?: Category[];
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
}

interface ExportCheckpoint {
  /** Keyset position after the last exported row. */
  after: { createdAt: string; id: string } | null;
  /** Chunks written so far. */
  chunks: number;
  rows: number;
}

const HEADER = csvLine(['sku', 'name', 'description', 'price', 'category', 'tags', 'stock', 'createdAt']);

/** The download route for an export; the result's `url`. */
export const exportUrl = (jobId: string) => `/exports/${toGlobalId('Job', jobId)}`;

export function exportItems(deps: { items: ItemRepo; jobs: JobRepo }): JobDefinition<ExportParams> {
  return {
    kind: 'EXPORT_ITEMS',
    priority: JobPriority.NORMAL,
    scopes: ['items:read'],
    forbiddenMessage: 'User does not have access to the catalog',
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['search', 'categories', 'minPrice', 'maxPrice', 'inStock']);
      const parsed: ExportParams = {};
      const search = text(params, 'search', errors, path, { label: 'Search', min: 1, max: 50, required: false });
      if (search) parsed.search = search;
      const categories = stringList(params, 'categories', errors, path, { label: 'Categories', max: CATEGORIES.length, entryMax: 20 });
      if (categories) {
        const unknown = categories.filter((category) => !(category in Category));
        if (unknown.length > 0) errors.add([...path, 'categories'], `Unknown category: ${unknown[0]!.slice(0, 30)}`);
        else if (categories.length > 0) parsed.categories = [...new Set(categories)] as Category[];
      }
      const minPrice = num(params, 'minPrice', errors, path, { label: 'Minimum price', min: 0, max: FILTER_PRICE_MAX });
      const maxPrice = num(params, 'maxPrice', errors, path, { label: 'Maximum price', min: 0, max: FILTER_PRICE_MAX });
      if (minPrice !== null && maxPrice !== null && maxPrice < minPrice) {
        errors.add([...path, 'maxPrice'], 'Maximum price must be greater than or equal to minimum price');
      }
      if (minPrice !== null) parsed.minPrice = minPrice;
      if (maxPrice !== null) parsed.maxPrice = maxPrice;
      const inStock = bool(params, 'inStock', errors, path, 'In stock');
      if (inStock !== null) parsed.inStock = inStock;
      return parsed;
    },
    async run({ job, params, saved, checkpoint }) {
      const query: ItemQuery = {
        search: params.search ?? null,
        categories: params.categories ?? null,
        minPriceCents: params.minPrice !== undefined ? Math.ceil(params.minPrice * 100 - 1e-9) : null,
        maxPriceCents: params.maxPrice !== undefined ? Math.floor(params.maxPrice * 100 + 1e-9) : null,
        inStock: params.inStock ?? null,
      };
      const sort = itemSort('createdAt', SortDirection.ASC);
      const total = await deps.items.count(query);
      let state: ExportCheckpoint = (saved as ExportCheckpoint | null) ?? { after: null, chunks: 0, rows: 0 };
      // A resumed export continues after its checkpoint; chunks written after it by the attempt that died go.
      await deps.jobs.deleteChunksFrom(job.id, state.chunks);
      for (;;) {
        const after = state.after ? { value: new Date(state.after.createdAt), id: state.after.id } : null;
        const rows = await deps.items.page(query, sort, { limit: EXPORT_PAGE_SIZE, backward: false, after, before: null });
        const page = rows.slice(0, EXPORT_PAGE_SIZE);
        if (page.length > 0 || state.chunks === 0) {
          const body = page
            .map((item) =>
              csvLine([
                textCell(item.sku),
                textCell(item.name),
                textCell(item.description),
                (item.priceCents / 100).toFixed(2),
                item.category,
                textCell(item.tags.join(';')),
                String(item.stock),
                item.createdAt.toISOString(),
              ]),
            )
            .join('');
          await deps.jobs.writeChunk(job.id, state.chunks, (state.chunks === 0 ? HEADER : '') + body);
          const last = page.at(-1);
          state = {
            after: last ? { createdAt: last.createdAt.toISOString(), id: last.id } : state.after,
            chunks: state.chunks + 1,
            rows: state.rows + page.length,
          };
          await checkpoint(state as never, total === 0 ? 100 : (state.rows / total) * 100);
        }
        if (rows.length <= EXPORT_PAGE_SIZE) break;
      }
      return {
        url: exportUrl(job.id),
        filename: `items-${job.createdAt.toISOString().slice(0, 10)}-${job.id.slice(0, 8)}.csv`,
        contentType: 'text/csv; charset=utf-8',
        rows: state.rows,
      };
    },
  };
}
