// GET /metrics: Prometheus text format, everything derived from the database (collector.ts). Public like /health (bind to 127.0.0.1, the default, or put
// it behind your proxy): it shows counts and type names, never payloads or users.
import { Elysia } from 'elysia'
import type { ApiDeps } from '../deps'
import { textRoute } from '../docs'
import type { LiveFeed } from '../events/feed'
import { MetricsCollector } from './collector'

export function metricsPlugin(deps: ApiDeps, feed: LiveFeed) {
  const collector = new MetricsCollector(feed)
  return new Elysia({ name: 'tasklab-metrics' }).get(
    '/metrics',
    async ({ set }) => {
      set.headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8'
      return collector.render(deps.sql)
    },
    {
      detail: textRoute(
        'metrics',
        'Prometheus metrics: tasks by status/type, counters, latency histograms, breakers, workers',
        { mediaType: 'text/plain', description: 'Prometheus text format' },
      ),
    },
  )
}
