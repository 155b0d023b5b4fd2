/**
 * The console's data layer: each view asks for a feed and gets data plus its status;
 * how the data arrives is this file's business. Today every feed polls the API
 * (poll.ts). When the live stream of issue 8 is there (GET /api/v1/stream, Server-Sent
 * Events: `state` and `result` events per target), a target's feed can be served by an
 * EventSource instead: implement TargetFeed with it (state events → totals, result
 * events → the live RTT points) and pick it in targetFeed(); the views do not change.
 */
import { useEffect, useState } from 'preact/hooks';
import { getBinary, getJson } from './api';
import { poll, type PollStatus } from './poll';
import type { LiveColumns, MatrixAnswer, Overview, TargetDetail, TargetsList } from './types';

export interface Feed<T> {
  data: T | undefined;
  status: PollStatus;
}

const INITIAL: PollStatus = { okAt: null, error: null, retryInMs: null };

/** Poll `fetcher` every `intervalMs` while `key` is not null; a new key restarts it. */
export function usePolled<T>(key: string | null, fetcher: (signal: AbortSignal) => Promise<T>, intervalMs: number): Feed<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [status, setStatus] = useState<PollStatus>(INITIAL);
  useEffect(() => {
    if (key === null) return;
    setData(undefined);
    return poll(fetcher, setData, setStatus, { intervalMs });
    // Only a new key restarts polling: callers pass a fresh fetcher closure on every render.
  }, [key]);
  return { data, status };
}

export function useOverview(): Feed<Overview> {
  return usePolled('overview', (s) => getJson<Overview>('api/v1/console/overview', s), 1000);
}

/** A source of one target's detail; see the file header for the stream-backed one to come. */
export interface TargetFeed {
  start(onData: (d: TargetDetail) => void, onStatus: (s: PollStatus) => void): () => void;
}

export function pollingTargetFeed(name: string): TargetFeed {
  return {
    start: (onData, onStatus) =>
      poll((s) => getJson<TargetDetail>(`api/v1/console/target?name=${encodeURIComponent(name)}`, s), onData, onStatus, { intervalMs: 1000 }),
  };
}

export function targetFeed(name: string): TargetFeed {
  return pollingTargetFeed(name);
}

export function useTarget(name: string): Feed<TargetDetail> {
  const [data, setData] = useState<TargetDetail | undefined>(undefined);
  const [status, setStatus] = useState<PollStatus>(INITIAL);
  useEffect(() => {
    setData(undefined);
    return targetFeed(name).start(setData, setStatus);
  }, [name]);
  return { data, status };
}

/**
 * The targets list (reloaded only when its generation changes, with If-None-Match)
 * and the live numbers of every target (binary columns, every 1.5 s).
 */
export function useTargets(): { list: TargetsList | undefined; live: LiveColumns | undefined; status: PollStatus } {
  const [list, setList] = useState<TargetsList | undefined>(undefined);
  const [live, setLive] = useState<LiveColumns | undefined>(undefined);
  const [status, setStatus] = useState<PollStatus>(INITIAL);
  useEffect(() => {
    let current: TargetsList | undefined;
    return poll(
      async (signal) => {
        const buf = await getBinary('api/v1/console/targets/live', signal);
        const l = decodeLive(buf);
        if (current === undefined || current.generation !== l.generation) {
          current = await getJson<TargetsList>('api/v1/console/targets', signal);
          prepareList(current);
          setList(current);
          // The list may be newer than the numbers: take them again for this generation.
          if (current.generation !== l.generation) return decodeLive(await getBinary('api/v1/console/targets/live', signal));
        }
        return l;
      },
      setLive,
      setStatus,
      { intervalMs: 1500 },
    );
  }, []);
  return { list, live, status };
}

export function decodeLive(buf: ArrayBuffer): LiveColumns {
  const head = new Uint32Array(buf, 0, 2);
  const n = head[1];
  return {
    generation: head[0],
    count: n,
    loss: new Float32Array(buf, 8, n),
    last: new Float32Array(buf, 8 + n * 4, n),
    p99: new Float32Array(buf, 8 + n * 8, n),
    at: performance.now(),
  };
}

/** Lower-case copies for the search box, made once per list. */
function prepareList(l: TargetsList): void {
  l.namesLower = l.names.map((s) => s.toLowerCase());
  l.addressesLower = l.addresses.map((s) => s.toLowerCase());
}

export function useMatrix(query: string): Feed<MatrixAnswer> {
  return usePolled(query, (s) => getJson<MatrixAnswer>(`api/v1/console/matrix?${query}`, s), 1500);
}
