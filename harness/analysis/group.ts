/** Grouping and the modal result: one way to do each, for the analysis and the reports. */

/** Items by key, keys in first-seen order. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/**
 * The most frequent digest and how often it occurs; a tie goes to the digest seen first, so the
 * modal run of a cell does not depend on anything but the order its runs were recorded in.
 */
export function modalDigest(digests: Iterable<string>): { digest: string; count: number; distinct: number } | null {
  const counts = new Map<string, number>();
  for (const d of digests) counts.set(d, (counts.get(d) ?? 0) + 1);
  let modal: string | null = null;
  for (const [digest, n] of counts) if (modal === null || n > counts.get(modal)!) modal = digest;
  return modal === null ? null : { digest: modal, count: counts.get(modal)!, distinct: counts.size };
}
