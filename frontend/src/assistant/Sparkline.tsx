/**
 * A column's distribution as a tiny SVG: a histogram for numbers, a bar chart for categories.
 */
import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { ColumnProfile } from '../api';
import { sparkBars } from '../logic/histogram';

const SPARK_WIDTH = 60;
const SPARK_HEIGHT = 16;

export function Sparkline(props: { summary: Record<string, unknown>; trans: TranslationBundle }): JSX.Element {
  const { trans } = props;
  const spark = sparkBars({ summary: props.summary } as ColumnProfile, SPARK_WIDTH, SPARK_HEIGHT);
  if (spark.kind === 'none' || spark.bars.every(b => b.h === 0)) {
    return (
      <span className="dd-assistant-spark-none" title={trans.__('No distribution to show')}>
        –
      </span>
    );
  }
  const parts = spark.bars.map(b => b.label);
  const label =
    spark.kind === 'hist'
      ? trans.__('Histogram, %1 bins: %2', spark.bars.length, parts.join(', '))
      : trans.__('Counts: %1', parts.join(', '));
  const kind = spark.kind === 'hist' ? 'histogram' : 'bar';
  return (
    <svg
      className={`dd-assistant-spark dd-assistant-spark-${kind}`}
      width={SPARK_WIDTH}
      height={SPARK_HEIGHT}
      viewBox={`0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <line className="dd-assistant-spark-base" x1={0} x2={SPARK_WIDTH} y1={SPARK_HEIGHT - 0.25} y2={SPARK_HEIGHT - 0.25} />
      {spark.bars.map((b, i) => (
        <rect key={i} x={b.x} y={b.y} width={b.w} height={b.h}>
          <title>{b.label}</title>
        </rect>
      ))}
    </svg>
  );
}
