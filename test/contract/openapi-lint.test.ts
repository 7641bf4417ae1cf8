// `redocly lint` (the recommended rules, redocly.yaml) finds no errors in the OpenAPI document:
// security on every operation, servers, tags with descriptions, valid schemas. It runs offline.
import { expect, test } from 'bun:test'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { openApiDocument } from '../../src/api/openapi-document'
import { tempDir } from '../helpers/proc'

interface Problem {
  ruleId: string
  severity: 'error' | 'warn'
  message: string
  location: { pointer: string }[]
}

test('redocly lint reports no errors', async () => {
  const file = join(await tempDir('openapi'), 'openapi.json')
  await writeFile(file, JSON.stringify(await openApiDocument()))
  const lint = Bun.spawn(
    [
      resolve('node_modules/.bin/redocly'),
      'lint',
      file,
      '--format=json',
      '--config',
      resolve('redocly.yaml'),
    ],
    {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  const [out, err] = await Promise.all([new Response(lint.stdout).text(), new Response(lint.stderr).text()])
  await lint.exited
  const json = out.slice(out.indexOf('{'))
  expect(json.length, err).toBeGreaterThan(0)
  const problems = (JSON.parse(json) as { problems: Problem[] }).problems
  const errors = problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)
  expect(errors).toEqual([])
  // The document has what a client needs: a security scheme, servers, described tags.
  const doc = (await openApiDocument()) as {
    servers?: unknown[]
    tags: { description?: string }[]
    components: { securitySchemes: Record<string, unknown> }
  }
  expect(doc.servers?.length).toBeGreaterThan(0)
  expect(doc.tags.every((t) => t.description)).toBe(true)
  expect(Object.keys(doc.components.securitySchemes)).toEqual(['bearer'])
}, 60_000)

test('every JSON success answer describes its data, not a generic envelope', async () => {
  type Schema = { properties?: Record<string, unknown>; $ref?: string }
  const doc = (await openApiDocument()) as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>
    >
  }
  const vague: string[] = []
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      for (const [status, res] of Object.entries(op.responses)) {
        const schema = res.content?.['application/json']?.schema
        if (!status.startsWith('2') || !schema) continue
        const data = schema.properties?.data as Schema | undefined
        if (!data || Object.keys(data).length === 0) vague.push(`${method.toUpperCase()} ${path} ${status}`)
      }
  expect(vague).toEqual([])
})
