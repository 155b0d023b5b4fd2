/**
 * The pair of history charts the Overview (whole fleet) and a target's detail both draw:
 * RTT p50/p90/p99 and loss, with one look (colours, loss axis from 0 to at least 1%).
 */
import { Chart } from './Chart';
import { fmtLoss, fmtRtt } from '../format';
import type { ChartData } from '../series';

export function RttLossCharts(p: { rtt: ChartData; loss: ChartData; rttTitle: string; lossTitle: string; testIdPrefix: string }) {
  return (
    <div class="charts">
      <Chart
        title={p.rttTitle}
        testId={`${p.testIdPrefix}-rtt-chart`}
        format={fmtRtt}
        data={[p.rtt.x, ...p.rtt.cols]}
        series={[
          { label: 'p50', stroke: '#1565c0' },
          { label: 'p90', stroke: '#ef6c00' },
          { label: 'p99', stroke: '#c62828' },
        ]}
      />
      <Chart
        title={p.lossTitle}
        testId={`${p.testIdPrefix}-loss-chart`}
        format={fmtLoss}
        yFromZeroTo={0.01}
        data={[p.loss.x, ...p.loss.cols]}
        series={[{ label: 'loss', stroke: '#c62828', fill: 'rgba(198,40,40,0.12)' }]}
      />
    </div>
  );
}
