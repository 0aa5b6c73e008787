// Names of subject clusters from their dominant CLC classes, e.g. "Medicine and health + Biology".
import { CLC_CLASSES, CLC_NAMES } from '../../catalogue/classification.js';

export interface ClusterName {
  /** Dominant CLC classes, largest centroid share first. */
  classes: string[];
  en: string;
  zh: string;
}

const name = (classes: string[], suffix = ''): ClusterName => ({
  classes,
  en: classes.map((c) => CLC_NAMES[c]?.en ?? c).join(' + ') + suffix,
  zh: classes.map((c) => CLC_NAMES[c]?.zh ?? c).join(' + ') + suffix,
});

/**
 * Names each centroid (`k × 22` class shares) by its classes with a share of at least `minShare`
 * (default 15 %), at most three, always at least the largest. Clusters that would share a name take
 * their next classes until the names differ, then a number.
 */
export function nameClusters(centroids: Float64Array, k: number, minShare = 0.15): ClusterName[] {
  const cols = CLC_CLASSES.length;
  const ranked = Array.from({ length: k }, (_, c) =>
    CLC_CLASSES.map((cls, j) => ({ cls, share: centroids[c * cols + j]! })).sort((a, b) => b.share - a.share));
  const count = ranked.map((r) => Math.max(1, Math.min(3, r.filter((e) => e.share >= minShare).length)));
  const key = (c: number) => ranked[c]!.slice(0, count[c]).map((e) => e.cls).join('+');
  for (let grew = true; grew;) {
    grew = false;
    const byKey = new Map<string, number[]>();
    for (let c = 0; c < k; c++) byKey.set(key(c), [...(byKey.get(key(c)) ?? []), c]);
    for (const clash of [...byKey.values()].filter((cs) => cs.length > 1)) {
      for (const c of clash) if ((ranked[c]![count[c]!]?.share ?? 0) > 0) { count[c]!++; grew = true; }
    }
  }
  const names = ranked.map((r, c) => r.slice(0, count[c]).map((e) => e.cls));
  return names.map((classes, c) => {
    const same = names.filter((other, o) => o < c && other.join() === classes.join()).length;
    return name(classes, same ? ` (${same + 1})` : '');
  });
}
