// Swagger UI's script and stylesheet, embedded in the binary: the OpenAPI plugin would otherwise
// load them from a CDN, and the docs page would be blank on a machine without internet access.
import { Elysia } from 'elysia'
import stylePath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }

export const DOCS_ASSETS = '/api/v1/docs/assets'
export const SWAGGER_SCRIPT = `${DOCS_ASSETS}/swagger-ui-bundle.js`
export const SWAGGER_STYLE = `${DOCS_ASSETS}/swagger-ui.css`

const serve = (path: string, type: string) => () =>
  new Response(Bun.file(path), {
    headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' },
  })

export const docsAssets = () =>
  new Elysia({ name: 'docs-assets' })
    .get(SWAGGER_SCRIPT, serve(bundlePath, 'text/javascript; charset=utf-8'), { detail: { hide: true } })
    .get(SWAGGER_STYLE, serve(stylePath, 'text/css; charset=utf-8'), { detail: { hide: true } })
