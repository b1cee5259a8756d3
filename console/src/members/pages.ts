// Paging through GET …/members by cursor, as pure functions the list's hook drives: a page
// appends (a page may be short, even empty, while `next_cursor` is set: the API filters the
// page it read), a new query starts over and answers to an older query are dropped, and the
// virtual window asks for the next page only as its end nears what is loaded.

export interface Pages<T> {
  /** Bumped by every new query; an answer for an older one is dropped. */
  generation: number;
  items: T[];
  cursor: string | null;
  /** Whether the first page of this query came back. */
  started: boolean;
  loading: boolean;
  /** Empty pages in a row (the next is fetched without waiting for a scroll, up to a limit). */
  emptyRun: number;
}

export const MAX_EMPTY_RUN = 5;

export function initialPages<T>(generation = 0): Pages<T> {
  return { generation, items: [], cursor: null, started: false, loading: false, emptyRun: 0 };
}

export function restart<T>(pages: Pages<T>): Pages<T> {
  return initialPages<T>(pages.generation + 1);
}

export function hasMore<T>(pages: Pages<T>): boolean {
  return !pages.started || pages.cursor !== null;
}

export function requesting<T>(pages: Pages<T>): Pages<T> {
  return { ...pages, loading: true };
}

/** A page arrived for `generation`: appended, unless the query changed meanwhile. */
export function received<T extends { id: string }>(
  pages: Pages<T>,
  generation: number,
  page: { items: T[]; next_cursor: string | null },
): Pages<T> {
  if (generation !== pages.generation) return pages;
  const seen = new Set(pages.items.map((item) => item.id));
  const fresh = page.items.filter((item) => !seen.has(item.id));
  return {
    ...pages,
    items: [...pages.items, ...fresh],
    cursor: page.next_cursor,
    started: true,
    loading: false,
    emptyRun: fresh.length === 0 && page.next_cursor !== null ? pages.emptyRun + 1 : 0,
  };
}

export function failed<T>(pages: Pages<T>, generation: number): Pages<T> {
  return generation === pages.generation ? { ...pages, loading: false } : pages;
}

/**
 * Whether to fetch the next page now: one is not on its way, there is one, and the window's
 * last row is within `ahead` rows of the end of what is loaded (or the last pages were empty,
 * which left nothing new to scroll to).
 */
export function shouldFetch<T>(pages: Pages<T>, windowEnd: number, ahead: number): boolean {
  if (pages.loading || !hasMore(pages)) return false;
  if (!pages.started) return true;
  if (pages.emptyRun > 0) return pages.emptyRun < MAX_EMPTY_RUN;
  return windowEnd + ahead >= pages.items.length;
}

/** Replaces one item in place (after an edit), or drops it (deleted, or no longer matching). */
export function replaced<T extends { id: string }>(pages: Pages<T>, id: string, item: T | null): Pages<T> {
  const items = item
    ? pages.items.map((existing) => (existing.id === id ? item : existing))
    : pages.items.filter((existing) => existing.id !== id);
  return { ...pages, items };
}

export interface VirtualWindow {
  first: number;
  last: number;
  padTop: number;
  padBottom: number;
}

/** The rows to render for a scroll position: those in view plus `overscan` either side. */
export function virtualWindow(
  count: number,
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  overscan = 10,
): VirtualWindow {
  if (count === 0) return { first: 0, last: -1, padTop: 0, padBottom: 0 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last, padTop: first * rowHeight, padBottom: (count - 1 - last) * rowHeight };
}
