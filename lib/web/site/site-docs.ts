// The pages of docs, decisions and milestones in the build folder: rendered when what they show changed, removed when their file went away.
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders } from '../../base/atomic.ts';
import { checkFolders } from '../../base/nofollow.ts';
import type { DocFile, Task } from '../../tasks/taskfile.ts';
import { docPages } from '../render/render-doc.ts';
import { KIND_FOLDERS } from '../render/pages.ts';
import type { SiteFiles } from './site-files.ts';

/** The doc pages one builder wrote, by path, with the signature of what each shows. */
export class DocPagesWritten {
  private docs = new Map<string, string>();

  /** Forgets what was written: every page is rendered and compared again. */
  clear(): void {
    this.docs.clear();
  }

  /**
   * Writes the pages whose signature changed and removes those whose doc went away; with
   * `pruneFound` (a restart in a folder that is ours alone), also the pages of a kind found on disk
   * that no doc has any more.
   */
  write(files: SiteFiles, project: string, docs: readonly DocFile[], tasks: readonly Task[], pageOf: (t: Task) => string, pruneFound: boolean): void {
    const next = new Map<string, string>();
    const folders = new Set<string>();
    for (const page of docPages(project, docs, tasks, pageOf)) {
      next.set(page.rel, page.signature);
      if (this.docs.get(page.rel) === page.signature) continue;
      const folder = page.rel.slice(0, page.rel.indexOf('/'));
      if (!folders.has(folder)) makeFolders(path.join(files.dir, folder), 4);
      folders.add(folder);
      files.write(page.rel, page.render());
    }
    for (const rel of this.docs.keys()) if (!next.has(rel)) files.remove(rel);
    if (pruneFound) {
      for (const folder of Object.values(KIND_FOLDERS)) {
        const dir = path.join(files.dir, folder);
        checkFolders(dir); // never listed, nor its pages removed, through a link
        const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
        for (const name of names) if (name.endsWith('.html') && !next.has(`${folder}/${name}`)) files.remove(`${folder}/${name}`);
      }
    }
    this.docs = next;
  }
}
