/** Colours the page draws with; the report test looks for them in the charts' pixels. */
export const REPORT_COLORS = {
  price: '#2962ff',
  buy: '#16a34a',
  sell: '#dc2626',
  gain: '#15803d',
  loss: '#b91c1c',
  drawdown: '#dc2626',
} as const;

/** Fills listed in the page's table at most; the chart marks them all. */
export const LISTED_FILLS = 1000;

/**
 * The report page's own script, run in the browser after the inlined
 * lightweight-charts standalone build (global `LightweightCharts`) and the
 * `#report-data` JSON. It draws the price with a marker per fill, the equity
 * against the initial cash and the drawdown, keeps their time axes together,
 * lists the fills, and sets `body[data-rendered]` to `true` once the charts
 * are painted (`error` if anything failed).
 */
export const REPORT_SCRIPT = `(() => {
  const C = ${JSON.stringify(REPORT_COLORS)};
  const LISTED = ${LISTED_FILLS};
  const body = document.body;
  const byId = (id) => document.getElementById(id);
  try {
    const LC = window.LightweightCharts;
    const data = JSON.parse(byId('report-data').textContent);
    const points = (list) => list.map(([time, value]) => ({ time, value }));
    const options = {
      autoSize: true,
      layout: {
        background: { type: LC.ColorType.Solid, color: '#ffffff' },
        textColor: '#334155',
        fontSize: 12,
      },
      grid: { vertLines: { color: '#f1f5f9' }, horzLines: { color: '#eef2f6' } },
      // One axis width for the three: their times line up.
      rightPriceScale: { borderColor: '#e2e8f0', minimumWidth: 84 },
      timeScale: {
        borderColor: '#e2e8f0',
        timeVisible: true,
        secondsVisible: false,
        // Thousands of points fit the width: the whole run shows at first.
        minBarSpacing: 0.01,
      },
      crosshair: { mode: LC.CrosshairMode.Normal },
      localization: { locale: 'en-US' },
    };
    const chartIn = (id) => LC.createChart(byId(id), options);

    const priceChart = chartIn('price-chart');
    const step = Math.pow(10, -data.pricePrecision);
    const price = priceChart.addSeries(LC.LineSeries, {
      color: C.price,
      lineWidth: 2,
      priceFormat: { type: 'price', precision: data.pricePrecision, minMove: step },
    });
    price.setData(points(data.price));
    const markers = LC.createSeriesMarkers(
      price,
      data.fills.map(([time, side]) =>
        side === 'B'
          ? { time: Math.floor(time / 1000), position: 'belowBar', color: C.buy, shape: 'arrowUp' }
          : { time: Math.floor(time / 1000), position: 'aboveBar', color: C.sell, shape: 'arrowDown' },
      ),
    );

    const equityChart = chartIn('equity-chart');
    const equity = equityChart.addSeries(LC.BaselineSeries, {
      baseValue: { type: 'price', price: data.initialCash },
      lineWidth: 2,
      topLineColor: C.gain,
      topFillColor1: 'rgba(22, 163, 74, 0.28)',
      topFillColor2: 'rgba(22, 163, 74, 0.04)',
      bottomLineColor: C.loss,
      bottomFillColor1: 'rgba(220, 38, 38, 0.04)',
      bottomFillColor2: 'rgba(220, 38, 38, 0.28)',
    });
    equity.setData(points(data.equity));
    equity.createPriceLine({
      price: data.initialCash,
      color: '#94a3b8',
      lineWidth: 1,
      lineStyle: LC.LineStyle.Dashed,
      axisLabelVisible: true,
      title: 'initial cash',
    });

    const drawdownChart = chartIn('drawdown-chart');
    const drawdown = drawdownChart.addSeries(LC.BaselineSeries, {
      baseValue: { type: 'price', price: 0 },
      lineWidth: 2,
      topLineColor: C.drawdown,
      bottomLineColor: C.drawdown,
      topFillColor1: 'rgba(220, 38, 38, 0)',
      topFillColor2: 'rgba(220, 38, 38, 0)',
      bottomFillColor1: 'rgba(220, 38, 38, 0.06)',
      bottomFillColor2: 'rgba(220, 38, 38, 0.32)',
      priceFormat: { type: 'custom', minMove: 0.01, formatter: (v) => v.toFixed(2) + '%' },
    });
    drawdown.setData(points(data.drawdown));

    // One time axis for the three: scrolling or zooming one moves the others.
    const charts = [priceChart, equityChart, drawdownChart];
    let syncing = false;
    // The whole run, with a little room at both ends so the first time label is not cut.
    const last = price.data().length - 1;
    const room = Math.max(1, last * 0.015);
    for (const chart of charts) {
      chart.timeScale().setVisibleLogicalRange({ from: -room, to: last + room });
      chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
        if (syncing || range === null) return;
        syncing = true;
        for (const other of charts) if (other !== chart) other.timeScale().setVisibleLogicalRange(range);
        syncing = false;
      });
    }

    byId('price-chart').dataset.points = String(price.data().length);
    byId('price-chart').dataset.markers = String(markers.markers().length);
    byId('equity-chart').dataset.points = String(equity.data().length);
    byId('drawdown-chart').dataset.points = String(drawdown.data().length);

    const rows = byId('fills-body');
    const cell = (tr, text, className) => {
      const td = tr.insertCell();
      td.textContent = text;
      if (className) td.className = className;
    };
    const number = (x, digits) =>
      x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    for (const [time, side, fillPrice, quantity, fee, pnl] of data.fills.slice(0, LISTED)) {
      const tr = rows.insertRow();
      cell(tr, new Date(time).toISOString().replace('T', ' ').replace('Z', ''));
      cell(tr, side === 'B' ? 'BUY' : 'SELL', side === 'B' ? 'up' : 'down');
      cell(tr, number(fillPrice, data.pricePrecision));
      cell(tr, quantity.toLocaleString('en-US', { maximumFractionDigits: 8 }));
      cell(tr, number(fee, 4));
      cell(tr, side === 'S' ? number(pnl, 2) : '', pnl > 0 ? 'up' : pnl < 0 ? 'down' : '');
    }

    // Painted on the next frame: say so once it is on screen.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      body.dataset.rendered = 'true';
    }));
  } catch (error) {
    body.dataset.rendered = 'error';
    byId('error').hidden = false;
    byId('error').textContent = 'The charts could not be drawn: ' + (error && error.message ? error.message : String(error));
    throw error;
  }
})();
`;
