import { describe, expect, it } from "vitest";
import {
  MAX_EMPTY_RUN,
  failed,
  hasMore,
  initialPages,
  received,
  replaced,
  requesting,
  restart,
  shouldFetch,
  virtualWindow,
} from "./pages";

type Item = { id: string; name: string };
const item = (id: string): Item => ({ id, name: id });
const page = (ids: string[], next: string | null) => ({ items: ids.map(item), next_cursor: next });

describe("member pages", () => {
  it("fetches the first page, then the next only as the window nears the end", () => {
    let pages = initialPages<Item>();
    expect(shouldFetch(pages, 0, 20)).toBe(true);
    pages = received(requesting(pages), 0, page(["a", "b", "c"], "c1"));
    expect(pages.items.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(hasMore(pages)).toBe(true);
    const many = received(requesting(initialPages<Item>()), 0, page(Array.from({ length: 100 }, (_, i) => `m${i}`), "c1"));
    expect(shouldFetch(many, 30, 20)).toBe(false);
    expect(shouldFetch(many, 85, 20)).toBe(true);
    expect(shouldFetch(requesting(many), 85, 20)).toBe(false);
  });

  it("stops at the last page", () => {
    const pages = received(requesting(initialPages<Item>()), 0, page(["a"], null));
    expect(hasMore(pages)).toBe(false);
    expect(shouldFetch(pages, 1000, 20)).toBe(false);
  });

  it("goes on through empty pages that still have a cursor, up to a limit", () => {
    let pages = received(requesting(initialPages<Item>()), 0, page([], "c1"));
    expect(pages.emptyRun).toBe(1);
    expect(shouldFetch(pages, 0, 0)).toBe(true);
    for (let i = 1; i < MAX_EMPTY_RUN; i++) pages = received(requesting(pages), 0, page([], `c${i + 1}`));
    expect(shouldFetch(pages, 0, 0)).toBe(false);
    expect(hasMore(pages)).toBe(true);
    pages = received(requesting(pages), 0, page(["x"], "c9"));
    expect(pages.emptyRun).toBe(0);
  });

  it("drops answers to an older query and a repeated member", () => {
    let pages = requesting(initialPages<Item>());
    pages = restart(pages);
    expect(received(pages, 0, page(["stale"], null))).toBe(pages);
    pages = received(requesting(pages), 1, page(["a", "b"], "c"));
    pages = received(requesting(pages), 1, page(["b", "c"], null));
    expect(pages.items.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(failed(requesting(pages), 0).loading).toBe(true);
    expect(failed(requesting(pages), 1).loading).toBe(false);
  });

  it("replaces or removes one member in place", () => {
    const pages = received(requesting(initialPages<Item>()), 0, page(["a", "b"], null));
    expect(replaced(pages, "b", { id: "b", name: "Bea" }).items[1].name).toBe("Bea");
    expect(replaced(pages, "a", null).items.map((i) => i.id)).toEqual(["b"]);
  });

  it("renders only the rows in view, with padding for the rest", () => {
    expect(virtualWindow(10000, 0, 400, 40, 5)).toEqual({ first: 0, last: 15, padTop: 0, padBottom: 9984 * 40 });
    const w = virtualWindow(10000, 40 * 5000, 400, 40, 5);
    expect(w.first).toBe(4995);
    expect(w.last).toBe(5015);
    expect(w.last - w.first).toBeLessThan(30);
    expect(virtualWindow(0, 0, 400, 40)).toEqual({ first: 0, last: -1, padTop: 0, padBottom: 0 });
    expect(virtualWindow(3, 0, 400, 40).last).toBe(2);
  });
});
