// Which methods a path has, from the app's own route table: an unknown method on a known path is
// 405 with Allow, an unknown path 404. Only /api paths are considered (the panel owns the rest).
//
// Only the most specific patterns count: `/tasks/stats` (GET) shadows `/tasks/:id` (GET, DELETE),
// so `PUT /tasks/stats` answers `Allow: GET, HEAD`, and `DELETE /tasks/stats` is a 405 too instead
// of reaching the `/tasks/:id` handler with the id "stats" (a 400 that contradicted the header).
interface RouteInfo {
  method: string
  path: string
}

interface Compiled {
  method: string
  path: string
  re: RegExp
  /** Per segment: 2 static, 1 parameter, 0 wildcard. */
  rank: number[]
}

function compile(route: RouteInfo): Compiled {
  const segments = route.path.replace(/\/$/, '').split('/')
  const escaped = segments
    .map((seg) =>
      seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return {
    method: route.method,
    path: route.path,
    re: new RegExp(`^${escaped}/?$`),
    rank: segments.map((seg) => (seg.startsWith(':') ? 1 : seg === '*' ? 0 : 2)),
  }
}

/** Positive when `a` is more specific than `b`: the first segment that differs decides. */
function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

export interface RouteTable {
  /** The methods of the most specific patterns matching `path` (HEAD with GET), sorted. */
  allowed(path: string): string[]
  /** True when `route` (the pattern that matched) is shadowed for `path` by a more specific one. */
  shadowed(path: string, route: string): boolean
}

export function routeTable(routes: () => readonly RouteInfo[]): RouteTable {
  let compiled: Compiled[] = []
  let count = -1
  const best = (path: string): Compiled[] => {
    if (!path.startsWith('/api/')) return []
    const all = routes()
    if (all.length !== count) {
      count = all.length
      compiled = all.filter((r) => r.path.startsWith('/api/') && !r.path.endsWith('*')).map(compile)
    }
    let top: Compiled[] = []
    for (const r of compiled) {
      if (!r.re.test(path)) continue
      const c = top.length === 0 ? 1 : compare(r.rank, top[0]!.rank)
      if (c > 0) top = [r]
      else if (c === 0) top.push(r)
    }
    return top
  }
  return {
    allowed(path) {
      const methods = new Set(best(path).map((r) => r.method))
      if (methods.has('GET')) methods.add('HEAD')
      return [...methods].sort()
    },
    shadowed(path, route) {
      const top = best(path)
      return top.length > 0 && !top.some((r) => r.path === route)
    },
  }
}
