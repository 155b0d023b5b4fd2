/** The fleetprobe web console: Overview, Targets (and a target's detail) and Matrix, on hash routes. */
import { render } from 'preact';
import { useRoute } from './router';
import { Overview } from './views/Overview';
import { Targets } from './views/Targets';
import { TargetDetail } from './views/TargetDetail';
import { Matrix } from './views/Matrix';
import './style.css';

function App() {
  const route = useRoute();
  const tab = route.view === 'target' ? 'targets' : route.view;
  const link = (href: string, id: string, label: string) => (
    <a href={href} class={tab === id ? 'active' : ''} aria-current={tab === id ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <nav class="top">
        <span class="brand">fleetprobe</span>
        {link('#/', 'overview', 'Overview')}
        {link('#/targets', 'targets', 'Targets')}
        {link('#/matrix', 'matrix', 'Matrix')}
        <span class="spacer" />
        <a href="metrics" class="aside">
          metrics
        </a>
        <a href="api/v1/status" class="aside">
          status
        </a>
      </nav>
      <main>
        {route.view === 'overview' && <Overview />}
        {route.view === 'targets' && <Targets initialQuery={route.params.get('q') ?? ''} />}
        {route.view === 'target' && <TargetDetail key={route.arg} name={route.arg} />}
        {route.view === 'matrix' && <Matrix params={route.params} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
