/** Hash routes (#/, #/targets?q=…, #/target/NAME, #/matrix?…): no server routes needed, works under any path. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  view: 'overview' | 'targets' | 'target' | 'matrix';
  arg: string;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q >= 0 ? h.slice(0, q) : h;
  const params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  if (path === 'targets') return { view: 'targets', arg: '', params };
  if (path.startsWith('target/')) return { view: 'target', arg: decodeURIComponent(path.slice('target/'.length)), params };
  if (path === 'matrix') return { view: 'matrix', arg: '', params };
  return { view: 'overview', arg: '', params };
}

/** Change the hash; `replace` keeps the history entry (typing in the search box). */
export function navigate(hash: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', hash);
  } else {
    location.hash = hash;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
