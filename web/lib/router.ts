// A path router over the History API, small enough to read in one go. Filters live in the query
// string so a list view can be bookmarked, shared and reloaded.
import { useEffect, useState } from 'preact/hooks'

export interface Location {
  path: string
  query: URLSearchParams
}

const listeners = new Set<() => void>()

function current(): Location {
  return { path: location.pathname, query: new URLSearchParams(location.search) }
}

export function navigate(url: string, opts: { replace?: boolean } = {}): void {
  if (url === location.pathname + location.search) return
  if (opts.replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  for (const fn of listeners) fn()
  if (!opts.replace) window.scrollTo(0, 0)
}

/** Replaces some query parameters of the current URL (empty values are dropped). */
export function setQuery(
  patch: Record<string, string | number | null | undefined>,
  opts: { replace?: boolean } = {},
): void {
  const q = new URLSearchParams(location.search)
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined || v === '') q.delete(k)
    else q.set(k, String(v))
  }
  const s = q.toString()
  navigate(location.pathname + (s ? `?${s}` : ''), opts)
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current)
  useEffect(() => {
    const update = () => setLoc(current())
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return loc
}

/** Same-origin links navigate without a reload (except /api, which is the server's). */
export function interceptLinks(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    const a = (e.target as Element).closest?.('a')
    // getAttribute, not .target: on an SVG <a> (the diagram's states) .target is an object, always truthy.
    if (!a || a.getAttribute('target') || a.hasAttribute('download')) return
    const href = a.getAttribute('href')
    if (!href?.startsWith('/') || href.startsWith('/api') || href.startsWith('//')) return
    e.preventDefault()
    navigate(href)
  })
}
