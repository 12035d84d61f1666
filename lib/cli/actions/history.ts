// `history`: scaffold, filled in by issue 20's work (see docs/operations.md once it lands).
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { TasksError } from '../../base/errors.ts';

export async function run(o: Options, _cli: Cli): Promise<number> {
  throw new TasksError(`${o.action} is not built yet`);
}
