// The control panel (web/) served on `/` by the same Elysia app as the API.
//
// `import index from '../../web/index.html'` is a Bun HTML import: `bun build --compile` bundles and
// minifies Preact, the TSX and the CSS into the executable and lists the outputs in `index.files`
// (paths inside the binary's /$bunfs, readable with Bun.file). We serve those files from ordinary
// Elysia routes instead of handing the bundle to Bun.serve's `routes`: Elysia drops static routes as
// soon as an onRequest hook exists (the API has them), and `app.handle()` in tests never sees them.
// Run from source (`bun src/main.ts`), the import carries no `files`, so the bundle is built once in
// memory with Bun.build on the first request (~150 ms) and served the same way.
//
// Only single-segment paths and the panel's own client routes are answered here; everything under
// /api stays with the API, so an unknown /api/* route is still its JSON 404.
import { Elysia, NotFoundError } from 'elysia'
import index from '../../web/index.html'

interface Asset {
  body: Uint8Array
  gzip: Uint8Array
  type: string
  etag: string
}

interface Bundle {
  html: Asset
  assets: Map<string, Asset>
}

/** Client-side routes of the panel with more than one segment (single segments are matched below). */
const CLIENT_ROUTES = ['/tasks/new', '/tasks/:id']

// Inline style attributes (Preact's `style`) need 'unsafe-inline' for styles; scripts stay 'self'.
const CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"

function asset(body: Uint8Array, type: string, etag: string): Asset {
  return { body, gzip: Bun.gzipSync(body as Uint8Array<ArrayBuffer>, { level: 9 }), type, etag: `"${etag}"` }
}

async function fromCompiled(files: NonNullable<Bun.HTMLBundle['files']>): Promise<Bundle> {
  let html: Asset | undefined
  const assets = new Map<string, Asset>()
  for (const f of files) {
    const a = asset(await Bun.file(f.path).bytes(), f.headers['content-type'], f.headers.etag)
    if (f.loader === 'html') html = a
    else assets.set(f.path.slice(f.path.lastIndexOf('/') + 1), a)
  }
  if (!html) throw new Error('the panel bundle has no index.html')
  return { html, assets }
}

async function fromSource(entry: string): Promise<Bundle> {
  const out = await Bun.build({ entrypoints: [entry], minify: true, publicPath: '/' })
  if (!out.success) throw new AggregateError(out.logs, 'building the panel failed')
  let html: Asset | undefined
  const assets = new Map<string, Asset>()
  for (const o of out.outputs) {
    const a = asset(new Uint8Array(await o.arrayBuffer()), o.type, o.hash ?? String(o.size))
    if (o.path.endsWith('.html')) html = a
    else assets.set(o.path.replace(/^\.\//, ''), a)
  }
  if (!html) throw new Error('the panel bundle has no index.html')
  return { html, assets }
}

let bundle: Promise<Bundle> | undefined
/** The panel's files, loaded once per process. */
export function panelBundle(): Promise<Bundle> {
  bundle ??= index.files?.length ? fromCompiled(index.files) : fromSource(index.index)
  return bundle
}

function send(a: Asset, request: Request, cache: string, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = {
    'content-type': a.type,
    etag: a.etag,
    'cache-control': cache,
    vary: 'accept-encoding',
    ...extra,
  }
  if (request.headers.get('if-none-match') === a.etag) return new Response(null, { status: 304, headers })
  const gz = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
  if (gz) headers['content-encoding'] = 'gzip'
  return new Response((gz ? a.gzip : a.body) as Uint8Array<ArrayBuffer>, { headers })
}

async function page(request: Request): Promise<Response> {
  // The page is tiny and names hashed assets: always revalidate it, cache the assets forever.
  return send((await panelBundle()).html, request, 'no-cache', { 'content-security-policy': CSP })
}

/** Not part of the API: kept out of the OpenAPI document. */
const hidden = { detail: { hide: true } }

export function panel() {
  // Compiled: read and compress the embedded files now, so the first page load does not wait.
  if (index.files?.length) void panelBundle()
  const app = new Elysia({ name: 'tasklab-panel' })
    .get('/', ({ request }) => page(request), hidden)
    .get(
      '/:file',
      async ({ params, request }) => {
        const { assets } = await panelBundle()
        const a = assets.get(params.file)
        if (a) return send(a, request, 'public, max-age=31536000, immutable')
        // `/api` itself and anything that looks like a file are real 404s; other names are client
        // routes (overview, tasks, dead-letter...), and the panel shows its own "not found".
        if (params.file === 'api' || params.file.includes('.')) throw new NotFoundError()
        return page(request)
      },
      hidden,
    )
  for (const route of CLIENT_ROUTES) app.get(route, ({ request }) => page(request), hidden)
  return app
}
