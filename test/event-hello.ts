// The hello an /api/events stream opens with, read in a test: what a page hears when it connects.
import http from 'node:http';

/** The data of the stream's `hello` for a client that shows `page` (none named: `{version}` alone). */
export function hello(base: string, page?: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/events${page === undefined ? '' : `?page=${encodeURIComponent(page)}`}`, { agent: false }, (res) => {
      let got = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        got += c;
        const m = /event: hello\ndata: (.*)\n\n/.exec(got);
        if (m) {
          req.destroy();
          resolve(JSON.parse(m[1] as string) as Record<string, unknown>);
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no hello from ${base}/api/events within 10 s`)));
    req.on('error', reject);
  });
}
