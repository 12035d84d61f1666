// "Did you mean …" for a mistyped action, key or flag.
import { editDistance } from '../tasks/mapping.ts';

/**
 * ` (did you mean status?)` for a typo of a declared name (`stauts`, `ownr`, `--jsno`): the name
 * nearest by edit distance (an adjacent swap counts 1), within 1 for short words and 2 for longer
 * ones; '' when none is that near. Names are compared without their dashes and `=`.
 */
export function nearest(word: string, names: readonly string[]): string {
  const bare = (n: string): string => n.replace(/^-+|=$/g, '').toLowerCase();
  const typed = bare(word);
  const limit = typed.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = editDistance(typed, bare(name));
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best !== undefined && bestDistance <= limit && bestDistance > 0 ? ` (did you mean ${best}?)` : '';
}
