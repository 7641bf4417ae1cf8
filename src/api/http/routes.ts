// Which methods a path has, from the app's own route table: an unknown method on a known path is
// 405 with Allow, an unknown path 404. Only /api paths are considered (the panel owns the rest).
interface RouteInfo {
  method: string
  path: string
}

function pattern(path: string): RegExp {
  const escaped = path
    .replace(/\/$/, '')
    .split('/')
    .map((seg) =>
      seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return new RegExp(`^${escaped}/?$`)
}

export function methodsFor(routes: () => readonly RouteInfo[]): (path: string) => string[] {
  let compiled: { method: string; re: RegExp }[] | undefined
  let count = -1
  return (path) => {
    if (!path.startsWith('/api/')) return []
    const all = routes()
    if (!compiled || all.length !== count) {
      count = all.length
      compiled = all
        .filter((r) => r.path.startsWith('/api/') && !r.path.endsWith('*'))
        .map((r) => ({ method: r.method, re: pattern(r.path) }))
    }
    const methods = new Set(compiled.filter((r) => r.re.test(path)).map((r) => r.method))
    if (methods.has('GET')) methods.add('HEAD')
    return [...methods].sort()
  }
}
