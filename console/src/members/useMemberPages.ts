// The member list's data: pages of GET …/members for one query, fetched as the virtual window
// nears the end of what is loaded (src/members/pages.ts holds the rules).
import { useCallback, useEffect, useRef, useState } from "react";
import { ProblemError, type Problem } from "../api/problem";
import { listMembers, type Member, type MemberQuery } from "./api";
import { failed, hasMore, initialPages, received, replaced, requesting, restart, shouldFetch, type Pages } from "./pages";

/** `version` starts the list over for the same query (after a change elsewhere). */
export function useMemberPages(tenantId: string, query: MemberQuery, version = 0) {
  const [pages, setPages] = useState<Pages<Member>>(() => initialPages());
  const [problem, setProblem] = useState<Problem | null>(null);
  const [requests, setRequests] = useState(0);
  const current = useRef(pages);
  current.current = pages;
  const key = JSON.stringify(query);
  const latest = useRef(query);
  latest.current = query;

  // A new query (or version) starts over; the first render's query is already the one loaded.
  const shown = useRef(`${tenantId}|${key}|${version}`);
  useEffect(() => {
    const now = `${tenantId}|${key}|${version}`;
    if (shown.current === now) return;
    shown.current = now;
    setPages((p) => restart(p));
    setProblem(null);
  }, [tenantId, key, version]);

  const fetchNext = useCallback(async () => {
    const now = current.current;
    if (now.loading || !hasMore(now)) return;
    const generation = now.generation;
    const next = requesting(now);
    current.current = next;
    setPages(next);
    setRequests((n) => n + 1);
    try {
      const page = await listMembers(tenantId, latest.current, now.cursor);
      setPages((p) => received(p, generation, page));
      setProblem(null);
    } catch (error) {
      setPages((p) => failed(p, generation));
      if (error instanceof ProblemError) setProblem(error.problem);
    }
  }, [tenantId]);

  // Each new query fetches its first page by itself.
  useEffect(() => {
    if (!pages.started && !pages.loading && !problem) void fetchNext();
  }, [pages.generation, pages.started, pages.loading, problem, fetchNext]);

  /** Called with the last row in view: fetches when the rules say so. */
  const nearRow = useCallback(
    (windowEnd: number) => {
      if (!problem && shouldFetch(current.current, windowEnd, 40)) void fetchNext();
    },
    [fetchNext, problem],
  );

  const replace = useCallback((id: string, member: Member | null) => setPages((p) => replaced(p, id, member)), []);

  return { pages, problem, requests, fetchNext, nearRow, replace, hasMore: hasMore(pages) };
}
