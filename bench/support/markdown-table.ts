/** A Markdown table from a header and rows of cells, for pasting into doc/benchmarks.md. */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---:')), ...rows.map(line)].join('\n');
}

/** A number with a fixed count of decimals and thin grouping of thousands (10 000). */
export function formatNumber(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  const [whole, fraction] = value.toFixed(decimals).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
