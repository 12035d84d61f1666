// Each task's page name, reference and relations by its position in the list, kept from build to build while only task contents change.
import { referenceRank } from '../../tasks/model.ts';
import type { Task } from '../../tasks/taskfile.ts';
import type { TaskRef } from '../render/html.ts';
import { assignPages } from '../render/pages.ts';
import { type RelatedTask, type TaskRelated, relationsOf } from '../render/relations.ts';
import { sharedList } from '../../tasks/shared-values.ts';

/** What of a task decides pages, references and relations: while it is the same, positions keep their links. */
function linkKey(t: Task): string {
  return JSON.stringify([t.path, t.id, t.slug, t.archived, referenceRank(t), t.aliases, t.parent, t.dependsOn]);
}

/**
 * Pages (assignPages), references by id (the last task of an id wins, as the index links them) and
 * relations (relationsOf) of one task list, by position. update() keeps them when the new list has
 * the same length and each task the same link key at its position: then only the task objects that
 * changed are read, instead of resolving every reference of 10,000 tasks again.
 */
export class SiteLinks {
  tasks: readonly Task[] = [];
  pages: string[] = [];
  /** By id: the page, status and title the index links a reference with. */
  readonly refs = new Map<string, TaskRef>();
  /** The position whose task the reference of each id names (the last of that id). */
  private readonly refAt = new Map<string, number>();
  /** The positions of each id (an archived copy shares its active task's id). */
  private byId = new Map<string, number[]>();
  private at = new Map<Task, number>();
  private parentAt: (number | undefined)[] = [];
  private depsAt: (number | undefined)[][] = [];
  private childrenAt: number[][] = [];
  private blocksAt: number[][] = [];

  /** Works everything out for this list. */
  full(tasks: readonly Task[]): void {
    this.tasks = [...tasks];
    this.pages = assignPages(tasks);
    this.at = new Map(tasks.map((t, i) => [t, i]));
    const relations = relationsOf(tasks);
    const idx = (t: Task | undefined): number | undefined => (t === undefined ? undefined : this.at.get(t));
    // Most tasks have no children, blockers or dependencies: one shared empty list (150,000 lists at 50,000 tasks otherwise).
    const all = (list: readonly Task[] | undefined): number[] => sharedList((list ?? []).map((t) => this.at.get(t) as number));
    this.parentAt = tasks.map((t) => idx(relations.parent.get(t)));
    this.depsAt = tasks.map((t) => sharedList(t.dependsOn.map((ref) => idx(relations.resolve(ref)))));
    this.childrenAt = tasks.map((t) => all(relations.children.get(t)));
    this.blocksAt = tasks.map((t) => all(relations.blocks.get(t)));
    this.refs.clear();
    this.refAt.clear();
    this.byId = new Map();
    tasks.forEach((t, i) => {
      this.refs.set(t.id, this.ref(i));
      this.refAt.set(t.id, i);
      const list = this.byId.get(t.id);
      if (list === undefined) this.byId.set(t.id, [i]);
      else list.push(i);
    });
  }

  /**
   * The positions whose task object changed, when the list keeps every position's links (at most
   * `max` of them); undefined when it does not: then call full().
   */
  update(tasks: readonly Task[], max: number): number[] | undefined {
    if (tasks.length !== this.tasks.length) return undefined;
    const changed: number[] = [];
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i] as Task;
      const old = this.tasks[i] as Task;
      if (t === old) continue;
      if (changed.length >= max || linkKey(t) !== linkKey(old)) return undefined;
      changed.push(i);
    }
    for (const i of changed) {
      const t = tasks[i] as Task;
      this.at.delete(this.tasks[i] as Task);
      this.at.set(t, i);
    }
    this.tasks = [...tasks];
    for (const i of changed) {
      const t = tasks[i] as Task;
      if (this.refAt.get(t.id) === i) this.refs.set(t.id, this.ref(i));
    }
    return changed;
  }

  private ref(i: number): TaskRef {
    const t = this.tasks[i] as Task;
    return { page: this.pages[i] as string, status: t.status, title: t.title };
  }

  /** A task's page, by the object (docs list the tasks of a milestone). */
  pageOf(t: Task): string {
    return this.pages[this.at.get(t) as number] as string;
  }

  /** A task's position in the list, by the object; undefined for one not in it. */
  positionOfTask(t: Task): number | undefined {
    return this.at.get(t);
  }

  /** The positions of the tasks with this id. */
  positionsOf(id: string): readonly number[] {
    return this.byId.get(id) ?? [];
  }

  /** True when the reference of the task's id names this position (the shown PR and CI of an id are this task's). */
  namesRef(i: number): boolean {
    return this.refAt.get((this.tasks[i] as Task).id) === i;
  }

  /** The relations of the task at i as its page shows them: the same as relatedOf for this list. */
  related(i: number): TaskRelated {
    const shown = (j: number): RelatedTask => {
      const t = this.tasks[j] as Task;
      return { id: t.id, page: this.pages[j] as string, status: t.status, title: t.title };
    };
    const task = this.tasks[i] as Task;
    const parent = this.parentAt[i];
    const deps = this.depsAt[i] as (number | undefined)[];
    return {
      parent: task.parent === null ? null : parent === undefined ? { ref: task.parent, task: null } : { ref: task.parent, task: shown(parent) },
      dependencies: task.dependsOn.map((ref, k) => { const j = deps[k]; return { ref, task: j === undefined ? null : shown(j) }; }),
      children: (this.childrenAt[i] as number[]).map(shown),
      blocks: (this.blocksAt[i] as number[]).map(shown),
    };
  }

  /** The positions whose pages show the task at i (its id, page, status or title): parent, subtasks, dependencies, what it blocks. */
  shownBy(i: number): number[] {
    const out: number[] = [...(this.childrenAt[i] as number[]), ...(this.blocksAt[i] as number[])];
    const parent = this.parentAt[i];
    if (parent !== undefined) out.push(parent);
    for (const j of this.depsAt[i] as (number | undefined)[]) if (j !== undefined) out.push(j);
    return out;
  }
}
