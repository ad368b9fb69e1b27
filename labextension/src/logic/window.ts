// The windowing arithmetic of the virtualised workflow list.

export interface RowWindow {
  first: number; // index of the first rendered row
  last: number; // one past the last rendered row
}

/** The rows that intersect the viewport, with `overscan` extra rows on each side. */
export function visibleRows(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 5
): RowWindow {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}
