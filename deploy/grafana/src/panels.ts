/**
 * Panel helpers shared by Volley's dashboards: every panel queries the Prometheus data source
 * chosen in the dashboard's `datasource` variable and carries a description that says what a
 * moving line means and what to do about it.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** One PromQL query and its legend. */
export interface Query {
  expr: string;
  legend?: string;
}

function target(q: Query, refId: string): prometheus.DataqueryBuilder {
  const t = new prometheus.DataqueryBuilder().expr(q.expr).refId(refId);
  return q.legend ? t.legendFormat(q.legend) : t;
}

export interface PanelSpec {
  title: string;
  /** What the panel shows and what to do when its lines move. */
  description: string;
  queries: Query[];
  unit: string;
  width?: number;
  height?: number;
  stacked?: boolean;
}

/** A time series panel; rates are per second (`unit: 'msg/s'` reads "messages per second"). */
export function series(p: PanelSpec): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .min(0)
    .gridPos({ x: 0, y: 0, w: p.width ?? 12, h: p.height ?? 8 })
    .fillOpacity(p.stacked ? 40 : 10)
    .lineWidth(1)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
  if (p.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  p.queries.forEach((q, i) => b.withTarget(target(q, String.fromCharCode(65 + i))));
  return b;
}

/** A single number (the latest value). */
export function single(p: PanelSpec): stat.PanelBuilder {
  const b = new stat.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .gridPos({ x: 0, y: 0, w: p.width ?? 6, h: p.height ?? 4 });
  p.queries.forEach((q, i) => b.withTarget(target(q, String.fromCharCode(65 + i))));
  return b;
}

/** A heatmap of a Prometheus histogram's buckets. */
export function heat(p: PanelSpec): heatmap.PanelBuilder {
  const b = new heatmap.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .gridPos({ x: 0, y: 0, w: p.width ?? 12, h: p.height ?? 8 });
  p.queries.forEach((q, i) => {
    b.withTarget(target(q, String.fromCharCode(65 + i)).format(prometheus.PromQueryFormat.Heatmap));
  });
  return b;
}

/** The `datasource` variable every dashboard starts with. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .type('prometheus');
}

/** A variable of the values one label takes, all of them by default. */
export function labelVariable(name: string, metric: string, label: string) {
  return new dashboard.QueryVariableBuilder(name)
    .label(name)
    .datasource(DATASOURCE)
    .query(`label_values(${metric}, ${label})`)
    .definition(`label_values(${metric}, ${label})`)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged);
}

/**
 * A dashboard: panels laid out left to right, top to bottom (each gridPos is overwritten by
 * the layout, so panels do not overlap however they are sized).
 */
export function build(
  uid: string,
  title: string,
  description: string,
  variables: Builder<dashboard.VariableModel>[],
  panels: Builder<dashboard.Panel>[],
): dashboard.Dashboard {
  const d = new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['volley'])
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .editable();
  for (const v of variables) d.withVariable(v);
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const p of panels) {
    const panel = p.build();
    const w = panel.gridPos?.w ?? 12;
    const h = panel.gridPos?.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    panel.gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    d.withPanel({ build: () => panel });
  }
  return d.build();
}
