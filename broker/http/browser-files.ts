import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { readFileSync } from 'node:fs';
import { sendError } from './send-json.js';

// The client library (dist/client/*.js, compiled from client/) at
// /v1/client/<file>.js, and the mesh console at /console (assets under
// /v1/console/): its HTML and CSS from console/, its script from dist/console/. Names are single path
// segments matched against FILE_NAME, so no request can leave those folders.
const FILE_NAME = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9]+)*\.(js|map|css|html|svg)$/;
const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  map: 'application/json',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
};
const CLIENT_DIR = new URL('../../client/', import.meta.url);
const CONSOLE_DIRS = [new URL('../../console/', import.meta.url), new URL('../../../console/', import.meta.url)];

/** Serves the client library (/v1/client/) and the mesh console (/console, /v1/console/). */
export function mountBrowserFiles(app: TemplatedApp): void {
  app.get('/v1/client/*', (res, req) => sendFile(res, [CLIENT_DIR], req.getUrl().slice('/v1/client/'.length)));
  app.get('/console', (res) => sendFile(res, CONSOLE_DIRS, 'index.html'));
  app.get('/console/', (res) => sendFile(res, CONSOLE_DIRS, 'index.html'));
  // Under /v1/ beside /v1/client/ so the page's `import '../client/mod.js'` resolves as it does in dist/.
  app.get('/v1/console/*', (res, req) => sendFile(res, CONSOLE_DIRS, req.getUrl().slice('/v1/console/'.length)));
}

function sendFile(res: HttpResponse, dirs: readonly URL[], name: string): void {
  if (FILE_NAME.test(name)) {
    for (const dir of dirs) {
      let body: Buffer;
      try {
        body = readFileSync(new URL(name, dir));
      } catch {
        continue;
      }
      const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)];
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('Content-Type', type).writeHeader('Cache-Control', 'no-cache').end(body);
      });
      return;
    }
  }
  sendError(res, '404 Not Found', 'MG_ERR_NOT_FOUND', `no file '${name}'`);
}
