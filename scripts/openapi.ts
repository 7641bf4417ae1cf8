// Prints the OpenAPI document (with the chaos routes) without a database: `bun scripts/openapi.ts > openapi.json`.
import { openApiDocument } from '../src/api/openapi-document'

process.stdout.write(`${JSON.stringify(await openApiDocument(), null, 2)}\n`)
