/**
 * SALES_REPORT: orders per day and category for a date range. Counts need orders:read; revenue (the sensitive
 * figures) appears only when the job's owner holds analytics:read when it runs.
 */
import type { OrderRepo } from '../../schema/order/order.repo.js';
import { date, paramsObject } from '../params.js';
import { JobPriority, type JobDefinition } from '../types.js';

const DAY_MS = 24 * 60 * 60 * 1_000;
export const MAX_REPORT_DAYS = 366;

export interface SalesReportParams {
  /** YYYY-MM-DD, inclusive. */
  from: string;
  /** YYYY-MM-DD, inclusive. */
  to: string;
}

export function salesReport(deps: { orders: OrderRepo }): JobDefinition<SalesReportParams> {
  return {
    kind: 'SALES_REPORT',
    priority: JobPriority.NORMAL,
    scopes: ['orders:read'],
    forbiddenMessage: 'User does not have access to sales reports',
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['from', 'to']);
      const from = date(params, 'from', errors, path, 'From');
      const to = date(params, 'to', errors, path, 'To');
      if (from && to) {
        if (to < from) errors.add([...path, 'to'], 'To must not be before from');
        else if ((to.getTime() - from.getTime()) / DAY_MS + 1 > MAX_REPORT_DAYS) {
          errors.add([...path, 'to'], `A report covers at most ${MAX_REPORT_DAYS} days`);
        }
      }
      return { from: from?.toISOString().slice(0, 10) ?? '', to: to?.toISOString().slice(0, 10) ?? '' };
    },
    async run({ params, owner, progress }) {
      // System jobs (no owner) see everything; an owner sees revenue only with analytics:read.
      const sensitive = owner === null || owner.scopes.has('analytics:read');
      const from = new Date(`${params.from}T00:00:00.000Z`);
      const to = new Date(new Date(`${params.to}T00:00:00.000Z`).getTime() + DAY_MS);
      await progress(10);
      const rows = await deps.orders.salesByDayAndCategory(from, to);
      await progress(90);
      const totals = rows.reduce(
        (sum, row) => ({ orders: sum.orders + row.orders, units: sum.units + row.units, revenueCents: sum.revenueCents + row.revenueCents }),
        { orders: 0, units: 0, revenueCents: 0 },
      );
      const money = (cents: number) => Math.round(cents) / 100;
      return {
        from: params.from,
        to: params.to,
        revenueIncluded: sensitive,
        rows: rows.map((row) => ({
          day: row.day,
          category: row.category,
          orders: row.orders,
          units: row.units,
          ...(sensitive ? { revenue: money(row.revenueCents) } : {}),
        })),
        totals: { orders: totals.orders, units: totals.units, ...(sensitive ? { revenue: money(totals.revenueCents) } : {}) },
      };
    },
  };
}
