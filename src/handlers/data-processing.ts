import { Type } from '@sinclair/typebox'
import { defineHandler, PermanentError } from './contract'

const OPERATIONS = ['sum', 'avg', 'min', 'max', 'count', 'sort'] as const

export const dataProcessing = defineHandler({
  type: 'data_processing',
  description: 'Sum, avg, min, max, count or sort over the numbers in data',
  schema: Type.Object({
    operation: Type.Union(OPERATIONS.map((o) => Type.Literal(o))),
    data: Type.Array(Type.Number(), { maxItems: 1_000_000 }),
  }),
  example: { operation: 'sum', data: [1, 2, 3, 4, 5] },
  async run({ operation, data }) {
    if (data.length === 0 && ['avg', 'min', 'max'].includes(operation))
      throw new PermanentError(`Invalid payload: payload.data: ${operation} needs at least one number`)
    const result = (() => {
      switch (operation) {
        case 'sum':
          return data.reduce((a, b) => a + b, 0)
        case 'avg':
          return data.reduce((a, b) => a + b, 0) / data.length
        case 'min':
          return data.reduce((a, b) => Math.min(a, b))
        case 'max':
          return data.reduce((a, b) => Math.max(a, b))
        case 'count':
          return data.length
        case 'sort':
          return [...data].sort((a, b) => a - b)
      }
    })()
    return { operation, result, count: data.length }
  },
})
