// GET /metrics: Prometheus text format. Public like /health (bind to 127.0.0.1, the default, or put
// it behind your proxy): it shows counts and type names, never payloads or users.
import { Elysia } from 'elysia'
import type { ApiDeps } from '../deps'
import { doc } from '../docs'
import type { LiveFeed } from '../events/feed'
import { MetricsCollector } from './collector'

export function metricsPlugin(deps: ApiDeps, feed: LiveFeed) {
  const collector = new MetricsCollector(deps.events, feed)
  return new Elysia({ name: 'tasklab-metrics' }).get(
    '/metrics',
    async ({ set }) => {
      set.headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8'
      return collector.render(deps.sql)
    },
    {
      detail: {
        ...doc(
          'metrics',
          'Prometheus metrics: tasks by status/type, counters, latency histograms, breakers, workers',
        ),
        responses: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
  )
}
